"""The routing stage of a run: snapping to each mode's network and one search per
category and mode.

:func:`snap_to_networks` joins cells and facilities to every network;
:func:`routed_frame` (:func:`routed_arrays`) finds each cell's nearest facility of
every category by walking, and its time by e-bike and car;
:func:`k_nearest_table` and :func:`catchment_function` answer the k-nearest table
and the 2SFCA catchments. :class:`TravelSettings` holds the speeds and search
limits they use.

A plain run (:mod:`lifecircle.pipeline`), a what-if (:mod:`lifecircle.scenario`)
and a partition of a partitioned run (:mod:`lifecircle.partition_worker`) route
through these functions. The module imports only the engine's networks and
searches, so a Dask worker that routes partitions loads no more than this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from access.modes import MODES as MODE_TABLE
from access.modes import TIME_MODES
from access.network import CachedNetwork, Snapped, StreetNetwork, snap_outlines, snap_points
from access.travel import (
    catchment_pairs,
    dist_to_time_min,
    k_nearest_facilities,
    nearest_facilities,
)

__all__ = ["ROUTED_PREFIXES", "RoutedArrays", "TravelSettings", "catchment_function",
           "cells_lower_bound", "k_nearest_table", "least_cost_per_m", "number_columns",
           "routed_arrays", "routed_frame", "snap_columns", "snap_to_networks",
           "time_mode_limits"]


@dataclass(frozen=True)
class TravelSettings:
    """``[travel]``: speeds and search limits.

    Attributes
    ----------
    walk_speed_kmh
        Walking speed per population group; ``total`` is the default for every group.
        4.0 km/h gives 1000 m in 15 minutes, as GB 50180-2018 implies; the elderly
        walk 3.2 km/h (800 m in 15 minutes).
    max_walk_dist_m
        Search limit for walking distances (legs included); farther is "not reached".
    k_nearest
        How many nearest facilities per category to list per cell (``k_nearest.parquet``);
        1 (the default) lists only the nearest, which the cell table always holds, and
        skips the k-nearest search: it is computed only when asked for.
    drive_leg_speed_kmh
        Speed on the straight legs to and from the driving network.
    max_drive_time_min
        Search limit for driving times.
    max_ebike_time_min
        Search limit for e-bike times; None: the mode table's (``modes.toml``). Not a
        key of the file: a run sets it to the longest e-bike trip a target takes when
        the e-bike network is built only for targets
        (:func:`lifecircle.pipeline.with_search_limits`).
    """

    walk_speed_kmh: dict[str, float] = field(
        default_factory=lambda: {"total": 4.0, "age_60_plus": 3.2})
    max_walk_dist_m: float = 3000.0
    k_nearest: int = 1
    drive_leg_speed_kmh: float = 15.0
    max_drive_time_min: float = 90.0
    max_ebike_time_min: float | None = None



#: Column prefixes :func:`routed_frame` writes, one column per prefix and category.
ROUTED_PREFIXES = ("dist_m", "time_min", "nearest",
                   *(f"{m}_time_min" for m in TIME_MODES))


def snap_to_networks(networks: dict[str, StreetNetwork], x: np.ndarray, y: np.ndarray, *,
                     max_dist_m: float, outlines: np.ndarray | None = None,
                     ) -> dict[str, np.ndarray]:
    """Snap points to every network: the snapping columns of cells and facilities.

    Points join the nearest street-level node (:func:`access.network.snap_points`);
    where ``outlines`` holds a polygon (an OSM area without an entrance), the
    point joins the street-level node nearest to that outline instead.

    Returns ``node``, ``snap_dist_m``, ``reachable`` and ``snap_below_street``
    (walking, when ``networks`` has it) and, per other network, ``<mode>_node`` and
    ``<mode>_snap_dist_m`` (``drive_node`` ...).
    """
    def both(net: StreetNetwork) -> Snapped:
        s = snap_points(net, x, y, max_dist_m=max_dist_m)
        if outlines is None:
            return s
        has = np.flatnonzero([isinstance(g, shapely.Geometry) for g in outlines])
        if not len(has):
            return s
        o = snap_outlines(net, np.asarray(outlines, dtype=object)[has], max_dist_m=max_dist_m)
        node, dist, below = s.node.copy(), s.dist_m.copy(), s.below_street.copy()
        node[has], dist[has], below[has] = o.node, o.dist_m, o.below_street
        return Snapped(node=node, dist_m=dist, below_street=below)

    out: dict[str, np.ndarray] = {}
    for mode in _SNAP_MODES:
        if mode in networks:
            d = both(networks[mode])
            values = (d.node, d.dist_m, d.node >= 0, d.below_street) if mode == "walk" \
                else (d.node, d.dist_m)
            out.update(zip(_snap_names(mode), values, strict=True))
    return out


#: The modes of :func:`snap_to_networks`' columns, in their order.
_SNAP_MODES = ("walk", *TIME_MODES)


def _snap_names(mode: str) -> tuple[str, ...]:
    """The snapping columns of one mode's network (:func:`snap_to_networks`)."""
    if mode == "walk":
        return ("node", "snap_dist_m", "reachable", "snap_below_street")
    return (f"{mode}_node", f"{mode}_snap_dist_m")


