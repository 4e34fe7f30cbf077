"""Age groups from each county's 2020 census age structure (the bundled table)."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine

from access.errors import ConfigError, InputFileError, StudyAreaError
from access.rejects import RejectLog
from gridded_pop import build_population, parse_population_sources
from gridded_pop.census2020 import (
    CENSUS2020_GROUPS,
    census2020_shares,
    census2020_table,
    county_code,
)
from lifecircle.pipeline import run
from lifecircle.study_area import load_study_area
from tests.gridded_pop.conftest import UTM48, write_raster

SHARED_XLSX = (Path(__file__).resolve().parents[3] / "shared" / "data"
               / "china_county_census_2020" / "census_county_2020_v1.xlsx")
BASE = {"kind": "census", "table": "district_population_2020.csv",
        "boundaries": "districts.geojson", "join_column": "gb",
        "value_column": "population_2020"}
CHENGDU5 = {"510104": "锦江区", "510105": "青羊区", "510106": "金牛区", "510107": "武侯区",
            "510108": "成华区"}


def test_lankao_county() -> None:
    t = census2020_table()
    r = t.loc["410225"]
    assert r["county"] == "兰考县"
    assert r["prefecture"] == "开封市"
    assert int(r["total"]) == 777_278
    # shares by hand from the bands: ages spread uniformly within a band
    assert r["share_age_0_2"] == pytest.approx((r["age_0"] + r["age_1_4"] / 2) / 777_278)
    assert r["share_age_3_5"] == pytest.approx((r["age_1_4"] / 2 + r["age_5_9"] / 5) / 777_278)
    assert r["share_age_60_plus"] == pytest.approx(r["age_60_plus"] / 777_278)
    assert int(t.loc["410200", "total"]) == 4_824_016  # 开封市
    assert int(t.loc["410100", "total"]) == 12_600_574  # 郑州市


@pytest.mark.skipif(not SHARED_XLSX.exists(), reason="shared census workbook not available")
def test_table_matches_the_census_workbook() -> None:
    df = pd.read_excel(SHARED_XLSX)
    df = df[df["区划代码"].notna()]
    df.index = df["区划代码"].astype(np.int64).astype(str)
    t = census2020_table()
    assert len(t) == len(df)
    for code in ("410225", *CHENGDU5):
        row = df.loc[code]
        assert t.loc[code, "total"] == row["人口数_合计"]
        sixty = sum(row[f"{s}_{b}"] for s in "男女" for b in
                    ("60到64岁", "65到69岁", "70到74岁", "75到79岁", "80到84岁", "85岁以上"))
        assert t.loc[code, "age_60_plus"] == sixty
        assert t.loc[code, "age_1_4"] == row["男_1到4岁"] + row["女_1到4岁"]


@pytest.mark.parametrize(("key", "code"), [
    ("410225", "410225"), ("156510104", "510104"), (410225, "410225"),
    ("410225100", "410225"), ("410225100201", "410225"), ("4102", None), ("兰考", None)])
def test_county_code(key: object, code: str | None) -> None:
    assert county_code(key) == code


def test_chengdu_districts_from_the_table(chengdu_dir: Path, chengdu_spec,
                                          chengdu_boundary) -> None:
    """The sample's five central districts get their own shares, matched by gb code."""
    sources = parse_population_sources([{**BASE, "shares": "census2020"}],
                                       base_dir=chengdu_dir, path=chengdu_dir / "area.toml")
    assert dict(sources[0].shares) == dict.fromkeys(CENSUS2020_GROUPS, "census2020")
    pg = build_population(sources, chengdu_spec, boundary=chengdu_boundary,
                          rejects=RejectLog(), osm_path=chengdu_dir / "chengdu_central.osm")
    census = pd.read_csv(chengdu_dir / "district_population_2020.csv", dtype={"gb": str})
    shares = census2020_shares(census["gb"].tolist())
    assert dict(zip(shares["code"], shares["county"], strict=True)) == CHENGDU5
    t = census2020_table()
    acc = pg.accounting.set_index("group")
    for g in CENSUS2020_GROUPS:
        expected = sum(float(p) * t.loc[c, f"share_{g}"]
                       for p, c in zip(census["population_2020"], shares["code"], strict=True))
        assert acc.loc[g, "population_in"] == pytest.approx(expected, rel=1e-12)
        assert acc.loc[g, "derived_from"] == "census2020"
        # groups are shares of the total cell by cell, each district its own share
        assert 0 < pg.total(g) < pg.total()
    # Chengdu's centre is older than the 0.1798 of the city's bulletin in some districts
    sixty = shares.set_index("county")["age_60_plus"]
    assert sixty["青羊区"] == pytest.approx(181_228 / t.loc["510105", "total"])
    assert sixty.max() - sixty.min() > 0.01
    # the note names every county and its shares
    note_en = next(en for _, en in pg.notes if "2020 census by county" in en)
    for code, name in CHENGDU5.items():
        assert f"{name} ({code})" in note_en
    assert "half of 1-4" in note_en
    assert "age_60_plus" in pg.derived_groups


