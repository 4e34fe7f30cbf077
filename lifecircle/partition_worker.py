"""The task of a partitioned run: one partition routed on a Dask worker.

:func:`run_partition` snaps and routes the cells a partition owns on the
networks read by window for its box; :func:`partition_catchments` answers the 2SFCA
catchments of its facilities. Both take a :class:`PartitionSpec`, which the
driver (:mod:`lifecircle.partition`) builds and sends. A worker process imports
this module and what routing needs (:mod:`lifecircle.routing`, the engine's
networks and searches), not the loaders, the targets engine or the report stack
the driver uses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import resource
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.spatial import cKDTree

from access import _dijkstra
from access.i18n import say
from access.network import CachedNetwork, StreetNetwork, load_network, open_cached
from access.travel import catchment_pairs
from lifecircle.routing import (
    TravelSettings,
    k_nearest_table,
    least_cost_per_m,
    routed_arrays,
    snap_to_networks,
)

__all__ = ["PARTITION_VERSION", "PartitionSpec", "internal_column", "partition_catchments",
           "run_partition", "warm_up"]

#: Part of every partition's cache key: bump when a partition's results change meaning
#: or form.
PARTITION_VERSION = 5

log = logging.getLogger(__name__)


@dataclass
class PartitionSpec:
    """Everything one partition task reads (picklable; sent to a worker).

    ``cell_*`` hold every analysis cell inside the partition's walking box (its own
    cells, ``owned``, and the halo its facilities' catchments may reach);
    ``fac_*`` every facility inside its widest box, ``fac_owned`` marks its own.
    ``*_pos`` are positions in the driver's cell and facility tables.
    """

    name: str
    network_path: str
    network_sha256: str
    crs_wkt: str
    modes: tuple[str, ...]
    bbox_lonlat: dict[str, tuple[float, float, float, float]]
    buffer_m: dict[str, float]
    cell_pos: np.ndarray
    cell_x: np.ndarray
    cell_y: np.ndarray
    cell_id: np.ndarray
    owned: np.ndarray
    fac_pos: np.ndarray
    fac_x: np.ndarray
    fac_y: np.ndarray
    fac_category: np.ndarray
    fac_id: np.ndarray
    fac_owned: np.ndarray
    categories: list[str]
    travel: TravelSettings
    snap_max_dist_m: float
    use_cache: bool = True
    key: str = ""
    fac_outline: np.ndarray | None = None

    def checksum(self) -> str:
        """SHA-256 of the partition's inputs and parameters (its cache key)."""
        h = hashlib.sha256()
        head = {"v": PARTITION_VERSION, "sha": self.network_sha256, "crs": self.crs_wkt,
                "modes": list(self.modes), "bbox": self.bbox_lonlat,
                "cats": list(self.categories), "snap": self.snap_max_dist_m,
                "travel": [self.travel.walk_speed_kmh, self.travel.max_walk_dist_m,
                           self.travel.k_nearest, self.travel.drive_leg_speed_kmh,
                           self.travel.max_drive_time_min, self.travel.max_ebike_time_min]}
        h.update(json.dumps(head, sort_keys=True).encode())
        for a in (self.cell_pos, self.cell_x, self.cell_y, self.cell_id, self.owned,
                  self.fac_pos, self.fac_x, self.fac_y, self.fac_owned):
            h.update(np.ascontiguousarray(a).tobytes())
        for a in (self.fac_category, self.fac_id):
            h.update("\x1f".join(map(str, a)).encode())
        if self.fac_outline is not None:
            h.update(b"".join(shapely.to_wkb(g) if isinstance(g, shapely.Geometry) else b"-"
                              for g in self.fac_outline))
        return h.hexdigest()


# ---------------------------------------------------------------------------
# the task a worker runs
# ---------------------------------------------------------------------------
#: The cache entries of whole networks this worker opened (key: file hash, CRS, mode):
#: memory maps, from which each partition reads its window.
_OPENED: dict[tuple[str, str, str], CachedNetwork] = {}


def _opened(spec: PartitionSpec, mode: str) -> CachedNetwork | None:
    """The cache entry of ``mode``'s whole network, opened once per worker (None when
    the cache has no usable entry)."""
    key = (spec.network_sha256, spec.crs_wkt, mode)
    if key not in _OPENED:
        opened = open_cached(spec.network_sha256, mode, CRS.from_wkt(spec.crs_wkt))
        if opened is None:
            return None
        _OPENED[key] = opened
    return _OPENED[key]


