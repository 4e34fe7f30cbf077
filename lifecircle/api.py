"""Travel times, nearest facilities and coverage for GeoDataFrames: the notebook API.

These functions put a geo layer around the routing engine (:mod:`access.travel`):
GeoDataFrames in and out, the CRS checked, units in every numeric name. A frame
in longitude/latitude (or any CRS other than the network's) is reprojected to the
network's metric CRS, and the log says so; a frame without a CRS is refused.

>>> import lifecircle as lc
>>> walk = lc.load_network(osm_path, "walk")                              # doctest: +SKIP
>>> tt = lc.travel_times(walk, origins=homes, destinations=clinics,
...                      max_time_min=15)                                 # doctest: +SKIP
>>> near = lc.nearest(walk, origins=homes, facilities=pois)               # doctest: +SKIP
>>> lc.coverage(near, category="clinic", max_time_min=15)                 # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from access.coverage import circle_coverage
from access.errors import ConfigError, InputFileError, NoCrsError
from access.i18n import say
from access.network import StreetNetwork, snap, snap_outlines
from access.targets import TargetResults
from access.travel import dist_to_time_min, nearest_facilities, od_pairs, time_to_dist_m
from lifecircle.pipeline import RunResult, evaluate_area_targets

__all__ = ["ENGINES", "KEEP_WITH_PROFILE", "coverage", "evaluate_targets", "nearest",
           "travel_times", "with_profile"]

log = logging.getLogger(__name__)

#: Routing engines of :func:`nearest`: lifecircle's own, or pandana's
#: ``nearest_pois`` (install ``lifecircle[pandana]``).
ENGINES = ("lifecircle", "pandana")

#: Keys of a study area's ``[targets]`` table kept when another plan profile is
#: chosen (the profile replaces the selection and its thresholds).
KEEP_WITH_PROFILE = ("settlement", "extra_categories")


def _points(gdf: gpd.GeoDataFrame | gpd.GeoSeries, network: StreetNetwork, *,
            what: str) -> tuple[np.ndarray, np.ndarray]:
    """Point coordinates of ``gdf`` in the network's CRS (polygons by an inner point)."""
    if not isinstance(gdf, gpd.GeoDataFrame | gpd.GeoSeries):
        raise TypeError(f"{what} must be a GeoDataFrame or GeoSeries, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise NoCrsError(f"{what} has no CRS: set it with {what}.set_crs(...) "
                         "(e.g. 'EPSG:4326' for longitude/latitude)", column=what)
    geom = gdf.geometry
    if not gdf.crs.equals(network.crs):
        log.info(say("log_api_reprojected", what=what, src=gdf.crs.to_string(),
                     dst=network.crs.to_string()))
        geom = geom.to_crs(network.crs)
    arr = geom.to_numpy()
    bad = shapely.is_missing(arr) | shapely.is_empty(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputFileError(f"{int(bad.sum())} row(s) without a geometry", path=what,
                             row=i + 1, column="geometry")
    pts = np.where(shapely.get_type_id(arr) == 0, arr, shapely.point_on_surface(arr))
    return shapely.get_x(pts), shapely.get_y(pts)


def _ids(gdf: gpd.GeoDataFrame | gpd.GeoSeries, column: str | None, what: str) -> np.ndarray:
    if column is None:
        return gdf.index.to_numpy()
    if not isinstance(gdf, gpd.GeoDataFrame) or column not in gdf.columns:
        raise InputFileError(f"no column '{column}'", path=what, column=column)
    return gdf[column].to_numpy()


def _limit(network: StreetNetwork, max_time_min: float, speed_kmh: float) -> float:
    """Search limit in the network's weight: metres walking, seconds on timed networks."""
    if not (max_time_min > 0 and np.isfinite(max_time_min)):
        raise ValueError(f"max_time_min must be a positive number, got {max_time_min}")
    if network.time_s is None:
        return float(time_to_dist_m(max_time_min, speed_kmh))
    return max_time_min * 60.0


def _check_mode(network: StreetNetwork, mode: str | None) -> None:
    if mode is not None and mode != network.mode:
        raise ConfigError(f"mode={mode!r} but the network is a {network.mode} network; "
                          f"load it with lc.load_network(path, {mode!r})", key="mode")


def travel_times(network: StreetNetwork, origins: gpd.GeoDataFrame,
                 destinations: gpd.GeoDataFrame | None = None, *, mode: str | None = None,
                 max_time_min: float = 30.0, speed_kmh: float = 4.0,
                 leg_speed_kmh: float = 15.0, snap_max_dist_m: float = 500.0,
                 origin_id: str | None = None,
                 destination_id: str | None = None) -> pd.DataFrame:
    """Travel times between origins and destinations within a time limit.

    A trip is the straight leg from the origin to its nearest street node, the
    shortest path on the network and the straight leg to the destination.

    Parameters
    ----------
    network
        A walking network (lengths; times at ``speed_kmh``) or a driving network
        (arc times; legs at ``leg_speed_kmh``).
    origins, destinations
        Points (polygons by an inner point) with a CRS; ``destinations`` defaults
        to ``origins``.
    mode
        Expected mode of ``network`` (``"walk"``, ``"drive"``), checked if given.
    max_time_min
        Pairs farther than this are left out.
    speed_kmh
        Walking speed.
    leg_speed_kmh
        Speed on the straight legs to and from a driving network.
    snap_max_dist_m
        Points farther than this from every node reach nothing.
    origin_id, destination_id
        Columns holding ids; default the frames' index.

    Returns
    -------
    pandas.DataFrame
        One row per pair within the limit, as r5py's travel-time matrices:
        ``from_id, to_id, travel_time_min, distance_m`` (``distance_m`` is the
        network distance of the route on a walking network and NaN on a driving
        network, whose routes minimise time).
    """
    _check_mode(network, mode)
    destinations = origins if destinations is None else destinations
    ox, oy = _points(origins, network, what="origins")
    dx, dy = _points(destinations, network, what="destinations")
    o_node, o_leg = snap(network, ox, oy, max_dist_m=snap_max_dist_m)
    d_node, d_leg = snap(network, dx, dy, max_dist_m=snap_max_dist_m)
    limit = _limit(network, max_time_min, speed_kmh)
    timed = network.time_s is not None
    i, j, cost = od_pairs(network, o_node, o_leg, d_node, d_leg, max_cost=limit,
                          weight="time_s" if timed else "length_m",
                          leg_speed_kmh=leg_speed_kmh)
    return pd.DataFrame({
        "from_id": _ids(origins, origin_id, "origins")[i],
        "to_id": _ids(destinations, destination_id, "destinations")[j],
        "travel_time_min": cost / 60.0 if timed else dist_to_time_min(cost, speed_kmh),
        "distance_m": np.full(len(cost), np.nan) if timed else cost,
    })


def _pandana_nearest(network: StreetNetwork, o_node: np.ndarray, f_node: np.ndarray,
                     f_cat: np.ndarray, categories: list[str], max_dist_m: float,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Node-to-node nearest distances and facility indices through pandana's ``nearest_pois``."""
    try:
        import pandana  # optional engine: lifecircle[pandana]
    except ImportError as exc:
        raise ConfigError("engine='pandana' needs pandana: pip install 'lifecircle[pandana]'",
                          key="engine") from exc
    tails = network.arc_tails()
    net = pandana.Network(pd.Series(network.x), pd.Series(network.y), pd.Series(tails),
                          pd.Series(network.indices.astype(np.int64)),
                          pd.DataFrame({"length_m": network.length_m}), twoway=False)
    cost = np.full((len(categories), len(o_node)), np.inf)
    which = np.full((len(categories), len(o_node)), -1, dtype=np.int64)
    ok = o_node >= 0
    for r, c in enumerate(categories):
        sel = np.flatnonzero((f_cat == c) & (f_node >= 0))
        if not len(sel):
            continue
        net.set_pois(c, max_dist_m, 1, pd.Series(network.x[f_node[sel]]),
                     pd.Series(network.y[f_node[sel]]))
        res = net.nearest_pois(max_dist_m, c, num_pois=1, include_poi_ids=True)
        d = res[1].to_numpy(dtype=float)
        poi = res["poi1"].to_numpy(dtype=float)
        found = d < max_dist_m
        cost[r, ok] = np.where(found, d, np.inf)[o_node[ok]]
        w = np.where(found & np.isfinite(poi), poi, -1).astype(np.int64)
        which[r, ok] = np.where(w >= 0, sel[np.maximum(w, 0)], -1)[o_node[ok]]
    return cost, which


def nearest(network: StreetNetwork, origins: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
            *, category: str | None = "category", facility_id: str | None = None,
            max_dist_m: float = 3000.0, speed_kmh: float = 4.0,
            snap_max_dist_m: float = 500.0, engine: str = "lifecircle") -> gpd.GeoDataFrame:
    """The nearest facility of each category for every origin, on a walking network.

    Parameters
    ----------
    network
        A walking network.
    origins
        Points or polygons (cells, buildings, homes) with a CRS.
    facilities
        Points or polygons with a CRS. Points join the nearest street-level node;
        a polygon joins the street-level node nearest to its outline (0 m inside),
        as OSM areas do in a run.
    category
        Column of ``facilities`` holding the category; None treats all as one
        category named ``"facility"``.
    facility_id
        Column holding facility ids; default the index.
    max_dist_m
        Search limit, legs included; farther is "not reached" (inf).
    speed_kmh
        Walking speed for ``time_min__<category>``.
    snap_max_dist_m
        Points farther than this from every node are unreachable.
    engine
        ``"lifecircle"`` (the compiled multi-source search) or ``"pandana"``
        (pandana's ``nearest_pois`` on the same graph, for comparison or for users
        of pandana; slower to prepare).

    Returns
    -------
    geopandas.GeoDataFrame
        ``origins`` in the network's CRS with ``snap_dist_m`` and, per category,
        ``dist_m__<c>`` (legs included; inf where no facility is within
        ``max_dist_m``), ``time_min__<c>`` and ``nearest__<c>`` (facility id, None
        where none), as in a run's cells.
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {ENGINES}, got {engine!r}", key="engine")
    if network.time_s is not None:
        raise ConfigError("nearest() measures walking distance: give a walking network "
                          "(use travel_times() on a driving network)", key="network")
    ox, oy = _points(origins, network, what="origins")
    fx, fy = _points(facilities, network, what="facilities")
    o_node, o_leg = snap(network, ox, oy, max_dist_m=snap_max_dist_m)
    f_node, f_leg = snap(network, fx, fy, max_dist_m=snap_max_dist_m)
    # a polygon facility (a park, a school ground) joins the street nearest its outline
    f_geom = facilities.geometry.to_crs(network.crs).to_numpy() \
        if not facilities.crs.equals(network.crs) else facilities.geometry.to_numpy()
    poly = np.flatnonzero(np.isin(shapely.get_type_id(f_geom), (3, 6)))
    if len(poly):
        s = snap_outlines(network, f_geom[poly], max_dist_m=snap_max_dist_m)
        f_node, f_leg = f_node.copy(), f_leg.copy()
        f_node[poly], f_leg[poly] = s.node, s.dist_m
    if category is None:
        f_cat = np.full(len(facilities), "facility", dtype=object)
    else:
        if category not in facilities.columns:
            raise InputFileError(f"no column '{category}'", path="facilities", column=category)
        f_cat = facilities[category].astype(str).to_numpy(dtype=object)
    categories = sorted(set(f_cat))
    fid = _ids(facilities, facility_id, "facilities")
    if engine == "lifecircle":
        near = nearest_facilities(network, o_node, o_leg, f_node, f_leg, f_cat,
                                  categories=categories, max_cost=max_dist_m)
        cost, which = near.cost, near.facility
    else:
        node_cost, which = _pandana_nearest(network, o_node, f_node, f_cat, categories,
                                            max_dist_m)
        f_leg_of = np.where(which >= 0, f_leg[np.maximum(which, 0)], 0.0)
        cost = node_cost + o_leg[None, :] + f_leg_of
        cost = np.where(cost <= max_dist_m, cost, np.inf)
        which = np.where(np.isfinite(cost), which, -1)
    out = origins.to_crs(network.crs) if not origins.crs.equals(network.crs) else origins.copy()
    out = gpd.GeoDataFrame(out) if isinstance(out, gpd.GeoSeries) else out
    out["snap_dist_m"] = o_leg
    for r, c in enumerate(categories):
        out[f"dist_m__{c}"] = cost[r]
        out[f"time_min__{c}"] = dist_to_time_min(cost[r], speed_kmh)
        out[f"nearest__{c}"] = np.where(which[r] >= 0, fid[np.maximum(which[r], 0)], None)
    return out


def coverage(nearest_frame: pd.DataFrame, *, category: str, max_time_min: float,
             population: str | None = None, speed_kmh: float = 4.0) -> float:
    """Share of residents (or of rows) within ``max_time_min`` walking of a category.

    Parameters
    ----------
    nearest_frame
        A frame with ``dist_m__<category>``: the result of :func:`nearest`, or a run's
        cells (:attr:`lifecircle.RunResult.cells`).
    category
        The facility category.
    max_time_min
        The time limit, e.g. 15 for a 15-minute circle.
    population
        Column of residents per row; None counts every row once.
    speed_kmh
        Walking speed that turns ``max_time_min`` into a distance.

    Returns
    -------
    float
        Covered share in [0, 1]; NaN when there is no one to cover.
    """
    col = f"dist_m__{category}"
    if col not in nearest_frame.columns:
        raise InputFileError(f"no column '{col}': no facility of category '{category}' was "
                             "routed", path="nearest_frame", column=col)
    dist = nearest_frame[col].to_numpy(dtype=float)
    pop = (np.ones(len(dist)) if population is None
           else nearest_frame[population].to_numpy(dtype=float))
    dist = np.where(np.isnan(dist), np.inf, dist)
    return circle_coverage(pop, dist, float(time_to_dist_m(max_time_min, speed_kmh)))


def with_profile(result: RunResult, profile: str) -> RunResult:
    """The run with its target selection replaced by a plan profile.

    Only the study area's settlement classification and extra categories are kept
    from its ``[targets]`` table; cells and facilities are shared, not copied.
    """
    kept = {k: v for k, v in result.area.targets.items() if k in KEEP_WITH_PROFILE}
    area = dataclasses.replace(result.area, targets={**kept, "profile": profile})
    return dataclasses.replace(result, area=area)


def evaluate_targets(result: RunResult, *, profile: str | None = None) -> TargetResults | None:
    """Evaluate a run's plan targets again, under its own or another plan profile.

    Parameters
    ----------
    result
        A finished run (:func:`lifecircle.run`).
    profile
        ``"kaifeng"``, ``"zhengzhou"``, ``"xinxiang"``, ``"lankao"`` or a profile
        file; None keeps the study area's own selection.

    Returns
    -------
    access.targets.TargetResults or None
        Verdicts per target, per unit, the cell flags and the gaps; None when the
        study area selects no target.
    """
    if profile is not None:
        result = with_profile(result, profile)
    return evaluate_area_targets(result.area, result.cells, result.facilities, result.units,
                                 result.population, result.completeness, result.catchments)
