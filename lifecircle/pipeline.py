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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from access.crs import WGS84, metric_to_lonlat, parse_crs, to_metric, utm_crs_for_lonlat
from access.errors import ConfigError, InputFileError
from access.modes import MODES as MODE_TABLE
from access.modes import TIME_MODES
from access.network import StreetNetwork, load_network, snap
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
)
from access.travel import (
    catchment_pairs,
    dist_to_time_min,
    k_nearest_facilities,
    nearest_facilities,
)
from facilities import (
    Taxonomy,
    completeness_check,
    completeness_warnings,
    load_facilities,
    load_taxonomy,
)
from gridded_pop import GridSpec, PopulationGrid, build_population
from lifecircle.study_area import StudyArea, TravelSettings, UnitsSpec

__all__ = ["RunResult", "analysis_cells", "assign_units", "completeness_and_targets",
           "read_units", "reject_unreachable", "run", "unit_of_points"]

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
    partitions: pd.DataFrame | None = None

    @property
    def categories(self) -> list[str]:
        """Categories routed (those with at least one facility)."""
        return [c[len("dist_m__"):] for c in self.cells.columns if c.startswith("dist_m__")]


STAGES = ("boundary", "network", "population", "facilities", "snapping", "routing", "units",
          "targets")


class _Clock:
    """Times each stage; with ``progress`` a bar advances stage by stage."""

    def __init__(self, progress: bool) -> None:
        from tqdm import tqdm

        self.t = time.perf_counter()
        self.laps: dict[str, float] = {}
        self.bar = tqdm(total=len(STAGES), desc="lifecircle", unit=" stage",
                        disable=not progress, leave=False)

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.t, 3)
        self.t = now
        self.bar.update()
        i = STAGES.index(name)
        if i + 1 < len(STAGES):
            self.bar.set_description(f"lifecircle: {STAGES[i + 1]}")
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
        log.info("analysis CRS %s (%s), the UTM zone of the study area's centre",
                 crs.to_string(), crs.name)
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
    if not len(x):
        return out
    pts = shapely.points(x, y)
    tree = shapely.STRtree(units.geometry.to_numpy())
    p_idx, u_idx = tree.query(pts, predicate="intersects")
    # a point on a shared edge belongs to the first unit listed
    first = np.unique(p_idx, return_index=True)[1]
    out[p_idx[first]] = units["unit_id"].to_numpy()[u_idx[first]]
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
    boundary_lonlat = study_boundary(area)
    crs = _metric_crs(area, boundary_lonlat)
    boundary = gpd.GeoSeries([boundary_lonlat], crs=WGS84).to_crs(crs).iloc[0]
    clock.lap("boundary")

    catalogue = load_catalogue(overrides=area.targets, base_dir=area.base_dir,
                               config_path=area.path)
    networks = {mode: load_network(area.network.path, mode, crs=crs, use_cache=use_cache,
                                   progress=progress)
                for mode in modes_to_build(area.network.modes, catalogue)}
    walk = networks["walk"]
    _reject_missing_refs(networks, rejects)
    clock.lap("network")

    spec = GridSpec.from_bounds(boundary.bounds, area.grid.cell_size_m, crs)
    pop = build_population(area.population, spec, boundary=boundary, rejects=rejects,
                           osm_path=area.network.path, progress=progress)
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
    for k, v in snap_to_networks(networks, fx, fy, max_dist_m=snap_max).items():
        fac[k] = v
    reject_unreachable(cells, fac, rejects, crs, snap_max)
    clock.lap("snapping")

    categories = sorted(set(fac["category"])) if len(fac) else []
    tr = area.travel
    routed = route_categories(networks, cells, fac, categories, travel=tr)
    k_table = k_nearest_table(walk, cells, fac, categories, travel=tr)
    cells = pd.concat([cells, pd.DataFrame(routed, index=cells.index)], axis=1)
    clock.lap("routing")

    unit_polygons = {u.level: read_units(u, crs) for u in area.units}
    units = assign_units(unit_polygons, cells, fac, pop)
    clock.lap("units")

    catchments = catchment_function(walk, cells, fac)
    completeness, targets, cells = completeness_and_targets(
        area, cells, fac, units, pop, taxonomy, catchments, catalogue=catalogue)
    clock.lap("targets")

    return RunResult(area=area, crs=crs, boundary_lonlat=boundary_lonlat, boundary=boundary,
                     networks=networks, population=pop, facilities=fac, cells=cells,
                     k_nearest=k_table, units=units, completeness=completeness,
                     targets=targets, rejects=rejects, taxonomy=taxonomy,
                     unit_polygons=unit_polygons, catchments=catchments, timings_s=clock.laps)


def _reject_missing_refs(networks: dict[str, StreetNetwork], rejects: RejectLog) -> None:
    """One rejects row per mode whose ways reference nodes missing from the OSM file."""
    for mode, net in networks.items():
        n_refs = int(net.report.get("missing_node_refs", 0))
        if n_refs:
            n_ways = int(net.report.get("ways_with_missing_refs", 0))
            rejects.add(net.source, None, "missing_node_refs",
                        f"{mode}: {n_refs} node references in {n_ways} ways point to nodes "
                        f"missing from the file; those ways were cut there", kind="network")


