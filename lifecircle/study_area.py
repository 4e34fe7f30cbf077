"""The study-area file: one TOML file that says what to analyse and how.

Paths inside it are relative to the file. :func:`load_study_area` checks the whole
file before any expensive stage and reports every problem at once
(:class:`~access.errors.StudyAreaError`), each with its key path:

- structure, types and plausible ranges (:mod:`lifecircle.area_models`; an
  unknown key names the nearest valid one);
- every input file exists, is a file, opens, and has the named columns;
- the CRS of every boundary, units and vector file is known and not contradicted;
- settlement values (``城区``/``镇``/``村`` or ``urban``/``town``/``village``);
- at least one ``[[population]]`` source, and the population group of every target;
- the memory the run will need (:mod:`lifecircle.resources`).

The ``[[population]]``, ``[[facilities]]``, ``[[categories]]`` and ``[targets]``
tables are parsed by the packages that own them (:mod:`gridded_pop`,
:mod:`facilities`, :mod:`access.targets`). The README documents the format with a
complete example; the bundled sample's ``area.toml`` is one.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import rasterio
import shapely
from pydantic import BaseModel, ValidationError
from pyproj import CRS

from access.config import validation_problems
from access.crs import WGS84, parse_crs, resolve_crs, utm_crs_for_lonlat
from access.errors import InputFileError, LifecircleError, StudyAreaError
from access.i18n import say
from access.osm import osm_bounds
from access.settlement import ACCEPTED_SETTLEMENT_WORDS, parse_settlement
from access.targets import CatalogueError, load_catalogue
from facilities import parse_facility_sources
from facilities.read_table import read_table_file
from facilities.records import resolve_columns
from facilities.sources import FacilitySource, facility_table_problems
from facilities.taxonomy import category_table_problems, load_taxonomy
from gridded_pop.census2020 import CENSUS2020
from gridded_pop.sources import (
    CensusSource,
    PopulationSource,
    RasterSource,
    VectorSource,
    parse_population_table,
    table_problems,
)
from lifecircle import resources
from lifecircle.area_models import (
    RANGES,
    GridTable,
    NetworkTable,
    StudyAreaFile,
    TravelTable,
    UnitsTable,
)
from lifecircle.datasets import get_path as dataset_path
from lifecircle.routing import TravelSettings

__all__ = ["GridSettings", "NetworkSettings", "StudyArea", "TravelSettings", "UnitsSpec",
           "default_area_path", "load_study_area", "validate_study_area"]

log = logging.getLogger(__name__)

_POINT_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString")


@dataclass(frozen=True)
class NetworkSettings:
    """``[network]``: the street network file and snapping.

    Attributes
    ----------
    path
        OSM XML or PBF file.
    modes
        Travel modes to build: ``"walk"`` always, ``"ebike"`` and ``"drive"`` for
        e-bike and drive-time targets (built anyway when a target names them).
    snap_max_dist_m
        Cells and facilities farther than this from the network are unreachable.
    """

    path: Path
    modes: tuple[str, ...] = ("walk",)
    snap_max_dist_m: float = 500.0


@dataclass(frozen=True)
class GridSettings:
    """``[grid]``: the analysis grid."""

    cell_size_m: float = 100.0


@dataclass(frozen=True)
class UnitsSpec:
    """One ``[[units]]`` table: administrative units of one level.

    Attributes
    ----------
    level
        ``district``, ``subdistrict``, ``township``, ``village``, ``community`` ...
    path
        Polygon file (GeoJSON, GeoPackage, Shapefile).
    id_column, name_column
        Columns holding the unit code and its name.
    crs
        CRS of the file when it records none.
    settlement_column
        Optional column classifying units as ``urban``/``town``/``village``.
    """

    level: str
    path: Path
    id_column: str
    name_column: str
    crs: str | None = None
    settlement_column: str | None = None


@dataclass(frozen=True)
class StudyArea:
    """A parsed study-area file."""

    path: Path
    name: str
    title_zh: str
    title_en: str
    metric_crs: str
    boundary: str | Path
    boundary_crs: str | None
    network: NetworkSettings
    grid: GridSettings
    travel: TravelSettings
    population: list[Any]
    facilities: list[Any]
    categories: list[dict[str, Any]]
    units: list[UnitsSpec]
    targets: dict[str, Any]

    @property
    def base_dir(self) -> Path:
        """Folder the file's relative paths start from."""
        return self.path.parent


