"""The study-area file's ``[[population]]`` tables, parsed strictly.

Each table describes one population source. Keys common to every kind:

``kind``
    ``"raster"``, ``"vector"`` or ``"census"`` (required).
``group``
    Population group the source counts, a key of :data:`~gridded_pop.groups.GROUPS`
    (default ``"total"``).
``label``
    Name used in the accounting table and in messages (default: the file names).
``shares``
    Optional table deriving further groups from this source:
    ``age_60_plus = 0.1929`` applies one fraction everywhere; for a census source
    a string names a column of the census table holding a fraction per unit, and
    ``"census2020"`` takes each unit's share from the 2020 census by county
    (:mod:`gridded_pop.census2020`, matched by the admin code in ``join_column``;
    for a raster or vector source, cell by cell by the admin code of the study area's
    unit each cell lies in). ``shares = "census2020"`` (a string instead of a table)
    derives ``age_60_plus``, ``age_0_2`` and ``age_3_5`` that way.

Raster (``kind = "raster"``): ``paths`` (list of GeoTIFF files, summed; a single
string is accepted), ``crs`` (only when the files record none), ``band``
(default 1), ``nodata`` (extra no-data value, e.g. -9999 when the file declares
none), ``units`` (``"persons"`` per pixel, default, or ``"persons_per_km2"``,
``"persons_per_ha"``, ``"persons_per_m2"``), ``supersample`` (sub-samples per
pixel side when reprojecting; default chosen from pixel and cell size).

Vector (``kind = "vector"``): ``path`` (GeoPackage, GeoJSON, Shapefile),
``layer``, ``value_column`` (required), ``crs``, ``units`` (as for rasters, per
feature).

Census (``kind = "census"``): ``table`` (CSV of totals per unit), ``boundaries``
(unit polygons), ``join_column`` (column in both), ``boundaries_join_column``
(if the boundary file names it differently), ``value_column``, ``crs`` (of the
boundaries, only when the file records none), ``encoding`` (of the CSV, default
``"utf-8-sig"``; ``"gb18030"`` for GBK files), ``ancillary`` (``"osm"`` for
dasymetric weights from OSM land use and buildings, ``"none"`` for uniform
density; default ``"osm"``), ``osm`` (OSM file for the weights; default the study
area's network OSM file) and ``weights`` (inline table ``residential``,
``building``, ``other``: relative weights per m², see
:class:`~gridded_pop.ancillary.DasymetricWeights`).

Tables are numbered from 1 in messages: the first ``[[population]]`` table is
``population[1]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from access.config import StrictModel, check_keys, get_path, get_typed, validation_problems
from access.errors import ConfigError, UnknownKeyError, suggest
from access.vocabulary import GroupKey
from gridded_pop.ancillary import DasymetricWeights
from gridded_pop.census2020 import CENSUS2020, CENSUS2020_GROUPS
from gridded_pop.groups import check_group

__all__ = [
    "KINDS",
    "TABLE_MODELS",
    "UNITS",
    "CensusSource",
    "CensusTable",
    "PopulationSource",
    "RasterSource",
    "RasterTable",
    "VectorSource",
    "VectorTable",
    "parse_population_sources",
    "parse_population_table",
    "table_problems",
]

#: Source kinds -> (name_zh, name_en).
KINDS: dict[str, tuple[str, str]] = {
    "raster": ("栅格人口数据", "population raster"),
    "vector": ("矢量人口数据", "population polygons or points"),
    "census": ("普查分区人口", "census totals per unit"),
}

#: Units a raster pixel or vector feature value may have -> persons per m² factor
#: (None: the value is a count of persons, not a density).
UNITS: dict[str, float | None] = {
    "persons": None,
    "persons_per_km2": 1e-6,
    "persons_per_ha": 1e-4,
    "persons_per_m2": 1.0,
}

#: A key of :data:`UNITS` (for the typed models).
_Units = Literal["persons", "persons_per_km2", "persons_per_ha", "persons_per_m2"]
_Crs = Annotated[str | int | None, Field(description="CRS when the file records none, "
                                         "e.g. \"EPSG:4490\" or 4490")]


class _PopulationTable(StrictModel):
    """Keys every ``[[population]]`` table has."""

    group: GroupKey = Field("total", description="population group the source counts")
    label: str = Field("", description="name in the accounting table")
    shares: dict[GroupKey, float | str] | Literal["census2020"] = Field(
        default_factory=dict,
        description="derived group -> fraction (0-1), a census column of fractions or "
                    "\"census2020\"; or \"census2020\" for 60+, 0-2 and 3-5 from the 2020 "
                    "census by county (census sources with admin codes; raster and vector "
                    "sources through units whose ids are admin codes)")


class RasterTable(_PopulationTable):
    """``[[population]]`` with ``kind = "raster"``: persons-per-pixel GeoTIFFs."""

    kind: Literal["raster"]
    paths: list[str] | str = Field(description="GeoTIFF file(s), summed")
    crs: _Crs = None
    band: int = Field(1, ge=1, le=10_000)
    nodata: float | None = None
    units: _Units = "persons"
    supersample: int | None = Field(None, ge=1, le=64)


class VectorTable(_PopulationTable):
    """``[[population]]`` with ``kind = "vector"``: polygons or points with a count."""

    kind: Literal["vector"]
    path: str = Field(description="GeoPackage, GeoJSON or Shapefile")
    layer: str | None = None
    value_column: str
    crs: _Crs = None
    units: _Units = "persons"


class WeightsTable(StrictModel):
    """Relative dasymetric weights per m² (see :class:`DasymetricWeights`)."""

    residential: float = Field(DasymetricWeights().residential, ge=0, le=1e6)
    building: float = Field(DasymetricWeights().building, ge=0, le=1e6)
    other: float = Field(DasymetricWeights().other, ge=0, le=1e6)


class CensusTable(_PopulationTable):
    """``[[population]]`` with ``kind = "census"``: totals per unit joined to boundaries."""

    kind: Literal["census"]
    table: str = Field(description="CSV of totals per unit")
    boundaries: str = Field(description="unit polygons")
    join_column: str
    boundaries_join_column: str | None = None
    value_column: str
    crs: _Crs = None
    encoding: str = "utf-8-sig"
    ancillary: Literal["osm", "none"] = "osm"
    osm: str | None = None
    weights: WeightsTable = Field(default_factory=WeightsTable)


#: Source kind -> model of its ``[[population]]`` table.
TABLE_MODELS: dict[str, type[_PopulationTable]] = {
    "raster": RasterTable, "vector": VectorTable, "census": CensusTable}

#: Source kind -> the keys its table may hold.
_KEYS = {kind: tuple(model.model_fields) for kind, model in TABLE_MODELS.items()}


def table_problems(table: object, *, where: str) -> list[tuple[str, str]]:
    """Every type, range and unknown-key mistake of one ``[[population]]`` table.

    Parameters
    ----------
    table
        The parsed TOML table.
    where
        Its name in messages, e.g. ``"population[2]"``.

    Returns
    -------
    list of (key, message)
        Empty when the table is well formed (files are checked elsewhere).
    """
    if not isinstance(table, Mapping):
        return [(where, f"expected a table, got {table!r}")]
    kind = table.get("kind")
    if kind is None:
        return [(f"{where}.kind", "required key missing; valid kinds: " + ", ".join(KINDS))]
    if kind not in KINDS:
        return [(f"{where}.kind", f"unknown source kind '{kind}'{suggest(str(kind), KINDS)}; "
                 "valid kinds: " + ", ".join(KINDS))]
    model = TABLE_MODELS[kind]
    try:
        model.model_validate(dict(table))
    except ValidationError as exc:
        return validation_problems(exc, model, prefix=where)
    return []


@dataclass(frozen=True)
class PopulationSource:
    """What every population source has.

    Attributes
    ----------
    group
        Group the source counts.
    label
        Name in the accounting table.
    shares
        Derived group -> fraction (float) or census column name (str).
    where
        Table name in the study-area file, e.g. ``"population[2]"``.
    config_path
        The study-area file, for messages.
    """

    group: str
    label: str
    shares: Mapping[str, float | str] = field(default_factory=dict)
    where: str = "population"
    config_path: Path | None = None

    @property
    def kind(self) -> str:
        """``"raster"``, ``"vector"`` or ``"census"``."""
        raise NotImplementedError


@dataclass(frozen=True)
class RasterSource(PopulationSource):
    """One or more persons-per-pixel rasters summed into one group."""

    paths: tuple[Path, ...] = ()
    crs: str | None = None
    band: int = 1
    nodata: float | None = None
    units: str = "persons"
    supersample: int | None = None

    @property
    def kind(self) -> str:
        return "raster"


@dataclass(frozen=True)
class VectorSource(PopulationSource):
    """Polygons (or points) with a population column."""

    path: Path | None = None
    value_column: str = ""
    layer: str | None = None
    crs: str | None = None
    units: str = "persons"

    @property
    def kind(self) -> str:
        return "vector"


@dataclass(frozen=True)
class CensusSource(PopulationSource):
    """Census totals per administrative unit joined to unit boundaries."""

    table: Path | None = None
    boundaries: Path | None = None
    join_column: str = ""
    boundaries_join_column: str | None = None
    value_column: str = ""
    crs: str | None = None
    encoding: str = "utf-8-sig"
    ancillary: str = "osm"
    osm: Path | None = None
    weights: DasymetricWeights = field(default_factory=DasymetricWeights)

    @property
    def kind(self) -> str:
        return "census"


def parse_population_sources(tables: list[dict], *, base_dir: Path,
                             path: Path) -> list[PopulationSource]:
    """Parse the study-area file's ``[[population]]`` array of tables.

    Parameters
    ----------
    tables
        The parsed TOML array (``data["population"]``).
    base_dir
        Folder that relative file paths are resolved against.
    path
        The study-area file, named in every error.

    Returns
    -------
    list of PopulationSource
        One :class:`RasterSource`, :class:`VectorSource` or :class:`CensusSource`
        per table, in file order.

    Raises
    ------
    ConfigError
        A required key is missing, a value has the wrong type or range, or a file
        does not exist; the message names ``path`` and the key, e.g.
        ``population[1].value_column``.
    UnknownKeyError
        A key, kind or group that does not exist.
    """
    if not isinstance(tables, list):
        raise ConfigError("expected an array of tables [[population]]", path=path,
                          key="population")
    sources: list[PopulationSource] = []
    for i, table in enumerate(tables, start=1):
        where = f"population[{i}]"
        if not isinstance(table, Mapping):
            raise ConfigError(f"expected a table, got {table!r}", path=path, key=where)
        sources.append(_parse_one(table, where=where, base_dir=base_dir, path=path))
    return sources


def parse_population_table(table: Mapping[str, Any], *, where: str, base_dir: Path,
                           path: Path) -> PopulationSource:
    """Parse one ``[[population]]`` table (see :func:`parse_population_sources`)."""
    return _parse_one(table, where=where, base_dir=base_dir, path=path)


def _parse_one(table: Mapping[str, Any], *, where: str, base_dir: Path,
               path: Path) -> PopulationSource:
    kind = get_typed(table, "kind", str, where=where, path=path)
    if kind not in KINDS:
        raise UnknownKeyError(f"unknown source kind '{kind}'{suggest(kind, KINDS)}; valid kinds: "
                              + ", ".join(KINDS), path=path, key=f"{where}.kind")
    check_keys(table, _KEYS[kind], where=where, path=path)
    group = check_group(get_typed(table, "group", str, where=where, path=path, default="total"),
                        path=path, key=f"{where}.group")
    shares = _parse_shares(table, kind=kind, group=group, where=where, path=path)
    label = get_typed(table, "label", str, where=where, path=path, default="")
    crs = get_typed(table, "crs", (str, int), where=where, path=path, default=None)
    crs = None if crs is None else str(crs) if not isinstance(crs, int) else f"EPSG:{crs}"

    if kind == "raster":
        raw = get_typed(table, "paths", (list, str), where=where, path=path)
        names = [raw] if isinstance(raw, str) else raw
        if not names:
            raise ConfigError("needs at least one raster file", path=path, key=f"{where}.paths")
        files = []
        for j, name in enumerate(names):
            files.append(get_path({"paths": name}, "paths", base_dir=base_dir,
                                  where=where, path=path))
            if not isinstance(name, str):  # pragma: no cover - get_typed raised already
                raise ConfigError(f"paths[{j}] must be a string", path=path, key=f"{where}.paths")
        band = get_typed(table, "band", int, where=where, path=path, default=1)
        if band < 1:
            raise ConfigError(f"band numbers start at 1, got {band}", path=path,
                              key=f"{where}.band")
        nodata = get_typed(table, "nodata", (int, float), where=where, path=path, default=None)
        supersample = get_typed(table, "supersample", int, where=where, path=path, default=None)
        if supersample is not None and not 1 <= supersample <= 64:
            raise ConfigError(f"supersample must be between 1 and 64, got {supersample}",
                              path=path, key=f"{where}.supersample")
        return RasterSource(
            label=label or "+".join(p.name for p in files), paths=tuple(files), crs=crs,
            band=band, nodata=None if nodata is None else float(nodata),
            units=_parse_units(table, where=where, path=path), supersample=supersample,
            group=group, shares=shares, where=where, config_path=path)

    if kind == "vector":
        file = get_path(table, "path", base_dir=base_dir, where=where, path=path)
        assert file is not None
        return VectorSource(
            label=label or file.name, path=file,
            value_column=get_typed(table, "value_column", str, where=where, path=path),
            layer=get_typed(table, "layer", str, where=where, path=path, default=None),
            crs=crs, units=_parse_units(table, where=where, path=path),
            group=group, shares=shares, where=where, config_path=path)

    file = get_path(table, "table", base_dir=base_dir, where=where, path=path)
    bounds = get_path(table, "boundaries", base_dir=base_dir, where=where, path=path)
    assert file is not None
    assert bounds is not None
    ancillary = get_typed(table, "ancillary", str, where=where, path=path, default="osm")
    if ancillary not in ("osm", "none"):
        raise ConfigError(f"ancillary must be \"osm\" or \"none\", got '{ancillary}'",
                          path=path, key=f"{where}.ancillary")
    osm = get_path(table, "osm", base_dir=base_dir, where=where, path=path, default=None)
    if osm is not None and ancillary == "none":
        raise ConfigError("'osm' given but ancillary = \"none\"; remove one of them",
                          path=path, key=f"{where}.osm")
    encoding = get_typed(table, "encoding", str, where=where, path=path, default="utf-8-sig")
    try:
        "".encode(encoding)
    except LookupError as exc:
        raise ConfigError(f"unknown text encoding '{encoding}'", path=path,
                          key=f"{where}.encoding") from exc
    return CensusSource(
        label=label or file.name, table=file, boundaries=bounds,
        join_column=get_typed(table, "join_column", str, where=where, path=path),
        boundaries_join_column=get_typed(table, "boundaries_join_column", str, where=where,
                                         path=path, default=None),
        value_column=get_typed(table, "value_column", str, where=where, path=path),
        crs=crs, encoding=encoding, ancillary=ancillary, osm=osm,
        weights=_parse_weights(table, where=where, path=path),
        group=group, shares=shares, where=where, config_path=path)


def _parse_units(table: Mapping[str, Any], *, where: str, path: Path) -> str:
    units = get_typed(table, "units", str, where=where, path=path, default="persons")
    if units not in UNITS:
        raise ConfigError(f"unknown units '{units}'{suggest(units, UNITS)}; valid: "
                          + ", ".join(UNITS), path=path, key=f"{where}.units")
    return units


def _parse_weights(table: Mapping[str, Any], *, where: str, path: Path) -> DasymetricWeights:
    raw = get_typed(table, "weights", dict, where=where, path=path, default={})
    sub = f"{where}.weights"
    check_keys(raw, ("residential", "building", "other"), where=sub, path=path)
    default = DasymetricWeights()
    values = {}
    for key in ("residential", "building", "other"):
        v = get_typed(raw, key, (int, float), where=sub, path=path, default=getattr(default, key))
        if not v >= 0:
            raise ConfigError(f"weights must be zero or positive, got {v}", path=path,
                              key=f"{sub}.{key}")
        values[key] = float(v)
    if values["residential"] + values["building"] + values["other"] <= 0:
        raise ConfigError("at least one weight must be positive", path=path, key=sub)
    return DasymetricWeights(**values)


def _parse_shares(table: Mapping[str, Any], *, kind: str, group: str, where: str,
                  path: Path) -> dict[str, float | str]:
    sub = f"{where}.shares"
    if isinstance(table.get("shares"), str):
        if table["shares"] != CENSUS2020:
            raise ConfigError(f"shares must be a table of group = fraction (or column name), "
                              f"or \"{CENSUS2020}\", got {table['shares']!r}", path=path,
                              key=sub)
        if group != "total":
            raise ConfigError(f"shares = \"{CENSUS2020}\" derives groups from the total "
                              f"population, but this source counts '{group}'", path=path,
                              key=sub)
        return dict.fromkeys(CENSUS2020_GROUPS, CENSUS2020)
    raw = get_typed(table, "shares", dict, where=where, path=path, default={})
    if raw and group != "total":
        raise ConfigError(f"shares derive groups from the total population, but this source "
                          f"counts '{group}'", path=path, key=sub)
    shares: dict[str, float | str] = {}
    for key, value in raw.items():
        check_group(key, path=path, key=f"{sub}.{key}")
        if key == "total":
            raise ConfigError("the total cannot be derived from a share", path=path,
                              key=f"{sub}.{key}")
        if value == CENSUS2020 and key not in CENSUS2020_GROUPS:
            raise ConfigError(f"the 2020 census table gives shares of "
                              f"{', '.join(CENSUS2020_GROUPS)} only", path=path,
                              key=f"{sub}.{key}")
        if isinstance(value, str):
            if kind != "census" and value != CENSUS2020:
                raise ConfigError("a share given as a column name needs a census source; "
                                  "give a fraction such as 0.1929", path=path,
                                  key=f"{sub}.{key}")
            shares[key] = value
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"expected a fraction or a column name, got {value!r}",
                              path=path, key=f"{sub}.{key}")
        if 1 < value <= 100:
            raise ConfigError(f"share {value} looks like a percentage; give a fraction "
                              f"({value / 100:g})", path=path, key=f"{sub}.{key}")
        if not 0 <= value <= 1:
            raise ConfigError(f"a share must lie between 0 and 1, got {value}", path=path,
                              key=f"{sub}.{key}")
        shares[key] = float(value)
    fixed = [v for v in shares.values() if isinstance(v, float)]
    if sum(fixed) > 1 + 1e-9:
        raise ConfigError(f"shares add up to {sum(fixed):g}, more than the whole population",
                          path=path, key=sub)
    return shares
