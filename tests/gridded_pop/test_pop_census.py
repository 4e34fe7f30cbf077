"""Census totals per district, disaggregated dasymetrically on the Chengdu sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from access.errors import ConfigError, InputFileError
from access.rejects import RejectLog
from gridded_pop import (
    PopulationUnitsError,
    build_population,
    parse_population_sources,
    read_osm_landcover,
)
from gridded_pop.overlay import rasterize_areas

# km² of each district inside the sample area, from the data README
AREA_KM2 = {"成华区": 37, "金牛区": 21, "青羊区": 9, "锦江区": 4}
BASE = {"kind": "census", "table": "district_population_2020.csv",
        "boundaries": "districts.geojson", "join_column": "gb",
        "value_column": "population_2020"}


def _build(tables: list[dict], base: Path, spec, boundary, *, osm: bool = True,
           rejects: RejectLog | None = None):
    sources = parse_population_sources(tables, base_dir=base, path=base / "study.toml")
    return build_population(sources, spec, boundary=boundary,
                            rejects=rejects if rejects is not None else RejectLog(),
                            osm_path=base / "chengdu_central.osm" if osm else None)


def _balanced(pg) -> None:
    a = pg.accounting
    assert np.allclose(a.population_in, a.on_grid + a.outside_area + a.rejected, rtol=1e-9)


@pytest.fixture(scope="module")
def sample(chengdu_dir: Path, chengdu_spec, chengdu_boundary):
    tables = [{**BASE, "shares": {"age_60_plus": 0.1929}}]
    return _build(tables, chengdu_dir, chengdu_spec, chengdu_boundary)


def test_sample_conserves_and_counts_the_area_share(sample, chengdu_dir: Path) -> None:
    _balanced(sample)
    acc = sample.accounting.set_index("group")
    assert acc.loc["total", "population_in"] == pytest.approx(6_361_365)  # five districts
    assert acc.loc["total", "rejected"] == 0
    units = gpd.read_file(chengdu_dir / "districts.geojson")
    per_unit = sample.aggregate_to_units(units, id_column="name").set_index("name")
    pop = {"锦江区": 902_933, "青羊区": 955_954, "金牛区": 1_265_398, "武侯区": 1_855_186,
           "成华区": 1_381_894}
    metric = units.to_crs(sample.spec.crs).set_index("name").area
    for name, km2 in AREA_KM2.items():
        assert per_unit.loc[name, "area_m2"] / 1e6 == pytest.approx(km2, abs=1.0)
        share = per_unit.loc[name, "area_m2"] / metric[name]
        # cells on district borders are shared by area, so per-unit sums are close, not exact
        assert per_unit.loc[name, "pop_total"] == pytest.approx(pop[name] * share, rel=0.02)
    assert per_unit.pop_total.sum() == pytest.approx(sample.total(), rel=1e-9)


def test_shares_derive_the_elderly_and_say_so(sample) -> None:
    np.testing.assert_allclose(sample.groups["age_60_plus"], 0.1929 * sample.groups["total"])
    row = sample.accounting.set_index("group").loc["age_60_plus"]
    assert row.derived_from == "0.1929"
    assert any("19.29%" in en and "derived" in en for _, en in sample.notes)
    assert any("19.29%" in zh and "推算" in zh for zh, _ in sample.notes)


def test_residents_favour_homes_and_avoid_water(sample, chengdu_dir: Path) -> None:
    spec = sample.spec
    cover = read_osm_landcover(chengdu_dir / "chengdu_central.osm", spec.crs)
    water = rasterize_areas(shapely.intersection(cover.water, sample.boundary), spec)
    res = sample.residential_m2
    assert res is not None
    assert res.sum() / 1e6 == pytest.approx(5.4, abs=0.5)
    dens = sample.groups["total"] / np.where(sample.area_in_m2 > 0, sample.area_in_m2, 1)
    homes = res > 0.9 * spec.cell_size_m ** 2
    wet = water > 0.99 * spec.cell_size_m ** 2
    empty = (res == 0) & (water == 0) & (sample.area_in_m2 > 0)
    assert np.median(dens[homes]) > 5 * np.median(dens[empty])
    assert wet.any()
    assert sample.groups["total"][wet].max() < 1.0


def test_uniform_density_without_ancillary(chengdu_dir: Path, chengdu_spec,
                                           chengdu_boundary) -> None:
    pg = _build([{**BASE, "ancillary": "none"}], chengdu_dir, chengdu_spec, chengdu_boundary,
                osm=False)
    _balanced(pg)
    assert pg.residential_m2 is None
    dens = pg.groups["total"] / np.where(pg.area_in_m2 > 0, pg.area_in_m2, 1)
    units = gpd.read_file(chengdu_dir / "districts.geojson").to_crs(chengdu_spec.crs)
    chenghua = units.loc[units.name == "成华区"].geometry.iloc[0]
    inner = [i for i in range(chengdu_spec.n_cells)
             if chenghua.contains(chengdu_spec.cell_polygons(np.array([i]))[0])
             and pg.area_in_m2.ravel()[i] == chengdu_spec.cell_size_m ** 2]
    vals = dens.ravel()[inner]
    assert vals.size > 1000
    assert vals.max() == pytest.approx(vals.min(), rel=1e-9)
    assert any("evenly by area" in en for _, en in pg.notes)


def test_osm_needed_but_missing(chengdu_dir: Path, chengdu_spec, chengdu_boundary) -> None:
    with pytest.raises(ConfigError) as err:
        _build([BASE], chengdu_dir, chengdu_spec, chengdu_boundary, osm=False)
    assert type(err.value) is ConfigError
    assert err.value.key == "population[1].osm"


def _copy_sample(chengdu_dir: Path, tmp_path: Path, csv_text: str | None = None) -> Path:
    for name in ("districts.geojson", "chengdu_central.osm"):
        shutil.copy(chengdu_dir / name, tmp_path / name)
    text = csv_text if csv_text is not None else (
        chengdu_dir / "district_population_2020.csv").read_text(encoding="utf-8")
    (tmp_path / "district_population_2020.csv").write_text(text, encoding="utf-8")
    return tmp_path


CSV = """gb,name,population_2020,share_60
156510104,锦江区,902933,0.18
156510105,青羊区,955954,19.5%
156510106,金牛区,1265398,0.17
156510108,成华区,1381894,0.16
156519999,不存在区,1000,0.2
,无编码,50,0.2
156510107,武侯区,-5,0.2
"""


def test_rejects_unmatched_and_invalid_rows(chengdu_dir: Path, tmp_path: Path, chengdu_spec,
                                            chengdu_boundary) -> None:
    base = _copy_sample(chengdu_dir, tmp_path, CSV)
    rejects = RejectLog()
    pg = _build([{**BASE, "shares": {"age_60_plus": "share_60"}}], base, chengdu_spec,
                chengdu_boundary, rejects=rejects)
    _balanced(pg)
    frame = rejects.to_frame().sort_values("row")
    assert list(frame.row) == [5, 6, 7]
    assert list(frame.reason) == ["no_matching_unit", "no_matching_unit", "invalid_value"]
    tot = pg.accounting.set_index("group").loc["total"]
    assert tot.rejected == pytest.approx(1050.0)
    assert tot.rejected_rows == 3
    # 武侯 has no valid figure but lies (a sliver) in the study area: noted
    assert any("武侯" not in en and "156510107" in en for _, en in pg.notes)
    # per-unit shares, 19.5% read as a percentage (border cells are shared by area: ~1%)
    units = gpd.read_file(base / "districts.geojson")
    per = pg.aggregate_to_units(units, id_column="gb").set_index("gb")
    assert per.loc["156510105", "pop_age_60_plus"] == pytest.approx(
        0.195 * per.loc["156510105", "pop_total"], rel=0.01)
    assert per.loc["156510108", "pop_age_60_plus"] == pytest.approx(
        0.16 * per.loc["156510108", "pop_total"], rel=0.01)


def test_bad_share_column(chengdu_dir: Path, tmp_path: Path, chengdu_spec,
                          chengdu_boundary) -> None:
    base = _copy_sample(chengdu_dir, tmp_path, CSV.replace("0.17", "17"))
    with pytest.raises(PopulationUnitsError) as err:
        _build([{**BASE, "shares": {"age_60_plus": "share_60"}}], base, chengdu_spec,
               chengdu_boundary)
    assert type(err.value) is PopulationUnitsError
    assert (err.value.row, err.value.column) == (3, "share_60")
    with pytest.raises(InputFileError) as err:
        _build([{**BASE, "shares": {"age_60_plus": "share_65"}}], base, chengdu_spec,
               chengdu_boundary)
    assert type(err.value) is InputFileError
    assert err.value.column == "share_65"


@pytest.mark.parametrize(("change", "column", "row"), [
    ({"value_column": "pop"}, "pop", None),
    ({"join_column": "code"}, "code", None),
    ({"boundaries_join_column": "adcode"}, "adcode", None),
])
def test_missing_columns(chengdu_dir: Path, chengdu_spec, chengdu_boundary, change: dict,
                         column: str, row: int | None) -> None:
    with pytest.raises(InputFileError) as err:
        _build([{**BASE, **change}], chengdu_dir, chengdu_spec, chengdu_boundary)
    assert type(err.value) is InputFileError
    assert err.value.column == column
    assert err.value.row == row


def test_duplicate_unit_and_wrong_encoding(chengdu_dir: Path, tmp_path: Path, chengdu_spec,
                                           chengdu_boundary) -> None:
    dup = CSV + "156510104,锦江区,1,0.1\n"
    base = _copy_sample(chengdu_dir, tmp_path, dup)
    with pytest.raises(InputFileError) as err:
        _build([BASE], base, chengdu_spec, chengdu_boundary)
    assert type(err.value) is InputFileError
    assert (err.value.row, err.value.column) == (8, "gb")
    (base / "district_population_2020.csv").write_bytes(CSV.encode("gb18030"))
    with pytest.raises(InputFileError, match="gb18030") as err:
        _build([BASE], base, chengdu_spec, chengdu_boundary)
    assert type(err.value) is InputFileError
    pg = _build([{**BASE, "encoding": "gb18030"}], base, chengdu_spec, chengdu_boundary)
    _balanced(pg)


def test_unit_without_homes_falls_back_to_uniform(chengdu_dir: Path, tmp_path: Path,
                                                  chengdu_spec, chengdu_boundary) -> None:
    base = _copy_sample(chengdu_dir, tmp_path)
    # an OSM file without any land use: every unit falls back to uniform density
    (base / "empty.osm").write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'></osm>\n", encoding="utf-8")
    pg = _build([{**BASE, "osm": "empty.osm"}], base, chengdu_spec, chengdu_boundary,
                osm=False)
    _balanced(pg)
    assert any("no residential land or buildings" in en for _, en in pg.notes)
    assert any("无居住用地" in zh for zh, _ in pg.notes)


def test_not_an_osm_file(chengdu_dir: Path, tmp_path: Path, chengdu_spec,
                         chengdu_boundary) -> None:
    base = _copy_sample(chengdu_dir, tmp_path)
    (base / "junk.osm").write_text("this is not osm", encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        _build([{**BASE, "osm": "junk.osm"}], base, chengdu_spec, chengdu_boundary, osm=False)
    assert type(err.value) is InputFileError
