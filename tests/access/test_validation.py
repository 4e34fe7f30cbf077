"""Study-area validation: every mistake reported together, before any expensive stage."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import get_args

import geopandas as gpd
import jsonschema
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import CRS
from typer.testing import CliRunner

from access.errors import InputFileError, StudyAreaError
from access.osm import osm_bounds
from access.settlement import SETTLEMENTS, parse_settlement
from access.vocabulary import GROUPS, GroupKey
from lifecircle import cli as cli_module
from lifecircle import resources
from lifecircle.area_models import study_area_schema
from lifecircle.cli import app
from lifecircle.pipeline import _read_units
from lifecircle.resources import check_memory, estimate_memory
from lifecircle.study_area import default_area_path, load_study_area

SCHEMA_FILE = Path(__file__).parents[2] / "lifecircle" / "schema" / "study_area.schema.json"


@pytest.fixture
def area_dir(tmp_path: Path, sample_dir: Path) -> Path:
    """A copy of the bundled sample, to edit."""
    dst = tmp_path / "area"
    shutil.copytree(sample_dir, dst)
    return dst


def edit(area_dir: Path, *changes: tuple[str, str]) -> Path:
    path = area_dir / "area.toml"
    text = path.read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> dict[str | None, str]:
    with pytest.raises(StudyAreaError) as info:
        load_study_area(path)
    return dict(info.value.problems)


# -- several mistakes, one error -------------------------------------------------

SEVERAL = (
    ("snap_max_dist_m = 500", "snap_max_dist = 500"),                 # typo
    ("cell_size_m = 100", 'cell_size_m = "100"'),                     # wrong type
    ('boundaries = "districts.geojson"', 'boundaries = "nowhere.geojson"'),  # missing file
    ('value_column = "population_2020"', 'value_column = "pop"'),     # bad header
    ('name_column = "name"', 'name_column = "name"\ncrs = "EPSG:3857"'),  # CRS contradiction
    ("k_nearest = 3", "k_nearest = 100000"),                          # out of range
)


def test_several_mistakes_reported_together(area_dir: Path) -> None:
    found = problems(edit(area_dir, *SEVERAL))
    assert set(found) >= {"network.snap_max_dist", "grid.cell_size_m", "population[1].boundaries",
                          "units[1].crs", "travel.k_nearest"}
    assert "did you mean 'snap_max_dist_m'" in found["network.snap_max_dist"]
    assert "nowhere.geojson" in found["population[1].boundaries"]
    assert "EPSG:4490" in found["units[1].crs"]
    assert "50" in found["travel.k_nearest"]


def test_bad_header_reported(area_dir: Path) -> None:
    found = problems(edit(area_dir, ('value_column = "population_2020"', 'value_column = "pop"'),
                          ('id_column = "gb"', 'id_column = "code"')))
    assert "no column 'pop'" in found["population[1].value_column"]
    assert "population_2020" in found["population[1].value_column"]
    assert "no column 'code'" in found["units[1].id_column"]


def test_cli_reports_all_and_writes_nothing(area_dir: Path, tmp_path: Path) -> None:
    path = edit(area_dir, *SEVERAL)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", "--area", str(path), "--out", str(out), "--quiet"])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert "研究区文件有 5 处错误" in res.output  # Chinese by default
    for key in ("network.snap_max_dist", "grid.cell_size_m", "population[1].boundaries",
                "units[1].crs", "travel.k_nearest"):
        assert key in res.output
    assert not out.exists()
    res = CliRunner().invoke(app, ["run", "--area", str(path), "--out", str(out), "--quiet",
                                   "--lang", "en"])
    assert res.exit_code == 2
    assert "problems in the study-area file" in res.output
    assert not out.exists()


# -- each kind of mistake ----------------------------------------------------------

def test_no_population(area_dir: Path) -> None:
    text = (area_dir / "area.toml").read_text(encoding="utf-8")
    start, end = text.index("[[population]]"), text.index("[[facilities]]")
    (area_dir / "area.toml").write_text(text[:start] + text[end:], encoding="utf-8")
    found = problems(area_dir / "area.toml")
    assert "no [[population]] table" in found["population"]


def test_target_without_its_population_group(area_dir: Path) -> None:
    path = edit(area_dir, ('shares = "census2020"',
                           'shares = { age_0_2 = "census2020", age_3_5 = "census2020" }'))
    found = problems(path)
    assert "'age_60_plus'" in found["population"]
    assert "eldercare" in found["population"]


def test_target_group_given_by_a_census_column(area_dir: Path) -> None:
    """A share named as a census column must exist in the table."""
    path = edit(area_dir, ('shares = "census2020"', 'shares = { age_60_plus = "share_60" }'))
    found = problems(path)
    assert "no column 'share_60'" in found["population[1].shares.age_60_plus"]


def test_folder_where_a_file_is_expected(area_dir: Path) -> None:
    path = edit(area_dir, ('path = "chengdu_central.osm"', 'path = "."'))
    assert "is a folder" in problems(path)["network.path"]


def test_area_given_a_folder(area_dir: Path) -> None:
    with pytest.raises(InputFileError, match=r"is a folder.*area\.toml"):
        load_study_area(area_dir)


def test_point_boundary(area_dir: Path) -> None:
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(104.06, 30.66)], crs="EPSG:4326")
    pts.to_file(area_dir / "point.geojson", driver="GeoJSON")
    path = edit(area_dir, ('boundary = "osm_bounds"', 'boundary = "point.geojson"'))
    assert "must be a polygon" in problems(path)["boundary"]


def test_boundary_without_crs(area_dir: Path) -> None:
    poly = gpd.GeoDataFrame(geometry=[shapely.box(104.0, 30.6, 104.1, 30.7)])
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        poly.to_file(area_dir / "nocrs.gpkg", driver="GPKG")
    path = edit(area_dir, ('boundary = "osm_bounds"', 'boundary = "nocrs.gpkg"'))
    assert "records no coordinate reference system" in problems(path)["boundary_crs"]


# -- settlement values ---------------------------------------------------------------

@pytest.mark.parametrize(("word", "cls"), [
    ("城区", "urban"), ("市区", "urban"), ("街道", "urban"), ("urban", "urban"),
    ("城镇", "town"), ("镇", "town"), ("集镇", "town"), ("Town", "town"),
    ("乡", "village"), ("村", "village"), ("农村", "village"), ("行政村", "village"),
    (" village ", "village"), ("", None), (None, None),
])
def test_settlement_words(word: object, cls: str | None) -> None:
    assert parse_settlement(word) == cls
    assert cls is None or cls in SETTLEMENTS


def test_settlement_unknown_word() -> None:
    with pytest.raises(ValueError, match="城区"):
        parse_settlement("郊区")


def _with_settlement(area_dir: Path, values: list[str]) -> Path:
    g = gpd.read_file(area_dir / "districts.geojson")
    g["type"] = values
    g.to_file(area_dir / "districts.geojson", driver="GeoJSON")
    return edit(area_dir, ('name_column = "name"',
                           'name_column = "name"\nsettlement_column = "type"'))


def test_chinese_settlement_values_accepted(area_dir: Path) -> None:
    path = _with_settlement(area_dir, ["城区", "街道", "镇", "集镇", "行政村"])
    area = load_study_area(path)
    units = _read_units(area.units[0], CRS.from_epsg(32648))
    assert list(units["settlement"]) == ["urban", "urban", "town", "town", "village"]


def test_unknown_settlement_value_reported(area_dir: Path) -> None:
    path = _with_settlement(area_dir, ["城区", "郊区", "镇", "镇", "村"])
    msg = problems(path)["units[1].settlement_column"]
    assert "row 2 '郊区'" in msg
    assert "accepted" in msg
    assert "农村" in msg


def test_missing_settlement_column(area_dir: Path) -> None:
    path = edit(area_dir, ('name_column = "name"', 'name_column = "name"\n'
                                                   'settlement_column = "type"'))
    assert "no column 'type'" in problems(path)["units[1].settlement_column"]


# -- ranges and memory ------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "key"), [
    ("cell_size_m = 100", "cell_size_m = 1", "grid.cell_size_m"),
    ("cell_size_m = 100", "cell_size_m = 0.001", "grid.cell_size_m"),
    ("cell_size_m = 100", "cell_size_m = inf", "grid.cell_size_m"),
    ("cell_size_m = 100", "cell_size_m = nan", "grid.cell_size_m"),
    ("cell_size_m = 100", "cell_size_m = 1e308", "grid.cell_size_m"),
    ("k_nearest = 3", "k_nearest = 100000", "travel.k_nearest"),
    ("total = 4.0", "total = 1e-300", "travel.walk_speed_kmh.total"),
    ("total = 4.0", "total = 400", "travel.walk_speed_kmh.total"),
    ("snap_max_dist_m = 500", "snap_max_dist_m = 1e9", "network.snap_max_dist_m"),
    ("max_walk_dist_m = 3000", "max_walk_dist_m = -inf", "travel.max_walk_dist_m"),
    ("[travel]", "[travel]\ndrive_leg_speed_kmh = 0", "travel.drive_leg_speed_kmh"),
    ("[travel]", "[travel]\nmax_drive_time_min = 1e6", "travel.max_drive_time_min"),
])
def test_numbers_out_of_range(area_dir: Path, old: str, new: str, key: str) -> None:
    found = problems(edit(area_dir, (old, new)))
    assert list(found) == [key]


def test_cell_size_1_refused_before_allocation(area_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused by the range check: no grid, population or network is ever built."""
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("an expensive stage ran")

    monkeypatch.setattr(resources, "estimate_memory", fail)
    with pytest.raises(StudyAreaError) as info:
        load_study_area(edit(area_dir, ("cell_size_m = 100", "cell_size_m = 1")))
    assert info.value.key == "grid.cell_size_m"
    assert "plausible range 10–5000" in str(info.value)


