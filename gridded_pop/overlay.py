"""Exact overlay of polygons with the analysis grid: area of each polygon in each cell.

The building block of areal weighting, of the study-area mask and of the
dasymetric weights. Small polygons are intersected with every cell of their
bounding box; large ones (a study area, a district) only with the cells their
outline touches, the cells inside taking their full area.
"""

from __future__ import annotations

import numpy as np
import shapely
from affine import Affine
from scipy import ndimage

from gridded_pop.grid import GridSpec

__all__ = ["feature_cell_areas", "polygon_cell_areas", "rasterize_areas"]

#: Bounding boxes up to this many cells are intersected cell by cell.
EXACT_CELLS = 4096
_CHUNK_PAIRS = 200_000


def _cell_window(bounds: np.ndarray, spec: GridSpec) -> tuple[np.ndarray, ...]:
    """Half-open row/col ranges of the cells each bounding box touches (clipped)."""
    cs = spec.cell_size_m
    b = np.atleast_2d(np.asarray(bounds, dtype=float))
    bad = ~np.isfinite(b).all(axis=1)
    b = np.where(bad[:, None], np.array([spec.x_min, spec.y_max, spec.x_min, spec.y_max]), b)
    c0 = np.floor((b[:, 0] - spec.x_min) / cs).astype(np.int64)
    c1 = np.floor((b[:, 2] - spec.x_min) / cs).astype(np.int64) + 1
    r0 = np.floor((spec.y_max - b[:, 3]) / cs).astype(np.int64)
    r1 = np.floor((spec.y_max - b[:, 1]) / cs).astype(np.int64) + 1
    c0, r0 = np.clip(c0, 0, spec.n_cols), np.clip(r0, 0, spec.n_rows)
    c1, r1 = np.clip(c1, 0, spec.n_cols), np.clip(r1, 0, spec.n_rows)
    c1[bad] = c0[bad]
    return r0, r1, c0, c1


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.empty(0, np.int64), np.empty(0, float)


def polygon_cell_areas(geom: shapely.Geometry, spec: GridSpec, *,
                       exact_cells: int = EXACT_CELLS) -> tuple[np.ndarray, np.ndarray]:
    """Area of ``geom`` inside each grid cell.

    Parameters
    ----------
    geom
        Polygon or MultiPolygon in ``spec.crs``. Other geometry types have no area.
    spec
        The analysis grid.
    exact_cells
        Bounding boxes up to this many cells are intersected cell by cell; larger
        polygons only along their outline.

    Returns
    -------
    cell_id, area_m2
        Cells with a positive overlap and the overlap area in m². Their sum is
        the area of the part of ``geom`` inside the grid.
    """
    if geom is None or shapely.is_empty(geom) or shapely.area(geom) <= 0:
        return _empty()
    r0, r1, c0, c1 = (int(v[0]) for v in _cell_window(np.array(shapely.bounds(geom)), spec))
    if r1 <= r0 or c1 <= c0:
        return _empty()
    rows, cols = np.mgrid[r0:r1, c0:c1]
    ids = (rows * spec.n_cols + cols).ravel()
    if ids.size <= exact_cells:
        area = shapely.area(shapely.intersection(spec.cell_polygons(ids), geom))
        keep = area > 0
        return ids[keep], area[keep]
    from rasterio.features import rasterize

    cs = spec.cell_size_m
    transform = Affine(cs, 0.0, spec.x_min + c0 * cs, 0.0, -cs, spec.y_max - r0 * cs)
    edge = rasterize([shapely.boundary(geom)], out_shape=(r1 - r0, c1 - c0),
                     transform=transform, all_touched=True, fill=0, default_value=1,
                     dtype="uint8").astype(bool)
    # one cell of margin: a cell not next to a touched cell lies wholly inside or outside
    edge = ndimage.binary_dilation(edge, structure=np.ones((3, 3), bool)).ravel()
    inner = ids[~edge]
    x, y = spec.cell_centres(inner)
    shapely.prepare(geom)
    inside = inner[shapely.contains_xy(geom, x, y)]
    border = ids[edge]
    area = _tiled_intersection_areas(geom, border, spec)
    keep = area > 0
    out_ids = np.concatenate([inside, border[keep]])
    out_area = np.concatenate([np.full(inside.size, cs * cs), area[keep]])
    order = np.argsort(out_ids, kind="stable")
    return out_ids[order], out_area[order]


