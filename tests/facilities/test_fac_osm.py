"""OSM facilities from the bundled Chengdu XML and the Kouvola PBF."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from access.errors import NotOsmFileError
from access.rejects import RejectLog
from facilities import load_facilities, parse_facility_sources
from facilities.read_osm import read_osm
from tests.facilities.conftest import CHENGDU, CHENGDU_OSM, KOUVOLA_PBF

KINDERGARTEN_NODES = {"n1947467021", "n1956611053", "n1958204370", "n4772476122",
                      "n5742665988"}


@pytest.fixture(scope="module")
def chengdu_records(taxonomy, chengdu_crs):
    return read_osm(CHENGDU_OSM, taxonomy, crs=chengdu_crs)


def test_chengdu_yields_schools_kindergartens_hospitals(chengdu_records):
    by_cat = chengdu_records.groupby("category")["source_row"].apply(set)
    # the five amenity=kindergarten nodes, plus schools whose name says 幼儿园
    assert by_cat["kindergarten"] >= KINDERGARTEN_NODES
    assert len(by_cat["kindergarten"]) == 8
    n_schools = sum(len(by_cat[k]) for k in ("primary_school", "junior_middle_school", "school"))
    assert n_schools == 55 - 3  # every amenity=school but the three named 幼儿园
    assert len(by_cat["hospital"]) == 28
    assert len(by_cat["park"]) == 29
    assert "成都市建设路小学东区" in set(
        chengdu_records.loc[chengdu_records["category"] == "primary_school", "name"])


def test_chengdu_record_locations(chengdu_records):
    rec = chengdu_records.set_index("source_row").loc["n1947467021"]
    assert rec["name"] == "省建一公司幼儿园"
    assert rec["lon"] == pytest.approx(104.0860455)
    assert rec["lat"] == pytest.approx(30.6796065)
    ways = chengdu_records[chengdu_records["source_row"].str.startswith("w")]
    assert len(ways) > 50
    assert ways["lon"].between(104.0, 104.2).all()
    assert ways["lat"].between(30.6, 30.8).all()
    rel = chengdu_records[chengdu_records["source_row"].str.startswith("r")]
    assert list(rel["category"]) == ["library"]


def test_kouvola_pbf_school_and_kindergarten(taxonomy):
    from pyproj import CRS

    rec = read_osm(KOUVOLA_PBF, taxonomy, crs=CRS.from_epsg(32635))
    cats = dict(zip(rec["source_row"], rec["category"], strict=True))
    assert cats["n1324225776"] == "kindergarten"
    assert cats["w180464603"] == "school"
    school = rec.set_index("source_row").loc["w180464603"]
    assert school["name"] == "Helilän koulu"
    assert 26.9 < school["lon"] < 27.0
    assert 60.5 < school["lat"] < 60.55


def test_not_an_osm_file(tmp_path: Path, taxonomy, chengdu_crs):
    bad = tmp_path / "x.osm"
    bad.write_text("this is not xml", encoding="utf-8")
    with pytest.raises(NotOsmFileError) as info:
        read_osm(bad, taxonomy, crs=chengdu_crs)
    assert type(info.value) is NotOsmFileError
    assert "x.osm" in str(info.value)


def test_osm_accounting(taxonomy, chengdu_boundary, chengdu_crs):
    sources = parse_facility_sources([{"kind": "osm", "path": "chengdu_central.osm"}],
                                     base_dir=CHENGDU, path=CHENGDU / "area.toml")
    rejects = RejectLog()
    fac = load_facilities(sources, boundary=chengdu_boundary, crs=chengdu_crs,
                          taxonomy=taxonomy, rejects=rejects)
    rows_in = fac.attrs["rows_in"]["chengdu_central.osm"]
    assert rows_in == len(fac) + rejects.count(kind="facility")
    assert fac["facility_id"].is_unique
    assert (fac["category"] == "kindergarten").sum() >= 5
    assert fac.crs == chengdu_crs
    # deterministic: a second run gives the same table
    again = load_facilities(sources, boundary=chengdu_boundary, crs=chengdu_crs,
                            taxonomy=taxonomy, rejects=RejectLog())
    assert again["facility_id"].tolist() == fac["facility_id"].tolist()


def _library_relations(path: Path, *, drop_node: int | None = None,
                       drop_way: int | None = None) -> Path:
    """Two square libraries mapped as multipolygon relations over untagged ways."""
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[list[int]] = []
    nid = 1
    for lon0, lat0 in [(104.08, 30.68), (104.09, 30.68)]:
        ids = []
        for dx, dy in [(0, 0), (0.001, 0), (0.001, 0.001), (0, 0.001)]:
            nodes[nid] = (lon0 + dx, lat0 + dy)
            ids.append(nid)
            nid += 1
        ways.append([*ids, ids[0]])
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", '<osm version="0.6" generator="test">']
    lines += [f'  <node id="{i}" lat="{lat:.7f}" lon="{lon:.7f}" version="1"/>'
              for i, (lon, lat) in nodes.items() if i != drop_node]
    for w, refs in enumerate(ways, start=1):
        if w == drop_way:
            continue
        lines += [f'  <way id="{w}" version="1">', *(f'    <nd ref="{r}"/>' for r in refs),
                  "  </way>"]
    for r in (1, 2):
        lines += [f'  <relation id="{r}" version="1">',
                  f'    <member type="way" ref="{r}" role="outer"/>',
                  '    <tag k="type" v="multipolygon"/>', '    <tag k="amenity" v="library"/>',
                  f'    <tag k="name" v="图书馆{r}"/>', "  </relation>"]
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_relation_with_missing_nodes_is_rejected_not_lost(tmp_path: Path, taxonomy,
                                                           chengdu_boundary, chengdu_crs):
    whole = read_osm(_library_relations(tmp_path / "whole.osm"), taxonomy, crs=chengdu_crs)
    assert sorted(whole["source_row"]) == ["r1", "r2"]
    assert (whole["reject"] == "").all()

    # node 2 of library r1 is missing (a clipped extract): osmium cannot build the area
    path = _library_relations(tmp_path / "clipped.osm", drop_node=2)
    rec = read_osm(path, taxonomy, crs=chengdu_crs).set_index("source_row")
    assert sorted(rec.index) == ["r1", "r2"]
    assert rec.loc["r2", "reject"] == ""
    assert rec.loc["r1", "reject"] == "incomplete_area"
    assert rec.loc["r1", "category"] == "library"
    assert "multipolygon" in rec.loc["r1", "detail"][1]  # (zh, en)
    assert "1 of 1 member ways" in rec.loc["r1", "detail"][1]
    # located at the centre of the member way present: the ring without node 2
    # (nodes 1, 3, 4, 1), its length-weighted centroid in the metric CRS
    ring = gpd.GeoSeries([shapely.LineString([(104.08, 30.68), (104.081, 30.681),
                                              (104.08, 30.681), (104.08, 30.68)])],
                         crs="EPSG:4326").to_crs(chengdu_crs)
    centre = gpd.GeoSeries(ring.centroid, crs=chengdu_crs).to_crs("EPSG:4326").iloc[0]
    assert rec.loc["r1", "lon"] == pytest.approx(centre.x, abs=1e-9)
    assert rec.loc["r1", "lat"] == pytest.approx(centre.y, abs=1e-9)
    assert 104.08 < rec.loc["r1", "lon"] < 104.081
    assert 30.68 < rec.loc["r1", "lat"] < 30.681

    # through the loader: one library kept, the other listed in rejects with its reason
    sources = parse_facility_sources([{"kind": "osm", "path": "clipped.osm"}],
                                     base_dir=tmp_path, path=tmp_path / "area.toml")
    rejects = RejectLog()
    fac = load_facilities(sources, boundary=chengdu_boundary, crs=chengdu_crs,
                          taxonomy=taxonomy, rejects=rejects)
    assert list(fac["name"]) == ["图书馆2"]
    rows = rejects.to_frame()
    lost = rows[rows["row"] == "r1"]
    assert list(lost["reason"]) == ["incomplete_area"]
    assert lost["lon"].iloc[0] == pytest.approx(centre.x, abs=1e-9)  # findable on a map
    assert lost["lat"].iloc[0] == pytest.approx(centre.y, abs=1e-9)
    assert fac.attrs["rows_in"]["clipped.osm"] == len(fac) + rejects.count(kind="facility")


def test_relation_without_any_member_way_has_no_location(tmp_path: Path, taxonomy,
                                                         chengdu_crs):
    path = _library_relations(tmp_path / "noway.osm", drop_way=1)
    rec = read_osm(path, taxonomy, crs=chengdu_crs).set_index("source_row")
    assert rec.loc["r1", "reject"] == "missing_coordinates"
    assert "none of its member ways" in rec.loc["r1", "detail"][1]
    assert np.isnan(rec.loc["r1", "lon"])
    assert rec.loc["r2", "reject"] == ""