def test_census2020_needs_census_codes(chengdu_dir: Path, chengdu_spec, chengdu_boundary,
                                       tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="derives groups from the total"):
        parse_population_sources([{"kind": "vector", "path": "x.gpkg", "value_column": "p",
                                   "group": "age_60_plus", "shares": "census2020"}],
                                 base_dir=tmp_path, path=tmp_path / "area.toml")
    with pytest.raises(ConfigError, match="census2020"):
        parse_population_sources([{**BASE, "shares": "census2021"}], base_dir=chengdu_dir,
                                 path=chengdu_dir / "area.toml")
    # a unit code the census does not know is named with its row
    for name in ("districts.geojson", "chengdu_central.osm"):
        shutil.copy(chengdu_dir / name, tmp_path / name)
    census = pd.read_csv(chengdu_dir / "district_population_2020.csv", dtype={"gb": str})
    census.loc[2, "gb"] = "156999999"
    census.to_csv(tmp_path / "district_population_2020.csv", index=False)
    gj = (tmp_path / "districts.geojson").read_text(encoding="utf-8")
    (tmp_path / "districts.geojson").write_text(gj.replace("156510106", "156999999"),
                                                encoding="utf-8")
    sources = parse_population_sources([{**BASE, "shares": "census2020"}], base_dir=tmp_path,
                                       path=tmp_path / "area.toml")
    with pytest.raises(InputFileError, match="156999999") as exc:
        build_population(sources, chengdu_spec, boundary=chengdu_boundary,
                         rejects=RejectLog(), osm_path=tmp_path / "chengdu_central.osm")
    assert "row 3" in str(exc.value)


# -- raster and vector sources: the county of each cell from the units' codes -----

def _districts(chengdu_dir: Path) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(chengdu_dir / "districts.geojson").to_crs(UTM48)
    return gpd.GeoDataFrame({"unit_id": gdf["gb"].astype(str), "name": gdf["name"]},
                            geometry=gdf.geometry, crs=UTM48)


def _expected_share(spec, total: np.ndarray, districts: gpd.GeoDataFrame, group: str
                    ) -> np.ndarray:
    """Share of every populated cell, found independently: the district containing the
    centre, else the nearest one; its gb code without the 156 prefix in the table."""
    t = census2020_table()
    x, y = spec.cell_centres()
    polys = list(districts.geometry)
    codes = [c[3:] for c in districts["unit_id"]]
    out = np.full(total.size, np.nan)
    for i in np.flatnonzero(total.ravel() > 0):
        p = shapely.Point(x[i], y[i])
        inside = [k for k, poly in enumerate(polys) if poly.intersects(p)]
        k = inside[0] if inside else int(np.argmin([poly.distance(p) for poly in polys]))
        out[i] = t.loc[codes[k], f"share_{group}"]
    return out.reshape(total.shape)