def _tiled_intersection_areas(geom: shapely.Geometry, ids: np.ndarray, spec: GridSpec, *,
                              tile: int = 16) -> np.ndarray:
    """Intersection areas of cells with ``geom``, clipping ``geom`` to tiles of cells first.

    Intersecting each cell with a polygon of many vertices costs the whole polygon
    every time; clipping it to ``tile × tile`` blocks first keeps each
    intersection small.
    """
    area = np.zeros(ids.size)
    row, col = np.divmod(ids, spec.n_cols)
    tile_id = (row // tile) * (spec.n_cols // tile + 1) + col // tile
    order = np.argsort(tile_id, kind="stable")
    bounds = np.flatnonzero(np.diff(tile_id[order])) + 1
    cs = spec.cell_size_m
    for chunk in np.split(order, bounds):
        tr, tc = row[chunk[0]] // tile, col[chunk[0]] // tile
        x0 = spec.x_min + tc * tile * cs
        y1 = spec.y_max - tr * tile * cs
        piece = shapely.clip_by_rect(geom, x0 - cs, y1 - (tile + 1) * cs,
                                     x0 + (tile + 1) * cs, y1 + cs)
        if shapely.is_empty(piece):
            continue
        area[chunk] = shapely.area(shapely.intersection(spec.cell_polygons(ids[chunk]), piece))
    return area


def rasterize_areas(geom: shapely.Geometry, spec: GridSpec) -> np.ndarray:
    """Area (m²) of ``geom`` in every cell, as a ``spec.shape`` float64 array."""
    out = np.zeros(spec.n_cells)
    ids, area = polygon_cell_areas(geom, spec)
    out[ids] = area
    return out.reshape(spec.shape)


def feature_cell_areas(geoms: np.ndarray, spec: GridSpec, *,
                       exact_cells: int = EXACT_CELLS,
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area of each of many polygons in each grid cell (vectorised).

    Parameters
    ----------
    geoms
        Array of Polygons / MultiPolygons in ``spec.crs``.
    spec
        The analysis grid.

    Returns
    -------
    feature, cell_id, area_m2
        One entry per (feature, cell) pair with a positive overlap.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = geoms.size
    if n == 0:
        return np.empty(0, np.int64), *_empty()
    r0, r1, c0, c1 = _cell_window(shapely.bounds(geoms), spec)
    nr, nc = np.maximum(r1 - r0, 0), np.maximum(c1 - c0, 0)
    counts = nr * nc
    small = np.flatnonzero((counts > 0) & (counts <= exact_cells))
    large = np.flatnonzero(counts > exact_cells)
    feats, cells, areas = [], [], []
    # small features: every (feature, cell-of-its-bbox) pair, in chunks
    start = 0
    while start < small.size:
        csum = np.cumsum(counts[small[start:]])
        stop = start + max(1, int(np.searchsorted(csum, _CHUNK_PAIRS, side="right")))
        idx = small[start:stop]
        k = counts[idx]
        f = np.repeat(idx, k)
        off = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)
        r = r0[f] + off // nc[f]
        c = c0[f] + off % nc[f]
        ids = r * spec.n_cols + c
        area = shapely.area(shapely.intersection(geoms[f], spec.cell_polygons(ids)))
        keep = area > 0
        feats.append(f[keep])
        cells.append(ids[keep])
        areas.append(area[keep])
        start = stop
    for i in large:
        ids, area = polygon_cell_areas(geoms[i], spec, exact_cells=exact_cells)
        feats.append(np.full(ids.size, i, np.int64))
        cells.append(ids)
        areas.append(area)
    if not feats:
        return np.empty(0, np.int64), *_empty()
    return np.concatenate(feats), np.concatenate(cells), np.concatenate(areas)
