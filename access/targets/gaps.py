"""Gap areas: where one new facility would serve the residents a failed target misses.

A gap area is bounded by the target's reach. Greedily, the centre of the next area is
the uncovered populated cell with the most still-unassigned uncovered residents within
the reach (straight line between cell centres); the area is all those cells; they are
removed, and the next centre is chosen. Ties go to the smaller ``cell_id``. Every
uncovered resident of the target's scope ends in exactly one area, and every cell of an
area lies within ``radius_m`` of its centre, so a facility placed at the centre serves
the whole area wherever the streets are about as direct as the straight line (the
network reach is never longer than the straight line).

The reach of a cell is the target's reach for it (walking metres; a reach in minutes of
e-bike or car travel times the mode's ordinary road speed; for a completeness target the
smallest reach among the facility types the cell lacks). Cells of different reaches form
separate areas.

The search runs on the analysis grid with per-row prefix sums: a disc sum costs one
lookup pair per grid row of the disc, and a "lazy" greedy (scores only ever fall, so a
stale score is an upper bound) recomputes a cell's score only when it reaches the top of
the heap. 512,000 uncovered cells of a 640,000-cell grid take about half a second of
CPU per target and reach (``python bench/bench_gaps.py``).
"""

from __future__ import annotations

import heapq
import math

import numba
import numpy as np
import pandas as pd
from pyproj import CRS

from access.crs import metric_to_lonlat
from access.targets.context import Context, unit_ids

__all__ = ["GAP_CELL_COLUMNS", "GAP_COLUMNS", "empty_gaps", "gap_areas", "grid_areas",
           "load_kernels"]

#: Leading columns of the gap list (``gaps.csv``); ``unit__<level>`` and
#: ``unit_name__<level>`` follow for every units level of the cells.
GAP_COLUMNS = ["target_id", "rank", "group", "residents", "n_cells", "radius_m", "x", "y",
               "lon", "lat", "center_cell_id"]

#: Columns of the cell -> area table (``gap_cells.parquet``).
GAP_CELL_COLUMNS = ["target_id", "rank", "cell_id"]


@numba.njit(cache=True)
def _disc_sum(P: np.ndarray, r: int, c: int, half: np.ndarray) -> float:
    k = (half.size - 1) // 2
    nr, nc1 = P.shape
    s = 0.0
    for d in range(-k, k + 1):
        rr = r + d
        if rr < 0 or rr >= nr:
            continue
        h = half[d + k]
        lo = max(c - h, 0)
        hi = min(c + h + 1, nc1 - 1)
        s += P[rr, hi] - P[rr, lo]
    return s


@numba.njit(cache=True)
def _prefix_row(P: np.ndarray, W: np.ndarray, rr: int, start: int) -> None:
    acc = P[rr, start]
    for cc in range(start, W.shape[1]):
        acc += W[rr, cc]
        P[rr, cc + 1] = acc