def _reject_unreachable_cells(cells: pd.DataFrame, rejects: RejectLog, crs: CRS,
                              snap_max: float) -> None:
    """List populated cells too far from every street (their residents count as uncovered)."""


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
                        f"cell centre {r.snap_dist_m:.0f} m from the nearest street node "
                        f"(limit {snap_max:.0f} m); its residents count as not covered",
                        kind="cell", lon=float(lo), lat=float(la),
                        population=float(r.pop_total))
    for r in fac[~fac["reachable"].astype(bool)].itertuples():
        rejects.add(r.source, r.source_row, "unreachable",
                    f"{r.category} '{r.name}' is {r.snap_dist_m:.0f} m from the nearest "
                    f"street node (limit {snap_max:.0f} m): not routed, still counted in "
                    "unit rules", kind="facility", lon=r.lon, lat=r.lat)


def assign_units(unit_polygons: dict[str, gpd.GeoDataFrame], cells: pd.DataFrame,
                 fac: pd.DataFrame, pop: Any) -> dict[str, pd.DataFrame]:
    """Add ``unit__<level>`` to cells and facilities; the unit tables with population."""
    units: dict[str, pd.DataFrame] = {}
    fx, fy = _xy(fac)
    for level, gdf in unit_polygons.items():
        col = f"unit__{level}"
        cells[col] = unit_of_points(gdf, cells["x"].to_numpy(), cells["y"].to_numpy())
        fac[col] = unit_of_points(gdf, fx, fy)
        agg = pop.aggregate_to_units(gdf, id_column="unit_id")
        units[level] = pd.DataFrame(gdf.drop(columns="geometry")).merge(
            agg, on="unit_id", how="left")
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


#: Column prefixes :func:`route_categories` writes, one column per prefix and category.
ROUTED_PREFIXES = ("dist_m", "time_min", "nearest",
                   *(f"{m}_time_min" for m in TIME_MODES))


def modes_to_build(modes: tuple[str, ...] | list[str], targets: list[Target]) -> list[str]:
    """Networks a run needs: walking, the study area's ``modes`` and every mode a target names.

    In :data:`access.osm.MODES` order, so runs are reproducible.
    """
    need = {"walk", *modes}
    for t in targets:
        if isinstance(t, RoutedTarget):
            need.update(t.modes_used)
    return [m for m in NETWORK_MODES if m in need]


def snap_to_networks(networks: dict[str, StreetNetwork], x: np.ndarray, y: np.ndarray, *,
                     max_dist_m: float) -> dict[str, np.ndarray]:
    """Snap points to every network: the snapping columns of cells and facilities.

    Returns ``node``, ``snap_dist_m`` and ``reachable`` (walking) and, per other
    network, ``<mode>_node`` and ``<mode>_snap_dist_m`` (``drive_node`` ...).
    """
    node, leg = snap(networks["walk"], x, y, max_dist_m=max_dist_m)
    out = {"node": node, "snap_dist_m": leg, "reachable": node >= 0}
    for mode in TIME_MODES:
        if mode in networks:
            out[f"{mode}_node"], out[f"{mode}_snap_dist_m"] = snap(
                networks[mode], x, y, max_dist_m=max_dist_m)
    return out


def _time_mode_limits(mode: str, travel: Any) -> tuple[float, float]:
    """Search limit (minutes) and access-leg speed (km/h) of a time-routed mode.

    The car's come from the study area's ``[travel]``; the others from the mode table.
    """
    if mode == "drive":
        return travel.max_drive_time_min, travel.drive_leg_speed_kmh
    return MODE_TABLE[mode].max_time_min, MODE_TABLE[mode].leg_speed_kmh


