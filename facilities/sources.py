"""The ``[[facilities]]`` tables of a study-area file, parsed strictly.

Keys (``*`` = required)::

    kind*         "osm" | "table" | "vector"
    path*         file, relative to the study-area file
    name          label used in results and rejects (default: the file name)
    coords        "wgs84" | "cgcs2000" | "gcj02" | "bd09"
                  table: required; vector: optional (GCJ-02/BD-09 data stored as
                  lon/lat); osm: only "wgs84"
    crs           vector only: CRS of a file that records none (e.g. "EPSG:4326")
    category      a fixed category key for every row (otherwise mapped by the taxonomy)
    encoding      table (CSV): text encoding; default: detected (UTF-8 with or without
                  BOM, else GB18030, a superset of GBK)
    delimiter     table (CSV): one character; default: detected among , ; tab |
    sheet         table (Excel): sheet name or 1-based index (default: the first)
    layer         vector: layer name (GeoPackage)
    columns       table/vector: inline table role -> column name, for headers the
                  built-in Chinese/English aliases do not cover. Roles: name, type,
                  typecode, category, lon, lat, location, capacity, ownership, admin_code
    on_error      "raise" (default) stops at malformed cells (text in a numeric column,
                  impossible coordinates) naming file, row and column; "reject" lists
                  those rows as 'invalid_value' and goes on
    check_extent  raise when most located rows fall outside the study area (the sign
                  of a wrong coordinate system); default true for table/vector, false
                  for osm (an OSM extract may cover far more than the study area)

Sources listed first take precedence when duplicates are merged: list official
registers before POI exports and OpenStreetMap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, ValidationError

from access.config import StrictModel, check_keys, get_path, get_typed, validation_problems
from access.errors import ConfigError, UnknownKeyError, suggest
from facilities.coords import COORD_SYSTEMS

__all__ = ["COLUMN_ROLES", "KINDS", "TABLE_MODELS", "FacilitySource", "OsmTable",
           "TableTable", "VectorTable", "facility_table_problems", "parse_facility_sources"]

KINDS = ("osm", "table", "vector")
_Role = Literal["name", "type", "typecode", "category", "lon", "lat", "location",
                "capacity", "ownership", "admin_code"]
COLUMN_ROLES: tuple[_Role, ...] = get_args(_Role)


class _FacilityTable(StrictModel):
    """Keys every ``[[facilities]]`` table has."""

    path: str = Field(description="the source file, relative to the study-area file")
    name: str | None = Field(None, description="source name (default: the file name)")
    coords: str | None = Field(None, description="wgs84 | cgcs2000 | gcj02 | bd09")
    category: str | None = Field(None, description="one category for every row")
    check_extent: bool | None = None


class OsmTable(_FacilityTable):
    """``[[facilities]]`` with ``kind = "osm"``: an OSM XML or PBF file."""

    kind: Literal["osm"]


class TableTable(_FacilityTable):
    """``[[facilities]]`` with ``kind = "table"``: a CSV or Excel POI list."""

    kind: Literal["table"]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | int | None = None
    columns: dict[_Role, str] = Field(default_factory=dict)
    on_error: Literal["raise", "reject"] = "raise"


class VectorTable(_FacilityTable):
    """``[[facilities]]`` with ``kind = "vector"``: points or polygons in a GIS file."""

    kind: Literal["vector"]
    crs: str | None = None
    layer: str | None = None
    columns: dict[_Role, str] = Field(default_factory=dict)
    on_error: Literal["raise", "reject"] = "raise"


#: Source kind -> model of its ``[[facilities]]`` table.
TABLE_MODELS: dict[str, type[_FacilityTable]] = {
    "osm": OsmTable, "table": TableTable, "vector": VectorTable}

_ALLOWED: dict[str, tuple[str, ...]] = {
    kind: tuple(model.model_fields) for kind, model in TABLE_MODELS.items()}


def facility_table_problems(table: object, *, where: str) -> list[tuple[str, str]]:
    """Every type and unknown-key mistake of one ``[[facilities]]`` table.

    Returns ``(key, message)`` pairs; empty when the table is well formed (its
    file and values are checked by :func:`parse_facility_sources`).
    """
    if not isinstance(table, Mapping):
        return [(where, f"expected a table, got {table!r}")]
    kind = table.get("kind")
    if kind is None:
        return [(f"{where}.kind", "required key missing; valid kinds: " + ", ".join(KINDS))]
    if kind not in KINDS:
        return [(f"{where}.kind", f"kind must be one of {', '.join(KINDS)}"
                 f"{suggest(str(kind), KINDS)}")]
    model = TABLE_MODELS[kind]
    try:
        model.model_validate(dict(table))
    except ValidationError as exc:
        return validation_problems(exc, model, prefix=where)
    return []
_TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")


@dataclass(frozen=True)
class FacilitySource:
    """One facility input file and how to read it (see the module docstring)."""

    kind: str
    path: Path
    name: str
    coords: str | None = None
    crs: str | None = None
    category: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | int | None = None
    layer: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    on_error: str = "raise"
    check_extent: bool = True

    @property
    def is_excel(self) -> bool:
        """Whether a table source is an Excel workbook."""
        return self.path.suffix.lower() in (".xlsx", ".xlsm")


def parse_facility_sources(tables: list[dict], *, base_dir: Path, path: Path
                           ) -> list[FacilitySource]:
    """Parse the ``[[facilities]]`` tables strictly.

    Parameters
    ----------
    tables
        The parsed ``[[facilities]]`` array of tables.
    base_dir
        Folder that relative paths start from (the study-area file's folder).
    path
        The study-area file, for error messages.

    Returns
    -------
    list of FacilitySource
        In the order given (which is the merge precedence).

    Raises
    ------
    ConfigError, UnknownKeyError
        Naming the study-area file and the offending key.
    """
    sources: list[FacilitySource] = []
    for i, table in enumerate(tables, start=1):
        where = f"facilities[{i}]"
        if not isinstance(table, Mapping):
            raise ConfigError("expected a table", path=path, key=where)
        kind = get_typed(table, "kind", str, where=where, path=path)
        if kind not in KINDS:
            raise ConfigError(f"kind must be one of {', '.join(KINDS)}{suggest(kind, KINDS)}",
                              path=path, key=f"{where}.kind")
        check_keys(table, _ALLOWED[kind], where=where, path=path)
        file = get_path(table, "path", base_dir=base_dir, where=where, path=path)
        assert file is not None
        kw: dict[str, Any] = {"kind": kind, "path": file}
        kw["name"] = get_typed(table, "name", str, where=where, path=path, default=file.name)

        coords = get_typed(table, "coords", str, where=where, path=path, default=None)
        if coords is not None:
            coords = coords.strip().lower().replace("-", "").replace("_", "")
            if coords not in COORD_SYSTEMS:
                raise ConfigError(
                    f"coords must be one of {', '.join(COORD_SYSTEMS)}"
                    f"{suggest(coords, COORD_SYSTEMS)}", path=path, key=f"{where}.coords")
        if kind == "table" and coords is None:
            raise ConfigError(
                "state the coordinate system of the table: coords = \"wgs84\" | \"cgcs2000\" "
                "| \"gcj02\" (Amap, Tencent) | \"bd09\" (Baidu)", path=path,
                key=f"{where}.coords")
        if kind == "osm" and coords not in (None, "wgs84"):
            raise ConfigError("OpenStreetMap data are always WGS-84", path=path,
                              key=f"{where}.coords")
        kw["coords"] = "wgs84" if kind == "osm" else coords

        if kind == "table" and file.suffix.lower() not in _TABLE_SUFFIXES:
            raise ConfigError(f"a table source must be CSV or Excel ({', '.join(_TABLE_SUFFIXES)})"
                              f", got '{file.suffix}'", path=path, key=f"{where}.path")
        if (cat := get_typed(table, "category", str, where=where, path=path, default=None)):
            kw["category"] = cat
        for key in ("crs", "layer", "encoding"):
            if (val := get_typed(table, key, str, where=where, path=path, default=None)):
                kw[key] = val
        if "encoding" in kw:
            import codecs

            try:
                codecs.lookup(kw["encoding"])
            except LookupError as exc:
                raise ConfigError(f"unknown encoding {kw['encoding']!r}", path=path,
                                  key=f"{where}.encoding") from exc
        if "delimiter" in table:
            delim = get_typed(table, "delimiter", str, where=where, path=path)
            if delim in ("\\t", "tab"):
                delim = "\t"
            if len(delim) != 1:
                raise ConfigError("delimiter must be one character (use \"\\t\" for tab)",
                                  path=path, key=f"{where}.delimiter")
            kw["delimiter"] = delim
        if "sheet" in table:
            sheet = get_typed(table, "sheet", (str, int), where=where, path=path)
            if isinstance(sheet, int) and sheet < 1:
                raise ConfigError("sheet index is 1-based", path=path, key=f"{where}.sheet")
            kw["sheet"] = sheet
        if "columns" in table:
            cols = get_typed(table, "columns", dict, where=where, path=path)
            for role, col in cols.items():
                if role not in COLUMN_ROLES:
                    raise UnknownKeyError(
                        f"unknown column role{suggest(role, COLUMN_ROLES)}; roles: "
                        + ", ".join(COLUMN_ROLES), path=path, key=f"{where}.columns.{role}")
                if not isinstance(col, str) or not col.strip():
                    raise ConfigError("expected a column name", path=path,
                                      key=f"{where}.columns.{role}")
            kw["columns"] = {r: c.strip() for r, c in cols.items()}
        on_error = get_typed(table, "on_error", str, where=where, path=path, default="raise")
        if on_error not in ("raise", "reject"):
            raise ConfigError("on_error must be \"raise\" or \"reject\"", path=path,
                              key=f"{where}.on_error")
        kw["on_error"] = on_error
        kw["check_extent"] = get_typed(table, "check_extent", bool, where=where, path=path,
                                       default=kind != "osm")
        sources.append(FacilitySource(**kw))

    names = [s.name for s in sources]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise ConfigError(f"two facility sources are both named {n!r}; give one a "
                              "distinct 'name'", path=path, key=f"facilities[{i + 1}].name")
    return sources