@numba.njit(cache=True)
def _greedy(row: np.ndarray, col: np.ndarray, w: np.ndarray, key: np.ndarray,
            n_rows: int, n_cols: int, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = row.size
    k = (half.size - 1) // 2
    W = np.zeros((n_rows, n_cols))
    idx = np.full((n_rows, n_cols), -1, dtype=np.int64)
    for i in range(n):
        W[row[i], col[i]] = w[i]
        idx[row[i], col[i]] = i
    P = np.zeros((n_rows, n_cols + 1))
    for rr in range(n_rows):
        _prefix_row(P, W, rr, 0)
    heap = [(-_disc_sum(P, row[i], col[i], half), key[i], i) for i in range(n)]
    heapq.heapify(heap)
    area = np.full(n, -1, dtype=np.int64)
    centres: list[int] = []
    while len(heap) > 0:
        _, kk, i = heapq.heappop(heap)
        if area[i] >= 0:
            continue
        s = _disc_sum(P, row[i], col[i], half)
        if len(heap) > 0:
            top = heap[0]
            if -s > top[0] or (-s == top[0] and kk > top[1]):
                heapq.heappush(heap, (-s, kk, i))
                continue
        a = len(centres)
        centres.append(i)
        r0, c0 = row[i], col[i]
        for d in range(-k, k + 1):
            rr = r0 + d
            if rr < 0 or rr >= n_rows:
                continue
            h = half[d + k]
            lo = max(c0 - h, 0)
            hi = min(c0 + h, n_cols - 1)
            changed = False
            for cc in range(lo, hi + 1):
                j = idx[rr, cc]
                if j >= 0 and area[j] < 0:
                    area[j] = a
                    W[rr, cc] = 0.0
                    changed = True
            if changed:
                _prefix_row(P, W, rr, lo)
    return area, np.array(centres, dtype=np.int64)


def _half_widths(radius_m: float, cell_m: float) -> np.ndarray:
    """Half-width in cells of each grid row of a disc of ``radius_m`` around a cell centre."""
    k = math.floor(radius_m / cell_m + 1e-9)
    d = np.arange(-k, k + 1, dtype=float) * cell_m
    rem = np.sqrt(np.maximum(radius_m * radius_m - d * d, 0.0))
    return np.floor(rem / cell_m + 1e-9).astype(np.int64)


def _grid_step(row: np.ndarray, col: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Cell size of the grid the cells lie on (checked: ``x``/``y`` follow ``col``/``row``)."""
    step = float("nan")
    for idx, coord, sign in ((col, x, 1.0), (row, y, -1.0)):
        lo, hi = int(np.argmin(idx)), int(np.argmax(idx))
        if idx[hi] != idx[lo]:
            step = sign * (coord[hi] - coord[lo]) / float(idx[hi] - idx[lo])
            break
    if not math.isfinite(step):
        return 1.0  # a single row and column: any step
    ok = (np.allclose(x - col * step, x[0] - col[0] * step, atol=1e-6 * step, rtol=0)
          and np.allclose(y + row * step, y[0] + row[0] * step, atol=1e-6 * step, rtol=0))
    if not (step > 0 and ok):
        raise ValueError("gap areas need cells on a regular grid: x, y must follow col, row")
    return step


def grid_areas(row: np.ndarray, col: np.ndarray, weight: np.ndarray, key: np.ndarray,
               radius_m: float, cell_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy areas of grid cells within ``radius_m`` of a centre cell.

    Parameters
    ----------
    row, col
        Grid position of each cell (distinct cells).
    weight
        Residents of each cell, > 0.
    key
        Tie-break of equal scores (smaller first), e.g. the cell id.
    radius_m, cell_m
        Reach and cell size, metres.

    Returns
    -------
    area : ndarray of int
        Area of each cell, numbered in the order the centres were chosen.
    centres : ndarray of int
        Position (in the inputs) of each area's centre cell.
    """
    row = np.asarray(row, dtype=np.int64)
    col = np.asarray(col, dtype=np.int64)
    if not row.size:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    r0, c0 = int(row.min()), int(col.min())
    half = _half_widths(max(float(radius_m), 0.0), cell_m)
    return _greedy(row - r0, col - c0, np.asarray(weight, dtype=float),
                   np.asarray(key, dtype=np.int64), int(row.max()) - r0 + 1,
                   int(col.max()) - c0 + 1, half)


def load_kernels() -> None:
    """Load the compiled greedy kernel from numba's on-disk cache now (a fraction of a
    second, more in a process that has used no compiled kernel yet), e.g. while a
    partitioned run's driver waits for its partitions, instead of at the first
    target's gap areas."""
    one = np.zeros(1, dtype=np.int64)
    grid_areas(one, one, np.ones(1), one, 100.0, 100.0)


def empty_gaps(levels: list[str]) -> pd.DataFrame:
    """An empty gap list with the columns of the given units levels."""
    cols = GAP_COLUMNS + [f"unit__{lv}" for lv in levels] + [
        f"unit_name__{lv}" for lv in levels]
    return pd.DataFrame(columns=cols)


def gap_areas(target_id: str, group: str, ctx: Context, mask: np.ndarray, pop: np.ndarray,
              radius_m: np.ndarray, crs: CRS | None = None,
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gap areas of the cells in ``mask``, ranked by residents (rank 1 has the most).

    Parameters
    ----------
    target_id, group
        The failed target and its population group.
    ctx
        The run's context (cells on a regular grid).
    mask
        Uncovered populated cells in the target's scope.
    pop
        Residents of the group per cell.
    radius_m
        Reach of each cell in metres (read where ``mask``); a cell without a finite
        positive reach forms an area of its own.
    crs
        The cells' metric CRS, for the centres' lon/lat (NaN without it).

    Returns
    -------
    gaps : DataFrame
        :data:`GAP_COLUMNS` plus ``unit__<level>``, ``unit_name__<level>``.
    cells : DataFrame
        :data:`GAP_CELL_COLUMNS`: the area of every cell of ``mask``.
    """
    sel = np.flatnonzero(mask & (pop > 0))
    if not sel.size:
        return empty_gaps(ctx.unit_levels), pd.DataFrame(columns=GAP_CELL_COLUMNS)
    cells = ctx.cells
    row = cells["row"].to_numpy(dtype=np.int64)
    col = cells["col"].to_numpy(dtype=np.int64)
    x = cells["x"].to_numpy(dtype=float)
    y = cells["y"].to_numpy(dtype=float)
    cell_id = cells["cell_id"].to_numpy(dtype=np.int64)
    step = _grid_step(row[sel], col[sel], x[sel], y[sel])
    reach = np.asarray(radius_m, dtype=float)[sel]
    reach = np.where(np.isfinite(reach) & (reach > 0), reach, 0.0)
    area_of = np.empty(sel.size, dtype=np.int64)
    centre_pos: list[np.ndarray] = []
    centre_radius: list[np.ndarray] = []
    n_areas = 0
    for value in np.unique(reach):
        part = np.flatnonzero(reach == value)
        s = sel[part]
        area, centres = grid_areas(row[s], col[s], pop[s], cell_id[s], float(value), step)
        area_of[part] = area + n_areas
        centre_pos.append(s[centres])
        centre_radius.append(np.full(centres.size, value))
        n_areas += centres.size
    centre = np.concatenate(centre_pos)
    residents = np.bincount(area_of, weights=pop[sel], minlength=n_areas)
    n_cells = np.bincount(area_of, minlength=n_areas)
    # rank: most residents first; equal residents in the order the centres were chosen
    order = np.lexsort((cell_id[centre], -residents))
    rank = np.empty(n_areas, dtype=np.int64)
    rank[order] = np.arange(1, n_areas + 1)
    if crs is not None:
        lon, lat = metric_to_lonlat(x[centre], y[centre], crs)
    else:
        lon = lat = np.full(n_areas, np.nan)
    frame = pd.DataFrame({
        "target_id": target_id, "rank": rank, "group": group, "residents": residents,
        "n_cells": n_cells.astype(np.int64), "radius_m": np.concatenate(centre_radius),
        "x": x[centre], "y": y[centre], "lon": np.asarray(lon, dtype=float),
        "lat": np.asarray(lat, dtype=float), "center_cell_id": cell_id[centre]})
    for level in ctx.unit_levels:
        code, ids = ctx.cell_units(level)
        c = code[centre]
        frame[f"unit__{level}"] = pd.Series(
            [ids[v] if v >= 0 else None for v in c], dtype=object)
    for level in ctx.unit_levels:
        table, _ = ctx.units_table(level)
        names = dict(zip(table["unit_id"], table["name"], strict=True))
        frame[f"unit_name__{level}"] = pd.Series(
            [None if u is None else _name(names.get(u, u)) for u in frame[f"unit__{level}"]],
            dtype=object)
    frame = frame.sort_values("rank", kind="stable").reset_index(drop=True)
    members = pd.DataFrame({"target_id": target_id, "rank": rank[area_of],
                            "cell_id": cell_id[sel]})
    members = members.sort_values(["rank", "cell_id"], kind="stable").reset_index(drop=True)
    return frame, members


def _name(v: object) -> str | None:
    ids = unit_ids([v])
    return ids[0] if ids else None
