"""Site selection on a finished run: where should the next facilities go?

:func:`site_selection` turns a :class:`~lifecircle.pipeline.RunResult` and a
:class:`SiteProblem` into a :class:`SiteResult`:

1. the *target* that defines coverage: a walking circle target involving the
   category (its group, reach and scope; e.g. ``kindergarten_300``: children
   aged 3–5 within 300 m in urban areas);
2. the *candidates*: a user file (points, or parcels as polygons such as
   闲置地块, with optional ``cost`` and ``capacity`` columns) or street nodes
   in uncovered populated areas, thinned to a spacing and kept away from
   existing facilities of the same category; snapped like facilities;
3. the *coverage structure* from network distances: one bounded search from
   each candidate (:func:`access.travel.catchment_pairs`), with the same
   access legs and the same inclusive threshold as the targets engine;
4. the model (:mod:`access.siting`), then the chosen sites with lon/lat
   (WGS-84 and GCJ-02), their unit, the residents each adds (ranked), and the
   before/after values of every target involving the category, obtained by
   adding the sites as facilities and re-evaluating (:class:`~lifecircle.scenario.Scenario`).

:func:`write_sites` writes ``sites.gpkg`` (layers ``sites`` and
``candidates``), ``sites.csv``, ``site_targets.csv`` and ``site_run.json``,
whole or not at all.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from access import siting
from access.crs import WGS84, lonlat_to_metric, metric_to_lonlat, to_metric
from access.errors import InputFileError, LifecircleError, suggest
from access.i18n import t
from access.safe_io import write_csv
from access.targets import (
    CircleTarget,
    CompletenessTarget,
    Target,
    TargetInputs,
    apply_settlement,
    load_catalogue,
)
from access.travel import catchment_pairs, time_to_dist_m
from facilities.coords import wgs84_to_gcj02
from gridded_pop.ancillary import read_osm_water
from lifecircle.pipeline import RunResult, unit_of_points
from lifecircle.routing import snap_to_networks
from lifecircle.scenario import Scenario

__all__ = ["MODELS", "SiteError", "SiteProblem", "SiteResult", "check_problem",
           "read_candidates", "site_selection", "write_sites"]

log = logging.getLogger(__name__)

#: Models :func:`site_selection` answers.
MODELS = ("mclp", "lscp", "p_median", "p_center", "capacitated", "least_important",
          "colocated")


class SiteError(LifecircleError, ValueError):
    """A siting question that cannot be answered as asked (one line, with the reason)."""


@dataclass
class SiteProblem:
    """One siting question.

    Attributes
    ----------
    category
        Facility category to site (e.g. ``kindergarten``).
    model
        One of :data:`MODELS`: ``mclp`` (best ``n`` new sites), ``lscp`` (fewest
        sites reaching ``threshold``), ``p_median`` (shortest average trip),
        ``p_center`` (worst-served resident), ``capacitated`` (places available
        within reach), ``least_important`` (which ``n`` existing facilities can
        close with the least loss), ``colocated`` (``n`` service complexes, each
        hosting every category of ``complex``, scored on a life-circle
        completeness target).
    n
        Number of sites (to add, or to close for ``least_important``).
    threshold
        Share of the target's residents to reach (``lscp``); default the target's.
    target
        Id of the circle target defining group, reach and scope; default the
        first walking circle target of the catalogue involving the category.
    candidates
        A candidate file (points or polygons) or frame; None generates them from
        street nodes.
    candidates_crs
        CRS of a candidate file that records none.
    budget
        Total budget (``mclp``; needs a cost for every candidate).
    cost_per_site
        Cost of a candidate without a ``cost`` of its own (generated candidates,
        or a file without the column).
    capacity
        Places per new site when the candidate file has no ``capacity`` column
        (``capacitated``).
    existing_capacity
        Places of an existing facility of unknown capacity (``capacitated``).
    max_trip_m
        ``p_median`` / ``p_center``: trips are counted up to this distance (a
        longer trip, or none, counts as ``max_trip_m``), so the model stays the
        size of the neighbourhood; default 1.5 × the target's reach, at most the
        search limit ``travel.max_walk_dist_m``.
    spacing_m
        Spacing of generated candidates.
    min_dist_existing_m
        Generated candidates keep this far (straight line) from existing
        facilities of the category.
    exclude_water
        Generated candidates leave out street nodes inside water areas of the
        study area's OSM file (bridges, piers).
    method
        ``exact`` (HiGHS, with greedy fallback at the time limit) or ``greedy``.
    time_limit_s, mip_rel_gap
        Solver limits.
    complex
        Categories one co-located service complex (社区综合服务中心) hosts
        (``colocated``); ``category`` is then only a label.
    """

    category: str
    model: str = "mclp"
    n: int | None = None
    threshold: float | None = None
    target: str | None = None
    candidates: str | Path | gpd.GeoDataFrame | None = None
    candidates_crs: str | None = None
    budget: float | None = None
    cost_per_site: float | None = None
    capacity: float | None = None
    existing_capacity: float | None = None
    max_trip_m: float | None = None
    spacing_m: float = 150.0
    min_dist_existing_m: float = 100.0
    exclude_water: bool = True
    method: str = "exact"
    time_limit_s: float = 60.0
    mip_rel_gap: float = 1e-4
    complex: tuple[str, ...] = ()


@dataclass
class SiteResult:
    """Answer to a :class:`SiteProblem`.

    Attributes
    ----------
    problem
        The question.
    target
        Id of the target used.
    solution
        The model's :class:`access.siting.Solution` (objective, bound, gap, status).
    sites
        Chosen sites (metric CRS): ``rank, site_id, candidate_id, name, lon, lat,
        lon_gcj02, lat_gcj02, unit__<level>, unit_name__<level>, marginal_pop,
        cumulative_pop, cost, capacity, snap_dist_m`` (``least_important``:
        the facilities to close with ``loss_pop`` and ``loss_alone_pop``).
    candidates
        Every candidate considered, with ``chosen``.
    targets
        Every target involving the category: value and status before and after
        adding the sites, and the promised value of the siting target.
    summary
        Key figures: model, objective, bound, gap, status, method, population
        base, covered before, promised after, instance size, seconds.
    notes
        (zh, en) remarks for the planner.
    """

    problem: SiteProblem
    target: str
    solution: siting.Solution
    sites: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    targets: pd.DataFrame
    summary: dict[str, Any]
    notes: list[tuple[str, str]] = field(default_factory=list)
    base: RunResult | None = field(default=None, repr=False)

    def scenario(self, name: str | None = None) -> Scenario:
        """A what-if scenario on the base run with the sites added (``least_important``:
        the facilities closed), ready for :meth:`Scenario.evaluate` or the dashboard."""
        if self.base is None:
            raise SiteError("this answer carries no base run")
        sc = Scenario(self.base, name=name or f"sites-{self.problem.category}")
        if self.problem.model == "least_important":
            for fid in self.sites["facility_id"]:
                sc.remove(str(fid))
            return sc
        cats = self.problem.complex or (self.problem.category,)
        for r in self.sites.itertuples():
            cap = float(r.capacity) if np.isfinite(r.capacity) else math.nan
            for cat in cats:
                sc.add(cat, float(r.lon), float(r.lat), name=r.name or str(r.site_id),
                       capacity=cap)
        return sc


# ---------------------------------------------------------------------------
# Target and demand
# ---------------------------------------------------------------------------
def _catalogue(result: RunResult) -> list[Target]:
    area = result.area
    return load_catalogue(overrides=area.targets, base_dir=area.base_dir,
                          config_path=area.path)


_T = TypeVar("_T", bound=Target)


def _named_target(targets: Sequence[Target], target_id: str, usable: Sequence[_T],
                  kind: str) -> _T:
    """The target named ``target_id``, which must be one of ``usable`` (``kind`` says
    what those are in the error)."""
    if all(t.id != target_id for t in targets):
        raise SiteError(f"unknown target '{target_id}'"
                        f"{suggest(target_id, [t.id for t in targets])}")
    chosen = next((t for t in usable if t.id == target_id), None)
    if chosen is None:
        raise SiteError(f"target '{target_id}' is not {kind}; usable: "
                        f"{', '.join(t.id for t in usable) or 'none'}")
    return chosen


def _pick_target(result: RunResult, problem: SiteProblem) -> CircleTarget:
    cat = problem.category
    targets = _catalogue(result)
    usable = [t for t in targets if isinstance(t, CircleTarget) and t.mode == "walk"
              and not t.radius_by_area and cat in t.categories]
    if problem.target is not None:
        return _named_target(targets, problem.target, usable,
                             f"a walking circle target involving '{cat}'")
    if not usable:
        raise SiteError(f"no walking circle target involves '{cat}'; add one to the "
                        "study area's [[targets.add]] or name a category that has one")
    return usable[0]


def _speed(result: RunResult, group: str) -> float:
    speeds = result.area.travel.walk_speed_kmh
    return float(speeds.get(group, speeds["total"]))


def _settlement(result: RunResult) -> np.ndarray:
    cells = result.cells
    if "settlement" in cells.columns:
        return cells["settlement"].to_numpy(dtype=object)
    table = result.area.targets.get("settlement") if result.area.targets else None
    if table:
        inputs = TargetInputs(cells=cells, facilities=pd.DataFrame({"category": []}))
        return apply_settlement(inputs, table, path=result.area.path).cells[
            "settlement"].to_numpy(dtype=object)
    for level, units in result.units.items():
        if "settlement" in units.columns and f"unit__{level}" in cells.columns:
            m = dict(zip(units["unit_id"].astype(str), units["settlement"], strict=True))
            return np.array([m.get(str(u)) for u in cells[f"unit__{level}"]], dtype=object)
    return np.full(len(cells), "urban", dtype=object)


def _reach_per_cell(result: RunResult, target: CircleTarget) -> np.ndarray:
    """Reach in metres of every cell (the target's distance for the cell's settlement)."""
    settlement = _settlement(result)
    speed = _speed(result, target.group)
    reach = np.full(len(result.cells), np.nan)
    table = target.max_dist_m if target.max_dist_m is not None else target.max_time_min
    for s, v in table or ():
        d = v if target.max_dist_m is not None else time_to_dist_m(v, speed)
        reach[settlement == s] = d
    # the routed distances stop at the search limit
    return np.minimum(reach, result.area.travel.max_walk_dist_m)


@dataclass
class _Demand:
    pop: np.ndarray          # group population per cell (0 outside scope)
    in_scope: np.ndarray
    covered: np.ndarray      # covered before (the target's own flag)
    reach: np.ndarray        # metres per cell
    base_dist: np.ndarray    # nearest facility of the target's categories, metres
    scope_pop: float


def _demand(result: RunResult, target: CircleTarget) -> _Demand:
    cells = result.cells
    col = f"pop_{target.group}"
    if col not in cells.columns:
        raise SiteError(f"the run has no population group '{target.group}' "
                        f"(target {target.id})")
    flag = f"covered__{target.id}"
    if flag not in cells.columns:
        raise SiteError(f"target {target.id} was not evaluated in this run (no data)")
    f = cells[flag]
    in_scope = f.notna().to_numpy()
    covered = f.fillna(False).to_numpy(dtype=bool)
    pop = np.where(in_scope, np.nan_to_num(cells[col].to_numpy(dtype=float)), 0.0)
    cols = [f"dist_m__{c}" for c in target.categories if f"dist_m__{c}" in cells.columns]
    base = (np.min(np.column_stack([np.nan_to_num(cells[c].to_numpy(dtype=float), nan=np.inf,
                                                  posinf=np.inf)
                                    for c in cols]), axis=1)
            if cols else np.full(len(cells), np.inf))
    return _Demand(pop=pop, in_scope=in_scope, covered=covered,
                   reach=_reach_per_cell(result, target), base_dist=base,
                   scope_pop=float(pop.sum()))


# ---------------------------------------------------------------------------
# Candidates
# ---------------------------------------------------------------------------
def read_candidates(problem: SiteProblem, boundary: shapely.Geometry, crs: Any,
                    ) -> pd.DataFrame:
    """Candidates of a user file: ``x, y`` (in ``crs``), ``candidate_id``, ``name``,
    ``cost``, ``capacity``, ``source``.

    Polygons (parcels) stand for a point inside them. Ids come from a
    ``candidate_id``/``id`` column (else ``c1, c2...``), names from ``name``/``名称``.

    Raises
    ------
    InputFileError
        Unreadable or empty file, missing or contradictory CRS, a candidate
        outside ``boundary``, a cost/capacity that is not a non-negative number.
    """
    src = problem.candidates
    if isinstance(src, gpd.GeoDataFrame):
        gdf, name = src.copy(), "candidates"
        path = None
    else:
        path = Path(src)  # type: ignore[arg-type]
        name = path.name
        try:
            gdf = gpd.read_file(path)
        except Exception as exc:  # pyogrio raises its own DataSourceError family
            raise InputFileError(f"cannot read the candidate file ({exc})", path=path) from exc
    where = path if path is not None else name
    if gdf.empty:
        raise InputFileError("the candidate file holds no candidate", path=where)
    gdf = to_metric(gdf, crs, source=name, stated=problem.candidates_crs)
    geom = gdf.geometry.to_numpy()
    bad = shapely.is_missing(geom) | shapely.is_empty(geom)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputFileError("candidate without a geometry", path=where, row=i + 1)
    pts = shapely.point_on_surface(geom)  # parcels: a point inside the polygon
    inside = shapely.covers(boundary, pts)
    if not inside.any():
        raise InputFileError(f"all {len(gdf)} candidates lie outside the study area "
                             "(check the file's CRS)", path=where)
    if not inside.all():
        i = int(np.flatnonzero(~inside)[0])
        raise InputFileError(f"candidate lies outside the study area "
                             f"({int((~inside).sum())} of {len(gdf)} do)", path=where,
                             row=i + 1)
    out = pd.DataFrame({"x": shapely.get_x(pts), "y": shapely.get_y(pts)})
    idcol = next((c for c in ("candidate_id", "id", "ID", "fid") if c in gdf.columns), None)
    out["candidate_id"] = (gdf[idcol].astype(str).to_numpy() if idcol
                           else [f"c{i + 1}" for i in range(len(gdf))])
    namecol = next((c for c in ("name", "名称") if c in gdf.columns), None)
    out["name"] = gdf[namecol].fillna("").astype(str).to_numpy() if namecol else ""
    for col in ("cost", "capacity"):
        if col in gdf.columns:
            v = pd.to_numeric(gdf[col], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(v) | (v < 0)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputFileError(f"'{gdf[col].iloc[i]}' is not a non-negative number",
                                     path=where, row=i + 1, column=col)
            out[col] = v
        else:
            out[col] = np.nan
    out["source"] = name
    return out


_WATER: dict[tuple[str, int, int, str], shapely.Geometry] = {}


def _water(result: RunResult) -> shapely.Geometry:
    """Water areas of the study area's own OSM file, in the run's CRS (read once)."""
    path = Path(result.area.network.path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, str(result.crs))
    if key not in _WATER:
        _WATER[key] = read_osm_water(path, result.crs)
    return _WATER[key]


def _generate_candidates(result: RunResult, problem: SiteProblem, demand: _Demand,
                         uncovered: np.ndarray, excluded: dict[str, int] | None = None,
                         ) -> pd.DataFrame:
    """Street nodes of uncovered populated cells, one per ``spacing_m`` square.

    Nodes outside the study area, inside a water area of the study area's OSM file
    (``natural=water``, ``waterway=riverbank``, ``landuse=reservoir``...: bridges,
    piers) and nearer than ``min_dist_existing_m`` to an existing facility of the
    category are left out; ``excluded`` receives how many of each.
    """
    excluded = {} if excluded is None else excluded
    cells = result.cells
    walk = result.networks["walk"]
    node = cells["node"].to_numpy()
    sel = uncovered & (demand.pop > 0) & (node >= 0)
    if not sel.any():
        return pd.DataFrame(columns=["x", "y", "candidate_id", "name", "cost", "capacity",
                                     "source"])
    nodes = node[sel]
    weight = demand.pop[sel]
    agg = pd.DataFrame({"node": nodes, "w": weight}).groupby("node", sort=True)["w"].sum()
    nd = agg.index.to_numpy()
    x, y = walk.x[nd], walk.y[nd]
    # excluded: outside the area, on water, too near an existing facility of the category
    pts = shapely.points(x, y)
    ok = shapely.covers(result.boundary, pts)
    if problem.exclude_water:
        water = _water(result)
        if not water.is_empty:
            shapely.prepare(water)
            wet = ok & shapely.intersects(water, pts)
            excluded["water"] = int(wet.sum())
            ok &= ~wet
    fac = result.facilities
    mine = fac[fac["category"] == problem.category]
    if len(mine) and problem.min_dist_existing_m > 0:
        tree = cKDTree(np.column_stack([mine.geometry.x, mine.geometry.y]))
        d, _ = tree.query(np.column_stack([x, y]))
        near = ok & (d < problem.min_dist_existing_m)
        excluded["near_existing"] = int(near.sum())
        ok &= ~near
    nd, x, y, w = nd[ok], x[ok], y[ok], agg.to_numpy()[ok]
    # thinning: in each spacing square the node with the most uncovered residents
    s = problem.spacing_m
    key = pd.DataFrame({"gx": np.floor(x / s).astype(np.int64),
                        "gy": np.floor(y / s).astype(np.int64), "w": -w, "node": nd})
    pick = key.sort_values(["gx", "gy", "w", "node"]).drop_duplicates(["gx", "gy"]).index
    pick = np.sort(pick.to_numpy())
    return pd.DataFrame({"x": x[pick], "y": y[pick],
                         "candidate_id": [f"n{int(v)}" for v in walk.node_id[nd[pick]]],
                         "name": "", "cost": np.nan, "capacity": np.nan,
                         "source": "street_nodes"})


def _snap_candidates(result: RunResult, cand: pd.DataFrame) -> pd.DataFrame:
    """lon/lat, then snapped exactly as a facility added at that lon/lat would be."""
    lon, lat = metric_to_lonlat(cand["x"].to_numpy(), cand["y"].to_numpy(), result.crs)
    x, y = lonlat_to_metric(lon, lat, result.crs)
    out = cand.copy()
    out["lon"], out["lat"], out["x"], out["y"] = lon, lat, x, y
    snapped = snap_to_networks(result.networks, x, y,
                               max_dist_m=result.area.network.snap_max_dist_m)
    for k, v in snapped.items():
        out[k] = v
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------
# The question
# ---------------------------------------------------------------------------
def _pairs(result: RunResult, cand: pd.DataFrame, max_dist_m: float,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cells = result.cells
    return catchment_pairs(result.networks["walk"], cand["node"].to_numpy(),
                           cand["snap_dist_m"].to_numpy(), cells["node"].to_numpy(),
                           cells["snap_dist_m"].to_numpy(), max_dist_m=max_dist_m)


def check_problem(problem: SiteProblem, *, boundary_lonlat: shapely.Geometry | None = None,
                  categories: list[str] | None = None) -> None:
    """Checks that need no run: model, method, numbers, category, candidate file.

    With ``boundary_lonlat`` (the study area in WGS-84) a candidate file is read
    and checked against it, and ``n`` against its number of candidates, so a bad
    file fails before the analysis runs.

    Raises
    ------
    SiteError, InputFileError
    """
    p = problem
    if p.model not in MODELS:
        raise SiteError(f"unknown model '{p.model}'{suggest(p.model, MODELS)}; "
                        f"models: {', '.join(MODELS)}")
    if p.method not in ("exact", "greedy"):
        raise SiteError(f"unknown method '{p.method}': use exact or greedy")
    if p.model == "colocated" and not p.complex:
        raise SiteError("model colocated needs the categories of a complex "
                        "(--complex cat1,cat2,...)")
    if p.complex and p.model != "colocated":
        raise SiteError(f"--complex goes with model colocated, not {p.model}")
    if len(set(p.complex)) != len(p.complex):
        raise SiteError(f"a category is named twice in the complex: {','.join(p.complex)}")
    for cat in p.complex or (p.category,):
        if categories is not None and cat not in categories:
            raise SiteError(f"unknown category '{cat}'{suggest(cat, categories)}")
    if p.model != "lscp" and p.n is None and (p.budget is None or p.model != "mclp"):
        raise SiteError(f"model {p.model} needs the number of sites (--add N)")
    if p.n is not None and p.n < 1:
        raise SiteError(f"the number of sites must be at least 1, got {p.n}")
    if p.threshold is not None and not 0 < p.threshold <= 1:
        raise SiteError(f"threshold {p.threshold} must be a share in (0, 1]")
    for name in ("budget", "cost_per_site", "capacity", "existing_capacity", "spacing_m",
                 "time_limit_s", "max_trip_m"):
        v = getattr(p, name)
        if v is not None and not (np.isfinite(v) and v > 0):
            raise SiteError(f"{name} must be a positive number, got {v}")
    if boundary_lonlat is not None and p.candidates is not None:
        cand = read_candidates(p, boundary_lonlat, WGS84)
        if p.n is not None and p.model != "least_important" and p.n > len(cand):
            raise SiteError(f"--add {p.n} is larger than the number of candidates "
                            f"({len(cand)} in {Path(str(p.candidates)).name})")


def site_selection(result: RunResult, problem: SiteProblem | None = None,
                   **kwargs: Any) -> SiteResult:
    """Answer a siting question on a finished run.

    Parameters
    ----------
    result
        From :func:`lifecircle.run`.
    problem
        The question; or give its fields as keyword arguments
        (``site_selection(result, category="kindergarten", n=5)``).

    Returns
    -------
    SiteResult

    Raises
    ------
    SiteError
        Unknown model or category, no usable target, no candidates, ``n`` larger
        than the number of candidates, or a threshold no set of candidates
        reaches (the message gives the best reachable value).
    InputFileError
        A candidate file that cannot be read, lies outside the study area or has
        a bad cost/capacity value.
    """
    if problem is None:
        problem = SiteProblem(**kwargs)
    elif kwargs:
        raise TypeError("give a SiteProblem or keyword arguments, not both")
    p = problem
    check_problem(p, categories=(list(result.taxonomy.categories)
                                 if result.taxonomy is not None else None))
    if p.model == "colocated":
        return _colocated(result, p)
    target = _pick_target(result, p)
    demand = _demand(result, target)
    if p.model == "least_important":
        return _least_important(result, p, target, demand)
    uncovered = demand.in_scope & ~demand.covered & (demand.pop > 0)
    excluded: dict[str, int] = {}
    cand = (read_candidates(p, result.boundary, result.crs) if p.candidates is not None
            else _generate_candidates(result, p, demand, uncovered, excluded))
    if cand.empty:
        raise SiteError(f"no candidates: no uncovered residents of target {target.id} near a "
                        "street node away from existing facilities; give a candidate file")
    cand = _snap_candidates(result, cand)
    notes: list[tuple[str, str]] = []
    if excluded.get("water") or excluded.get("near_existing"):
        fmt = {"water": excluded.get("water", 0), "near": excluded.get("near_existing", 0),
               "d": p.min_dist_existing_m}
        notes.append((t("site_cand_excluded", "zh", **fmt), t("site_cand_excluded", "en", **fmt)))
    off = ~cand["reachable"].to_numpy()
    if off.any():
        notes.append((f"{int(off.sum())} 个候选点距街道超过 "
                      f"{result.area.network.snap_max_dist_m:g} 米，未参与选址",
                      f"{int(off.sum())} candidates farther than "
                      f"{result.area.network.snap_max_dist_m:g} m from a street were left out"))
        cand = cand[~off].reset_index(drop=True)
    n_c = len(cand)
    if n_c == 0:
        raise SiteError("no candidates: none of them is near a street")
    if p.n is not None and p.n > n_c:
        raise SiteError(f"--add {p.n} is larger than the number of candidates ({n_c})")
    if p.cost_per_site is not None:
        cost_col = cand["cost"].to_numpy(dtype=float)
        cand["cost"] = np.where(np.isfinite(cost_col), cost_col, float(p.cost_per_site))
    if p.budget is not None and not np.isfinite(cand["cost"]).all():
        raise SiteError("a budget needs a cost for every candidate: a 'cost' column in the "
                        "candidate file or a cost per site (--cost-per-site)")

    max_reach = float(np.nanmax(demand.reach)) if np.isfinite(demand.reach).any() else 0.0
    dist_model = p.model in ("p_median", "p_center")
    search = result.area.travel.max_walk_dist_m
    cap = min(p.max_trip_m or 1.5 * max_reach, search)
    limit = cap if dist_model else max_reach
    fi, ci, d = _pairs(result, cand, limit)
    within = d <= demand.reach[ci] if not dist_model else np.ones(len(d), dtype=bool)
    cov_f, cov_c = fi[within], ci[within]
    n_cells = len(result.cells)
    a_all = siting.coverage_matrix(cov_c, cov_f, n_cells, n_c)
    greedy = p.method == "greedy"
    tl, gap = p.time_limit_s, p.mip_rel_gap
    covered_before = float(demand.pop[demand.covered].sum())
    w_unc = np.where(uncovered, demand.pop, 0.0)
    cost = cand["cost"].to_numpy(dtype=float) if p.budget is not None else None

    if p.model == "mclp":
        sol = (siting.greedy_mclp(a_all, w_unc, p.n, cost=cost, budget=p.budget) if greedy
               else siting.mclp(a_all, w_unc, p.n, cost=cost, budget=p.budget,
                                time_limit_s=tl, mip_rel_gap=gap))
        gain = sol.objective
    elif p.model == "lscp":
        share = target.threshold if p.threshold is None else float(p.threshold)
        need = share * demand.scope_pop - covered_before
        if need <= 1e-9:
            raise SiteError(f"target {target.id} already reaches "
                            f"{covered_before / demand.scope_pop:.1%} ≥ {share:.1%}: "
                            "no site needed")
        sol = (siting.greedy_lscp(a_all, w_unc, need) if greedy
               else siting.lscp(a_all, w_unc, need, time_limit_s=tl, mip_rel_gap=gap))
        if sol.status == "infeasible":
            best = (covered_before + sol.best_reachable) / demand.scope_pop
            raise SiteError(f"threshold {share:.1%} of target {target.id} cannot be reached "
                            f"with these candidates: the best reachable is {best:.2%} "
                            f"with {len(sol.sites)} sites")
        gain = siting.marginal_order(a_all, w_unc, sol.sites)[1].sum()
    elif dist_model:
        live = demand.pop > 0
        wts = np.where(live, demand.pop, 0.0)
        n = int(p.n or 0)
        unreached = cap
        if p.model == "p_median" and greedy:
            sol = siting.greedy_p_median(ci, fi, d, wts, demand.base_dist, n, n_candidates=n_c,
                                         unreached_dist=unreached)
        elif p.model == "p_median":
            sol = siting.p_median(ci, fi, d, wts, demand.base_dist, n, n_candidates=n_c,
                                  unreached_dist=unreached, time_limit_s=tl, mip_rel_gap=gap)
        else:
            sol = siting.p_center(ci, fi, d, wts, demand.base_dist, n, n_candidates=n_c,
                                  unreached_dist=unreached, time_limit_s=tl)
            notes += _p_center_notes(sol, n, cap)
        gain = float(siting.marginal_order(a_all, w_unc, sol.sites)[1].sum())
    else:  # capacitated
        sol, gain = _capacitated(result, p, demand, cand, fi, ci, d)

    sites = _sites_frame(result, p, cand, a_all, w_unc, sol.sites)
    if p.model == "capacitated":
        _places_columns(sites, cand, sol, demand.scope_pop)
    promised = ((covered_before + float(gain)) / demand.scope_pop
                if demand.scope_pop and p.model in ("mclp", "lscp") else math.nan)
    summary = _summary(p, target, sol, demand, covered_before, promised, n_c, cap)
    if p.model in ("mclp", "lscp") and len(sites) and (sites["marginal_pop"] <= 0).any():
        notes.append(("部分选址不增加覆盖人口（其余候选点已无可覆盖人口）",
                      "some sites add no residents (nothing left for the other candidates "
                      "to cover)"))
    return _site_result(result, p, target, sol, sites, cand, summary, notes, promised)


def _site_result(result: RunResult, p: SiteProblem, target: Target, sol: siting.Solution,
                 sites: gpd.GeoDataFrame, cand: pd.DataFrame, summary: dict[str, Any],
                 notes: list[tuple[str, str]], promised: float) -> SiteResult:
    """The answer of a siting model: the sites, every candidate (``chosen`` marked,
    without its graph nodes) and the targets before and after."""
    cand_gdf = gpd.GeoDataFrame(cand.drop(columns=[c for c in ("node", "drive_node")
                                                   if c in cand.columns]),
                                geometry=shapely.points(cand["x"], cand["y"]), crs=result.crs)
    cand_gdf["chosen"] = np.isin(np.arange(len(cand)), sol.sites)
    out = SiteResult(problem=p, target=target.id, solution=sol, sites=sites,
                     candidates=cand_gdf, targets=pd.DataFrame(), summary=summary, notes=notes,
                     base=result)
    out.targets = _before_after(result, out, target, promised)
    return out


def _p_center_notes(sol: siting.Solution, n: int, cap: float) -> list[tuple[str, str]]:
    """Why the worst trip moved as it did, in both languages."""
    dt = {k: float(v[0]) for k, v in sol.detail.items() if k != "helpable"}
    notes = []
    if dt["helpable_weight"] <= 0:
        notes.append((t("site_pc_none", "zh"), t("site_pc_none", "en")))
    elif sol.objective >= dt["worst_before"]:
        k = dt["sites_to_lower"]
        fmt = {"n": n, "r": sol.objective, "cap": cap,
               "k": f"{k:.0f}" if math.isfinite(k) else "?",
               "pb": dt["at_worst_before"], "pa": dt["at_worst_after"]}
        notes.append((t("site_pc_not_lowered", "zh", **fmt),
                      t("site_pc_not_lowered", "en", **fmt)))
    if dt["unhelped_weight"] > 0:
        fmt = {"p": dt["unhelped_weight"], "d": dt["unhelped_worst"]}
        notes.append((t("site_pc_unhelped", "zh", **fmt), t("site_pc_unhelped", "en", **fmt)))
    return notes


def _capacitated(result: RunResult, p: SiteProblem, demand: _Demand, cand: pd.DataFrame,
                 fi: np.ndarray, ci: np.ndarray, d: np.ndarray,
                 ) -> tuple[siting.Solution, float]:
    cap = cand["capacity"].to_numpy(dtype=float)
    if not np.isfinite(cap).all():
        if p.capacity is None:
            raise SiteError("capacitated siting needs the places of a new site: a "
                            "'capacity' column in the candidate file or --capacity")
        cap = np.where(np.isfinite(cap), cap, float(p.capacity))
    fac = result.facilities
    sel = np.flatnonzero((fac["category"] == p.category).to_numpy())
    ecap = (fac["capacity"].to_numpy(dtype=float)[sel] if "capacity" in fac.columns
            else np.full(len(sel), np.nan))
    unknown = ~np.isfinite(ecap)
    if unknown.any():
        if p.existing_capacity is None:
            raise SiteError(f"{int(unknown.sum())} existing {p.category} facilities have no "
                            "capacity: give --existing-capacity")
        ecap = np.where(unknown, float(p.existing_capacity), ecap)
    live = demand.pop > 0
    within = (d <= demand.reach[ci]) & live[ci]
    efi, eci, ed = _existing_pairs(result, p.category, demand)
    ew = ed <= demand.reach[eci]
    sol = siting.capacitated(ci[within], fi[within], cap, eci[ew], efi[ew], ecap,
                             demand.pop, int(p.n or 0), time_limit_s=p.time_limit_s,
                             mip_rel_gap=p.mip_rel_gap)
    return sol, math.nan


def _places_columns(sites: gpd.GeoDataFrame, cand: pd.DataFrame, sol: siting.Solution,
                    scope_pop: float) -> None:
    """Per site the places its assignment fills; the share of the target's group with a
    place within reach before and after (the same on every row)."""
    n_c = len(cand)
    fac = sol.detail["pair_facility"]
    flow = sol.detail["pair_flow"]
    filled = np.bincount(fac[fac < n_c], weights=flow[fac < n_c], minlength=n_c)
    pos = {cid: i for i, cid in enumerate(cand["candidate_id"])}
    sites["places_filled"] = [float(filled[pos[c]]) for c in sites["candidate_id"]]
    before = float(sol.detail["served_before"][0])
    after = float(sol.detail["served_after"][0])
    sites["placed_share_before"] = before / scope_pop if scope_pop else math.nan
    sites["placed_share_after"] = after / scope_pop if scope_pop else math.nan


def _existing_pairs(result: RunResult, category: str, demand: _Demand,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(facility position among the category's facilities, cell, dist) within reach."""
    fac = result.facilities
    sel = np.flatnonzero((fac["category"] == category).to_numpy())
    cells = result.cells
    return catchment_pairs(result.networks["walk"], fac["node"].to_numpy()[sel],
                           fac["snap_dist_m"].to_numpy()[sel], cells["node"].to_numpy(),
                           cells["snap_dist_m"].to_numpy(),
                           max_dist_m=float(np.nanmax(demand.reach)))


