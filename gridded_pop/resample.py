"""Sum-preserving resampling of persons-per-pixel values onto the analysis grid.

Pure array functions, no files. Two methods, both conserve the total exactly
(up to float rounding): every person of a source pixel ends up in exactly one
grid cell or is reported as falling outside the grid.

* :func:`resample_exact` — source pixels and grid cells share a CRS and axes:
  each pixel is split among cells by the exact area of overlap, computed
  separably (row overlap × column overlap) with sparse matrices.
* :func:`resample_supersample` — any other case (another CRS, a rotated raster):
  each pixel is cut into ``k × k`` sub-pixels carrying ``1/k²`` of its persons;
  sub-pixel centres are placed by bilinear interpolation of the pixel's four
  projected corners and binned into cells. The split is exact to within one
  sub-pixel (pixel side / k).
"""

from __future__ import annotations

import math

import numpy as np
from affine import Affine
from scipy import sparse

from gridded_pop.grid import GridSpec

__all__ = [
    "auto_supersample",
    "overlap_matrix_1d",
    "quad_areas",
    "resample_exact",
    "resample_supersample",
]


def overlap_matrix_1d(src_edges: np.ndarray, dst_edges: np.ndarray) -> sparse.csr_matrix:
    """Share of each source interval falling in each destination interval.

    Parameters
    ----------
    src_edges, dst_edges
        Increasing interval edges (``n + 1`` values for ``n`` intervals).

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(n_dst, n_src)``; column ``i`` sums to the share of source
        interval ``i`` covered by the destination intervals (1 where it lies
        wholly inside them).
    """
    src_edges = np.asarray(src_edges, float)
    dst_edges = np.asarray(dst_edges, float)
    n_src, n_dst = src_edges.size - 1, dst_edges.size - 1
    if np.any(np.diff(src_edges) <= 0) or np.any(np.diff(dst_edges) <= 0):
        raise ValueError("interval edges must be strictly increasing")
    lo, hi = src_edges[0], src_edges[-1]
    inner = dst_edges[(dst_edges > lo) & (dst_edges < hi)]
    bps = np.union1d(src_edges, inner)
    mids = (bps[:-1] + bps[1:]) / 2
    lens = np.diff(bps)
    si = np.searchsorted(src_edges, mids, side="right") - 1
    di = np.searchsorted(dst_edges, mids, side="right") - 1
    ok = (si >= 0) & (si < n_src) & (di >= 0) & (di < n_dst) & (lens > 0)
    w = lens[ok] / np.diff(src_edges)[si[ok]]
    return sparse.csr_matrix((w, (di[ok], si[ok])), shape=(n_dst, n_src))


def resample_exact(values: np.ndarray, transform: Affine, spec: GridSpec) -> np.ndarray:
    """Split pixels among grid cells by exact area of overlap (same CRS, no rotation).

    Parameters
    ----------
    values
        ``(n, m)`` persons per pixel, finite; no-data already set to 0.
    transform
        Affine transform of ``values`` (pixel ``(col, row)`` to ``(x, y)``) in the
        grid's CRS; must have no rotation terms.
    spec
        The analysis grid.

    Returns
    -------
    np.ndarray
        ``spec.shape`` persons per cell. ``values.sum() - result.sum()`` persons
        fell outside the grid.
    """
    values = np.asarray(values, float)
    if transform.b != 0 or transform.d != 0:
        raise ValueError("resample_exact needs a raster without rotation")
    a, e = transform.a, transform.e
    if a < 0:
        values = values[:, ::-1]
        x0 = transform.c + a * values.shape[1]
        a = -a
    else:
        x0 = transform.c
    if e > 0:
        values = values[::-1, :]
        top = transform.f + e * values.shape[0]
    else:
        top = transform.f
        e = -e
    n_r, n_c = values.shape
    wx = overlap_matrix_1d(x0 + a * np.arange(n_c + 1),
                           spec.x_min + spec.cell_size_m * np.arange(spec.n_cols + 1))
    # rows run downwards: use t = -y so that edges increase
    wy = overlap_matrix_1d(-top + e * np.arange(n_r + 1),
                           -spec.y_max + spec.cell_size_m * np.arange(spec.n_rows + 1))
    cols_on_grid = np.asarray((wx @ values.T).T)  # (n_r, grid cols)
    return np.asarray(wy @ cols_on_grid)


def quad_areas(cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """Areas of the quadrilaterals spanned by a lattice of corners.

    ``cx``, ``cy`` have shape ``(n + 1, m + 1)``; the result ``(n, m)``.
    """
    d1x, d1y = cx[1:, 1:] - cx[:-1, :-1], cy[1:, 1:] - cy[:-1, :-1]
    d2x, d2y = cx[:-1, 1:] - cx[1:, :-1], cy[:-1, 1:] - cy[1:, :-1]
    return 0.5 * np.abs(d1x * d2y - d1y * d2x)


def auto_supersample(pixel_side_m: float, cell_size_m: float, *, per_cell: int = 4,
                     max_k: int = 32) -> int:
    """Sub-pixels per pixel side so that about ``per_cell`` fit along a cell side."""
    if not (pixel_side_m > 0 and math.isfinite(pixel_side_m)):
        return 1
    return int(min(max_k, max(1, math.ceil(per_cell * pixel_side_m / cell_size_m - 1e-9))))


def resample_supersample(values: np.ndarray, corner_x: np.ndarray, corner_y: np.ndarray,
                         spec: GridSpec, *, k: int) -> np.ndarray:
    """Spread pixels over grid cells by ``k × k`` sub-pixel sampling.

    Parameters
    ----------
    values
        ``(n, m)`` persons per pixel, finite; no-data already set to 0.
    corner_x, corner_y
        ``(n + 1, m + 1)`` pixel corner coordinates in the grid's CRS (metres).
        Non-finite corners put the pixel outside the grid.
    spec
        The analysis grid.
    k
        Sub-pixels per pixel side (``k = 1``: the pixel centre takes everything).

    Returns
    -------
    np.ndarray
        ``spec.shape`` persons per cell; the rest of ``values.sum()`` fell outside.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    values = np.asarray(values, float)
    out = np.zeros(spec.n_cells)
    nz = np.flatnonzero(values)
    if nz.size == 0:
        return out.reshape(spec.shape)
    _n, m = values.shape
    r, c = np.divmod(nz, m)
    v = values.ravel()[nz] / (k * k)
    p00 = (corner_x[r, c], corner_y[r, c])
    p01 = (corner_x[r, c + 1], corner_y[r, c + 1])
    p10 = (corner_x[r + 1, c], corner_y[r + 1, c])
    p11 = (corner_x[r + 1, c + 1], corner_y[r + 1, c + 1])
    steps = (np.arange(k) + 0.5) / k
    for v_off in steps:  # down the pixel
        for u_off in steps:  # across the pixel
            w00 = (1 - u_off) * (1 - v_off)
            w01 = u_off * (1 - v_off)
            w10 = (1 - u_off) * v_off
            w11 = u_off * v_off
            x = w00 * p00[0] + w01 * p01[0] + w10 * p10[0] + w11 * p11[0]
            y = w00 * p00[1] + w01 * p01[1] + w10 * p10[1] + w11 * p11[1]
            cell = np.full(x.size, -1, np.int64)
            fin = np.isfinite(x) & np.isfinite(y)
            cell[fin] = spec.cell_of(x[fin], y[fin])
            ok = cell >= 0
            out += np.bincount(cell[ok], weights=v[ok], minlength=spec.n_cells)
    return out.reshape(spec.shape)