def default_area_path() -> Path:
    """The bundled sample's study-area file (central Chengdu)."""
    return dataset_path("chengdu_central") / "area.toml"


class _Check:
    """Collects ``(key, message)`` problems while the file is checked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.parent
        self.problems: list[tuple[str | None, str]] = []
        #: (key, file, extent in WGS-84) of inputs that must overlap the study area
        self.extents: list[tuple[str, Path, shapely.Geometry]] = []

    def add(self, key: str | None, message: str) -> None:
        self.problems.append((key, message))

    def has(self, prefix: str) -> bool:
        """Whether a problem was already found at ``prefix`` or below it."""
        return any(k is not None and (k == prefix or k.startswith((f"{prefix}.", f"{prefix}[")))
                   for k, _ in self.problems)

    def valid(self, model: type[BaseModel], raw: Any, key: str) -> Any:
        """``raw`` as ``model``, or None when it has problems (already reported)."""
        if self.has(key):
            return None
        try:
            return model.model_validate({} if raw is None else raw)
        except ValidationError:
            return None

    def file(self, value: str, key: str) -> Path | None:
        """Resolve a path of the file; report it missing or a folder."""
        p = (self.base / value).resolve()
        if not p.exists():
            self.add(key, f"file not found: {p}")
            return None
        if p.is_dir():
            self.add(key, f"{p} is a folder; name a file inside it")
            return None
        return p

    def crs(self, found: CRS | None, stated: object, *, file: Path, key: str) -> CRS | None:
        """The CRS to use for ``file``, reporting none known or a contradiction."""
        try:
            return resolve_crs(found, stated, path=file, param=key.rsplit(".", 1)[-1])
        except LifecircleError as exc:
            self.add(key, str(exc))
            return None

    def gis_file(self, file: Path, *, key: str, layer: str | None = None,
                 columns: dict[str, str | None] | None = None, stated_crs: object = None,
                 crs_key: str) -> dict[str, Any] | None:
        """Open a GIS file's header; report unreadable files, missing columns, CRS."""
        try:
            info = pyogrio.read_info(file, layer=layer)
        except Exception as exc:  # pyogrio raises its own DataSourceError family
            self.add(key, f"{file}: cannot be read as a GIS file ({exc})")
            return None
        fields = [str(f) for f in info["fields"]]
        for col_key, col in (columns or {}).items():
            if col is not None and col not in fields:
                self.add(col_key, f"{file} has no column '{col}' (columns: "
                         f"{', '.join(fields) or 'none'})")
        found = CRS.from_user_input(info["crs"]) if info.get("crs") else None
        crs = self.crs(found, stated_crs, file=file, key=crs_key)
        if crs is not None and info.get("features"):
            self.extent(key, file, info["total_bounds"], crs)
        return info

    def extent(self, key: str, file: Path, bounds: Any, crs: CRS) -> None:
        """Remember an input's extent, to check it overlaps the study area."""
        try:
            box = gpd.GeoSeries([shapely.box(*bounds)], crs=crs).to_crs(WGS84).iloc[0]
        except Exception:  # an extent that cannot be projected is not checked
            return
        if box.is_valid and not box.is_empty:
            self.extents.append((key, file, box))


def _crs_text(value: object) -> object:
    return f"EPSG:{value}" if isinstance(value, int) else value


def _check_units(chk: _Check, raw: list[Any]) -> list[UnitsSpec]:
    units: list[UnitsSpec] = []
    for i, t in enumerate(raw, start=1):
        where = f"units[{i}]"
        m = chk.valid(UnitsTable, t, where)
        if m is None:
            continue
        file = chk.file(m.path, f"{where}.path")
        if file is None:
            continue
        cols = {f"{where}.id_column": m.id_column, f"{where}.name_column": m.name_column,
                f"{where}.settlement_column": m.settlement_column}
        info = chk.gis_file(file, key=f"{where}.path", columns=cols, stated_crs=m.crs,
                            crs_key=f"{where}.crs")
        if info is not None and info["geometry_type"] in _POINT_TYPES:
            chk.add(f"{where}.path", f"{file} holds {info['geometry_type']} features; units "
                    "must be polygons")
        if (info is not None and m.settlement_column is not None
                and not chk.has(f"{where}.settlement_column")):
            _check_settlement_values(chk, file, m.settlement_column,
                                     key=f"{where}.settlement_column")
        units.append(UnitsSpec(level=m.level, path=file, id_column=m.id_column,
                               name_column=m.name_column, crs=m.crs,
                               settlement_column=m.settlement_column))
    levels = [u.level for u in units]
    for i, lv in enumerate(levels):
        if lv in levels[:i]:
            chk.add(f"units[{i + 1}].level", f"two [[units]] tables have the level '{lv}'")
    return units