def _sites_frame(result: RunResult, p: SiteProblem, cand: pd.DataFrame, a_all: Any,
                 w_unc: np.ndarray, chosen: np.ndarray,
                 ranked: tuple[np.ndarray, np.ndarray] | None = None) -> gpd.GeoDataFrame:
    order, marg = ranked if ranked is not None else siting.marginal_order(a_all, w_unc, chosen)
    c = cand.iloc[order].reset_index(drop=True)
    glon, glat = wgs84_to_gcj02(c["lon"].to_numpy(), c["lat"].to_numpy())
    df = pd.DataFrame({
        "rank": np.arange(1, len(c) + 1),
        "site_id": [f"site-{i}" for i in range(1, len(c) + 1)],
        "candidate_id": c["candidate_id"].to_numpy(),
        "category": p.category,
        "name": c["name"].to_numpy(),
        "lon": c["lon"].to_numpy(), "lat": c["lat"].to_numpy(),
        "lon_gcj02": glon, "lat_gcj02": glat,
    })
    for level, units in result.unit_polygons.items():
        uid = unit_of_points(units, c["x"].to_numpy(), c["y"].to_numpy())
        names = dict(zip(units["unit_id"], units["name"], strict=True))
        df[f"unit__{level}"] = uid
        df[f"unit_name__{level}"] = [names.get(u, "") if u is not None else "" for u in uid]
    df["marginal_pop"] = marg
    df["cumulative_pop"] = np.cumsum(marg)
    df["cost"] = c["cost"].to_numpy()
    df["capacity"] = c["capacity"].to_numpy() if p.capacity is None else \
        np.where(np.isfinite(c["capacity"]), c["capacity"], p.capacity)
    df["snap_dist_m"] = c["snap_dist_m"].to_numpy()
    return gpd.GeoDataFrame(df, geometry=shapely.points(c["x"], c["y"]), crs=result.crs)


