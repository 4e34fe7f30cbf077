"""Partitioned runs: a large study area cut into counties or tiles, routed on Dask.

:func:`run_partitioned` gives the same :class:`~lifecircle.pipeline.RunResult` as
:func:`lifecircle.pipeline.run`, cell for cell and target for target, but routes
each partition as a separate task on a ``dask.distributed`` cluster (a
``LocalCluster`` by default, or a running scheduler given by its address):

1. every cell of the study area and every facility is owned by one partition: the
   unit of the chosen level containing it (the nearest unit for the few edge cells
   whose centre lies in none), or a square tile;
2. the driver makes sure the network cache holds a sound entry for every mode's
   whole network (one pass over the OSM file for all modes when it does not); each
   partition reads from it, by window, its cells' bounding box plus a buffer of the
   longest trip a search may take (the walking search limit, or the time limit at
   the network's top speed) plus the snapping distance, so every route that can
   count lies inside and its results are exact; it snaps and routes its own cells
   and returns their columns. A time mode whose buffer is long against the
   partitions is routed by a task per group of neighbouring partitions instead
   (:func:`_groups`);
3. partitioned by units, the tasks are sent as soon as the cells and facilities are
   known, and the driver reads the population while they run;
4. the driver merges the cells (each mode of each cell from the one task that
   routed it), then assigns units and evaluates the targets on the merged cells;
   2SFCA catchments are asked of the partitions owning the facilities, on the same
   cluster.

The task itself, and what a worker process imports, is
:mod:`lifecircle.partition_worker`; the process local workers are forked from, and
the local cluster, are started by :mod:`lifecircle.workers`.

Before any partition starts, the run checks what would make one fail: a scheduler
that cannot be reached, unit polygons that leave part of the study area
uncovered, a partition with no street near its cells. Finished partitions are
kept on disk under the SHA-256 of everything they read (network file content,
cells, facilities, settings), so a run that was interrupted resumes where it
stopped; a task whose worker dies is run again on another worker.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from access.crs import WGS84
from access.errors import ConfigError, PartitionError, SchedulerUnreachableError
from access.i18n import bar as i18n_bar
from access.i18n import say
from access.modes import TIME_MODES
from access.network import (
    cache_dir,
    cache_networks,
    file_sha256,
)
from access.osm import EBIKE_HIGHWAY_SPEED_KMH, StreetExtent, street_extent
from access.rejects import RejectLog
from access.targets import load_catalogue
from access.targets.gaps import load_kernels as load_gap_kernels
from facilities import load_facilities, load_taxonomy
from gridded_pop import GridSpec, PopulationGrid, area_cells_mask, build_population
from lifecircle.partition_worker import (
    PartitionSpec,
    partition_catchments,
    run_partition,
)
from lifecircle.pipeline import (
    STAGES,
    RunResult,
    _Clock,
    _metric_crs,
    _outline_to_wkt,
    _xy,
    analysis_cells,
    assign_units,
    completeness_and_targets,
    label_unnamed,
    modes_to_build,
    polygon_of_points,
    read_units,
    reject_unreachable,
    routed_categories,
    study_boundary,
    with_search_limits,
)
from lifecircle.routing import RoutedArrays, number_columns, snap_columns, time_mode_limits
from lifecircle.study_area import StudyArea
from lifecircle.workers import (
    ClusterOptions,
    StartingCluster,
    close_cluster,
    local_cluster,
    local_threads,
    take_early_cluster,
)

__all__ = ["PartitionOptions", "PartitionSpec", "partition_catchments", "run_partition",
           "run_partitioned"]

log = logging.getLogger(__name__)

#: Haversine arc lengths and UTM straight legs differ by up to ~0.1% (UTM scale
#: factor); the buffer is widened by this factor so no route that counts is cut.
_BUFFER_SAFETY = 1.05


@dataclass(frozen=True)
class PartitionOptions:
    """How to cut and where to run a partitioned run.

    Attributes
    ----------
    by
        A ``[[units]]`` level of the study area (e.g. ``"county"``), or ``"tiles"``.
    tile_km
        Side of a square tile (``by="tiles"``).
    workers
        Worker processes of the local cluster (ignored with ``scheduler``).
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); None starts a
        ``LocalCluster``.
    cache_dir
        Folder of finished partitions; default ``<network cache>/partitions``.
    worker_memory
        Memory limit per local worker (Dask syntax, e.g. ``"3GB"``), ``"auto"``
        shares the machine's memory.
    connect_timeout_s
        How long to try reaching ``scheduler`` before giving up.
    group_buffers
        A time mode whose buffer is long against the partitions is routed for groups
        of partitions at once, in squares of this many buffers' side (a driving buffer
        of 11 km around 15 km counties: one search for four counties instead of four
        that each reach over most of them); 0 routes every mode partition by
        partition. Walking is always routed by partition.
    """

    by: str = "county"
    tile_km: float = 20.0
    workers: int = 2
    scheduler: str | None = None
    cache_dir: Path | None = None
    worker_memory: str = "auto"
    connect_timeout_s: float = 10.0
    group_buffers: float = 4.0




# ---------------------------------------------------------------------------
# the driver
# ---------------------------------------------------------------------------
def _connect(options: PartitionOptions) -> tuple[Any, Any]:
    """``(client, cluster)``: a client of ``options.scheduler`` (cluster None), or of a
    new ``LocalCluster`` (:func:`lifecircle.workers.local_cluster`)."""
    if not options.scheduler:
        return local_cluster(_cluster_options(options))
    from distributed import Client

    try:
        return Client(options.scheduler, timeout=f"{options.connect_timeout_s}s"), None
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachableError(
            f"cannot reach the Dask scheduler at {options.scheduler} ({exc})") from None


def _cluster_options(options: PartitionOptions) -> ClusterOptions:
    return ClusterOptions(workers=options.workers, worker_memory=options.worker_memory)


def _start_cluster(options: PartitionOptions) -> StartingCluster:
    """The run's cluster, starting in the background: the local one the ``lifecircle``
    command started before it imported the library, when it is for these options
    (:func:`lifecircle.workers.start_cluster_early`), else a new one. Remote workers,
    and local ones with cores of their own, search categories in parallel threads."""
    if not options.scheduler:
        early = take_early_cluster(_cluster_options(options))
        if early is not None:
            return early
    threads = bool(options.scheduler) or local_threads(options.workers)
    return StartingCluster(partial(_connect, options), threads=threads)


def _check_scheduler(options: PartitionOptions) -> None:
    """Fail now, before reading any input, when the scheduler cannot be reached."""
    if options.scheduler:
        close_cluster(*_connect(options))


def _extent(path: Path, sha: str, use_cache: bool) -> StreetExtent:
    """:func:`access.osm.street_extent`, cached by the file's content hash."""
    entry = cache_dir() / f"extent-{sha[:32]}.npz"
    if use_cache and entry.exists():
        with np.load(entry) as z:
            return StreetExtent(lon=z["lon"], lat=z["lat"],
                                max_drive_speed_kmh=float(z["vmax"]),
                                step_deg=float(z["step"]))
    ext = street_extent(path)
    if use_cache:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp = entry.with_suffix(".tmp.npz")
            np.savez(tmp, lon=ext.lon, lat=ext.lat, vmax=ext.max_drive_speed_kmh,
                     step=ext.step_deg)
            tmp.replace(entry)
        except OSError as exc:
            log.warning(say("log_cache_write", entry=entry, why=exc))
    return ext