def snap_columns(modes: Any) -> list[str]:
    """The columns :func:`snap_to_networks` gives for networks of ``modes``, in its
    order (walking first, then the time modes in :data:`~access.modes.TIME_MODES`
    order)."""
    return [c for m in _SNAP_MODES if m in modes for c in _snap_names(m)]


def time_mode_limits(mode: str, travel: Any) -> tuple[float, float]:
    """Search limit (minutes) and access-leg speed (km/h) of a time-routed mode.

    The car's come from the study area's ``[travel]``; the others from the mode table,
    the e-bike's limit from ``travel.max_ebike_time_min`` when a run set it
    (:func:`lifecircle.pipeline.with_search_limits`).
    """
    if mode == "drive":
        return travel.max_drive_time_min, travel.drive_leg_speed_kmh
    limit = getattr(travel, f"max_{mode}_time_min", None)
    return (MODE_TABLE[mode].max_time_min if limit is None else float(limit),
            MODE_TABLE[mode].leg_speed_kmh)


@dataclass
class RoutedArrays:
    """The routed columns of cells as arrays (:func:`routed_arrays`).

    Attributes
    ----------
    categories, modes
        The categories routed, and the time modes routed beyond walking.
    number_columns
        Names of the rows of ``numbers``: ``dist_m__<c>``, ``time_min__<c>`` per
        category, then ``<mode>_time_min__<c>`` per mode and category.
    numbers
        float64, shape ``(len(number_columns), n_cells)``; infinity where unreached.
    nearest
        int64, shape ``(len(categories), n_cells)``: each cell's nearest facility of a
        category as a row of the facility table, -1 for none.
    """

    categories: list[str]
    modes: list[str]
    number_columns: list[str]
    numbers: np.ndarray
    nearest: np.ndarray

    def frame(self, facility_id: np.ndarray, index: pd.Index) -> pd.DataFrame:
        """The columns of :func:`routed_frame`: ``nearest__<c>`` holds ``facility_id``
        of the nearest facility's row (None for none)."""
        numbers = pd.DataFrame(self.numbers.T, index=index, columns=self.number_columns,
                               copy=False)
        ids = _IdTaker(facility_id)
        objects = pd.DataFrame({f"nearest__{c}": ids.take(self.nearest[i])
                                for i, c in enumerate(self.categories)},
                               index=index, copy=False)
        order = [f"{p}__{c}" for c in self.categories
                 for p in ("dist_m", "time_min", "nearest")] + \
            [f"{m}_time_min__{c}" for m in self.modes for c in self.categories]
        return pd.concat([numbers, objects], axis=1)[order]