def _weight(mode: str) -> str:
    """The arc cost a mode is searched by (:func:`lifecircle.routing.routed_arrays`)."""
    return "length_m" if mode == "walk" else "time_s"


def _networks(spec: PartitionSpec) -> tuple[dict[str, StreetNetwork], dict[str, float | None]]:
    """The partition's networks, and per mode a least cost per metre of straight line
    that bounds them (:func:`lifecircle.routing.least_cost_per_m`; None: work it out).

    Each mode's network is read by window from the cache entry of its whole network
    (written and checked by the driver before any partition starts): the nodes in the
    mode's box and the arcs between them, nothing else, and the bound is the whole
    network's, stored in the entry. Without the cache, or should the entry be gone,
    the mode is read from the file, clipped to its box while reading.
    """
    crs = CRS.from_wkt(spec.crs_wkt)
    nets: dict[str, StreetNetwork] = {}
    bounds: dict[str, float | None] = {}
    for m in spec.modes:
        opened = _opened(spec, m) if spec.use_cache else None
        if opened is None:
            if spec.use_cache:
                log.warning(say("log_window_from_file", mode=say(m), partition=spec.name))
            nets[m] = load_network(spec.network_path, m, crs=crs, use_cache=False,
                                   bbox_lonlat=spec.bbox_lonlat[m],
                                   source_sha256=spec.network_sha256)
            bounds[m] = None
        else:
            nets[m] = opened.window(spec.bbox_lonlat[m])
            bounds[m] = least_cost_per_m(opened, _weight(m))
    return nets, bounds


def _facilities_frame(spec: PartitionSpec) -> pd.DataFrame:
    return pd.DataFrame({"facility_id": spec.fac_id, "category": spec.fac_category,
                         "x": spec.fac_x, "y": spec.fac_y})


def internal_column(column: str) -> bool:
    """Graph node indices: meaningful only inside one partition's networks."""
    return column == "node" or column.endswith("_node")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_partition(spec: PartitionSpec) -> dict[str, Any]:
    """Route one partition: snapping and routed columns of its own cells and facilities.

    The spec's ``modes`` are routed: every mode of one partition, or (a spec for
    several partitions at once) time modes only, whose walking columns then stay
    unreached and whose result has no k-nearest table.

    Returns
    -------
    dict
        ``cells`` (column -> array: ``pos`` and the snapping columns), ``routed`` (a
        :class:`~lifecircle.routing.RoutedArrays` of the own cells, its ``nearest``
        given as positions in the driver's facility table, holding only the rows
        ``number_rows`` of ``numbers`` and ``nearest_rows`` of ``nearest``: the
        others reached no cell), ``facilities`` (``pos``
        and snapping columns), ``k_nearest``, ``networks`` (nodes and arcs per mode),
        ``seconds`` and ``peak_rss_mb`` of the worker. Arrays, not frames: they travel
        to the driver and the partition cache as plain buffers.
    """
    t0 = time.perf_counter()
    networks, prune = _networks(spec)
    own = np.flatnonzero(spec.owned)
    cells = pd.DataFrame({"cell_id": spec.cell_id[own]})
    snap_max = spec.snap_max_dist_m
    for k, v in snap_to_networks(networks, spec.cell_x[own], spec.cell_y[own],
                                 max_dist_m=snap_max).items():
        cells[k] = v
    fac = _facilities_frame(spec)
    for k, v in snap_to_networks(networks, spec.fac_x, spec.fac_y, max_dist_m=snap_max,
                                 outlines=spec.fac_outline).items():
        fac[k] = v
    # the networks reach a buffer beyond the cells: searches skip what cannot come back
    routed = routed_arrays(networks, cells, fac, spec.categories, travel=spec.travel,
                           prune=prune)
    # the facility rows of this partition -> the driver's (-1, none, stays -1)
    routed.nearest = np.append(spec.fac_pos, -1)[routed.nearest]
    # rows no cell reached (a category without facilities here, by every mode) travel
    # as their numbers only: the driver's arrays start unreached
    number_rows = np.flatnonzero(np.isfinite(routed.numbers).any(axis=1))
    nearest_rows = np.flatnonzero((routed.nearest >= 0).any(axis=1))
    routed.numbers, routed.nearest = routed.numbers[number_rows], routed.nearest[nearest_rows]
    k_table = (k_nearest_table(networks["walk"], cells, fac, spec.categories,
                               travel=spec.travel) if "walk" in networks else pd.DataFrame())
    out_cells = {"pos": spec.cell_pos[own],
                 **{k: np.asarray(v) for k, v in cells.items()
                    if k != "cell_id" and not internal_column(k)}}
    fo = np.flatnonzero(spec.fac_owned)
    out_fac = fac.iloc[fo].drop(columns=["facility_id", "category", "x", "y",
                                         *[c for c in fac.columns if internal_column(c)]])
    out_fac.insert(0, "pos", spec.fac_pos[fo])
    return {"name": spec.name, "cells": out_cells, "routed": routed,
            "number_rows": number_rows, "nearest_rows": nearest_rows,
            "facilities": out_fac.reset_index(drop=True), "k_nearest": k_table,
            "networks": {m: {"nodes": n.n_nodes, "arcs": n.n_arcs}
                         for m, n in networks.items()},
            "seconds": time.perf_counter() - t0, "peak_rss_mb": _peak_rss_mb()}


