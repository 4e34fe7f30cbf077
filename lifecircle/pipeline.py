"""The main job: from a study-area file to travel times, coverage and target verdicts.

:func:`run` chains the stages of ``ARCHITECTURE.md`` (boundary and metric CRS,
street networks, population grid, facilities, snapping, routing, targets) and
returns a :class:`RunResult`; :func:`lifecircle.results.write_run` writes it to a
folder and :func:`lifecircle.results.read_run` reads it back. The CLI, the dashboard
and the reports all go through these functions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from access.crs import WGS84, metric_to_lonlat, parse_crs, to_metric, utm_crs_for_lonlat
from access.errors import ConfigError, InputFileError
from access.i18n import Say, bar, say
from access.modes import MODES as MODE_TABLE
from access.network import StreetNetwork, load_networks
from access.osm import MODES as NETWORK_MODES
from access.osm import osm_bounds
from access.rejects import RejectLog
from access.settlement import parse_settlement
from access.targets import (
    RoutedTarget,
    Target,
    TargetInputs,
    TargetResults,
    apply_settlement,
    evaluate_targets,
    load_catalogue,
    prepare_targets,
)
from facilities import (
    Taxonomy,
    completeness_check,
    completeness_warnings_by_category,
    load_facilities,
    load_taxonomy,
)
from gridded_pop import GridSpec, PopulationGrid, build_population
from lifecircle.routing import (
    ROUTED_PREFIXES,
    catchment_function,
    k_nearest_table,
    routed_frame,
    snap_to_networks,
)
from lifecircle.study_area import StudyArea, UnitsSpec

__all__ = ["RunResult", "analysis_cells", "assign_units", "completeness_and_targets",
           "longest_trip_min", "prepare_area_targets", "read_units", "reject_unreachable",
           "run", "unit_of_cells", "unit_of_points", "unit_population", "unit_table",
           "with_search_limits"]

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """Everything one run computed.

    Attributes
    ----------
    area
        The study area.
    crs
        Metric analysis CRS (UTM zone chosen from the study area's centre).
    boundary_lonlat, boundary
        Study area polygon in WGS-84 and in ``crs``.
    networks
        Mode -> street network.
    population
        The population grid (:class:`gridded_pop.PopulationGrid`).
    facilities
        Facility table in ``crs`` with ``node``, ``snap_dist_m``, ``reachable`` and
        ``unit__<level>`` columns added.
    cells
        Cells in the study area: population, ``node``, ``snap_dist_m``,
        ``reachable``, ``dist_m__<cat>``, ``time_min__<cat>``, ``nearest__<cat>``
        (facility id), ``ebike_time_min__<cat>`` and ``drive_time_min__<cat>`` (when
        those networks are built), ``unit__<level>``, target flags.
    k_nearest
        Long table ``cell_id, category, rank, facility_id, dist_m`` (k > 1 only).
    units
        Level -> unit table (``unit_id, name, area_m2, pop_<group>...``).
    unit_polygons
        Level -> unit polygons in ``crs`` with ``unit_id``, ``name`` [, ``settlement``].
    completeness
        Facility counts against GB 50180 norms (:func:`facilities.completeness_check`).
    targets
        Target verdicts (:class:`access.targets.TargetResults`), or None.
    rejects
        Every input row not used, with its reason.
    timings_s
        Seconds per stage.
    notes
        ``(zh, en)`` remarks on the run, e.g. a category a target needs that has no
        facility in the data (its columns exist and are empty).
    partitions
        Partitioned runs only (:mod:`lifecircle.partition`): one row per partition
        with its cells, network nodes, seconds and worker peak memory.
    """

    area: StudyArea
    crs: CRS
    boundary_lonlat: shapely.Geometry
    boundary: shapely.Geometry
    networks: dict[str, StreetNetwork]
    population: PopulationGrid
    facilities: gpd.GeoDataFrame
    cells: pd.DataFrame
    k_nearest: pd.DataFrame
    units: dict[str, pd.DataFrame]
    completeness: pd.DataFrame
    targets: TargetResults | None
    rejects: RejectLog
    taxonomy: Taxonomy
    unit_polygons: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    catchments: Callable[[str, float], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)
    partitions: pd.DataFrame | None = None

    @property
    def categories(self) -> list[str]:
        """Categories routed: those with facilities and those a target needs (maybe empty)."""
        return [c[len("dist_m__"):] for c in self.cells.columns if c.startswith("dist_m__")]


STAGES = ("boundary", "network", "population", "facilities", "snapping", "routing", "units",
          "targets")


class _Clock:
    """Times each stage; with ``progress`` a bar advances stage by stage."""

    def __init__(self, progress: bool, stages: tuple[str, ...] = STAGES) -> None:
        from tqdm import tqdm

        self.t = time.perf_counter()
        self.laps: dict[str, float] = {}
        self.stages = stages
        self.bar = tqdm(total=len(stages), desc=bar("bar_run"), unit=bar("unit_stage"),
                        disable=not progress, leave=False)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.t, 3)
        self.t = now
        self.bar.update()
        i = self.stages.index(name)
        if i + 1 < len(self.stages):
            self.bar.set_description(f"{bar('bar_run')}: {bar('stage_' + self.stages[i + 1])}")
        else:
            self.bar.close()


def study_boundary(area: StudyArea) -> shapely.Geometry:
    """The study area polygon in WGS-84 longitude/latitude.

    ``boundary = "osm_bounds"`` takes the ``<bounds>`` box of the network file;
    otherwise the union of the polygons in the named file.
    """
    if area.boundary == "osm_bounds":
        b = osm_bounds(area.network.path)
        if b is None:
            raise ConfigError(
                "the network file records no <bounds>; give 'boundary' as a polygon file",
                path=area.path, key="boundary")
        return shapely.box(*b)
    path = Path(area.boundary)
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError family
        raise InputFileError(f"cannot read the boundary file ({exc})", path=path) from exc
    if gdf.empty:
        raise InputFileError("the boundary file holds no polygon", path=path)
    gdf = to_metric(gdf, WGS84, source=path.name, stated=area.boundary_crs)
    return shapely.union_all(shapely.make_valid(gdf.geometry.to_numpy()))


def _metric_crs(area: StudyArea, boundary_lonlat: shapely.Geometry) -> CRS:
    if area.metric_crs == "auto":
        c = boundary_lonlat.centroid
        crs = utm_crs_for_lonlat(c.x, c.y)
        log.info(say("log_utm", crs=crs.to_string(), name=crs.name))
        return crs
    crs = parse_crs(area.metric_crs, path=area.path, param="metric_crs")
    if crs.is_geographic:
        raise ConfigError(f"{crs.to_string()} is not a metric CRS", path=area.path,
                          key="metric_crs")
    return crs


def read_units(spec: UnitsSpec, crs: CRS) -> gpd.GeoDataFrame:
    """Unit polygons in ``crs`` with columns ``unit_id``, ``name`` [, ``settlement``]."""
    try:
        gdf = gpd.read_file(spec.path)
    except Exception as exc:  # pyogrio raises its own DataSourceError family
        raise InputFileError(f"cannot read the units file ({exc})", path=spec.path) from exc
    for col in (spec.id_column, spec.name_column, spec.settlement_column):
        if col is not None and col not in gdf.columns:
            raise InputFileError(f"no column '{col}' (columns: {', '.join(gdf.columns)})",
                                 path=spec.path, column=col)
    gdf = to_metric(gdf, crs, source=spec.path.name, stated=spec.crs)
    gdf[spec.id_column] = gdf[spec.id_column].astype(str)
    dup = gdf[spec.id_column].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise InputFileError(f"unit id '{gdf[spec.id_column].iloc[i]}' appears twice",
                             path=spec.path, row=i + 1, column=spec.id_column)
    names = {spec.id_column: "unit_id", spec.name_column: "name"}
    if spec.settlement_column:
        names[spec.settlement_column] = "settlement"
    out = gdf[[*names, "geometry"]].rename(columns=names)
    if spec.settlement_column:
        classes = []
        for i, v in enumerate(out["settlement"], start=1):
            try:
                classes.append(parse_settlement(v))
            except ValueError as exc:
                raise InputFileError(str(exc), path=spec.path, row=i,
                                     column=spec.settlement_column) from None
        out["settlement"] = pd.Series(classes, index=out.index, dtype=object)
    return out


_read_units = read_units  # the name tests and older callers use


def unit_of_points(units: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``unit_id`` of the unit containing each point (None outside every unit).

    ``units`` is one of :attr:`RunResult.unit_polygons`.
    """
    out = np.full(len(x), None, dtype=object)
    idx = polygon_of_points(units.geometry.to_numpy(), x, y)
    inside = idx >= 0
    out[inside] = units["unit_id"].to_numpy()[idx[inside]]
    return out


def polygon_of_points(geoms: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Position in ``geoms`` of the polygon containing each point, -1 outside every one;
    a point on a shared edge belongs to the polygon listed first.

    Each polygon, prepared, tests only the points inside its bounding box, found in
    the points sorted by x: no STRtree of point objects (640,000 of them for a
    municipality).
    """
    out = np.full(len(x), -1, dtype=np.int64)
    if not len(x):
        return out
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    by_x = np.argsort(x, kind="stable")
    xs = x[by_x]
    free = np.ones(len(x), dtype=bool)
    for i, (x0, y0, x1, y1) in enumerate(shapely.bounds(geoms)):
        if not np.isfinite(x0):
            continue  # missing or empty geometry
        cand = by_x[np.searchsorted(xs, x0, "left"):np.searchsorted(xs, x1, "right")]
        cand = cand[free[cand] & (y[cand] >= y0) & (y[cand] <= y1)]
        if not len(cand):
            continue
        shapely.prepare(geoms[i])
        hit = cand[shapely.intersects_xy(geoms[i], x[cand], y[cand])]
        out[hit] = i
        free[hit] = False
    return out


def label_unnamed(fac: gpd.GeoDataFrame, taxonomy: Taxonomy,
                  unit_polygons: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Give facilities without a name a readable one; ``name_generated`` marks them.

    The label is the category's Chinese name, the unit it lies in (the finest unit
    level given) and its row in the source: ``幼儿园（锦江区，w299410325）``.
    ``completeness.csv`` counts them per category (``unnamed``).
    """
    fac = fac.copy()
    names = fac["name"].fillna("").astype(str).str.strip()
    missing = (names == "").to_numpy()
    fac["name_generated"] = missing
    if not missing.any():
        return fac
    unit_name: dict[str, str] = {}
    col = None
    if unit_polygons:
        level = max(unit_polygons, key=lambda lv: len(unit_polygons[lv]))
        col = f"unit__{level}"
        poly = unit_polygons[level]
        unit_name = dict(zip(poly["unit_id"].astype(str), poly["name"].astype(str),
                             strict=True))
    labels = fac["name"].astype(object).to_numpy().copy()
    for i in np.flatnonzero(missing):
        r = fac.iloc[i]
        cat = taxonomy.label(r["category"], "zh") if r["category"] in taxonomy \
            else str(r["category"])
        uid = r[col] if col is not None and col in fac.columns else None
        where = unit_name.get(str(uid), "") if uid is not None and not pd.isna(uid) else ""
        labels[i] = f"{cat}（{where + '，' if where else ''}{r['source_row']}）"
    fac["name"] = labels
    log.info(say("log_unnamed", n=int(missing.sum())))
    return fac


def unit_of_cells(units: gpd.GeoDataFrame, cells: pd.DataFrame, spec: GridSpec) -> np.ndarray:
    """``unit_id`` of the unit each cell belongs to (None for cells in no unit).

    A cell belongs to the unit containing its centre. A cell at the edge of the
    study area whose centre lies in no unit belongs to the unit covering most of
    the cell, so that its residents are counted in some unit.

    Parameters
    ----------
    units
        One of :attr:`RunResult.unit_polygons`.
    cells
        ``cell_id``, ``x``, ``y`` and, optionally, ``pop_total``/``area_m2``.
    spec
        The analysis grid.
    """
    out = unit_of_points(units, cells["x"].to_numpy(), cells["y"].to_numpy())
    todo = np.flatnonzero(pd.isna(out))
    if not len(todo):
        return out
    polys = spec.cell_polygons(cells["cell_id"].to_numpy()[todo])
    tree = shapely.STRtree(units.geometry.to_numpy())
    c_idx, u_idx = tree.query(polys, predicate="intersects")
    if not len(c_idx):
        return out
    overlap = shapely.area(shapely.intersection(polys[c_idx],
                                                units.geometry.to_numpy()[u_idx]))
    ok = overlap > 0
    c_idx, u_idx, overlap = c_idx[ok], u_idx[ok], overlap[ok]
    # largest overlap first, then the unit listed first
    order = np.lexsort((u_idx, -overlap, c_idx))
    c_idx, u_idx = c_idx[order], u_idx[order]
    first = np.unique(c_idx, return_index=True)[1]
    out[todo[c_idx[first]]] = units["unit_id"].to_numpy()[u_idx[first]]
    return out


def unit_population(cells: pd.DataFrame, unit_column: str,
                    unit_ids: Any | None = None) -> pd.DataFrame:
    """Persons per group per unit: the sum of the cells' persons by ``unit_column``.

    The one definition of a unit's population, used by ``units.csv``, the targets'
    per-unit rows, ``cells.gpkg`` and the dashboard alike.

    Parameters
    ----------
    cells
        Cells with ``pop_<group>`` columns and ``unit_column`` (from :func:`unit_of_cells`).
    unit_column
        ``unit__<level>``.
    unit_ids
        Units to list (in this order, 0 for units without cells); default: those
        the cells name.

    Returns
    -------
    pandas.DataFrame
        ``unit_id, pop_total, pop_<group>...``.
    """
    pop_cols = [c for c in cells.columns if c.startswith("pop_")]
    ids = cells[unit_column].astype(object).where(cells[unit_column].notna(), None)
    sums = cells[pop_cols].groupby(ids.to_numpy(), dropna=True).sum()
    if unit_ids is None:
        unit_ids = sorted(sums.index)
    sums = sums.reindex(pd.Index(list(unit_ids), dtype=object)).fillna(0.0)
    sums.index.name = "unit_id"
    return sums.reset_index()


def unit_table(units: gpd.GeoDataFrame, cells: pd.DataFrame, unit_column: str, *,
               boundary: shapely.Geometry | None = None) -> pd.DataFrame:
    """The unit table of a level: ``unit_id, name[, settlement], area_m2, pop_<group>...``.

    ``area_m2`` is the unit's area inside ``boundary``; the persons are
    :func:`unit_population`. Persons in cells of no unit are logged.
    """
    geoms = shapely.make_valid(units.geometry.to_numpy())
    if boundary is not None:
        geoms = shapely.intersection(geoms, boundary)
    table = pd.DataFrame(units.drop(columns="geometry"))
    table["area_m2"] = shapely.area(geoms)
    pops = unit_population(cells, unit_column, table["unit_id"].tolist())
    out = table.merge(pops, on="unit_id", how="left")
    lost = float(cells.loc[cells[unit_column].isna(), "pop_total"].sum())
    if lost > 0:
        log.warning(say("log_unit_lost", column=unit_column, n=lost))
    return out


def run(area: StudyArea, *, progress: bool = False, use_cache: bool = True) -> RunResult:
    """Run the whole analysis for a study area.

    Parameters
    ----------
    area
        From :func:`lifecircle.study_area.load_study_area`.
    progress
        Show progress bars for the long stages.
    use_cache
        Use the on-disk network cache.
    """
    clock = _Clock(progress)
    rejects = RejectLog()
    notes: list[tuple[str, str]] = []
    boundary_lonlat = study_boundary(area)
    crs = _metric_crs(area, boundary_lonlat)
    boundary = gpd.GeoSeries([boundary_lonlat], crs=WGS84).to_crs(crs).iloc[0]
    clock.lap("boundary")

    catalogue = load_catalogue(overrides=area.targets, base_dir=area.base_dir,
                               config_path=area.path)
    area = with_search_limits(area, catalogue)
    networks = load_networks(area.network.path, modes_to_build(area.network.modes, catalogue),
                             crs=crs, use_cache=use_cache, progress=progress)
    walk = networks["walk"]
    _reject_missing_refs(networks, rejects)
    clock.lap("network")

    unit_polygons = {u.level: read_units(u, crs) for u in area.units}
    spec = GridSpec.from_bounds(boundary.bounds, area.grid.cell_size_m, crs)
    pop = build_population(area.population, spec, boundary=boundary, rejects=rejects,
                           osm_path=area.network.path, progress=progress,
                           units=unit_polygons)
    if not pop.total() > 0:
        raise ConfigError(
            "the population sources give no residents inside the study area (every value "
            "is no-data, or the data do not overlap the boundary): check the population "
            "files, their CRS and no-data value, and the boundary", path=area.path,
            key="population")
    clock.lap("population")

    taxonomy = load_taxonomy(area.categories, base_dir=area.base_dir, path=area.path)
    fac = load_facilities(area.facilities, boundary=boundary_lonlat, crs=crs,
                          taxonomy=taxonomy, rejects=rejects, progress=progress)
    clock.lap("facilities")

    cells = analysis_cells(pop)
    snap_max = area.network.snap_max_dist_m
    for k, v in snap_to_networks(networks, cells["x"].to_numpy(), cells["y"].to_numpy(),
                                 max_dist_m=snap_max).items():
        cells[k] = v
    fx, fy = _xy(fac)
    outlines = fac["outline"].to_numpy(dtype=object) if "outline" in fac else None
    for k, v in snap_to_networks(networks, fx, fy, max_dist_m=snap_max,
                                 outlines=outlines).items():
        fac[k] = v
    fac = _outline_to_wkt(fac)
    reject_unreachable(cells, fac, rejects, crs, snap_max)
    _note_below_street(cells, rejects, crs, snap_max, kind="cell")
    _note_below_street(fac, rejects, crs, snap_max, kind="facility")
    clock.lap("snapping")

    categories, empty_notes = routed_categories(fac, catalogue, taxonomy)
    notes += empty_notes
    tr = area.travel
    routed = routed_frame(networks, cells, fac, categories, travel=tr)
    k_table = k_nearest_table(walk, cells, fac, categories, travel=tr)
    cells = pd.concat([cells, routed], axis=1)
    del routed
    clock.lap("routing")

    units = assign_units(unit_polygons, cells, fac, pop, boundary=boundary)
    clock.lap("units")

    fac = label_unnamed(fac, taxonomy, unit_polygons)
    catchments = catchment_function(walk, cells, fac)
    completeness, targets, cells = completeness_and_targets(
        area, cells, fac, units, pop, taxonomy, catchments, catalogue=catalogue)
    clock.lap("targets")

    return RunResult(area=area, crs=crs, boundary_lonlat=boundary_lonlat, boundary=boundary,
                     networks=networks, population=pop, facilities=fac, cells=cells,
                     k_nearest=k_table, units=units, completeness=completeness,
                     targets=targets, rejects=rejects, taxonomy=taxonomy,
                     unit_polygons=unit_polygons, catchments=catchments, timings_s=clock.laps,
                     notes=notes)


def _reject_missing_refs(networks: dict[str, StreetNetwork], rejects: RejectLog) -> None:
    """One rejects row per mode whose ways reference nodes missing from the OSM file."""
    for mode, net in networks.items():
        n_refs = int(net.report.get("missing_node_refs", 0))
        if n_refs:
            n_ways = int(net.report.get("ways_with_missing_refs", 0))
            rejects.add(net.source, None, "missing_node_refs",
                        (f"{mode}：{n_ways} 条路段中有 {n_refs} 个节点引用指向文件中缺失的"
                         "节点，这些路段在该处断开",
                         f"{mode}: {n_refs} node references in {n_ways} ways point to nodes "
                         f"missing from the file; those ways were cut there"), kind="network")


def analysis_cells(pop: Any) -> pd.DataFrame:
    """The cells a run analyses: every cell touching the study area or holding residents."""
    cells = pop.cells_frame(populated_only=False)
    keep = cells["in_area"] | (cells["area_in_m2"] > 0) | (cells["pop_total"] > 0)
    cells = cells[keep].reset_index(drop=True).rename(columns={"area_in_m2": "area_m2"})
    if "residential_m2" not in cells:
        cells["residential_m2"] = np.nan
    return cells


def reject_unreachable(cells: pd.DataFrame, fac: pd.DataFrame, rejects: RejectLog, crs: CRS,
                       snap_max: float) -> None:
    """List populated cells and facilities too far from every street.

    Their residents count as not covered; the facilities are not routed but still
    count in unit rules.
    """
    bad = cells[~cells["reachable"] & (cells["pop_total"] > 0)]
    if not bad.empty:
        lon, lat = metric_to_lonlat(bad["x"].to_numpy(), bad["y"].to_numpy(), crs)
        for r, lo, la in zip(bad.itertuples(), lon, lat, strict=True):
            rejects.add("grid", int(r.cell_id), "unreachable",
                        (f"网格中心距最近路网节点 {r.snap_dist_m:.0f} 米"
                         f"（上限 {snap_max:.0f} 米），其居民计为未覆盖",
                         f"cell centre {r.snap_dist_m:.0f} m from the nearest street node "
                         f"(limit {snap_max:.0f} m); its residents count as not covered"),
                        kind="cell", lon=float(lo), lat=float(la),
                        population=float(r.pop_total))
    for r in fac[~fac["reachable"].astype(bool)].itertuples():
        rejects.add(r.source, r.source_row, "unreachable",
                    (f"{r.category}“{r.name}”距最近路网节点 {r.snap_dist_m:.0f} 米（上限 "
                     f"{snap_max:.0f} 米）：不参与路径计算，仍计入单元配置规则",
                     f"{r.category} '{r.name}' is {r.snap_dist_m:.0f} m from the nearest "
                     f"street node (limit {snap_max:.0f} m): not routed, still counted in "
                     "unit rules"), kind="facility", lon=r.lon, lat=r.lat)


def assign_units(unit_polygons: dict[str, gpd.GeoDataFrame], cells: pd.DataFrame,
                 fac: pd.DataFrame, pop: Any, *,
                 boundary: shapely.Geometry | None = None) -> dict[str, pd.DataFrame]:
    """Add ``unit__<level>`` to cells and facilities; the unit tables with population.

    A unit's persons are the sum of its cells' (:func:`unit_population`).
    """
    units: dict[str, pd.DataFrame] = {}
    fx, fy = _xy(fac)
    for level, gdf in unit_polygons.items():
        col = f"unit__{level}"
        cells[col] = unit_of_cells(gdf, cells, pop.spec)
        fac[col] = unit_of_points(gdf, fx, fy)
        units[level] = unit_table(gdf, cells, col,
                                  boundary=boundary if boundary is not None else pop.boundary)
    return units


def completeness_and_targets(area: StudyArea, cells: pd.DataFrame, fac: gpd.GeoDataFrame,
                             units: dict[str, pd.DataFrame], pop: Any, taxonomy: Any,
                             catchments: Callable[..., Any] | None, *,
                             catalogue: list[Target] | None = None,
                             ) -> tuple[pd.DataFrame, Any, pd.DataFrame]:
    """Facility completeness, target verdicts and the cells with their target flags."""
    completeness = completeness_check(fac, pop.total(), taxonomy)
    targets = evaluate_area_targets(area, cells, fac, units, pop, completeness, catchments,
                                    catalogue=catalogue)
    if targets is not None:
        flags = targets.cell_flags.set_index("cell_id")
        cells = cells.join(flags, on="cell_id")
    return completeness, targets, cells


def _outline_to_wkt(fac: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Replace the ``outline`` polygons by ``outline_wkt`` text ("" for point facilities).

    The outline an OSM area joined the network by stays with the facility (in the
    analysis CRS) as text, so every writer can store it and nothing downstream
    meets a second geometry column.
    """
    if "outline" not in fac.columns:
        return fac
    wkt = [g.wkt if isinstance(g, shapely.Geometry) else "" for g in fac["outline"]]
    return fac.drop(columns="outline").assign(outline_wkt=wkt)


def _note_below_street(table: pd.DataFrame, rejects: RejectLog, crs: CRS, snap_max: float,
                       *, kind: str) -> None:
    """List cells and facilities joined below street level (still used, listed for checking)."""
    sel = table[table["snap_below_street"]]
    if kind == "cell":
        sel = sel[sel["pop_total"] > 0]
    if sel.empty:
        return
    log.warning(say(f"log_below_street_{kind}", n=len(sel), d=snap_max))
    lon, lat = metric_to_lonlat(sel["x"].to_numpy(), sel["y"].to_numpy(), crs) \
        if kind == "cell" else (sel["lon"].to_numpy(float), sel["lat"].to_numpy(float))
    for r, lo, la in zip(sel.itertuples(), lon, lat, strict=True):
        source, row = ("grid", int(r.cell_id)) if kind == "cell" else (r.source, r.source_row)
        rejects.add(source, row, "below_street_level",
                    (f"{snap_max:.0f} 米内无地面道路节点，接入 {r.snap_dist_m:.0f} 米外的"
                     "隧道、地下或室内路段（仍计入）",
                     f"no street-level node within {snap_max:.0f} m; joined a tunnel, "
                     f"underground or indoor way {r.snap_dist_m:.0f} m away (still used)"),
                    kind=kind, lon=float(lo), lat=float(la))


def modes_to_build(modes: tuple[str, ...] | list[str], targets: list[Target]) -> list[str]:
    """Networks a run needs: walking, the study area's ``modes`` and every mode a target names.

    In :data:`access.osm.MODES` order, so runs are reproducible.
    """
    need = {"walk", *modes}
    for t in targets:
        if isinstance(t, RoutedTarget):
            need.update(t.modes_used)
    return [m for m in NETWORK_MODES if m in need]


def longest_trip_min(catalogue: list[Any], mode: str) -> float | None:
    """The longest trip (minutes) any target of ``catalogue`` takes by ``mode``; None if none.

    E-bike and car reaches are always in minutes.
    """
    out = None
    for t in catalogue:
        if not isinstance(t, RoutedTarget) or mode not in t.modes_used:
            continue
        reach = dict(t.max_time_min or ())
        for settlement, m in t.modes:
            if m == mode and settlement in t.scope and settlement in reach:
                out = max(out or 0.0, float(reach[settlement]))
    return out


def with_search_limits(area: StudyArea, catalogue: list[Any]) -> StudyArea:
    """The study area with the e-bike search limit a run uses.

    When the e-bike network is built only because targets need it (``"ebike"`` is not
    in ``[network] modes``), e-bike times are searched as far as the longest e-bike
    trip a target takes (at most the mode table's limit): farther times count for
    no target, and a shorter search keeps partitions' buffers small. With
    ``"ebike"`` in ``[network] modes`` the mode table's limit (60 min) stands.
    """
    if "ebike" in area.network.modes or area.travel.max_ebike_time_min is not None:
        return area
    need = longest_trip_min(catalogue, "ebike")
    if need is None:
        return area
    limit = min(need, MODE_TABLE["ebike"].max_time_min)
    return replace(area, travel=replace(area.travel, max_ebike_time_min=limit))


def _xy(fac: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if not len(fac):
        return np.zeros(0), np.zeros(0)
    return fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy()


def routed_categories(fac: pd.DataFrame, catalogue: list[Any], taxonomy: Taxonomy,
                      ) -> tuple[list[str], list[tuple[str, str]]]:
    """Categories to route: those with facilities and those a target needs.

    A category a target needs but with no facility gets its (empty) columns and a
    note, so the outputs say "no facilities of this kind" instead of lacking it.

    Returns
    -------
    categories : list of str
        Sorted.
    notes : list of (zh, en)
        One per category without facilities.
    """
    present = set(fac["category"].unique()) if len(fac) else set()
    empty = sorted(c for c in target_categories(catalogue) - present if c in taxonomy)
    notes = []
    for c in empty:
        label = (taxonomy.label(c, "zh"), taxonomy.label(c, "en"))
        notes.append((f"{label[0]}：数据中无此类设施，dist_m__{c} 等列为空，"
                      "依赖它的目标为“无数据”",
                      f"{label[1]}: no facilities of this kind in the data; dist_m__{c} "
                      "and its other columns are empty and targets needing it say no data"))
    if empty:
        log.warning(say("log_no_facilities_for", n=len(empty), cats=Say(
            "、".join(taxonomy.label(c, "zh") for c in empty), ", ".join(empty))))
    return sorted(present | set(empty)), notes


def target_categories(catalogue: list[Any]) -> set[str]:
    """Every facility category a target of ``catalogue`` needs."""
    out: set[str] = set()
    for t in catalogue:
        out.update(getattr(t, "categories", ()) or ())
        out.update(r.category for r in getattr(t, "requirements", ()) or ())
    return out


def evaluate_area_targets(area: StudyArea, cells: pd.DataFrame, fac: gpd.GeoDataFrame,
                          units: dict[str, pd.DataFrame], pop: PopulationGrid,
                          completeness: pd.DataFrame, catchments: Callable[..., Any] | None,
                          *, catalogue: list[Target] | None = None,
                          shared: dict[str, Any] | None = None) -> TargetResults | None:
    """Evaluate the study area's target catalogue on routed cells.

    Categories without any facility keep their (empty) columns in the outputs, but
    the targets see them as absent: a target needing them says no data, never 0 %.
    ``shared`` keeps per-cell work for the next evaluation on the same cells and
    units (:attr:`access.targets.TargetInputs.shared`).
    """
    if catalogue is None:
        catalogue = load_catalogue(overrides=area.targets, base_dir=area.base_dir,
                                   config_path=area.path)
    inputs = _area_target_inputs(area, cells, fac, units, pop, completeness, catchments,
                                 catalogue, shared)
    return evaluate_targets(catalogue, inputs)


def prepare_area_targets(area: StudyArea, cells: pd.DataFrame, fac: gpd.GeoDataFrame,
                         units: dict[str, pd.DataFrame], pop: PopulationGrid, *,
                         shared: dict[str, Any]) -> None:
    """Fill ``shared`` now with the per-cell work :func:`evaluate_area_targets` on these
    cells and units would do at its first call (:func:`access.targets.prepare_targets`).

    For what-if: done in the background when a run is opened, the first edit's
    evaluation then costs what the next ones do.
    """
    prepare_targets(_area_target_inputs(area, cells, fac, units, pop, None, None, [],
                                        shared))


def _area_target_inputs(area: StudyArea, cells: pd.DataFrame, fac: gpd.GeoDataFrame,
                        units: dict[str, pd.DataFrame], pop: PopulationGrid,
                        completeness: pd.DataFrame | None,
                        catchments: Callable[..., Any] | None, catalogue: list[Target],
                        shared: dict[str, Any] | None) -> TargetInputs:
    """The engine's inputs of a study area's routed cells (the study area's
    ``[targets.settlement]`` applied)."""
    present = set(fac["category"].unique()) if len(fac) else set()
    routed = [c[len("dist_m__"):] for c in cells.columns if c.startswith("dist_m__")]
    empty_cols = [f"{p}__{c}" for p in ROUTED_PREFIXES for c in routed if c not in present]
    cells = cells.drop(columns=[c for c in empty_cols if c in cells.columns])
    # a warning only reaches targets counting its category
    warnings = {} if completeness is None else \
        completeness_warnings_by_category(completeness, target_categories(catalogue))
    fac_cols = [c for c in ("facility_id", "category", "capacity", "ownership", "area_m2")
                if c in fac.columns]
    fac_in = pd.DataFrame(fac[fac_cols + [c for c in fac.columns if c.startswith("unit__")]])
    if "area_m2" not in fac_in:
        fac_in["area_m2"] = np.nan
    inputs = TargetInputs(
        cells=cells, facilities=fac_in, units=units, walk_speed_kmh=area.travel.walk_speed_kmh,
        catchments=catchments, data_warnings=warnings,
        groups_derived=pop.derived_groups, crs=pop.spec.crs, shared=shared)
    if "settlement" in area.targets:
        inputs = apply_settlement(inputs, area.targets["settlement"], path=area.path)
    return inputs