def routed_frame(networks: dict[str, StreetNetwork], cells: pd.DataFrame,
                 fac: pd.DataFrame, categories: list[str], *,
                 travel: TravelSettings) -> pd.DataFrame:
    """Nearest facility of each category for every cell: the routed columns of ``cells``,
    as a frame indexed like ``cells``.

    ``cells`` and ``fac`` carry the columns of :func:`snap_to_networks`; ``fac`` also
    ``category`` and ``facility_id``. The columns are ``dist_m__<c>``,
    ``time_min__<c>``, ``nearest__<c>`` and, per e-bike or driving network,
    ``ebike_time_min__<c>`` / ``drive_time_min__<c>`` per category (the prefixes
    :data:`ROUTED_PREFIXES`). Every number column is written straight into one float
    block (no copy when the frame is built or joined to the cells).
    """
    routed = routed_arrays(networks, cells, fac, categories, travel=travel)
    return routed.frame(fac["facility_id"].to_numpy(dtype=object), cells.index)


def number_columns(categories: list[str], modes: list[str]) -> list[str]:
    """Names of the rows of :attr:`RoutedArrays.numbers`: ``dist_m__<c>`` and
    ``time_min__<c>`` per category, then ``<mode>_time_min__<c>`` per time mode
    (``modes``, in :data:`~access.modes.TIME_MODES` order) and category."""
    return [f"{p}__{c}" for c in categories for p in ("dist_m", "time_min")] + \
        [f"{m}_time_min__{c}" for m in modes for c in categories]


def routed_arrays(networks: dict[str, StreetNetwork], cells: pd.DataFrame,
                  fac: pd.DataFrame, categories: list[str], *,
                  travel: TravelSettings,
                  prune: dict[str, float | None] | None = None) -> RoutedArrays:
    """:func:`routed_frame` as arrays: only categories with a reachable facility are
    searched, the others keep their rows, unreached.

    With ``prune`` (mode -> the least cost per metre of straight line of its network's
    arcs, :func:`least_cost_per_m`, or None to work it out from the network), each
    search skips the nodes from which no cell's node can be reached within the limit
    (:func:`cells_lower_bound`): the same columns, less work when the network reaches
    far beyond the cells (a partition's buffer).

    Without a walking network (a partitioned run routes the other modes of several
    partitions at once) the walking rows stay unreached and no nearest facility is
    given.
    """
    n = len(cells)
    modes = [m for m in TIME_MODES if m in networks]
    number_cols = number_columns(categories, modes)
    row = {name: i for i, name in enumerate(number_cols)}
    block = np.full((len(number_cols), n), np.inf)
    nearest = np.full((len(categories), n), -1, dtype=np.int64)
    cat = fac["category"].to_numpy(dtype=object)

    def lower_bound(mode: str, c_node: np.ndarray, weight: str) -> np.ndarray | None:
        if prune is None:
            return None
        return cells_lower_bound(networks[mode], c_node, weight, cost_per_m=prune.get(mode))

    if "walk" in networks:
        searched = [c for c in categories
                    if bool(((cat == c) & (fac["node"].to_numpy() >= 0)).any())]
        c_node = cells["node"].to_numpy()
        near = nearest_facilities(networks["walk"], c_node, cells["snap_dist_m"].to_numpy(),
                                  fac["node"].to_numpy(), fac["snap_dist_m"].to_numpy(), cat,
                                  categories=searched, max_cost=travel.max_walk_dist_m,
                                  lower_bound=lower_bound("walk", c_node, "length_m"))
        speed = travel.walk_speed_kmh["total"]
        for k, c in enumerate(categories):
            if c in searched:
                i = near.row(c)
                block[row[f"dist_m__{c}"]] = near.cost[i]
                block[row[f"time_min__{c}"]] = dist_to_time_min(near.cost[i], speed)
                nearest[k] = near.facility[i]
        del near
    for mode in modes:
        m_node = fac[f"{mode}_node"].to_numpy()
        m_searched = [c for c in categories if bool(((cat == c) & (m_node >= 0)).any())]
        max_min, leg_kmh = time_mode_limits(mode, travel)
        c_node = cells[f"{mode}_node"].to_numpy()
        tnear = nearest_facilities(networks[mode], c_node,
                                   cells[f"{mode}_snap_dist_m"].to_numpy(), m_node,
                                   fac[f"{mode}_snap_dist_m"].to_numpy(), cat,
                                   categories=m_searched, max_cost=max_min * 60,
                                   weight="time_s", leg_speed_kmh=leg_kmh,
                                   lower_bound=lower_bound(mode, c_node, "time_s"))
        for i, c in enumerate(m_searched):
            block[row[f"{mode}_time_min__{c}"]] = tnear.cost[i] / 60.0
        del tnear
    return RoutedArrays(categories=list(categories), modes=modes, number_columns=number_cols,
                        numbers=block, nearest=nearest)