def _summary(p: SiteProblem, target: Target, sol: siting.Solution, demand: _Demand,
             covered_before: float, promised: float, n_c: int,
             max_trip: float = math.nan) -> dict[str, Any]:
    s = {
        "model": p.model, "category": p.category, "target": target.id,
        "group": target.group, "method": sol.method, "status": sol.status,
        "n_sites": len(sol.sites), "objective": sol.objective, "bound": sol.bound,
        "gap": sol.gap, "population_base": demand.scope_pop,
        "covered_before": covered_before,
        "share_before": covered_before / demand.scope_pop if demand.scope_pop else math.nan,
        "share_promised": promised, "n_candidates": n_c,
        **{f"stat_{k}": v for k, v in sol.stats.items()},
    }
    if p.model in ("p_median", "p_center"):
        s["objective_unit"] = "person_m" if p.model == "p_median" else "m"
        s["max_trip_m"] = max_trip
        if p.model == "p_median" and demand.pop.sum() > 0:
            s["mean_dist_m"] = sol.objective / float(demand.pop.sum())
        if p.model == "p_center":
            dt = sol.detail
            s.update(worst_before_m=float(dt["worst_before"][0]),
                     worst_after_m=sol.objective,
                     at_worst_before_pop=float(dt["at_worst_before"][0]),
                     at_worst_after_pop=float(dt["at_worst_after"][0]),
                     helpable_pop=float(dt["helpable_weight"][0]),
                     unhelped_pop=float(dt["unhelped_weight"][0]),
                     unhelped_worst_m=float(dt["unhelped_worst"][0]),
                     sites_to_lower=float(dt["sites_to_lower"][0]))
    if p.model == "capacitated":
        served_b = float(sol.detail["served_before"][0])
        served_a = float(sol.detail["served_after"][0])
        base = demand.scope_pop
        s.update(served_before=served_b, served_after=served_a,
                 placed_share_before=served_b / base if base else math.nan,
                 placed_share_after=served_a / base if base else math.nan)
    return s


