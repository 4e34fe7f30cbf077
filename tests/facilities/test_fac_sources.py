"""Strict parsing of the [[facilities]] tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from access.errors import ConfigError, UnknownKeyError
from facilities import parse_facility_sources


@pytest.fixture
def base(tmp_path: Path) -> Path:
    (tmp_path / "pois.csv").write_text("名称,经度,纬度\n", encoding="utf-8")
    (tmp_path / "city.osm").write_text("<osm/>", encoding="utf-8")
    return tmp_path


def parse(base: Path, tables):
    return parse_facility_sources(tables, base_dir=base, path=base / "area.toml")


def test_parses_full_example(base):
    src = parse(base, [
        {"kind": "osm", "path": "city.osm"},
        {"kind": "table", "path": "pois.csv", "coords": "GCJ-02", "name": "amap",
         "category": "kindergarten", "encoding": "gbk", "delimiter": "\\t",
         "columns": {"lon": "X", "lat": "Y"}, "on_error": "reject"},
    ])
    assert [s.kind for s in src] == ["osm", "table"]
    assert src[0].coords == "wgs84"
    assert src[0].check_extent is False
    assert src[1].coords == "gcj02"
    assert src[1].delimiter == "\t"
    assert src[1].columns == {"lon": "X", "lat": "Y"}
    assert src[1].check_extent is True
    assert src[1].path == (base / "pois.csv").resolve()


@pytest.mark.parametrize(("table", "exc", "key"), [
    ({"kind": "table", "path": "pois.csv"}, ConfigError, "facilities[1].coords"),
    ({"kind": "table", "path": "pois.csv", "coords": "wgs"}, ConfigError,
     "facilities[1].coords"),
    ({"kind": "table", "path": "pois.csv", "coords": "wgs84", "delimeter": ";"},
     UnknownKeyError, "facilities[1].delimeter"),
    ({"kind": "osm", "path": "city.osm", "coords": "gcj02"}, ConfigError,
     "facilities[1].coords"),
    ({"kind": "osm", "path": "city.osm", "sheet": 1}, UnknownKeyError, "facilities[1].sheet"),
    ({"kind": "excel", "path": "pois.csv"}, ConfigError, "facilities[1].kind"),
    ({"kind": "table", "path": "missing.csv", "coords": "wgs84"}, ConfigError,
     "facilities[1].path"),
    ({"kind": "table", "path": "pois.csv", "coords": "wgs84", "encoding": "nope"},
     ConfigError, "facilities[1].encoding"),
    ({"kind": "table", "path": "pois.csv", "coords": "wgs84", "columns": {"lng": "X"}},
     UnknownKeyError, "facilities[1].columns.lng"),
    ({"kind": "table", "path": "pois.csv", "coords": "wgs84", "on_error": "skip"},
     ConfigError, "facilities[1].on_error"),
    ({"kind": "table", "path": "city.osm", "coords": "wgs84"}, ConfigError,
     "facilities[1].path"),
])
def test_bad_tables(base, table, exc, key):
    with pytest.raises(exc) as info:
        parse(base, [table])
    assert type(info.value) is exc
    assert info.value.key == key
    assert "area.toml" in str(info.value)


def test_duplicate_names(base):
    with pytest.raises(ConfigError) as info:
        parse(base, [{"kind": "osm", "path": "city.osm"}, {"kind": "osm", "path": "city.osm"}])
    assert type(info.value) is ConfigError
    assert info.value.key == "facilities[2].name"
