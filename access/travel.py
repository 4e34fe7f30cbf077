"""Travel distances and times from origins (grid cells) to facilities over a street network.

A trip is three legs: a straight walk from the origin to its snapped node, the
network path, and a straight walk from the facility's node to the facility. The
facility leg enters the search as the source's initial label, so the answer is
exact for that model. Every function here takes a :class:`~access.network.StreetNetwork`
and plain arrays of snapped points; names, files and CRSs live elsewhere.

Routing is one multi-source search per category over the whole graph (see
``PERFORMANCE.md``), never one query per origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from access import _dijkstra
from access.network import StreetNetwork

__all__ = [
    "Nearest",
    "catchment_pairs",
    "dist_to_time_min",
    "k_nearest_facilities",
    "nearest_facilities",
    "od_pairs",
    "time_to_dist_m",
]


@overload
def dist_to_time_min(dist_m: np.ndarray, speed_kmh: float) -> np.ndarray: ...


@overload
def dist_to_time_min(dist_m: float, speed_kmh: float) -> float: ...


def dist_to_time_min(dist_m: np.ndarray | float, speed_kmh: float) -> np.ndarray | float:
    """Travel time in minutes for a distance in metres at ``speed_kmh``."""
    if not speed_kmh > 0:
        raise ValueError(f"speed_kmh must be positive, got {speed_kmh}")
    minutes = np.asarray(dist_m, dtype=float) / (speed_kmh * 1000.0 / 60.0)
    return float(minutes) if minutes.ndim == 0 else minutes


@overload
def time_to_dist_m(time_min: float, speed_kmh: float) -> float: ...


@overload
def time_to_dist_m(time_min: np.ndarray, speed_kmh: float) -> np.ndarray: ...


def time_to_dist_m(time_min: float | np.ndarray, speed_kmh: float) -> float | np.ndarray:
    """Distance in metres covered in ``time_min`` at ``speed_kmh``.

    ``dist_m = time_min * speed_kmh * 1000 / 60``: 15 min at 4.0 km/h is 1000 m, the
    radius GB 50180-2018 gives for the 15-minute life circle.
    """
    if not speed_kmh > 0:
        raise ValueError(f"speed_kmh must be positive, got {speed_kmh}")
    if isinstance(time_min, np.ndarray):
        return time_min.astype(float) * speed_kmh * 1000.0 / 60.0
    return float(time_min) * speed_kmh * 1000.0 / 60.0


@dataclass(frozen=True)
class Nearest:
    """Nearest facility of each category for every origin.

    Attributes
    ----------
    categories
        Category labels, in row order.
    cost
        ``(n_categories, n_origins)``: metres (or seconds for ``time_s``) including
        both access legs; inf where no facility is within the limit or the origin
        is unreachable.
    facility
        ``(n_categories, n_origins)`` index into the facility arrays passed in, -1 where none.
    """

    categories: tuple[str, ...]
    cost: np.ndarray
    facility: np.ndarray

    def row(self, category: str) -> int:
        """Row of ``category``."""
        return self.categories.index(category)


def _check_points(net: StreetNetwork, node: np.ndarray, leg: np.ndarray, what: str,
                  ) -> tuple[np.ndarray, np.ndarray]:
    node = np.asarray(node, dtype=np.int64)
    leg = np.asarray(leg, dtype=np.float64)
    if node.shape != leg.shape:
        raise ValueError(f"{what}: node and leg arrays differ in shape {node.shape} {leg.shape}")
    if len(node) and (node.max() >= net.n_nodes or node.min() < -1):
        raise ValueError(f"{what}: node index out of range for a network of {net.n_nodes} nodes")
    if np.any(leg < 0) or np.any(np.isnan(leg)):
        raise ValueError(f"{what}: access legs must be non-negative numbers")
    return node, leg


def _leg_cost(leg_m: np.ndarray, weight: str, leg_speed_kmh: float) -> np.ndarray:
    return leg_m if weight == "length_m" else leg_m / (leg_speed_kmh / 3.6)


def nearest_facilities(
    net: StreetNetwork,
    origin_node: np.ndarray,
    origin_leg_m: np.ndarray,
    facility_node: np.ndarray,
    facility_leg_m: np.ndarray,
    facility_category: Sequence[str] | np.ndarray,
    *,
    categories: Sequence[str] | None = None,
    max_cost: float = np.inf,
    weight: str = "length_m",
    leg_speed_kmh: float = 4.0,
    lower_bound: np.ndarray | None = None,
) -> Nearest:
    """Cost from every origin to its nearest facility of each category.

    Parameters
    ----------
    net
        The street network.
    origin_node, origin_leg_m
        Snapped node (-1 = unreachable) and straight leg of each origin.
    facility_node, facility_leg_m
        The same for each facility (facilities at node -1 are ignored).
    facility_category
        Category label of each facility.
    categories
        Categories to route, in output order; default: the sorted distinct labels.
        A category with no reachable facility gives an all-inf row.
    max_cost
        Search limit (metres, or seconds for ``weight="time_s"``), legs included.
    weight
        ``"length_m"`` or ``"time_s"`` (driving networks).
    leg_speed_kmh
        Speed on the straight legs when ``weight="time_s"``.
    lower_bound
        Per network node, a lower bound of the cost (in ``weight``'s unit) from it to
        any origin's node, 0 at those nodes; the search then skips what cannot reach
        an origin within ``max_cost`` (:func:`access._dijkstra.multi_source_many`).
        The result is the same.
    """
    origin_node, origin_leg = _check_points(net, origin_node, origin_leg_m, "origins")
    facility_node, facility_leg = _check_points(net, facility_node, facility_leg_m,
                                                "facilities")
    cat = np.asarray(facility_category, dtype=object)
    if len(cat) != len(facility_node):
        raise ValueError("facility_category must have one label per facility")
    if categories is None:
        categories = sorted({str(c) for c in cat})
    categories = tuple(categories)
    w = net.weights(weight)
    leg_cost = _leg_cost(facility_leg, weight, leg_speed_kmh)
    members = []
    for c in categories:
        members.append(np.flatnonzero((cat == c) & (facility_node >= 0)))
    # categories without a reachable facility are not searched: their rows stay inf
    searched = [i for i, idx in enumerate(members) if len(idx)]
    node_cost, node_near = _dijkstra.multi_source_many(
        net.indptr, net.indices, w,
        [(facility_node[members[i]], leg_cost[members[i]]) for i in searched],
        max_dist=max_cost, lower=lower_bound)
    o_cost = _leg_cost(origin_leg, weight, leg_speed_kmh)
    ok = origin_node >= 0
    o_node = origin_node[ok]
    cost = np.full((len(categories), len(origin_node)), np.inf)
    fac = np.full((len(categories), len(origin_node)), -1, dtype=np.int64)
    for row, i in enumerate(searched):
        idx = members[i]
        c = node_cost[row, o_node] + o_cost[ok]
        nr = node_near[row, o_node]
        within = np.isfinite(c) & (c <= max_cost)
        cost[i, ok] = np.where(within, c, np.inf)
        fac[i, ok] = np.where(within, idx[np.maximum(nr, 0)], -1)
    return Nearest(categories=categories, cost=cost, facility=fac)


def k_nearest_facilities(
    net: StreetNetwork,
    origin_node: np.ndarray,
    origin_leg_m: np.ndarray,
    facility_node: np.ndarray,
    facility_leg_m: np.ndarray,
    k: int,
    *,
    max_cost: float = np.inf,
    weight: str = "length_m",
    leg_speed_kmh: float = 4.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest facilities (of one set, e.g. one category) of every origin.

    Returns
    -------
    cost : numpy.ndarray
        ``(n_origins, k)`` ascending, legs included; inf where fewer than ``k`` in reach.
    facility : numpy.ndarray
        ``(n_origins, k)`` indices into the facility arrays, -1 where none.
    """
    origin_node, origin_leg = _check_points(net, origin_node, origin_leg_m, "origins")
    facility_node, facility_leg = _check_points(net, facility_node, facility_leg_m,
                                                "facilities")
    idx = np.flatnonzero(facility_node >= 0)
    w = net.weights(weight)
    lab_d, lab_s = _dijkstra.k_nearest(
        net.indptr, net.indices, w, facility_node[idx],
        _leg_cost(facility_leg[idx], weight, leg_speed_kmh), k, max_dist=max_cost)
    n = len(origin_node)
    cost = np.full((n, k), np.inf)
    fac = np.full((n, k), -1, dtype=np.int64)
    ok = origin_node >= 0
    c = lab_d[origin_node[ok]] + _leg_cost(origin_leg[ok], weight, leg_speed_kmh)[:, None]
    s = lab_s[origin_node[ok]]
    within = np.isfinite(c) & (c <= max_cost)
    # adding the same leg to a sorted row keeps it sorted; the limit may cut its tail
    cost[ok] = np.where(within, c, np.inf)
    fac[ok] = np.where(within & (s >= 0), idx[np.maximum(s, 0)] if len(idx) else -1, -1)
    return cost, fac


def od_pairs(
    net: StreetNetwork,
    from_node: np.ndarray,
    from_leg_m: np.ndarray,
    to_node: np.ndarray,
    to_leg_m: np.ndarray,
    *,
    max_cost: float,
    weight: str = "length_m",
    leg_speed_kmh: float = 4.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (from, to) pair with a trip cost within ``max_cost``, legs included.

    One bounded search forward from each ``from`` point, so one-way streets are
    respected on a driving network.

    Parameters
    ----------
    net
        The street network.
    from_node, from_leg_m, to_node, to_leg_m
        Snapped node (-1 = unreachable) and straight leg of each point.
    max_cost
        Limit in metres (``weight="length_m"``) or seconds (``"time_s"``), finite.
    weight, leg_speed_kmh
        Arc weight, and the speed on the straight legs when it is ``"time_s"``.

    Returns
    -------
    from_idx, to_idx, cost : numpy.ndarray
        Parallel arrays, sorted by ``from`` then ``to``.
    """
    from_node, from_leg = _check_points(net, from_node, from_leg_m, "from points")
    to_node, to_leg = _check_points(net, to_node, to_leg_m, "to points")
    fidx = np.flatnonzero(from_node >= 0)
    s, v, d = _dijkstra.bounded_from_each(
        net.indptr, net.indices, net.weights(weight), from_node[fidx],
        _leg_cost(from_leg[fidx], weight, leg_speed_kmh), max_dist=max_cost)
    # destinations grouped by node: node -> to[ptr[node]:ptr[node+1]]
    tidx = np.flatnonzero(to_node >= 0)
    order = tidx[np.argsort(to_node[tidx], kind="stable")]
    ptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(to_node[tidx], minlength=net.n_nodes), out=ptr[1:])
    reps = ptr[v + 1] - ptr[v]
    pair_from = np.repeat(fidx[s], reps)
    pair_cost = np.repeat(d, reps)
    starts = np.repeat(ptr[v], reps)
    within = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    pair_to = order[starts + within]
    pair_cost = pair_cost + _leg_cost(to_leg, weight, leg_speed_kmh)[pair_to]
    keep = pair_cost <= max_cost
    pair_from, pair_to, pair_cost = pair_from[keep], pair_to[keep], pair_cost[keep]
    srt = np.lexsort((pair_to, pair_from))
    return pair_from[srt], pair_to[srt], pair_cost[srt]


def catchment_pairs(
    net: StreetNetwork,
    facility_node: np.ndarray,
    facility_leg_m: np.ndarray,
    origin_node: np.ndarray,
    origin_leg_m: np.ndarray,
    *,
    max_dist_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (facility, origin) pair within ``max_dist_m`` walking, legs included.

    One bounded search from each facility (:func:`od_pairs` on arc lengths): the
    catchments of a two-step floating catchment area (2SFCA) analysis.

    Returns
    -------
    facility, origin, dist_m : numpy.ndarray
        Parallel arrays, sorted by facility then origin.
    """
    return od_pairs(net, facility_node, facility_leg_m, origin_node, origin_leg_m,
                    max_cost=max_dist_m)
