"""The whole loader: accounting, duplicates, study-area checks, vector files."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from access.errors import CrsMismatchError, NoCrsError
from access.rejects import RejectLog
from facilities import load_facilities, parse_facility_sources, wgs84_to_bd09, wgs84_to_gcj02
from tests.facilities.conftest import CHENGDU

HEADER = ["名称", "类型编码", "经度", "纬度"]


def load(base: Path, tables, taxonomy, boundary, crs, rejects=None, **kw):
    sources = parse_facility_sources(tables, base_dir=base, path=base / "area.toml")
    return load_facilities(sources, boundary=boundary, crs=crs, taxonomy=taxonomy,
                           rejects=rejects if rejects is not None else RejectLog(), **kw)


def test_duplicates_across_sources_merge(tmp_path, write_csv, taxonomy, chengdu_boundary,
                                         chengdu_crs):
    # register (WGS-84) listed first, Amap export (GCJ-02) second
    write_csv("register.csv", ["名称", "经度", "纬度", "学位数", "办园性质"],
              [["成华区第一幼儿园", "104.1000", "30.6700", "270", "公办"],
               ["成华区第二幼儿园", "104.1100", "30.6800", "180", "公办"]])
    g1 = wgs84_to_gcj02(104.10015, 30.67010)  # ~18 m from the register's point
    g2 = wgs84_to_gcj02(104.0900, 30.6600)
    write_csv("amap.csv", ["名称", "类型编码", "location", "adcode"],
              [["成华区第一幼儿园(东门)", "141204", f"{g1[0]:.6f},{g1[1]:.6f}", "510108"],
               ["双林幼儿园", "141204", f"{g2[0]:.6f},{g2[1]:.6f}", "510108"]])
    rejects = RejectLog()
    fac = load(tmp_path, [{"kind": "table", "path": "register.csv", "coords": "wgs84"},
                          {"kind": "table", "path": "amap.csv", "coords": "gcj02"}],
               taxonomy, chengdu_boundary, chengdu_crs, rejects)
    assert len(fac) == 3
    first = fac.set_index("name").loc["成华区第一幼儿园"]
    assert first["source"] == "register.csv"
    assert first["sources"] == "register.csv:2;amap.csv:2"
    assert first["capacity"] == 270
    assert first["admin_code"] == "510108"  # filled from the merged Amap row
    dup = rejects.to_frame()
    assert list(dup["reason"]) == ["duplicate"]
    assert dup["source"].iloc[0] == "amap.csv"
    assert first["facility_id"] in dup["detail"].iloc[0]
    assert 104.09 < dup["lon"].iloc[0] < 104.11  # WGS-84 position of the merged row
    # without merging distance the two stay apart
    fac2 = load(tmp_path, [{"kind": "table", "path": "register.csv", "coords": "wgs84"},
                           {"kind": "table", "path": "amap.csv", "coords": "gcj02"}],
                taxonomy, chengdu_boundary, chengdu_crs, dedup_dist_m=5.0)
    assert len(fac2) == 4


def test_mostly_outside_raises(tmp_path, write_csv, taxonomy, chengdu_boundary, chengdu_crs):
    # Zhengzhou points in a Chengdu study area
    write_csv("zz.csv", HEADER, [["郑州某幼儿园", "141204", "113.65", "34.75"],
                                 ["郑州某小学", "141203", "113.66", "34.76"],
                                 ["成都某幼儿园", "141204", "104.10", "30.67"]])
    with pytest.raises(CrsMismatchError) as info:
        load(tmp_path, [{"kind": "table", "path": "zz.csv", "coords": "gcj02"}],
             taxonomy, chengdu_boundary, chengdu_crs)
    err = info.value
    assert type(err) is CrsMismatchError
    assert err.column == "coords"
    assert "2 of 3" in str(err)
    assert "coordinate system may be wrong" in str(err)
    assert "zz.csv" in str(err)
    # stating that the file covers a wider area turns the check off
    rejects = RejectLog()
    fac = load(tmp_path, [{"kind": "table", "path": "zz.csv", "coords": "gcj02",
                           "check_extent": False}], taxonomy, chengdu_boundary, chengdu_crs,
               rejects)
    assert len(fac) == 1
    assert rejects.count(reason="outside_study_area") == 2


def test_wrong_system_suggested(tmp_path, write_csv, taxonomy, chengdu_crs):
    # a small study area: BD-09 points read as WGS-84 fall ~1 km off, outside it
    area = shapely.box(104.095, 30.665, 104.105, 30.675)
    rng = np.random.default_rng(3)
    lon = rng.uniform(104.098, 104.102, 5)
    lat = rng.uniform(30.668, 30.672, 5)
    b_lon, b_lat = wgs84_to_bd09(lon, lat)
    write_csv("bd.csv", HEADER, [[f"园{i}", "141204", f"{b_lon[i]:.6f}", f"{b_lat[i]:.6f}"]
                                 for i in range(5)])
    with pytest.raises(CrsMismatchError, match="coords = 'bd09'") as info:
        load(tmp_path, [{"kind": "table", "path": "bd.csv", "coords": "wgs84"}],
             taxonomy, area, chengdu_crs)
    assert type(info.value) is CrsMismatchError
    fac = load(tmp_path, [{"kind": "table", "path": "bd.csv", "coords": "bd09"}],
               taxonomy, area, chengdu_crs)
    assert np.allclose(np.sort(fac["lon"]), np.sort(lon), atol=1e-6)


ROW_KINDS = st.sampled_from(["valid", "missing", "outside", "unknown", "dup"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds_a=st.lists(ROW_KINDS, min_size=0, max_size=12),
       kinds_b=st.lists(ROW_KINDS, min_size=0, max_size=12),
       seed=st.integers(0, 2**16))
def test_every_row_accounted_for(kinds_a, kinds_b, seed, taxonomy, chengdu_boundary,
                                 chengdu_crs):
    rng = np.random.default_rng(seed)
    expected = {"missing_coordinates": 0, "outside_study_area": 0, "unknown_category": 0,
                "duplicate": 0}
    valid_a: list[list[str]] = []
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for label, kinds in (("a", kinds_a), ("b", kinds_b)):
            rows = []
            for i, kind in enumerate(kinds):
                tag = hashlib.sha1(f"{label}{i}{seed}".encode()).hexdigest()[:8]
                lon = 104.06 + rng.uniform(0, 0.05)
                lat = 30.65 + rng.uniform(0, 0.05)
                if kind == "dup" and label == "b" and valid_a:
                    src = valid_a[int(rng.integers(len(valid_a)))]
                    rows.append([src[0], "141204", f"{float(src[2]) + 0.0001:.6f}", src[3]])
                    expected["duplicate"] += 1
                elif kind == "missing":
                    rows.append([f"幼儿园{tag}", "141204", "", ""])
                    expected["missing_coordinates"] += 1
                elif kind == "outside":
                    rows.append([f"幼儿园{tag}", "141204", "113.65", "34.75"])
                    expected["outside_study_area"] += 1
                elif kind == "unknown":
                    rows.append([f"公司{tag}", "170200", f"{lon:.6f}", f"{lat:.6f}"])
                    expected["unknown_category"] += 1
                else:
                    row = [f"幼儿园{tag}", "141204", f"{lon:.6f}", f"{lat:.6f}"]
                    rows.append(row)
                    if label == "a":
                        valid_a.append(row)
            path = base / f"{label}.csv"
            path.write_text("\n".join(",".join(r) for r in [HEADER, *rows]) + "\n",
                            encoding="utf-8")
            tables.append({"kind": "table", "path": path.name, "coords": "wgs84",
                           "check_extent": False})
        rejects = RejectLog()
        fac = load(base, tables, taxonomy, chengdu_boundary, chengdu_crs, rejects,
                   dedup_dist_m=30.0)
    rows_in = sum(fac.attrs["rows_in"].values())
    assert rows_in == len(kinds_a) + len(kinds_b)
    assert rows_in == len(fac) + rejects.count(kind="facility")
    for reason, n in expected.items():
        assert rejects.count(reason=reason) == n, reason
    assert fac["facility_id"].is_unique


def test_vector_cgcs2000_geojson(tmp_path, taxonomy, chengdu_boundary, chengdu_crs):
    gdf = gpd.GeoDataFrame(
        {"name": ["猛追湾公园", "某某小学", None],
         "category": ["park", "", "kindergarten"]},
        geometry=[shapely.box(104.095, 30.665, 104.097, 30.667),
                  shapely.Point(104.10, 30.67), None],
        crs="EPSG:4490")
    gdf.to_file(tmp_path / "f.geojson", driver="GeoJSON")
    rejects = RejectLog()
    fac = load(tmp_path, [{"kind": "vector", "path": "f.geojson"}], taxonomy, chengdu_boundary,
               chengdu_crs, rejects)
    rec = fac.set_index("name")
    assert rec.loc["猛追湾公园", "category"] == "park"
    assert rec.loc["猛追湾公园", "lon"] == pytest.approx(104.096, abs=1e-5)
    assert rec.loc["某某小学", "category"] == "primary_school"
    assert rejects.count(reason="missing_coordinates") == 1
    assert rejects.rows[0]["row"] == 3


def test_vector_gcj02_points(tmp_path, taxonomy, chengdu_boundary, chengdu_crs):
    g = wgs84_to_gcj02(104.10, 30.67)
    gdf = gpd.GeoDataFrame({"名称": ["某幼儿园"]}, geometry=[shapely.Point(*map(float, g))],
                           crs="EPSG:4326")
    gdf.to_file(tmp_path / "amap.geojson", driver="GeoJSON")
    fac = load(tmp_path, [{"kind": "vector", "path": "amap.geojson", "coords": "gcj02"}],
               taxonomy, chengdu_boundary, chengdu_crs)
    assert fac["lon"].iloc[0] == pytest.approx(104.10, abs=1e-7)
    assert fac["lat"].iloc[0] == pytest.approx(30.67, abs=1e-7)
    with pytest.raises(CrsMismatchError) as info:
        load(tmp_path, [{"kind": "vector", "path": "amap.geojson", "coords": "cgcs2000"}],
             taxonomy, chengdu_boundary, chengdu_crs)
    assert type(info.value) is CrsMismatchError


def test_vector_without_crs(tmp_path, taxonomy, chengdu_boundary, chengdu_crs):
    gdf = gpd.GeoDataFrame({"name": ["某幼儿园"]}, geometry=[shapely.Point(104.1, 30.67)])
    with pytest.warns(UserWarning, match="'crs' was not provided"):  # what we want to test
        gdf.to_file(tmp_path / "nocrs.gpkg", driver="GPKG")
    with pytest.raises(NoCrsError) as info:
        load(tmp_path, [{"kind": "vector", "path": "nocrs.gpkg"}], taxonomy, chengdu_boundary,
             chengdu_crs)
    assert type(info.value) is NoCrsError
    fac = load(tmp_path, [{"kind": "vector", "path": "nocrs.gpkg", "crs": "EPSG:4326"}],
               taxonomy, chengdu_boundary, chengdu_crs)
    assert list(fac["category"]) == ["kindergarten"]


def test_sorted_and_columns(taxonomy, chengdu_boundary, chengdu_crs):
    fac = load(CHENGDU, [{"kind": "osm", "path": "chengdu_central.osm"}], taxonomy,
               chengdu_boundary, chengdu_crs)
    from facilities import FACILITY_COLUMNS

    assert list(fac.columns) == FACILITY_COLUMNS
    keys = list(zip(fac["category"], fac["facility_id"], strict=True))
    assert keys == sorted(keys)
    assert fac["capacity"].dtype == float