def partition_catchments(spec: PartitionSpec, category: str, max_dist_m: float,
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Catchment pairs of the partition's own facilities of ``category``.

    Returns ``(facility_pos, cell_pos, dist_m)`` in the driver's tables. The
    networks come from the on-disk cache the partition's routing task wrote.

    Only the cells that may lie within ``max_dist_m`` are snapped and searched: a
    walk from a facility's node to a cell is at least the network's least cost per
    metre (``least_cost_per_m``, at most 1) times the straight line between them, so
    a cell farther than ``max_dist_m`` over that from every facility node has no pair.
    """
    if max_dist_m > spec.buffer_m["walk"]:
        raise ValueError(f"catchment radius {max_dist_m:g} m exceeds the partition buffer "
                         f"{spec.buffer_m['walk']:g} m")
    sel = np.flatnonzero(spec.fac_owned & (spec.fac_category == category))
    empty = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    if not len(sel):
        return empty
    nets, bounds = _networks(replace(spec, modes=("walk",)))
    walk = {"walk": nets["walk"]}
    f = snap_to_networks(walk, spec.fac_x[sel], spec.fac_y[sel], max_dist_m=spec.snap_max_dist_m,
                         outlines=None if spec.fac_outline is None else spec.fac_outline[sel])
    f_node = f["node"][f["node"] >= 0]
    if not len(f_node):
        return empty
    per_m = bounds["walk"]
    per_m = min(least_cost_per_m(nets["walk"], "length_m") if per_m is None else per_m, 1.0)
    near = np.arange(len(spec.cell_x))
    if per_m > 0:
        tree = cKDTree(np.column_stack([nets["walk"].x[f_node], nets["walk"].y[f_node]]))
        reach = max_dist_m / per_m
        d_near, _ = tree.query(np.column_stack([spec.cell_x, spec.cell_y]), k=1,
                               distance_upper_bound=np.nextafter(reach, np.inf))
        near = np.flatnonzero(d_near <= reach)
    c = snap_to_networks(walk, spec.cell_x[near], spec.cell_y[near],
                         max_dist_m=spec.snap_max_dist_m)
    fi, ci, d = catchment_pairs(walk["walk"], f["node"], f["snap_dist_m"], c["node"],
                                c["snap_dist_m"], max_dist_m=max_dist_m)
    return spec.fac_pos[sel][fi], spec.cell_pos[near[ci]], d


def warm_up(threads: bool = True) -> None:
    """Set how this worker searches several categories (parallel threads or one after
    another, :func:`access._dijkstra.use_threads`) and load the routing kernels from
    numba's on-disk cache (``cache=True``) with the argument types of a partition's
    networks (int64 offsets, int32 heads, float64 weights), so the first partition
    does not wait for them. It also loads the snapping trees' module (SciPy's KD-tree).

    With ``threads=False`` only kernels that start no threads are loaded: that is
    what the process local workers are forked from runs
    (:mod:`lifecircle.worker_process`), and a process that has started OpenMP
    threads cannot fork safely.
    """
    _dijkstra.use_threads(threads)
    indptr, indices = np.array([0, 1, 2], np.int64), np.array([1, 0], np.int32)
    w, node, leg = np.ones(2), np.zeros(1, np.int64), np.zeros(1)
    _dijkstra.multi_source_many(indptr, indices, w, [(node, leg), (node, leg)], max_dist=10.0)
    _dijkstra.k_nearest(indptr, indices, w, node, leg, 1, max_dist=10.0)
    _dijkstra.bounded_from_each(indptr, indices, w, node, leg, max_dist=10.0)
    cKDTree(np.zeros((2, 2))).query(np.zeros((1, 2)), k=1)