def test_memory_estimate_refuses_a_run_too_large(area_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "available_memory_bytes", lambda: 900 * 1024 ** 2)
    found = problems(edit(area_dir, ("cell_size_m = 100", "cell_size_m = 10"),
                          ("k_nearest = 3", "k_nearest = 50")))
    assert list(found) == ["travel.k_nearest"]
    assert "lower travel.k_nearest" in found["travel.k_nearest"]
    found = problems(edit(area_dir, ("k_nearest = 50", "k_nearest = 1")))
    assert list(found) == ["grid.cell_size_m"]
    assert "raise grid.cell_size_m" in found["grid.cell_size_m"]


def test_memory_estimate_invariants() -> None:
    base = estimate_memory(1e8, 100, 3)
    assert base.n_cells == 10_001
    # halving the cell side quadruples the cells and (nearly) the memory
    finer = estimate_memory(1e8, 50, 3)
    assert finer.n_cells == 40_001
    assert 3.9 < finer.data_bytes / base.data_bytes < 4.1
    assert finer.total_bytes - finer.data_bytes == base.total_bytes - base.data_bytes
    assert estimate_memory(1e8, 100, 6).k_nearest_bytes == 2 * base.k_nearest_bytes
    assert estimate_memory(1e8, 100, 1).k_nearest_bytes == 0
    assert check_memory(base, available_bytes=base.total_bytes, cell_size_m=100,
                        k_nearest=3) is None
    msg = check_memory(base, available_bytes=base.base_bytes + base.data_bytes // 10,
                       cell_size_m=100, k_nearest=3)
    assert msg is not None
    assert "grid.cell_size_m" in msg


