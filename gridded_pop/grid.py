"""The analysis grid: a regular grid of square cells in the study area's metric CRS.

One :class:`GridSpec` feeds routing, coverage, the dashboard and reports. Cells
are numbered row-major from the top-left: ``cell_id = row * n_cols + col``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import CRS

__all__ = ["GridSpec"]


@dataclass(frozen=True)
class GridSpec:
    """Geometry of the analysis grid.

    Attributes
    ----------
    crs
        Metric CRS of the grid (a UTM zone).
    x_min, y_max
        Top-left corner in metres.
    cell_size_m
        Side of a square cell in metres.
    n_rows, n_cols
        Grid shape.
    """

    crs: CRS
    x_min: float
    y_max: float
    cell_size_m: float
    n_rows: int
    n_cols: int

    @classmethod
    def from_bounds(cls, bounds: tuple[float, float, float, float], cell_size_m: float,
                    crs: CRS) -> GridSpec:
        """Smallest grid aligned to multiples of ``cell_size_m`` that covers ``bounds``.

        Parameters
        ----------
        bounds
            ``(x_min, y_min, x_max, y_max)`` in ``crs`` metres.
        """
        if not cell_size_m > 0:
            raise ValueError(f"cell_size_m must be positive, got {cell_size_m}")
        if crs.is_geographic:
            raise ValueError("the analysis grid needs a projected (metric) CRS")
        x0 = math.floor(bounds[0] / cell_size_m) * cell_size_m
        y0 = math.floor(bounds[1] / cell_size_m) * cell_size_m
        x1 = math.ceil(bounds[2] / cell_size_m) * cell_size_m
        y1 = math.ceil(bounds[3] / cell_size_m) * cell_size_m
        n_cols = max(1, round((x1 - x0) / cell_size_m))
        n_rows = max(1, round((y1 - y0) / cell_size_m))
        return cls(crs=crs, x_min=float(x0), y_max=float(y1), cell_size_m=float(cell_size_m),
                   n_rows=int(n_rows), n_cols=int(n_cols))

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_rows, n_cols)``."""
        return (self.n_rows, self.n_cols)

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return self.n_rows * self.n_cols

    @property
    def transform(self) -> Affine:
        """Affine transform from (col, row) to (x, y), rasterio convention."""
        return Affine(self.cell_size_m, 0.0, self.x_min, 0.0, -self.cell_size_m, self.y_max)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(x_min, y_min, x_max, y_max)`` in metres."""
        return (self.x_min, self.y_max - self.n_rows * self.cell_size_m,
                self.x_min + self.n_cols * self.cell_size_m, self.y_max)

    def cell_centres(self, cell_id: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Centre coordinates ``(x, y)`` of the given cells (all cells if None)."""
        if cell_id is None:
            cell_id = np.arange(self.n_cells)
        cell_id = np.asarray(cell_id, dtype=np.int64)
        row, col = np.divmod(cell_id, self.n_cols)
        x = self.x_min + (col + 0.5) * self.cell_size_m
        y = self.y_max - (row + 0.5) * self.cell_size_m
        return x, y

    def cell_polygons(self, cell_id: np.ndarray) -> np.ndarray:
        """Shapely polygons (array) of the given cells."""
        import shapely

        x, y = self.cell_centres(cell_id)
        h = self.cell_size_m / 2
        return shapely.box(x - h, y - h, x + h, y + h)

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Cell id containing each point; -1 outside the grid."""
        col = np.floor((np.asarray(x, float) - self.x_min) / self.cell_size_m).astype(np.int64)
        row = np.floor((self.y_max - np.asarray(y, float)) / self.cell_size_m).astype(np.int64)
        inside = (col >= 0) & (col < self.n_cols) & (row >= 0) & (row < self.n_rows)
        return np.where(inside, row * self.n_cols + col, -1)