def _check_settlement_values(chk: _Check, file: Path, column: str, *, key: str) -> None:
    try:
        values = pyogrio.read_dataframe(file, columns=[column], read_geometry=False)[column]
    except Exception as exc:  # pyogrio raises its own DataSourceError family
        chk.add(key, f"{file}: cannot read column '{column}' ({exc})")
        return
    bad: list[str] = []
    for row, v in enumerate(values, start=1):
        try:
            parse_settlement(v)
        except ValueError:
            bad.append(f"row {row} '{v}'")
    if bad:
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        chk.add(key, f"{file}: column '{column}' has values that name no settlement class: "
                f"{', '.join(bad[:5])}{more}; accepted: {ACCEPTED_SETTLEMENT_WORDS}")


def _check_population(chk: _Check, raw: list[Any]) -> list[PopulationSource]:
    sources: list[PopulationSource] = []
    if not raw:
        chk.add("population", "no [[population]] table: add at least one population source "
                "(a raster, vector or census table; see README 'The study-area file')")
    for i, t in enumerate(raw, start=1):
        where = f"population[{i}]"
        problems = table_problems(t, where=where)
        if problems:
            chk.problems.extend(problems)
            continue
        try:
            src = parse_population_table(t, where=where, base_dir=chk.base, path=chk.path)
        except LifecircleError as exc:
            chk.add(getattr(exc, "key", where), _reason(exc))
            continue
        sources.append(src)
        try:
            _check_population_files(chk, src, where=where)
        except LifecircleError as exc:
            chk.add(where, str(exc))
    return sources


def _reason(exc: LifecircleError) -> str:
    """The message of a ConfigError without its ``file, key`` prefix."""
    text = str(exc)
    key = getattr(exc, "key", None)
    marker = f"key '{key}': "
    return text.split(marker, 1)[1] if key and marker in text else text


def _check_population_files(chk: _Check, src: PopulationSource, *, where: str) -> None:
    if isinstance(src, RasterSource):
        for p in src.paths:
            if p.is_dir():
                chk.add(f"{where}.paths", f"{p} is a folder; name the GeoTIFF files in it")
                continue
            try:
                with rasterio.open(p) as ds:
                    found = CRS.from_user_input(ds.crs.to_wkt()) if ds.crs else None
                    if src.band > ds.count:
                        chk.add(f"{where}.band", f"{p} has {ds.count} band(s), not {src.band}")
                    bounds = tuple(ds.bounds)
            except rasterio.errors.RasterioError as exc:
                chk.add(f"{where}.paths", f"{p}: cannot be read as a raster ({exc})")
                continue
            crs = chk.crs(found, _crs_text(src.crs), file=p, key=f"{where}.crs")
            if crs is not None:
                chk.extent(f"{where}.paths", p, bounds, crs)
    elif isinstance(src, VectorSource):
        assert src.path is not None
        chk.gis_file(src.path, key=f"{where}.path", layer=src.layer,
                     columns={f"{where}.value_column": src.value_column},
                     stated_crs=_crs_text(src.crs), crs_key=f"{where}.crs")
    elif isinstance(src, CensusSource):
        assert src.table is not None
        assert src.boundaries is not None
        try:
            header = list(pd.read_csv(src.table, nrows=0, encoding=src.encoding).columns)
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            chk.add(f"{where}.table", f"{src.table}: cannot be read as {src.encoding} CSV "
                    f"({exc}); set encoding = \"gb18030\" for GBK files")
            header = None
        if header is not None:
            need = {f"{where}.join_column": src.join_column,
                    f"{where}.value_column": src.value_column}
            need |= {f"{where}.shares.{g}": c for g, c in src.shares.items()
                     if isinstance(c, str) and c != CENSUS2020}
            for key, col in need.items():
                if col not in header:
                    chk.add(key, f"{src.table} has no column '{col}' (columns: "
                            f"{', '.join(map(str, header))})")
        chk.gis_file(src.boundaries, key=f"{where}.boundaries",
                     columns={f"{where}.boundaries_join_column":
                              src.boundaries_join_column or src.join_column},
                     stated_crs=_crs_text(src.crs), crs_key=f"{where}.crs")