def test_sample_fits() -> None:
    est = estimate_memory(8.5e3 * 8.5e3, 100, 3)
    assert est.data_bytes < 100 * 1024 ** 2
    assert est.total_bytes < 1024 ** 3


# -- JSON Schema ----------------------------------------------------------------------

def test_committed_schema_is_current() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == study_area_schema()


def test_sample_validates_against_schema() -> None:
    doc = tomllib.loads(default_area_path().read_text(encoding="utf-8"))
    jsonschema.validate(doc, study_area_schema())


def test_schema_rejects_what_the_loader_rejects() -> None:
    doc = tomllib.loads(default_area_path().read_text(encoding="utf-8"))
    doc["grid"]["cell_size_m"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, study_area_schema())
    doc["grid"] = {"cell_sise_m": 100}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, study_area_schema())


def test_cli_schema_prints_the_schema() -> None:
    res = CliRunner().invoke(app, ["schema"])
    assert res.exit_code == 0
    assert json.loads(res.output) == study_area_schema()


# -- no overlap, no data --------------------------------------------------------------

def _raster_population(area_dir: Path, bounds: tuple[float, float, float, float],
                       value: float) -> Path:
    """Replace the census source by a 10 x 10 raster over ``bounds`` filled with ``value``."""
    with rasterio.open(area_dir / "pop.tif", "w", driver="GTiff", width=10, height=10,
                       count=1, dtype="float32", crs="EPSG:4326", nodata=-9999.0,
                       transform=Affine((bounds[2] - bounds[0]) / 10, 0, bounds[0], 0,
                                        -(bounds[3] - bounds[1]) / 10, bounds[3])) as ds:
        ds.write(np.full((1, 10, 10), value, dtype="float32"))
    text = (area_dir / "area.toml").read_text(encoding="utf-8")
    start, end = text.index("[[population]]"), text.index("[[facilities]]")
    text = (text[:start] + '[[population]]\nkind = "raster"\npaths = ["pop.tif"]\n'
            '[population.shares]\nage_60_plus = 0.1798\nage_0_2 = 0.0331\nage_3_5 = 0.0349\n\n'
            + text[end:])
    (area_dir / "area.toml").write_text(text, encoding="utf-8")
    return area_dir / "area.toml"