def _targets_of(result: RunResult, categories: tuple[str, ...]) -> list[Target]:
    return [t for t in _catalogue(result)
            if set(categories) & set(t.categories)
            or any(r.category in categories for r in getattr(t, "requirements", ()))]


def _before_after(result: RunResult, out: SiteResult, target: Target,
                  promised: float) -> pd.DataFrame:
    """Every target involving the category, before and after (the sites re-evaluated)."""
    ids = [t.id for t in _targets_of(result, out.problem.complex or (out.problem.category,))]
    cols = ["id", "name_zh", "name_en", "threshold", "unit", "value_before", "status_before",
            "value_after", "status_after", "promised"]
    if result.targets is None or not ids:
        return pd.DataFrame(columns=cols)
    before = result.targets.targets.set_index("id")
    after_res = out.scenario().evaluate()
    after = after_res.targets.targets.set_index("id")
    rows = []
    for i in ids:
        if i not in before.index:
            continue
        b, a = before.loc[i], after.loc[i]
        rows.append({"id": i, "name_zh": b["name_zh"], "name_en": b["name_en"],
                     "threshold": b["threshold"], "unit": b["unit"],
                     "value_before": b["value"], "status_before": b["status"],
                     "value_after": a["value"], "status_after": a["status"],
                     "promised": promised if (i == target.id and out.problem.model
                                              in ("mclp", "lscp", "colocated"))
                     else math.nan})
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------------
# Co-located service complexes
# ---------------------------------------------------------------------------
def _pick_completeness(result: RunResult, p: SiteProblem) -> CompletenessTarget:
    """The completeness target a complex is scored on: named, or the one whose
    requirements hold the most of the complex's categories (then the fewest types)."""
    targets = _catalogue(result)
    usable = [t for t in targets if isinstance(t, CompletenessTarget)
              and any(r.category in p.complex for r in t.requirements)]
    if p.target is not None:
        return _named_target(targets, p.target, usable, "a life-circle completeness "
                             "target requiring a category of the complex")
    if not usable:
        raise SiteError(f"no life-circle completeness target requires any of "
                        f"{', '.join(p.complex)}")
    return max(usable, key=lambda t: (sum(r.category in p.complex for r in t.requirements),
                                      -len(t.requirements)))