def _check_facilities(chk: _Check, raw: list[Any]) -> list[FacilitySource]:
    ok = True
    for i, t in enumerate(raw, start=1):
        problems = facility_table_problems(t, where=f"facilities[{i}]")
        chk.problems.extend(problems)
        ok = ok and not problems
    if not ok:
        return []
    try:
        sources = parse_facility_sources(raw, base_dir=chk.base, path=chk.path)
    except LifecircleError as exc:
        chk.add(getattr(exc, "key", "facilities"), _reason(exc))
        return []
    for i, src in enumerate(sources, start=1):
        where = f"facilities[{i}]"
        if src.path.is_dir():
            chk.add(f"{where}.path", f"{src.path} is a folder; name a file inside it")
            continue
        try:
            if src.kind == "table":
                table = read_table_file(src.path, encoding=src.encoding,
                                        delimiter=src.delimiter, sheet=src.sheet)
                resolve_columns(table.header, path=src.path, explicit=src.columns,
                                delimiter=table.delimiter or None)
            elif src.kind == "vector":
                chk.gis_file(src.path, key=f"{where}.path", layer=src.layer,
                             columns={f"{where}.columns.{r}": c for r, c in src.columns.items()},
                             stated_crs=src.crs, crs_key=f"{where}.crs")
            else:
                osm_bounds(src.path)
        except LifecircleError as exc:
            chk.add(f"{where}.path", str(exc))
    return sources


def _check_targets(chk: _Check, doc: dict[str, Any], population: list[PopulationSource],
                   units: list[UnitsSpec]) -> None:
    cat_tables = doc.get("categories") or []
    for i, t in enumerate(cat_tables if isinstance(cat_tables, list) else [], start=1):
        chk.problems.extend(category_table_problems(t, where=f"categories[{i}]"))
    if not chk.has("categories"):
        try:
            load_taxonomy(doc.get("categories") or [], base_dir=chk.base, path=chk.path)
        except LifecircleError as exc:
            chk.add(getattr(exc, "key", "categories"), _reason(exc))
    if chk.has("targets"):
        return
    overrides = doc.get("targets") or {}
    try:
        catalogue = load_catalogue(overrides=overrides, base_dir=chk.base,
                                   config_path=chk.path)
    except CatalogueError as exc:
        for p in exc.problems:
            chk.add(p.key, _reason(p) if p.path == chk.path else str(p))
        return
    except LifecircleError as exc:
        chk.add(getattr(exc, "key", "targets"), _reason(exc))
        return
    settle = overrides.get("settlement")
    if isinstance(settle, dict) and units and settle.get("level") not in {u.level for u in units}:
        chk.add("targets.settlement.level",
                f"no [[units]] table has level '{settle.get('level')}'; levels: "
                + ", ".join(u.level for u in units))
    if chk.has("population") or not population:
        return
    groups = set()
    for src in population:
        groups.add(src.group)
        groups.update(src.shares)
    missing: dict[str, list[str]] = {}
    for t in catalogue:
        need = {t.group, *(g for g, _, _ in getattr(t, "min_count_rules", ()))}
        for g in sorted(need - groups):
            missing.setdefault(g, []).append(t.id)
    for g, ids in missing.items():
        chk.add("population", f"targets {', '.join(ids)} need the population group '{g}', "
                f"which no [[population]] source gives: add a source with group = \"{g}\" or "
                f"a share (shares.{g} = 0.18 or a census column), or drop those targets "
                "in [targets] drop = [...]")