#: A lower bound is shrunk by this factor, so that rounding never makes it exceed
#: the cost it bounds.
_BOUND_SAFETY = 0.999


def least_cost_per_m(net: StreetNetwork | CachedNetwork, weight: str) -> float:
    """The least cost (``weight``: metres or seconds) per metre of straight line of any
    arc of ``net`` (:meth:`~access.network.StreetNetwork.min_cost_per_m`; a cache
    entry has it stored), shrunk by :data:`_BOUND_SAFETY`: a path's cost is at least
    this times the straight line it spans, in ``net`` and in any network cut from it.
    0 when an arc costs nothing while its ends lie apart, or ``net`` has no such arc."""
    return max(net.min_cost_per_m(weight) * _BOUND_SAFETY, 0.0)


def cells_lower_bound(net: StreetNetwork, cell_node: np.ndarray, weight: str, *,
                      cost_per_m: float | None = None) -> np.ndarray:
    """Per node of ``net``, a lower bound of the cost (``weight``: metres or seconds)
    of any path from it to any of the cells' nodes (``cell_node``, -1 for none).

    The straight line from the node to the box of those nodes times the least cost
    per metre of straight line (``cost_per_m``: :func:`least_cost_per_m` of ``net``
    or of a network it was cut from; None works it out from ``net``). 0 inside the
    box; all 0 when no cell has a node or that cost is 0.
    """
    nodes = np.unique(cell_node[cell_node >= 0])
    per_m = least_cost_per_m(net, weight) if cost_per_m is None else cost_per_m
    if not len(nodes) or not per_m > 0:
        return np.zeros(net.n_nodes)
    x, y = net.x[nodes], net.y[nodes]
    dx = np.maximum(np.maximum(x.min() - net.x, net.x - x.max()), 0.0)
    dy = np.maximum(np.maximum(y.min() - net.y, net.y - y.max()), 0.0)
    return np.hypot(dx, dy) * per_m


class _IdTaker:
    """Facility id of each row (None where the index is -1), as the frame would hold it.

    Text ids are taken in Arrow (an id column of 640,000 cells is otherwise 640,000
    Python strings converted one by one); the column is what pandas infers from the
    same ids as Python objects, so the result does not depend on the path.
    """

    def __init__(self, fid: np.ndarray) -> None:
        self.fid = fid
        probe = pd.DataFrame({"id": np.array(["x"], dtype=object)})["id"].dtype
        text = isinstance(probe, pd.StringDtype) and probe.storage == "pyarrow" and \
            all(isinstance(v, str) for v in fid)
        self.dtype = probe if text else None
        self.arrow = pa.array(list(fid), type=pa.large_string()) if text else None

    def take(self, which: np.ndarray) -> Any:
        """The ids of ``which`` (positions in ``fid``, -1 for none)."""
        found = which >= 0
        if self.arrow is not None and found.any():
            col = self.arrow.take(pa.array(np.maximum(which, 0), mask=~found))
            return pd.array(col, dtype=self.dtype)
        # no id at all: pandas keeps the all-None column as objects
        return np.where(found, self.fid[np.maximum(which, 0)], np.array(None, dtype=object))


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
        if not len(sel):
            continue
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