def _requirement_met(result: RunResult, req: Any, reach_m: float) -> np.ndarray:
    """Cells within ``reach_m`` of an existing facility meeting the requirement (a sized
    requirement counts facilities of at least its area or of unknown area)."""
    cells = result.cells
    col = f"dist_m__{req.category}"
    dist = (np.nan_to_num(cells[col].to_numpy(dtype=float), nan=np.inf) if col in cells.columns
            else np.full(len(cells), np.inf))
    if not req.min_area_m2:
        return dist <= reach_m
    fac = result.facilities
    sel = np.flatnonzero((fac["category"] == req.category).to_numpy())
    area = (fac["area_m2"].to_numpy(dtype=float)[sel] if "area_m2" in fac.columns
            else np.full(len(sel), np.nan))
    if not np.isfinite(area).any():
        return dist <= reach_m
    ok = sel[~(area < req.min_area_m2)]
    met = np.zeros(len(cells), dtype=bool)
    if len(ok):
        _fi, ci, d = catchment_pairs(result.networks["walk"], fac["node"].to_numpy()[ok],
                                    fac["snap_dist_m"].to_numpy()[ok], cells["node"].to_numpy(),
                                    cells["snap_dist_m"].to_numpy(), max_dist_m=reach_m)
        met[ci[d <= reach_m]] = True
    return met