def route_categories(networks: dict[str, StreetNetwork], cells: pd.DataFrame,
                     fac: pd.DataFrame, categories: list[str], *,
                     travel: TravelSettings) -> dict[str, np.ndarray]:
    """Nearest facility of each category for every cell: the routed columns of ``cells``.

    ``cells`` and ``fac`` carry the columns of :func:`snap_to_networks`; ``fac`` also
    ``category`` and ``facility_id``. Returns ``dist_m__<c>``, ``time_min__<c>``,
    ``nearest__<c>`` and, per e-bike or driving network, ``ebike_time_min__<c>`` /
    ``drive_time_min__<c>`` per category (the prefixes :data:`ROUTED_PREFIXES`).
    """
    walk = networks["walk"]
    near = nearest_facilities(walk, cells["node"].to_numpy(), cells["snap_dist_m"].to_numpy(),
                              fac["node"].to_numpy(), fac["snap_dist_m"].to_numpy(),
                              fac["category"].to_numpy(dtype=object), categories=categories,
                              max_cost=travel.max_walk_dist_m)
    fid = fac["facility_id"].to_numpy(dtype=object)
    speed = travel.walk_speed_kmh["total"]
    routed: dict[str, np.ndarray] = {}
    for i, c in enumerate(categories):
        routed[f"dist_m__{c}"] = near.cost[i]
        routed[f"time_min__{c}"] = dist_to_time_min(near.cost[i], speed)
        routed[f"nearest__{c}"] = np.where(near.facility[i] >= 0,
                                           fid[np.maximum(near.facility[i], 0)],
                                           np.array(None, dtype=object))
    for mode in TIME_MODES:
        if mode not in networks:
            continue
        max_min, leg_kmh = _time_mode_limits(mode, travel)
        tnear = nearest_facilities(networks[mode], cells[f"{mode}_node"].to_numpy(),
                                   cells[f"{mode}_snap_dist_m"].to_numpy(),
                                   fac[f"{mode}_node"].to_numpy(),
                                   fac[f"{mode}_snap_dist_m"].to_numpy(),
                                   fac["category"].to_numpy(dtype=object),
                                   categories=categories, max_cost=max_min * 60,
                                   weight="time_s", leg_speed_kmh=leg_kmh)
        for i, c in enumerate(categories):
            routed[f"{mode}_time_min__{c}"] = tnear.cost[i] / 60.0
    return routed


def _xy(fac: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if not len(fac):
        return np.zeros(0), np.zeros(0)
    return fac.geometry.x.to_numpy(), fac.geometry.y.to_numpy()


def k_nearest_table(walk: StreetNetwork, cells: pd.DataFrame, fac: pd.DataFrame,
                    categories: list[str], *, travel: TravelSettings) -> pd.DataFrame:
    """Long table of the ``travel.k_nearest`` nearest facilities per cell and category."""
    cols = ["cell_id", "category", "rank", "facility_id", "dist_m"]
    if travel.k_nearest < 2:
        return pd.DataFrame(columns=cols)
    fid = fac["facility_id"].to_numpy(dtype=object)
    cat = fac["category"].to_numpy()
    f_node, f_leg = fac["node"].to_numpy(), fac["snap_dist_m"].to_numpy()
    parts = []
    for c in categories:
        sel = np.flatnonzero(cat == c)
        cost, which = k_nearest_facilities(walk, cells["node"].to_numpy(),
                                           cells["snap_dist_m"].to_numpy(), f_node[sel],
                                           f_leg[sel], travel.k_nearest,
                                           max_cost=travel.max_walk_dist_m)
        ci, rank = np.nonzero(which >= 0)
        parts.append(pd.DataFrame({
            "cell_id": cells["cell_id"].to_numpy()[ci], "category": c, "rank": rank + 1,
            "facility_id": fid[sel][which[ci, rank]], "dist_m": cost[ci, rank]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


def catchment_function(walk: StreetNetwork, cells: pd.DataFrame, fac: pd.DataFrame,
                       ) -> Callable[[str, float], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``catchments(category, max_dist_m)`` for the targets engine (2SFCA)."""
    cat = fac["category"].to_numpy()
    f_node, f_leg = fac["node"].to_numpy(), fac["snap_dist_m"].to_numpy()
    c_node, c_leg = cells["node"].to_numpy(), cells["snap_dist_m"].to_numpy()

    def catchments(category: str, max_dist_m: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sel = np.flatnonzero(cat == category)
        return catchment_pairs(walk, f_node[sel], f_leg[sel], c_node, c_leg,
                               max_dist_m=max_dist_m)

    return catchments


def evaluate_area_targets(area: StudyArea, cells: pd.DataFrame, fac: gpd.GeoDataFrame,
                          units: dict[str, pd.DataFrame], pop: PopulationGrid,
                          completeness: pd.DataFrame, catchments: Callable[..., Any] | None,
                          *, catalogue: list[Target] | None = None) -> TargetResults | None:
    """Evaluate the study area's target catalogue (loaded when not given) on routed cells."""
    if catalogue is None:
        catalogue = load_catalogue(overrides=area.targets, base_dir=area.base_dir,
                                   config_path=area.path)
    warnings = {}
    for c in completeness["category"]:
        w = completeness_warnings(completeness, [c])
        if w:
            warnings[c] = w[0]
    fac_cols = [c for c in ("facility_id", "category", "capacity", "ownership", "area_m2")
                if c in fac.columns]
    fac_in = pd.DataFrame(fac[fac_cols + [c for c in fac.columns if c.startswith("unit__")]])
    if "area_m2" not in fac_in:
        fac_in["area_m2"] = np.nan
    inputs = TargetInputs(
        cells=cells, facilities=fac_in, units=units, walk_speed_kmh=area.travel.walk_speed_kmh,
        catchments=catchments, data_warnings=warnings,
        groups_derived=pop.derived_groups)
    if "settlement" in area.targets:
        inputs = apply_settlement(inputs, area.targets["settlement"], path=area.path)
    return evaluate_targets(catalogue, inputs)
