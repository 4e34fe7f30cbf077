"""parse_population_sources: the [[population]] tables of the study-area file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import get_args

import pytest

from access.errors import ConfigError, UnknownKeyError
from gridded_pop import CensusSource, RasterSource, VectorSource, parse_population_sources
from gridded_pop import sources as sources_mod
from gridded_pop.ancillary import DasymetricWeights

CHENGDU = Path(__file__).resolve().parents[2] / "lifecircle" / "datasets" / "chengdu_central"

SAMPLE = """
[[population]]
kind = "census"
table = "district_population_2020.csv"
boundaries = "districts.geojson"
join_column = "gb"
value_column = "population_2020"
group = "total"
ancillary = "osm"
[population.shares]
age_60_plus = 0.1929
"""


def _parse(tables: list[dict], base: Path = CHENGDU) -> list:
    return parse_population_sources(tables, base_dir=base, path=base / "study.toml")


def test_sample_census_table_parses() -> None:
    (src,) = _parse(tomllib.loads(SAMPLE)["population"])
    assert isinstance(src, CensusSource)
    assert src.kind == "census"
    assert src.table == (CHENGDU / "district_population_2020.csv").resolve()
    assert src.shares == {"age_60_plus": 0.1929}
    assert src.weights == DasymetricWeights()
    assert src.where == "population[1]"
    assert src.label == "district_population_2020.csv"


def test_raster_and_vector_tables(tmp_path: Path) -> None:
    for name in ("a.tif", "b.tif", "cells.gpkg"):
        (tmp_path / name).write_bytes(b"")
    tables = [
        {"kind": "raster", "paths": ["a.tif", "b.tif"], "group": "age_60_plus",
         "crs": 4490, "nodata": -9999, "units": "persons_per_km2", "supersample": 3},
        {"kind": "raster", "paths": "a.tif", "label": "one"},
        {"kind": "vector", "path": "cells.gpkg", "value_column": "pop", "layer": "grid"},
    ]
    r1, r2, v = _parse(tables, tmp_path)
    assert isinstance(r1, RasterSource)
    assert r1.paths == ((tmp_path / "a.tif").resolve(), (tmp_path / "b.tif").resolve())
    assert (r1.crs, r1.nodata, r1.units, r1.supersample) == ("EPSG:4490", -9999.0,
                                                             "persons_per_km2", 3)
    assert r1.label == "a.tif+b.tif"
    assert r2.paths == ((tmp_path / "a.tif").resolve(),)
    assert r2.label == "one"
    assert r2.group == "total"
    assert isinstance(v, VectorSource)
    assert (v.value_column, v.layer, v.kind) == ("pop", "grid", "vector")


def _census(**changes: object) -> dict:
    table = tomllib.loads(SAMPLE)["population"][0]
    table.update(changes)
    return {k: v for k, v in table.items() if v is not None}


@pytest.mark.parametrize(("table", "cls", "key"), [
    (_census(valu_column="x"), UnknownKeyError, "population[1].valu_column"),
    (_census(value_column=None), ConfigError, "population[1].value_column"),
    (_census(kind="censsu"), UnknownKeyError, "population[1].kind"),
    (_census(group="elderly"), UnknownKeyError, "population[1].group"),
    (_census(table="nope.csv"), ConfigError, "population[1].table"),
    (_census(value_column=3), ConfigError, "population[1].value_column"),
    (_census(ancillary="landuse"), ConfigError, "population[1].ancillary"),
    (_census(encoding="klingon"), ConfigError, "population[1].encoding"),
    (_census(shares={"age_60_plus": 19.29}), ConfigError, "population[1].shares.age_60_plus"),
    (_census(shares={"age_60_plus": -0.1}), ConfigError, "population[1].shares.age_60_plus"),
    (_census(shares={"age_60_plus": True}), ConfigError, "population[1].shares.age_60_plus"),
    (_census(shares={"age_60_pls": 0.2}), UnknownKeyError, "population[1].shares.age_60_pls"),
    (_census(shares={"total": 0.2}), ConfigError, "population[1].shares.total"),
    (_census(shares={"age_60_plus": 0.7, "age_3_5": 0.4}), ConfigError,
     "population[1].shares"),
    (_census(group="age_60_plus"), ConfigError, "population[1].shares"),
    (_census(weights={"residential": -1}), ConfigError, "population[1].weights.residential"),
    (_census(weights={"resid": 1}), UnknownKeyError, "population[1].weights.resid"),
    (_census(weights={"residential": 0, "building": 0, "other": 0}), ConfigError,
     "population[1].weights"),
    (_census(ancillary="none", osm="chengdu_central.osm"), ConfigError, "population[1].osm"),
])
def test_bad_census_tables(table: dict, cls: type, key: str) -> None:
    with pytest.raises(cls) as err:
        _parse([table])
    assert type(err.value) is cls
    assert err.value.key == key
    assert str(CHENGDU / "study.toml") in str(err.value)


def test_unknown_key_suggests_the_right_one() -> None:
    with pytest.raises(UnknownKeyError, match="did you mean 'value_column'"):
        _parse([_census(valu_column="x")])


def test_second_table_is_numbered_2(tmp_path: Path) -> None:
    (tmp_path / "a.tif").write_bytes(b"")
    with pytest.raises(ConfigError) as err:
        _parse([{"kind": "raster", "paths": ["a.tif"]},
                {"kind": "raster", "paths": ["a.tif"], "band": 0}], tmp_path)
    assert type(err.value) is ConfigError
    assert err.value.key == "population[2].band"


@pytest.mark.parametrize(("table", "cls", "key"), [
    ({"kind": "raster", "paths": []}, ConfigError, "population[1].paths"),
    ({"kind": "raster", "paths": ["missing.tif"]}, ConfigError, "population[1].paths"),
    ({"kind": "raster", "paths": ["a.tif"], "units": "ppl"}, ConfigError, "population[1].units"),
    ({"kind": "raster", "paths": ["a.tif"], "supersample": 0}, ConfigError,
     "population[1].supersample"),
    ({"kind": "raster", "paths": ["a.tif"], "value_column": "x"}, UnknownKeyError,
     "population[1].value_column"),
    ({"kind": "raster", "paths": ["a.tif"], "shares": {"age_3_5": "col"}}, ConfigError,
     "population[1].shares.age_3_5"),
    ({"kind": "vector", "path": "a.tif"}, ConfigError, "population[1].value_column"),
    ({"paths": ["a.tif"]}, ConfigError, "population[1].kind"),
])
def test_bad_raster_and_vector_tables(tmp_path: Path, table: dict, cls: type, key: str) -> None:
    (tmp_path / "a.tif").write_bytes(b"")
    with pytest.raises(cls) as err:
        _parse([table], tmp_path)
    assert type(err.value) is cls
    assert err.value.key == key


def test_not_an_array_of_tables() -> None:
    with pytest.raises(ConfigError) as err:
        parse_population_sources({"kind": "raster"}, base_dir=CHENGDU,  # type: ignore[arg-type]
                                 path=CHENGDU / "study.toml")
    assert type(err.value) is ConfigError
    with pytest.raises(ConfigError) as err:
        _parse(["raster"])  # type: ignore[list-item]
    assert type(err.value) is ConfigError
    assert err.value.key == "population[1]"


def test_units_literal_lists_the_units() -> None:
    """The typed models' units are exactly :data:`UNITS`, in order."""
    assert get_args(sources_mod._Units) == tuple(sources_mod.UNITS)