def _colocated(result: RunResult, p: SiteProblem) -> SiteResult:
    """``n`` complexes hosting every category of ``p.complex``, scored on completeness."""
    target = _pick_completeness(result, p)
    cells = result.cells
    col = f"pop_{target.group}"
    if col not in cells.columns:
        raise SiteError(f"the run has no population group '{target.group}' "
                        f"(target {target.id})")
    in_scope = np.isin(_settlement(result), list(target.scope))
    pop = np.where(in_scope, np.nan_to_num(cells[col].to_numpy(dtype=float)), 0.0)
    speed = _speed(result, target.group)
    reqs = list(target.requirements)
    reach = np.array([r.max_dist_m if r.max_dist_m is not None
                      else time_to_dist_m(float(r.max_time_min or 0.0), speed) for r in reqs])
    met = np.column_stack([_requirement_met(result, r, float(d))
                           for r, d in zip(reqs, reach, strict=True)])
    mine = np.array([r.category in p.complex for r in reqs])
    unused = [c for c in p.complex if c not in {r.category for r in reqs}]
    complete = in_scope & met.all(axis=1)
    completable = in_scope & met[:, ~mine].all(axis=1)
    covered_before = float(pop[complete].sum())
    scope_pop = float(pop.sum())
    w = np.where(completable & ~complete, pop, 0.0)
    demand = _Demand(pop=pop, in_scope=in_scope, covered=complete,
                     reach=np.full(len(cells), float(reach[mine].max())),
                     base_dist=np.full(len(cells), np.inf), scope_pop=scope_pop)
    notes: list[tuple[str, str]] = []
    if unused:
        fmt = {"cats": ", ".join(unused), "target": target.id}
        notes.append((t("site_complex_unused", "zh", **fmt),
                      t("site_complex_unused", "en", **fmt)))
    if not (w > 0).any():
        others = list(dict.fromkeys(r.label for r, m in zip(reqs, mine, strict=True) if not m))
        raise SiteError(f"no resident of target {target.id} can be made complete by this "
                        f"complex: nobody in scope has every type it does not host "
                        f"({', '.join(others)}) within reach; add them to --complex")
    excluded: dict[str, int] = {}
    cand = (read_candidates(p, result.boundary, result.crs) if p.candidates is not None
            else _generate_candidates(result, p, demand, w > 0, excluded))
    if cand.empty:
        raise SiteError(f"no candidates: no resident of target {target.id} can be made "
                        "complete by a complex near a street node; give a candidate file")
    cand = _snap_candidates(result, cand)
    if excluded.get("water"):
        wet: dict[str, object] = {"water": excluded["water"], "near": 0, "d": 0.0}
        notes.append((t("site_cand_excluded", "zh", **wet), t("site_cand_excluded", "en", **wet)))
    cand = cand[cand["reachable"].to_numpy()].reset_index(drop=True)
    n_c = len(cand)
    if n_c == 0:
        raise SiteError("no candidates: none of them is near a street")
    if p.n is not None and p.n > n_c:
        raise SiteError(f"--add {p.n} is larger than the number of candidates ({n_c})")
    fi, ci, d = _pairs(result, cand, float(reach[mine].max()))
    idx = np.flatnonzero(mine)
    mats = [siting.coverage_matrix(ci[d <= reach[k]], fi[d <= reach[k]], len(cells), n_c)
            for k in idx]
    sol = siting.colocated(mats, met[:, idx], w, int(p.n or 0), time_limit_s=p.time_limit_s,
                           mip_rel_gap=p.mip_rel_gap)
    ranked = siting.colocated_order(mats, met[:, idx], w, sol.sites)
    sites = _sites_frame(result, p, cand, None, w, sol.sites, ranked=ranked)
    sites["category"] = "+".join(p.complex)
    promised = (covered_before + sol.objective) / scope_pop if scope_pop else math.nan
    summary = _summary(p, target, sol, demand, covered_before, promised, n_c)
    summary["complex"] = "+".join(p.complex)
    summary["completable_pop"] = float(w.sum())
    return _site_result(result, p, target, sol, sites, cand, summary, notes, promised)