def _buffers(area: StudyArea, ext: StreetExtent, modes: list[str]) -> dict[str, float]:
    """Per mode, how far beyond a partition's cells a counted route may go (m)."""
    tr, snap = area.travel, area.network.snap_max_dist_m
    out = {}
    for m in modes:
        if m == "walk":
            out[m] = tr.max_walk_dist_m * _BUFFER_SAFETY + snap
            continue
        limit_min, leg_kmh = time_mode_limits(m, tr)
        if m == "drive":
            top = ext.max_drive_speed_kmh if np.isfinite(ext.max_drive_speed_kmh) else 0.0
        else:
            top = max(EBIKE_HIGHWAY_SPEED_KMH.values())
        out[m] = limit_min / 60.0 * max(top, leg_kmh) * 1000.0 * _BUFFER_SAFETY + snap
    return out


def _owners(area: StudyArea, options: PartitionOptions, boundary: shapely.Geometry,
            unit_polygons: dict[str, gpd.GeoDataFrame], spec: GridSpec,
            cells: pd.DataFrame, fx: np.ndarray, fy: np.ndarray, sx: np.ndarray,
            sy: np.ndarray, step_m: float,
            ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Partition names, the partition owning each cell and each facility, and
    whether street points (``sx, sy``, one per square of ``step_m``) lie inside each
    partition (tiles: within one square of it)."""
    cx, cy = cells["x"].to_numpy(), cells["y"].to_numpy()
    if options.by == "tiles":
        size = options.tile_km * 1000.0
        if not size > 0:
            raise ConfigError(f"tile size must be positive, got {options.tile_km:g} km",
                              key="--tile-km")
        x0, y1 = spec.x_min, spec.y_max
        n_cols = max(1, int(np.ceil(spec.n_cols * spec.cell_size_m / size)))

        def tile(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            c = np.clip(((x - x0) // size).astype(np.int64), 0, None)
            r = np.clip(((y1 - y) // size).astype(np.int64), 0, None)
            return r * n_cols + c

        tc, tf = tile(cx, cy), tile(fx, fy)
        used, inverse = np.unique(np.concatenate([tc, tf]), return_inverse=True)
        names = [f"tile_r{t // n_cols}_c{t % n_cols}" for t in used]
        x_max, y_min = x0 + spec.n_cols * spec.cell_size_m, y1 - spec.n_rows * spec.cell_size_m
        # a street point counts for every tile within one extent square of it: the
        # points are one per square, and edge tiles may be slivers of the grid
        tol = step_m
        inside = (sx >= x0 - tol) & (sx <= x_max + tol) & (sy >= y_min - tol) & (sy <= y1 + tol)
        px, py = sx[inside], sy[inside]
        ts = np.unique(np.concatenate([tile(px + dx, py + dy) for dx in (-tol, 0.0, tol)
                                       for dy in (-tol, 0.0, tol)]))
        streets = np.isin(used, ts).astype(np.int64)
        return names, inverse[:len(tc)], inverse[len(tc):], streets
    if options.by not in unit_polygons:
        levels = ", ".join(unit_polygons) or "none"
        raise ConfigError(f"no [[units]] of level '{options.by}' to partition by (levels: "
                          f"{levels}); use a level or 'tiles'", path=area.path,
                          key="--partition")
    units = unit_polygons[options.by]
    upath = next(u.path for u in area.units if u.level == options.by)
    geoms = shapely.make_valid(units.geometry.to_numpy())
    covered = shapely.union_all(geoms)
    gap = shapely.difference(boundary, covered)
    gap_m2 = float(shapely.area(gap))
    if gap_m2 > 1e-4 * float(boundary.area):
        c = shapely.point_on_surface(gap)
        lon, lat = Transformer.from_crs(units.crs, WGS84, always_xy=True).transform(c.x, c.y)
        raise PartitionError(
            f"the {options.by} units do not cover the study area: {gap_m2 / 1e6:.2f} km² "
            f"({gap_m2 / boundary.area:.1%}) of it lies in no unit, e.g. near "
            f"{lon:.4f}, {lat:.4f}", path=upath, column=options.by)
    tree = shapely.STRtree(geoms)

    def owner(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = polygon_of_points(geoms, x, y)
        rest = np.flatnonzero(out < 0)  # edge cells whose centre lies outside every unit
        if len(rest):
            pi, ui = tree.query_nearest(shapely.points(x[rest], y[rest]), all_matches=False)
            out[rest[pi]] = ui
        return out

    oc, of = owner(cx, cy), owner(fx, fy)
    used, inverse = np.unique(np.concatenate([oc, of]), return_inverse=True)
    ids = units["unit_id"].to_numpy()
    names = [str(ids[u]) for u in used]
    street_unit = polygon_of_points(geoms, sx, sy)
    in_unit = np.bincount(street_unit[street_unit >= 0], minlength=len(geoms))
    return names, inverse[:len(oc)], inverse[len(oc):], in_unit[used]


def _lonlat_box(crs: CRS, x0: float, y0: float, x1: float, y1: float,
                ) -> tuple[float, float, float, float]:
    """Longitude/latitude box enclosing a metric box (edges densified)."""
    t = np.linspace(0.0, 1.0, 33)
    xs = np.concatenate([x0 + (x1 - x0) * t, np.full(33, x1), x1 - (x1 - x0) * t,
                         np.full(33, x0)])
    ys = np.concatenate([np.full(33, y0), y0 + (y1 - y0) * t, np.full(33, y1),
                         y1 - (y1 - y0) * t])
    lon, lat = Transformer.from_crs(crs, WGS84, always_xy=True).transform(xs, ys)
    pad = 1e-6
    return (float(np.min(lon)) - pad, float(np.min(lat)) - pad, float(np.max(lon)) + pad,
            float(np.max(lat)) + pad)


def _groups(boxes: np.ndarray, buffer_m: float, group_buffers: float) -> list[np.ndarray]:
    """Which partitions route a time mode together: those whose box centre lies in the
    same square of side ``group_buffers`` × ``buffer_m``; each alone when that square
    is not at least 1.5 times the partitions' side (groups of two or more), or
    ``group_buffers`` is 0.

    A partition's routing covers its box grown by the buffer on every side, so for a
    box of side ``s`` it costs ``(1 + 2 b / s)²`` times the routing of the box alone.
    A group whose side is ``k`` buffers pays at most ``(1 + 2 / k)²`` (2.25× for
    ``k = 4``), whatever the size of the partitions: the driving buffer of a 15 min
    drive (16 km) around 15 km counties makes each route 9× its own area alone.
    """
    side = group_buffers * buffer_m
    n = len(boxes)
    sizes = np.sqrt(np.maximum(boxes[:, 2] - boxes[:, 0], 1.0)
                    * np.maximum(boxes[:, 3] - boxes[:, 1], 1.0))
    if not side > 0 or n < 2 or side < 1.5 * float(np.median(sizes)):
        return [np.array([k]) for k in range(n)]
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2.0, (boxes[:, 1] + boxes[:, 3]) / 2.0
    key = (np.floor((cx - cx.min()) / side).astype(np.int64) * (n + 1)
           + np.floor((cy - cy.min()) / side).astype(np.int64))
    return [np.flatnonzero(key == k) for k in np.unique(key)]


def _specs(area: StudyArea, crs: CRS, names: list[str], cell_owner: np.ndarray,
           fac_owner: np.ndarray, streets: np.ndarray, cells: pd.DataFrame,
           fac: pd.DataFrame, categories: list[str], buffers: dict[str, float], sha: str,
           use_cache: bool, by_tiles: bool, group_buffers: float = 0.0,
           ) -> tuple[list[PartitionSpec], list[PartitionSpec]]:
    """The tasks of a run: one spec per partition, which routes walking and the time
    modes routed partition by partition, and one per group of partitions routing a
    time mode together (:func:`_groups`). Raises when a partition has no street
    inside it (a tile only when residents live in it: tiles need
    ``cells["pop_total"]``).

    Returns
    -------
    partitions, groups
        The specs of the partitions (in the order of ``names``; they also answer the
        2SFCA catchments) and of the groups.
    """
    cx, cy = cells["x"].to_numpy(), cells["y"].to_numpy()
    cid = cells["cell_id"].to_numpy()
    pop = cells["pop_total"].to_numpy() if "pop_total" in cells else None
    fx, fy = _xy(fac)
    fcat = fac["category"].to_numpy(dtype=object)
    outline = fac["outline"].to_numpy(dtype=object) if "outline" in fac else None
    fid = fac["facility_id"].to_numpy(dtype=object)
    boxes = np.zeros((len(names), 4))
    for p, name in enumerate(names):
        own_c = cell_owner == p
        own_f = fac_owner == p
        xs = np.concatenate([cx[own_c], fx[own_f]])
        ys = np.concatenate([cy[own_c], fy[own_f]])
        boxes[p] = xs.min(), ys.min(), xs.max(), ys.max()
        need = (own_c & (pop > 0)).any() if by_tiles and pop is not None else own_c.any()
        if need and streets[p] == 0:
            residents = "" if pop is None else f", {float(pop[own_c].sum()):,.0f} residents"
            raise PartitionError(
                f"partition '{name}' has no street inside it ({int(own_c.sum())} cells"
                f"{residents}): the network file does not cover it",
                path=area.network.path, column="network")
    grouped = {m: g for m in buffers if m != "walk"
               for g in [_groups(boxes, buffers[m], group_buffers)] if len(g) < len(names)}

    def spec(name: str, modes: tuple[str, ...], own_c: np.ndarray, own_f: np.ndarray,
             box: np.ndarray) -> PartitionSpec:
        x0, y0, x1, y1 = box
        bufs = {m: buffers[m] for m in modes}
        cpos = np.flatnonzero(own_c)
        if "walk" in modes:  # the cells the catchments of its facilities may reach
            b = bufs["walk"]
            cpos = np.flatnonzero(own_c | ((cx >= x0 - b) & (cx <= x1 + b) & (cy >= y0 - b)
                                           & (cy <= y1 + b)))
        wide = max(bufs.values())
        fpos = np.flatnonzero(own_f | ((fx >= x0 - wide) & (fx <= x1 + wide)
                                       & (fy >= y0 - wide) & (fy <= y1 + wide)))
        s = PartitionSpec(
            name=name, network_path=str(area.network.path), network_sha256=sha,
            crs_wkt=crs.to_wkt(), modes=modes,
            bbox_lonlat={m: _lonlat_box(crs, x0 - b, y0 - b, x1 + b, y1 + b)
                         for m, b in bufs.items()},
            buffer_m=bufs, cell_pos=cpos, cell_x=cx[cpos], cell_y=cy[cpos],
            cell_id=cid[cpos], owned=own_c[cpos], fac_pos=fpos, fac_x=fx[fpos],
            fac_y=fy[fpos], fac_category=fcat[fpos], fac_id=fid[fpos],
            fac_outline=None if outline is None else outline[fpos],
            fac_owned=own_f[fpos], categories=list(categories), travel=area.travel,
            snap_max_dist_m=area.network.snap_max_dist_m, use_cache=use_cache)
        s.key = s.checksum()
        return s

    alone = tuple(m for m in buffers if m not in grouped)
    parts = [spec(name, alone, cell_owner == p, fac_owner == p, boxes[p])
             for p, name in enumerate(names)]
    groups = []
    for m, gs in grouped.items():
        for g in gs:
            box = np.array([boxes[g, 0].min(), boxes[g, 1].min(), boxes[g, 2].max(),
                            boxes[g, 3].max()])
            label = names[g[0]] if len(g) == 1 else f"{names[g[0]]}+{len(g) - 1}"
            groups.append(spec(f"{m}:{label}", (m,), np.isin(cell_owner, g),
                               np.isin(fac_owner, g), box))
    return parts, groups


def _cache_root(options: PartitionOptions) -> Path:
    return Path(options.cache_dir) if options.cache_dir else cache_dir() / "partitions"


def _read_cached(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)  # our own cache folder, written by this module
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
        log.warning(say("log_partition_cache_bad", path=path, why=exc))
        return None


def _write_cached(path: Path, result: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError as exc:
        log.warning(say("log_partition_keep_failed", path=path, why=exc))


class _Pending:
    """Partitions sent to the cluster; their results collected later (:meth:`collect`).

    Finished partitions kept in the cache (``root``, None for none) are taken from
    there at once and given to ``on_result``. The others are submitted from a
    background thread as soon as the cluster is up, so the driver can go on (reading
    the population) while they run.
    """

    def __init__(self, starting: StartingCluster, specs: list[PartitionSpec],
                 root: Path | None, *, task: Callable[[PartitionSpec], dict[str, Any]],
                 on_result: Callable[[dict[str, Any]], None]) -> None:
        self._specs, self._root, self._task, self._on_result = specs, root, task, on_result
        self._starting = starting
        self.results: list[dict[str, Any] | None] = [None] * len(specs)
        self._todo = []
        for i, s in enumerate(specs):
            hit = _read_cached(root / f"{s.key}.pkl") if root is not None else None
            if hit is not None:
                self.results[i] = hit
                on_result(hit)
            else:
                self._todo.append(i)
        if len(specs) - len(self._todo):
            log.info(say("log_partitions_cached", n=len(specs) - len(self._todo),
                         total=len(specs), root=root))
        self._futures: dict[Any, int] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._submit, name="lifecircle-submit",
                                        daemon=True)
        self._thread.start()

    def _submit(self) -> None:
        try:
            client = self._starting.client()
            self._futures = {
                client.submit(self._task, self._specs[i],
                              key=f"partition-{self._specs[i].key[:24]}", retries=2,
                              pure=False): i
                for i in self._todo}
        except BaseException as exc:  # re-raised by collect(), in the driver's thread
            self._error = exc

    def cancel(self) -> None:
        """Stop the partitions not finished (their results are not wanted)."""
        self._thread.join()
        if self._futures:
            self._starting.client().cancel(list(self._futures))

    def collect(self, *, progress: bool) -> list[dict[str, Any]]:
        """Every partition's result, in the order of the specs; each is given to
        ``on_result`` as it comes, while the others still run."""
        from distributed import as_completed
        from tqdm import tqdm

        self._thread.join()
        if self._error is not None:
            raise self._error
        n = len(self._specs)
        bar = tqdm(total=n, initial=n - len(self._todo), desc=i18n_bar("bar_partitions"),
                   unit=i18n_bar("unit_partition"), disable=not progress, leave=False)
        if self._todo:  # the driver waits for the partitions: it loads the targets' kernels
            load_gap_kernels()
        try:
            for fut in as_completed(list(self._futures)):
                i = self._futures[fut]
                res = fut.result()
                if self._root is not None:
                    _write_cached(self._root / f"{self._specs[i].key}.pkl", res)
                self.results[i] = res
                self._on_result(res)
                bar.update()
        finally:
            bar.close()
        return [r for r in self.results if r is not None]


class _Merge:
    """The tasks' cell columns, put in the driver's order as each result comes.

    :meth:`add` writes a task's rows into arrays of every cell while the other tasks
    still run (a partition's walking and other modes, or a group's one mode);
    :meth:`finish` checks that every mode of every cell came exactly once and gives
    the cells and facilities with the columns, in the order and with the types of a
    plain run.
    """

    def __init__(self, n_cells: int, categories: list[str], modes: list[str]) -> None:
        self._n = n_cells
        self._seen = {m: np.zeros(n_cells, np.int64) for m in ("walk", *modes)}
        self._snap: dict[str, np.ndarray] = {}
        columns = number_columns(categories, modes)
        self._row = {c: i for i, c in enumerate(columns)}
        self._routed = RoutedArrays(
            categories=list(categories), modes=list(modes), number_columns=columns,
            numbers=np.full((len(columns), n_cells), np.inf),
            nearest=np.full((len(categories), n_cells), -1, dtype=np.int64))

    def add(self, result: dict[str, Any]) -> None:
        pos = result["cells"]["pos"]
        part: RoutedArrays = result["routed"]
        for c, a in result["cells"].items():
            if c != "pos":
                self._snap.setdefault(c, np.empty(self._n, dtype=a.dtype))[pos] = a
        rows = [self._row[part.number_columns[r]] for r in result["number_rows"]]
        self._routed.numbers[np.ix_(rows, pos)] = part.numbers
        self._routed.nearest[np.ix_(result["nearest_rows"], pos)] = part.nearest
        for m in result["networks"]:
            self._seen[m][pos] += 1

    def finish(self, cells: pd.DataFrame, fac: gpd.GeoDataFrame,
               results: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
        if len(cells) != self._n or any((s != 1).any() for s in self._seen.values()):
            raise RuntimeError("partitions did not cover every cell exactly once")
        # a plain run's order (the node indices, a task's own, are not sent)
        order = [c for c in snap_columns(self._seen) if c in self._snap]
        order += [c for c in self._snap if c not in order]
        snap = pd.DataFrame({c: self._snap[c] for c in order}, index=cells.index)
        frame = self._routed.frame(fac["facility_id"].to_numpy(dtype=object), cells.index)
        clash = cells.columns.intersection([*snap.columns, *frame.columns])
        if len(clash):
            raise RuntimeError(f"cells already hold routed columns: {list(clash)[:3]}")
        return pd.concat([cells, snap, frame], axis=1), _merge_facilities(fac, results, order)


def _merge_facilities(fac: gpd.GeoDataFrame, results: list[dict[str, Any]],
                      snap_cols: list[str]) -> gpd.GeoDataFrame:
    """Facilities with the snapping columns the tasks owning them computed (each
    column from the tasks that routed its mode)."""
    fac = fac.copy()
    for c in snap_cols:
        parts = [r["facilities"][["pos", c]] for r in results if c in r["facilities"]]
        if len(fac) and parts:
            col = pd.concat(parts, ignore_index=True).sort_values("pos", kind="stable")
            fac[c] = col.set_index("pos")[c].reindex(np.arange(len(fac))).to_numpy()
        else:
            fac[c] = pd.Series(dtype=bool if c == "reachable" else float)
    return fac


def _k_table(results: list[dict[str, Any]], cells: pd.DataFrame) -> pd.DataFrame:
    parts = [r["k_nearest"] for r in results if len(r["k_nearest"])]
    cols = ["cell_id", "category", "rank", "facility_id", "dist_m"]
    if not parts:
        return pd.DataFrame(columns=cols)
    k = pd.concat(parts, ignore_index=True)
    # the order of a plain run: by category, then cell, then rank
    order = pd.Series(np.arange(len(cells)), index=cells["cell_id"].to_numpy())
    k["_cat"] = pd.Categorical(k["category"], categories=sorted(set(k["category"])))
    k["_pos"] = order.reindex(k["cell_id"].to_numpy()).to_numpy()
    k = k.sort_values(["_cat", "_pos", "rank"], kind="stable").drop(columns=["_cat", "_pos"])
    return k.reset_index(drop=True)


def _catchment_function(client: Any, specs: list[PartitionSpec], fac: pd.DataFrame,
                        ) -> Callable[[str, float], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``catchments(category, max_dist_m)`` answered by the partitions on the cluster."""
    cat = fac["category"].to_numpy()

    def catchments(category: str, max_dist_m: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sel = np.flatnonzero(cat == category)
        rank = np.full(len(fac), -1, dtype=np.int64)
        rank[sel] = np.arange(len(sel))
        todo = [s for s in specs if (s.fac_owned & (s.fac_category == category)).any()]
        futures = client.map(partition_catchments, todo, category=category,
                             max_dist_m=max_dist_m, retries=2, pure=False)
        parts = client.gather(futures)
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        fpos = np.concatenate([p[0] for p in parts])
        cpos = np.concatenate([p[1] for p in parts])
        d = np.concatenate([p[2] for p in parts])
        fi = rank[fpos]
        srt = np.lexsort((cpos, fi))
        return fi[srt], cpos[srt], d[srt]

    return catchments


def run_partitioned(area: StudyArea, options: PartitionOptions | None = None, *,
                    progress: bool = False, use_cache: bool = True,
                    task: Callable[[PartitionSpec], dict[str, Any]] | None = None,
                    ) -> RunResult:
    """Run the whole analysis as partitions on a Dask cluster.

    Gives the same cells (distances, times, nearest facilities, snapping), units and
    targets as :func:`lifecircle.pipeline.run` on the same inputs; the result has
    no street networks (each partition had its own) and carries ``partitions``, a
    table of the partitions with their cells, nodes, seconds and worker memory.
    Its ``catchments`` is None: the cluster that answered them is closed.

    Parameters
    ----------
    area
        From :func:`lifecircle.study_area.load_study_area`.
    options
        How to partition and where to run (:class:`PartitionOptions`).
    progress
        Progress bars (stages, partitions).
    use_cache
        Use the network cache and the cache of finished partitions.
    task
        The function run per partition (default :func:`run_partition`).

    Raises
    ------
    SchedulerUnreachableError
        ``options.scheduler`` cannot be reached.
    PartitionError
        The units do not cover the study area, or a partition has no streets.
    """
    options = options or PartitionOptions()
    if options.workers < 1:
        raise ConfigError(f"need at least 1 worker, got {options.workers}", key="--workers")
    _check_scheduler(options)
    starting = _start_cluster(options)
    try:
        return _run_on(starting, area, options, progress=progress, use_cache=use_cache,
                       task=task or run_partition)
    finally:
        starting.close()


def _area_cells(grid: GridSpec, mask: tuple[np.ndarray, np.ndarray]) -> pd.DataFrame:
    """``cell_id, x, y`` of the cells touching the study area (``mask``:
    :func:`~gridded_pop.area_cells_mask`), in the order of
    :func:`~lifecircle.pipeline.analysis_cells`."""
    in_area, area_in = mask
    ids = np.flatnonzero(in_area.ravel() | (area_in.ravel() > 0))
    x, y = grid.cell_centres(ids)
    return pd.DataFrame({"cell_id": ids, "x": x, "y": y})


#: The stages of a partitioned run by units: the partitions are sent to the cluster
#: before the population is read, and route while the driver reads it.
_EARLY_STAGES = ("boundary", "network", "facilities", "snapping", "population", "routing",
                 "units", "targets")


@dataclass
class _Routing:
    """The partitions of a run on their way: specs, results still to come, merge."""

    specs: list[PartitionSpec]
    pending: _Pending
    merge: _Merge
    notes: list[tuple[str, str]]


def _run_on(starting: StartingCluster, area: StudyArea, options: PartitionOptions, *,
            progress: bool, use_cache: bool,
            task: Callable[[PartitionSpec], dict[str, Any]]) -> RunResult:
    """:func:`run_partitioned` while ``starting`` starts the cluster.

    Partitioned by units, the run sends its partitions as soon as it knows the cells
    of the study area and the facilities, and reads the population while they run;
    the cells it analyses are those cells (:func:`~lifecircle.pipeline.analysis_cells`:
    the population only adds cells holding residents outside the area, and should it
    add any, the partitions are sent again with them). Tiles are sent after the
    population is read: a tile without streets is an error only where residents live.
    """
    early = options.by != "tiles"
    clock = _Clock(progress, stages=_EARLY_STAGES if early else STAGES)
    rejects = RejectLog()
    boundary_lonlat = study_boundary(area)
    crs = _metric_crs(area, boundary_lonlat)
    boundary = gpd.GeoSeries([boundary_lonlat], crs=WGS84).to_crs(crs).iloc[0]
    clock.lap("boundary")

    sha = file_sha256(area.network.path)
    ext = _extent(area.network.path, sha, use_cache)
    catalogue = load_catalogue(overrides=area.targets, base_dir=area.base_dir,
                               config_path=area.path)
    area = with_search_limits(area, catalogue)
    modes = modes_to_build(area.network.modes, catalogue)
    clock.lap("network")

    unit_polygons = {u.level: read_units(u, crs) for u in area.units}
    grid = GridSpec.from_bounds(boundary.bounds, area.grid.cell_size_m, crs)
    taxonomy = load_taxonomy(area.categories, base_dir=area.base_dir, path=area.path)
    root = _cache_root(options) if use_cache else None

    sx, sy = (np.asarray(v) for v in
              Transformer.from_crs(WGS84, crs, always_xy=True).transform(ext.lon, ext.lat))
    buffers = _buffers(area, ext, modes)

    def send(cells: pd.DataFrame, fac: gpd.GeoDataFrame) -> _Routing:
        fx, fy = _xy(fac)
        names, cell_owner, fac_owner, streets = _owners(
            area, options, boundary, unit_polygons, grid, cells, fx, fy, sx, sy,
            ext.step_deg * 111_320.0)
        categories, notes = routed_categories(fac, catalogue, taxonomy)
        if use_cache:  # one pass over the file for every mode, here, not one per partition
            cache_networks(area.network.path, modes, crs=crs, progress=progress,
                           source_sha256=sha)
        specs, groups = _specs(area, crs, names, cell_owner, fac_owner, streets, cells, fac,
                               categories, buffers, sha, use_cache, options.by == "tiles",
                               group_buffers=options.group_buffers)
        log.info(say("log_partitions", n=len(specs), by=options.by,
                     buffers={m: round(b) for m, b in buffers.items()}))
        if groups:
            log.info(say("log_partition_groups", n=len(groups),
                         modes=", ".join(dict.fromkeys(g.modes[0] for g in groups))))
        merge = _Merge(len(cells), categories, [m for m in TIME_MODES if m in buffers])
        # the groups first: each is longer than a partition, none should be left last
        pending = _Pending(starting, groups + specs, root, task=task, on_result=merge.add)
        return _Routing(specs, pending, merge, notes)

    def read_population(mask: tuple[np.ndarray, np.ndarray] | None) -> PopulationGrid:
        pop = build_population(area.population, grid, boundary=boundary, rejects=rejects,
                               osm_path=area.network.path, progress=progress,
                               units=unit_polygons, area_mask=mask)
        clock.lap("population")
        return pop

    def read_facilities() -> gpd.GeoDataFrame:
        fac = load_facilities(area.facilities, boundary=boundary_lonlat, crs=crs,
                              taxonomy=taxonomy, rejects=rejects, progress=progress)
        clock.lap("facilities")
        return fac

    if early:
        mask = area_cells_mask(grid, boundary)
        fac = read_facilities()
        area_cells = _area_cells(grid, mask)
        routing = send(area_cells, fac)
        clock.lap("snapping")
        pop = read_population(mask)
        cells = analysis_cells(pop)
        if not np.array_equal(cells["cell_id"].to_numpy(), area_cells["cell_id"].to_numpy()):
            log.info(say("log_partitions_resent", n=len(cells) - len(area_cells)))
            routing.pending.cancel()
            routing = send(cells, fac)
    else:
        pop = read_population(None)
        fac = read_facilities()
        cells = analysis_cells(pop)
        routing = send(cells, fac)
        clock.lap("snapping")

    results = routing.pending.collect(progress=progress)
    cells, fac = routing.merge.finish(cells, fac, results)
    fac = _outline_to_wkt(fac)  # as a plain run: the outline kept as text
    reject_unreachable(cells, fac, rejects, crs, area.network.snap_max_dist_m)
    k_table = _k_table(results, cells)
    clock.lap("routing")

    units = assign_units(unit_polygons, cells, fac, pop, boundary=boundary)
    clock.lap("units")
    fac = label_unnamed(fac, taxonomy, unit_polygons)

    catchments = _catchment_function(starting.client(), routing.specs, fac)
    completeness, targets, cells = completeness_and_targets(
        area, cells, fac, units, pop, taxonomy, catchments, catalogue=catalogue)
    clock.lap("targets")
    notes = routing.notes

    table = pd.DataFrame([{
        "partition": r["name"], "modes": "+".join(r["networks"]),
        "cells": len(r["cells"]["pos"]),
        **{f"{m}_nodes": r["networks"].get(m, {}).get("nodes", 0) for m in ("walk", *TIME_MODES)
           if any(m in q["networks"] for q in results)},
        "seconds": round(r["seconds"], 3), "peak_rss_mb": round(r["peak_rss_mb"], 1)}
        for r in results])
    return RunResult(area=area, crs=crs, boundary_lonlat=boundary_lonlat, boundary=boundary,
                     networks={}, population=pop, facilities=fac, cells=cells,
                     k_nearest=k_table, units=units, completeness=completeness,
                     targets=targets, rejects=rejects, taxonomy=taxonomy,
                     unit_polygons=unit_polygons, catchments=None,
                     timings_s=clock.laps, partitions=table, notes=notes)