def test_population_outside_the_study_area(area_dir: Path) -> None:
    path = _raster_population(area_dir, (113.0, 34.0, 113.5, 34.5), 10.0)  # Zhengzhou
    msg = problems(path)["population[1].paths"]
    assert "lies outside the study area" in msg
    assert "pop.tif" in msg


def test_boundary_outside_the_network(area_dir: Path) -> None:
    poly = gpd.GeoDataFrame(geometry=[shapely.box(113.0, 34.0, 113.5, 34.5)], crs="EPSG:4326")
    poly.to_file(area_dir / "zz.geojson", driver="GeoJSON")
    path = edit(area_dir, ('boundary = "osm_bounds"', 'boundary = "zz.geojson"'))
    assert "does not overlap the network file" in problems(path)["boundary"]


def test_all_nodata_raster_is_one_clear_line(area_dir: Path, tmp_path: Path) -> None:
    b = osm_bounds(area_dir / "chengdu_central.osm")
    assert b is not None
    path = _raster_population(area_dir, b, -9999.0)
    res = CliRunner().invoke(app, ["run", "--area", str(path), "--out", str(tmp_path / "o"),
                                   "--quiet"])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert "give no residents" in res.output
    assert not (tmp_path / "o").exists()


# -- --out -------------------------------------------------------------------------------

def test_out_is_an_existing_file(tmp_path: Path) -> None:
    f = tmp_path / "results.txt"
    f.write_text("x", encoding="utf-8")
    res = CliRunner().invoke(app, ["run", "--out", str(f), "--quiet"])
    assert res.exit_code == 2
    assert "--out names an existing file" in res.output
    assert f.read_text(encoding="utf-8") == "x"


def test_out_under_a_file(tmp_path: Path) -> None:
    f = tmp_path / "results.txt"
    f.write_text("x", encoding="utf-8")
    res = CliRunner().invoke(app, ["run", "--out", str(f / "sub"), "--quiet"])
    assert res.exit_code == 2
    assert "which is a file" in res.output


def test_area_folder_on_the_cli(area_dir: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["run", "--area", str(area_dir), "--out",
                                   str(tmp_path / "o"), "--quiet"])
    assert res.exit_code == 2
    assert "is a folder" in res.output
    assert "area.toml" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_long_error_is_not_wrapped(area_dir: Path, tmp_path: Path) -> None:
    path = edit(area_dir, ('path = "chengdu_central.osm"', 'path = "' + "x" * 150 + '.osm"'))
    res = CliRunner().invoke(app, ["run", "--area", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert len(res.output.strip().splitlines()) == 1


def test_category_mistakes_all_reported(area_dir: Path) -> None:
    text = (area_dir / "area.toml").read_text(encoding="utf-8")
    text += ('\n[[categories]]\nkey = "canteen"\nname_zh = "老年食堂"\nname_en = "canteen"\n'
             'levle = 5\namap_typecodes = ["5"]\n')
    (area_dir / "area.toml").write_text(text, encoding="utf-8")
    found = problems(area_dir / "area.toml")
    assert "did you mean 'level'" in found["categories[1].levle"]
    assert "categories[1].amap_typecodes[1]" in found


def test_out_not_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked with the permission the process has (tests may run as root)."""
    monkeypatch.setattr(cli_module.os, "access", lambda path, mode: False)
    with pytest.raises(InputFileError, match="no permission") as info:
        cli_module.check_out_dir(tmp_path / "new" / "out")
    assert info.value.column == "--out"


def test_group_key_literal_lists_the_groups() -> None:
    """The typed models' group keys are exactly the vocabulary's groups, in order."""
    assert get_args(GroupKey) == tuple(GROUPS)