def _boundary_box_m2(chk: _Check, boundary: str, boundary_crs: str | None,
                     network_file: Path | None) -> float | None:
    """Area of the study area's bounding box in its UTM zone (m²), or None if unknown."""
    if boundary == "osm_bounds":
        if network_file is None:
            return None
        try:
            b = osm_bounds(network_file)
        except LifecircleError as exc:
            chk.add("network.path", str(exc))
            return None
        if b is None:
            chk.add("boundary", "the network file records no <bounds>; give 'boundary' as a "
                    "polygon file")
            return None
        geom = shapely.box(*b)
    else:
        file = chk.file(boundary, "boundary")
        if file is None:
            return None
        info = chk.gis_file(file, key="boundary", stated_crs=boundary_crs,
                            crs_key="boundary_crs")
        if info is None or chk.has("boundary_crs"):
            return None
        if info["geometry_type"] in _POINT_TYPES:
            chk.add("boundary", f"{file} holds {info['geometry_type']} features; the boundary "
                    "must be a polygon (面) file")
            return None
        if not info["features"]:
            chk.add("boundary", f"{file} holds no polygon")
            return None
        try:
            gdf = gpd.read_file(file)
        except Exception as exc:  # pyogrio raises its own DataSourceError family
            chk.add("boundary", f"{file}: cannot be read ({exc})")
            return None
        if gdf.crs is None:
            gdf = gdf.set_crs(parse_crs(boundary_crs))
        geom = shapely.union_all(shapely.make_valid(gdf.to_crs(WGS84).geometry.to_numpy()))
        if geom.is_empty or geom.area <= 0:
            chk.add("boundary", f"{file} holds no polygon with an area")
            return None
        if network_file is not None:
            try:
                nb = osm_bounds(network_file)
            except LifecircleError:
                nb = None
            if nb is not None and not shapely.box(*nb).intersects(geom):
                chk.add("boundary", f"{file} does not overlap the network file "
                        f"{network_file.name} (its <bounds> {_box_text(shapely.box(*nb))}; "
                        f"the boundary {_box_text(geom)}): check the boundary's CRS or the "
                        "network extract")
    for key, src_file, box in chk.extents:
        if not box.intersects(geom):
            chk.add(key, f"{src_file} lies outside the study area (its extent "
                    f"{_box_text(box)}; the study area {_box_text(geom)}): it would give no "
                    "data; check its CRS or the boundary")
    c = geom.centroid
    utm = utm_crs_for_lonlat(c.x, c.y)
    x0, y0, x1, y1 = gpd.GeoSeries([geom], crs=WGS84).to_crs(utm).total_bounds
    return float((x1 - x0) * (y1 - y0))


def _box_text(geom: shapely.Geometry) -> str:
    x0, y0, x1, y1 = geom.bounds
    return f"lon {x0:.4f}–{x1:.4f}, lat {y0:.4f}–{y1:.4f}"


def validate_study_area(path: str | Path, *, check_resources: bool = True) -> StudyArea:
    """Check a study-area file completely; see :func:`load_study_area`."""
    path = Path(path).resolve()
    if not path.exists():
        raise InputFileError("study area file not found", path=path)
    if path.is_dir():
        tomls = sorted(p.name for p in path.glob("*.toml"))
        hint = f" (it holds {', '.join(tomls)})" if tomls else ""
        raise InputFileError(f"is a folder; give the study-area TOML file inside it{hint}",
                             path=path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"not valid TOML ({exc})", path=path) from exc
    except UnicodeDecodeError as exc:
        raise InputFileError("not UTF-8 text", path=path) from exc

    chk = _Check(path)
    model: StudyAreaFile | None = None
    try:
        model = StudyAreaFile.model_validate(doc)
    except ValidationError as exc:
        chk.problems.extend(_with_range(k, m) for k, m in
                            validation_problems(exc, StudyAreaFile))

    def tables(key: str) -> list[Any]:
        value = doc.get(key, [])
        value = [value] if isinstance(value, dict) else value
        return value if isinstance(value, list) else []

    net = chk.valid(NetworkTable, doc.get("network"), "network")
    network_file = chk.file(net.path, "network.path") if net is not None else None
    if network_file is not None:
        try:
            osm_bounds(network_file)
        except LifecircleError as exc:
            chk.add("network.path", str(exc))
            network_file = None
    if isinstance(doc.get("metric_crs"), str) and doc["metric_crs"] != "auto":
        try:
            crs = parse_crs(doc["metric_crs"], path=path, param="metric_crs")
            if crs.is_geographic:
                chk.add("metric_crs", f"{crs.to_string()} is not a metric CRS; use \"auto\" "
                        "or a projected CRS in metres")
        except LifecircleError as exc:
            chk.add("metric_crs", str(exc))
    units = _check_units(chk, tables("units"))
    population = _check_population(chk, tables("population"))
    if not units:
        for i, src in enumerate(population, start=1):
            if not isinstance(src, CensusSource) and CENSUS2020 in src.shares.values():
                chk.add(f"population[{i}].shares",
                        f"\"{CENSUS2020}\" on a {src.kind} source takes each cell's county from "
                        "the study area's units: add a [[units]] level whose ids are "
                        "administrative codes, or give the shares as fractions")
    facilities = _check_facilities(chk, tables("facilities"))
    _check_targets(chk, doc, population, units)

    box_m2 = None
    if model is not None or not (chk.has("boundary") or chk.has("boundary_crs")):
        if model is not None:
            box_m2 = _boundary_box_m2(chk, model.boundary, model.boundary_crs, network_file)
        else:
            box_m2 = _boundary_box_m2(chk, doc.get("boundary", "osm_bounds"),
                                      doc.get("boundary_crs"), network_file)
    grid = chk.valid(GridTable, doc.get("grid"), "grid")
    travel = chk.valid(TravelTable, doc.get("travel"), "travel")
    if check_resources and box_m2 is not None and grid is not None and travel is not None:
        est = resources.estimate_memory(box_m2, grid.cell_size_m, travel.k_nearest)
        log.info(say("log_memory", gb=est.total_bytes / 1024 ** 3, n=est.n_cells))
        msg = resources.check_memory(est, cell_size_m=grid.cell_size_m, k_nearest=travel.k_nearest)
        if msg:
            key = "travel.k_nearest" if "k_nearest (at" in msg else "grid.cell_size_m"
            chk.add(key, msg)

    if chk.problems:
        raise StudyAreaError(_dedupe(chk.problems), path=path)
    assert model is not None
    assert network_file is not None
    return _build(path, model, network_file, population, facilities, units)


