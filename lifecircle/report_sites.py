"""Best new sites for a report's failing targets, from the site-selection engine.

For each failing target a new facility can improve — a walking circle target
(:func:`lifecircle.site.site_selection` answers those) — the report shows the best
``n`` new sites by MCLP: street nodes among the residents the target leaves
uncovered, each with its unit, lon/lat and the residents it adds. The same engine
as ``lifecircle site -c CATEGORY --add N``, without the before/after re-evaluation
(the residents each site adds are what the report shows).

A report stays fast: every target gets a solver time limit (the exact model falls
back to its greedy answer, whose bound is still certified), and once the report's
time budget for sites is spent, the remaining targets fall back to the greedy
model, then are left out with a note naming the command that answers them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from access.crs import lonlat_to_metric, metric_to_lonlat
from access.errors import LifecircleError
from access.i18n import say, t
from access.network import load_network
from access.rejects import RejectLog
from access.targets import CircleTarget, Target, load_catalogue
from facilities import load_taxonomy
from gridded_pop import GridSpec, PopulationGrid
from lifecircle.pipeline import RunResult
from lifecircle.report_data import ReportData
from lifecircle.routing import snap_to_networks
from lifecircle.site import SiteProblem, site_selection

__all__ = ["GapSites", "best_sites", "candidate_spacing_m", "sited_targets"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GapSites:
    """The best new sites for one failing target, or why there are none.

    Attributes
    ----------
    target_id, category
        The target and the category of the new facilities.
    category_zh, category_en
        The category's names.
    sites
        ``rank, lon, lat, unit, marginal_pop, cumulative_pop`` (metric ``x, y`` too),
        best first; empty when ``note`` says why.
    method, status, gap, seconds
        How the model was solved (``exact``/``greedy``; ``optimal``, ``time_limit`` ...),
        its relative gap and the time it took.
    share_before, share_promised
        The target's value before and with the sites.
    note
        (zh, en) when no site is shown, or a remark.
    """

    target_id: str
    category: str
    sites: pd.DataFrame
    category_zh: str = ""
    category_en: str = ""
    method: str = ""
    status: str = ""
    gap: float = float("nan")
    seconds: float = 0.0
    share_before: float = float("nan")
    share_promised: float = float("nan")
    note: tuple[str, str] | None = None


def sited_targets(targets: Sequence[Target]) -> dict[str, CircleTarget]:
    """Targets new sites can be chosen for: walking circle targets with a category."""
    return {tg.id: tg for tg in targets
            if isinstance(tg, CircleTarget) and tg.mode == "walk" and not tg.radius_by_area
            and tg.categories}


def _base(data: ReportData) -> RunResult:
    """The run as :func:`lifecircle.site.site_selection` reads it.

    From memory when the report is made from a run just computed; else rebuilt from
    the run folder: the walking network from the study area's OSM file (the network
    cache), cells snapped again exactly as the run snapped them, the boundary from
    ``run.json``. Nothing is re-evaluated (``targets`` None).
    """
    if data.result is not None:
        r = data.result
        return RunResult(area=r.area, crs=r.crs, boundary_lonlat=r.boundary_lonlat,
                         boundary=r.boundary, networks=r.networks, population=r.population,
                         facilities=r.facilities, cells=r.cells, k_nearest=r.k_nearest,
                         units=r.units, completeness=r.completeness, targets=None,
                         rejects=r.rejects, taxonomy=r.taxonomy,
                         unit_polygons=r.unit_polygons)
    area = data.area
    if area is None or data.grid is None:
        raise LifecircleError("the study-area file cannot be read")
    crs = data.crs
    walk = load_network(area.network.path, "walk", crs=crs)
    networks = {"walk": walk}
    cells = data.cells.copy(deep=False)  # new columns only: the frame's data is shared
    x, y = cells["x"].to_numpy(float), cells["y"].to_numpy(float)
    snapped = snap_to_networks(networks, x, y, max_dist_m=area.network.snap_max_dist_m)
    cells["node"] = snapped["node"]
    cells["snap_dist_m"] = snapped["snap_dist_m"]
    lonlat = shapely.from_wkt(str(data.meta.get("boundary_lonlat_wkt", "")) or
                              "POLYGON EMPTY")
    if shapely.is_empty(lonlat):  # a run folder without its boundary: the cells' extent
        boundary = shapely.box(*shapely.total_bounds(shapely.points(x, y)))
        lonlat = shapely.transform(
            boundary, lambda c: np.column_stack(metric_to_lonlat(c[:, 0], c[:, 1], crs)))
    else:
        boundary = shapely.transform(
            lonlat, lambda c: np.column_stack(lonlat_to_metric(c[:, 0], c[:, 1], crs)))
    grid: GridSpec = data.grid
    population = PopulationGrid(spec=grid, groups={}, in_area=np.zeros(0, bool),
                                accounting=data.accounting, notes=[],
                                area_in_m2=np.zeros(0))
    return RunResult(area=area, crs=crs, boundary_lonlat=lonlat, boundary=boundary,
                     networks=networks, population=population, facilities=data.facilities,
                     cells=cells, k_nearest=pd.DataFrame(), units=data.unit_stats,
                     completeness=data.completeness, targets=None, rejects=RejectLog(),
                     taxonomy=load_taxonomy(area.categories, base_dir=area.base_dir,
                                            path=area.path),
                     unit_polygons=data.unit_polygons)


def candidate_spacing_m(data: ReportData, target_id: str, max_candidates: int) -> float:
    """Candidate spacing: the engine's 150 m, wider where the uncovered area is large.

    Candidates are street nodes thinned to one per spacing square, so about
    (uncovered area) / spacing² of them; the spacing keeps that near ``max_candidates``.
    """
    flag = data.cells[f"covered__{target_id}"]
    pop = data.cells["pop_total"].to_numpy(float) if "pop_total" in data.cells else None
    uncovered = flag.notna().to_numpy() & ~flag.fillna(False).to_numpy(dtype=bool)
    if pop is not None:
        uncovered &= pop > 0
    area_m2 = float(uncovered.sum()) * data.cell_size_m ** 2
    return max(150.0, float(np.sqrt(area_m2 / max(max_candidates, 1))))


def best_sites(data: ReportData, target_ids: Sequence[str], *, n: int = 3,
               method: str = "greedy", time_limit_s: float = 3.0, budget_s: float = 15.0,
               max_candidates: int = 2000) -> dict[str, GapSites]:
    """The best ``n`` new sites (MCLP) for each target in ``target_ids`` that can take them.

    Parameters
    ----------
    data
        The run.
    target_ids
        Failing targets, in the order the report shows them; those that are not
        walking circle targets are skipped (absent from the answer).
    n
        Sites per target.
    method
        ``"greedy"`` (default: fast and deterministic, with a certified bound on how
        far from the best it can be) or ``"exact"`` (HiGHS with ``time_limit_s`` per
        target, then the greedy answer).
    time_limit_s
        Solver time limit per target (``exact``).
    budget_s
        Time for all targets: once spent, the greedy model only; past twice the
        budget, targets are left out with a note.
    max_candidates
        About this many candidate street nodes per target: the engine's 150 m spacing,
        widened where the uncovered area is larger (a municipality's report stays
        fast; ``lifecircle site`` gives the full answer at 150 m).

    Returns
    -------
    dict
        Target id -> :class:`GapSites`.
    """
    if method not in ("greedy", "exact"):
        raise ValueError(f"method must be 'greedy' or 'exact', got {method!r}")
    if data.area is None:
        return {}
    try:
        catalogue = load_catalogue(overrides=data.area.targets, base_dir=data.area.base_dir,
                                   config_path=data.area.path)
    except LifecircleError as exc:
        log.warning(say("log_sites_catalogue", why=exc))
        return {}
    eligible = sited_targets(catalogue)
    wanted = [i for i in target_ids if i in eligible
              and f"covered__{i}" in data.cells.columns]
    if not wanted:
        return {}
    start = time.perf_counter()
    empty = pd.DataFrame(columns=["rank", "lon", "lat", "unit", "marginal_pop",
                                  "cumulative_pop", "x", "y"])
    try:
        base = _base(data)
    except LifecircleError as exc:
        why = (t("report_sites_not_computed", "zh", err=exc),
               t("report_sites_not_computed", "en", err=exc))
        return {i: GapSites(i, eligible[i].categories[0], empty, note=why) for i in wanted}
    out: dict[str, GapSites] = {}
    for tid in wanted:
        target = eligible[tid]
        cat = target.categories[0]
        spent = time.perf_counter() - start
        if spent > 2 * budget_s:
            out[tid] = GapSites(tid, cat, empty, note=(
                t("report_sites_time_spent", "zh", cat=cat, n=n, tid=tid),
                t("report_sites_time_spent", "en", cat=cat, n=n, tid=tid)))
            continue
        how = method if spent <= budget_s else "greedy"
        t0 = time.perf_counter()
        try:
            res = site_selection(base, SiteProblem(
                category=cat, model="mclp", n=n, target=tid, method=how,
                time_limit_s=time_limit_s,
                spacing_m=candidate_spacing_m(data, tid, max_candidates)))
        except LifecircleError as exc:
            out[tid] = GapSites(tid, cat, empty, note=(t("report_sites_none", "zh", err=exc),
                                                       t("report_sites_none", "en", err=exc)))
            continue
        s = res.sites
        level = next(iter(data.unit_polygons), None)
        unit = (s[f"unit_name__{level}"].astype(str).to_numpy()
                if level is not None and f"unit_name__{level}" in s.columns
                else np.full(len(s), "", dtype=object))
        sites = pd.DataFrame({"rank": s["rank"].to_numpy(), "lon": s["lon"].to_numpy(),
                              "lat": s["lat"].to_numpy(), "unit": unit,
                              "marginal_pop": s["marginal_pop"].to_numpy(float),
                              "cumulative_pop": s["cumulative_pop"].to_numpy(float),
                              "x": s.geometry.x.to_numpy(), "y": s.geometry.y.to_numpy()})
        sm = res.summary
        out[tid] = GapSites(tid, cat, sites, category_zh=base.taxonomy.label(cat, "zh"),
                            category_en=base.taxonomy.label(cat, "en"),
                            method=str(sm.get("method", how)),
                            status=str(sm.get("status", "")),
                            gap=float(sm.get("gap", np.nan)),
                            seconds=time.perf_counter() - t0,
                            share_before=float(sm.get("share_before", np.nan)),
                            share_promised=float(sm.get("share_promised", np.nan)))
        log.info(say("log_sites_done", target=tid, method=out[tid].method,
                     status=out[tid].status, s=out[tid].seconds))
    return out