def _least_important(result: RunResult, p: SiteProblem, target: Target,
                     demand: _Demand) -> SiteResult:
    fac = result.facilities
    sel = np.flatnonzero((fac["category"] == p.category).to_numpy())
    if not len(sel):
        raise SiteError(f"no existing {p.category} facility to close")
    if p.n is None or p.n > len(sel):
        raise SiteError(f"--add {p.n}: cannot close more than the {len(sel)} existing "
                        f"{p.category} facilities")
    efi, eci, ed = _existing_pairs(result, p.category, demand)
    ok = ed <= demand.reach[eci]
    a = siting.coverage_matrix(eci[ok], efi[ok], len(result.cells), len(sel))
    # residents covered by another category of the target stay covered whatever closes
    others = [c for c in target.categories if c != p.category
              and f"dist_m__{c}" in result.cells.columns]
    safe = np.zeros(len(result.cells), dtype=bool)
    for c in others:
        safe |= result.cells[f"dist_m__{c}"].to_numpy(dtype=float) <= demand.reach
    w = np.where(safe, 0.0, demand.pop)
    sol = siting.least_important(a, w, p.n, time_limit_s=p.time_limit_s)
    rows = fac.iloc[sel[sol.sites]]
    glon, glat = wgs84_to_gcj02(rows["lon"].to_numpy(), rows["lat"].to_numpy())
    df = pd.DataFrame({
        "rank": np.arange(1, len(rows) + 1), "facility_id": rows["facility_id"].to_numpy(),
        "category": p.category, "name": rows["name"].to_numpy(),
        "lon": rows["lon"].to_numpy(), "lat": rows["lat"].to_numpy(),
        "lon_gcj02": glon, "lat_gcj02": glat,
        "loss_alone_pop": sol.detail["loss_alone"][sol.sites]})
    for level in result.unit_polygons:
        df[f"unit__{level}"] = rows[f"unit__{level}"].to_numpy() \
            if f"unit__{level}" in rows.columns else None
    df = df.sort_values(["loss_alone_pop", "facility_id"]).reset_index(drop=True)
    df["rank"] = np.arange(1, len(df) + 1)
    x, y = lonlat_to_metric(df["lon"].to_numpy(), df["lat"].to_numpy(), result.crs)
    sites = gpd.GeoDataFrame(df, geometry=shapely.points(x, y), crs=result.crs)
    covered_before = float(demand.pop[demand.covered].sum())
    promised = ((covered_before - sol.objective) / demand.scope_pop
                if demand.scope_pop else math.nan)
    summary = _summary(p, target, sol, demand, covered_before, promised, len(sel))
    out = SiteResult(problem=p, target=target.id, solution=sol, sites=sites,
                     candidates=gpd.GeoDataFrame(geometry=[], crs=result.crs),
                     targets=pd.DataFrame(), summary=summary, base=result)
    out.targets = _before_after(result, out, target, math.nan)
    return out


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------
def write_sites(site: SiteResult, out_dir: str | Path) -> dict[str, Path]:
    """Write a siting answer to ``out_dir``, whole or not at all.

    Files: ``sites.gpkg`` (layers ``sites`` and ``candidates``), ``sites.csv``
    (UTF-8 with BOM for Excel; no geometry, lon/lat in WGS-84 and GCJ-02),
    ``site_targets.csv`` (before/after of every target involving the category)
    and ``site_run.json`` (the question and the solver's figures). Every file
    is written in a temporary folder first and moved in only when all are done.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".sites-", dir=out))
    names = ["sites.gpkg", "sites.csv", "site_targets.csv", "site_run.json"]
    try:
        sites = site.sites
        gpkg_sites = sites.copy()
        for c in gpkg_sites.columns:
            if c != "geometry" and gpkg_sites[c].dtype == object:
                gpkg_sites[c] = gpkg_sites[c].map(lambda v: None if v is None else str(v))
        gpkg_sites.to_file(tmp / "sites.gpkg", layer="sites", driver="GPKG", engine="pyogrio")
        if len(site.candidates):
            cand = site.candidates.drop(columns=[c for c in ("reachable",) if c in
                                                 site.candidates.columns])
            cand.to_file(tmp / "sites.gpkg", layer="candidates", driver="GPKG",
                         engine="pyogrio")
        write_csv(pd.DataFrame(sites.drop(columns="geometry")), tmp / "sites.csv")
        write_csv(site.targets, tmp / "site_targets.csv")
        doc = {"problem": {k: (str(v) if isinstance(v, (Path, gpd.GeoDataFrame)) else v)
                           for k, v in vars(site.problem).items()},
               "summary": {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                           for k, v in site.summary.items()},
               "notes": [{"zh": zh, "en": en} for zh, en in site.notes]}
        (tmp / "site_run.json").write_text(
            json.dumps(doc, ensure_ascii=False, indent=2, default=_json_default),
            encoding="utf-8")
        files = {}
        for name in names:
            os.replace(tmp / name, out / name)
            files[name.split(".")[0] + ("_gpkg" if name.endswith(".gpkg") else "")] = \
                out / name
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return files


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return str(v)