def _with_range(key: str, message: str) -> tuple[str, str]:
    """Add the plausible range of a numeric key to a message about its value."""
    for name, (lo, hi) in RANGES.items():
        if key == name or key.startswith(f"{name}."):
            return key, f"{message} (plausible range {lo:g}–{hi:g})"
    return key, message


def _dedupe(problems: list[tuple[str | None, str]]) -> list[tuple[str | None, str]]:
    seen: set[tuple[str | None, str]] = set()
    out = []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _build(path: Path, m: StudyAreaFile, network_file: Path,
           population: list[PopulationSource], facilities: list[FacilitySource],
           units: list[UnitsSpec]) -> StudyArea:
    modes = tuple(dict.fromkeys(m.network.modes))
    if "walk" not in modes:
        modes = ("walk", *modes)
    defaults = TravelSettings()
    speeds: dict[str, float] = {
        **defaults.walk_speed_kmh,
        **{g: float(v) for g, v in m.travel.walk_speed_kmh.items()}}
    boundary: str | Path = m.boundary
    if boundary != "osm_bounds":
        boundary = (path.parent / boundary).resolve()
    return StudyArea(
        path=path, name=m.name if m.name is not None else path.stem,
        title_zh=m.title_zh, title_en=m.title_en, metric_crs=m.metric_crs,
        boundary=boundary, boundary_crs=m.boundary_crs,
        network=NetworkSettings(path=network_file, modes=modes,
                                snap_max_dist_m=float(m.network.snap_max_dist_m)),
        grid=GridSettings(cell_size_m=float(m.grid.cell_size_m)),
        travel=TravelSettings(
            walk_speed_kmh=speeds, max_walk_dist_m=float(m.travel.max_walk_dist_m),
            k_nearest=m.travel.k_nearest,
            drive_leg_speed_kmh=float(m.travel.drive_leg_speed_kmh),
            max_drive_time_min=float(m.travel.max_drive_time_min)),
        population=population, facilities=facilities,
        categories=[dict(c) for c in m.categories], units=units, targets=dict(m.targets))


def load_study_area(path: str | Path, *, check_resources: bool = True) -> StudyArea:
    """Read a study-area TOML file and check all of it before any expensive stage.

    Parameters
    ----------
    path
        The study-area file.
    check_resources
        Also estimate the memory the run needs and refuse one that would not fit.

    Raises
    ------
    InputFileError
        The file is missing, a folder, or not valid TOML.
    StudyAreaError
        Every problem found, each with its key path (``network.path``,
        ``population[2].table``, ``units[1].settlement_column`` ...): unknown keys
        (with a suggestion), wrong types, values out of range, missing or unreadable
        files, missing columns, unknown or contradictory CRS, settlement values that
        name no class, no population source, a target whose population group no
        source gives, a run too large for the memory available.
    """
    return validate_study_area(path, check_resources=check_resources)