def test_raster_source_takes_each_cells_county(chengdu_dir: Path, chengdu_spec,
                                               chengdu_boundary, tmp_path: Path) -> None:
    """A 200 m raster of 10 persons per pixel; 60+, 0-2 and 3-5 from the county of the
    district each cell lies in (the sample's districts carry gb codes such as 156510104)."""
    x0, y0, x1, y1 = chengdu_boundary.bounds
    n_cols, n_rows = int((x1 - x0) // 200) + 2, int((y1 - y0) // 200) + 2
    path = write_raster(tmp_path / "pop.tif", np.full((n_rows, n_cols), 10.0),
                        Affine(200, 0, x0 - 100, 0, -200, y1 + 100), UTM48)
    sources = parse_population_sources(
        [{"kind": "raster", "paths": [str(path)], "label": "grid", "shares": "census2020"}],
        base_dir=tmp_path, path=tmp_path / "area.toml")
    districts = _districts(chengdu_dir)
    pg = build_population(sources, chengdu_spec, boundary=chengdu_boundary,
                          rejects=RejectLog(), units={"district": districts})
    total = pg.groups["total"]
    for g in CENSUS2020_GROUPS:
        want = total * np.nan_to_num(_expected_share(chengdu_spec, total, districts, g))
        np.testing.assert_allclose(pg.groups[g], want, rtol=1e-12, atol=1e-12)
        row = pg.accounting.set_index("group").loc[g]
        assert row["derived_from"] == "census2020"
        assert row["population_in"] == pytest.approx(
            row["on_grid"] + row["outside_area"] + row["rejected"], rel=1e-9)
    # every district of the sample is used, and the note says which shares
    note_en = next(en for _, en in pg.notes if "2020 census of the county" in en)
    t = census2020_table()
    for code, name in CHENGDU5.items():
        assert f"{name} ({code}) age_60_plus {t.loc[code, 'share_age_60_plus']:.2%}" in note_en
    assert "'district' unit" in note_en
    assert "青羊区（510105）60岁及以上" in next(zh for zh, _ in pg.notes if "2020年" in zh)
    assert "age_60_plus" in pg.derived_groups


def test_vector_source_and_units_without_codes(chengdu_dir: Path, chengdu_spec,
                                               chengdu_boundary, tmp_path: Path) -> None:
    districts = _districts(chengdu_dir)
    census = pd.read_csv(chengdu_dir / "district_population_2020.csv", dtype={"gb": str})
    polys = districts.assign(persons=districts["unit_id"].map(
        dict(zip(census["gb"], census["population_2020"], strict=True))))
    polys[["persons", "geometry"]].to_file(tmp_path / "pop.gpkg", driver="GPKG")
    sources = parse_population_sources(
        [{"kind": "vector", "path": "pop.gpkg", "value_column": "persons",
          "shares": {"age_60_plus": "census2020"}}],
        base_dir=tmp_path, path=tmp_path / "area.toml")
    pg = build_population(sources, chengdu_spec, boundary=chengdu_boundary,
                          rejects=RejectLog(), units={"district": districts})
    total = pg.groups["total"]
    want = total * np.nan_to_num(_expected_share(chengdu_spec, total, districts,
                                                 "age_60_plus"))
    np.testing.assert_allclose(pg.groups["age_60_plus"], want, rtol=1e-12, atol=1e-12)
    assert "age_0_2" not in pg.groups
    # units named, not coded: one clear error naming the key
    named = districts.assign(unit_id=districts["name"])
    with pytest.raises(ConfigError, match="administrative codes") as exc:
        build_population(sources, chengdu_spec, boundary=chengdu_boundary,
                         rejects=RejectLog(), units={"district": named})
    assert "population.shares" in str(exc.value) or "shares" in str(exc.value)
    # one district without a code: its residents get the others' weighted mean share
    partly = districts.assign(unit_id=districts["unit_id"].where(
        districts["name"] != "金牛区", "jinniu"))
    pg2 = build_population(sources, chengdu_spec, boundary=chengdu_boundary,
                           rejects=RejectLog(), units={"district": partly})
    note = next(en for _, en in pg2.notes if "2020 census of the county" in en)
    assert "whose code names no county (jinniu)" in note
    assert pg2.total("age_60_plus") == pytest.approx(pg.total("age_60_plus"), rel=0.02)


def _vector_area(sample_dir: Path, tmp_path: Path, *, units: bool) -> Path:
    """The sample with its census source replaced by a vector source of the districts."""
    area = tmp_path / "area"
    shutil.copytree(sample_dir, area)
    census = pd.read_csv(area / "district_population_2020.csv", dtype={"gb": str})
    gdf = gpd.read_file(area / "districts.geojson")
    gdf["persons"] = gdf["gb"].astype(str).map(
        dict(zip(census["gb"], census["population_2020"], strict=True)))
    gdf[["persons", "geometry"]].to_file(area / "pop.gpkg", driver="GPKG")
    toml = area / "area.toml"
    text = toml.read_text(encoding="utf-8")
    start = text.index("[[population]]")
    end = text.index("[[facilities]]")
    text = (text[:start] + '[[population]]\nkind = "vector"\npath = "pop.gpkg"\n'
            'value_column = "persons"\nshares = "census2020"\n\n' + text[end:])
    if not units:
        text = text[:text.index("[[units]]")]
    toml.write_text(text, encoding="utf-8")
    return toml


def test_vector_source_through_the_pipeline(sample_dir: Path, tmp_path: Path) -> None:
    """End to end: the run's notes and run.json name the counties and their shares."""
    with pytest.raises(StudyAreaError) as exc:
        load_study_area(_vector_area(sample_dir, tmp_path / "a", units=False))
    found = dict(exc.value.problems)
    assert "[[units]]" in found["population[1].shares"]
    result = run(load_study_area(_vector_area(sample_dir, tmp_path / "b", units=True)))
    pop = result.cells["pop_total"].to_numpy()
    sixty = result.cells["pop_age_60_plus"].to_numpy()
    t = census2020_table()
    # a cell inside 青羊区 carries its county's share
    unit = result.cells["unit__district"].to_numpy()
    sel = (unit == "156510105") & (pop > 0)
    np.testing.assert_allclose(sixty[sel] / pop[sel], t.loc["510105", "share_age_60_plus"],
                               rtol=1e-9)
    note = next(en for _, en in result.population.notes if "2020 census of the county" in en)
    assert all(f"{name} ({code})" in note for code, name in CHENGDU5.items())
