"""Memory a run will need, estimated before the expensive stages.

The grid holds ``boundary box area / cell_size_m²`` cells; every cell carries
population columns and, per facility category, a distance, a time, the nearest
facility and a driving time; ``k_nearest`` lists ``k`` facilities per cell and
category. :func:`estimate_memory` adds these up; :func:`check_memory` refuses a run
that would not fit in the memory available, naming the key to change.
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from access.vocabulary import CATEGORY_KEYS, GROUPS

__all__ = ["MemoryEstimate", "available_memory_bytes", "check_memory", "estimate_memory"]

#: Bytes per grid cell of each whole-grid array (float64), and how many there are.
_GRID_ARRAYS = len(GROUPS) + 8
#: Columns of the cell table besides the per-category ones, and per category.
_CELL_COLUMNS = 12
_COLUMNS_PER_CATEGORY = 4
#: Cell polygon and its row in the written GeoPackage.
_CELL_GEOMETRY_BYTES = 300
#: One row of the long k-nearest table (cell id, category, rank, facility id, distance).
_K_ROW_BYTES = 40
#: The process before any grid: interpreter, libraries, street networks of a city
#: extract (about 560 MB measured for the bundled sample at 100 m cells).
BASE_BYTES = 600 * 1024 ** 2


@dataclass(frozen=True)
class MemoryEstimate:
    """Memory a run needs, by part, in bytes.

    Attributes
    ----------
    n_cells
        Cells of the analysis grid.
    grid_bytes
        Whole-grid population arrays.
    cells_bytes
        The cell table: population, routed columns per category, polygons.
    k_nearest_bytes
        The k-nearest table and its routing buffers.
    base_bytes
        The process itself (:data:`BASE_BYTES`).
    """

    n_cells: int
    grid_bytes: int
    cells_bytes: int
    k_nearest_bytes: int
    base_bytes: int = BASE_BYTES

    @property
    def data_bytes(self) -> int:
        """The parts that grow with the grid."""
        return self.grid_bytes + self.cells_bytes + self.k_nearest_bytes

    @property
    def total_bytes(self) -> int:
        """Sum of the parts and the process itself."""
        return self.base_bytes + self.data_bytes


def estimate_memory(box_area_m2: float, cell_size_m: float, k_nearest: int, *,
                    n_categories: int = len(CATEGORY_KEYS)) -> MemoryEstimate:
    """Estimate the memory of a run.

    Parameters
    ----------
    box_area_m2
        Area of the study area's bounding box in the metric CRS (the grid covers it).
    cell_size_m
        ``[grid] cell_size_m``.
    k_nearest
        ``[travel] k_nearest``.
    n_categories
        Facility categories routed (all known categories by default).
    """
    n_cells = int(box_area_m2 / (cell_size_m * cell_size_m)) + 1
    grid = n_cells * 8 * _GRID_ARRAYS
    cells = n_cells * (8 * (_CELL_COLUMNS + _COLUMNS_PER_CATEGORY * n_categories)
                       + _CELL_GEOMETRY_BYTES)
    k_bytes = 0
    if k_nearest > 1:
        # the long table, plus the cost and index buffers of one category's search
        k_bytes = n_cells * k_nearest * (_K_ROW_BYTES * n_categories + 16)
    return MemoryEstimate(n_cells=n_cells, grid_bytes=grid, cells_bytes=cells,
                          k_nearest_bytes=k_bytes)


def available_memory_bytes() -> int:
    """Memory the operating system can give this process now (bytes)."""
    return int(psutil.virtual_memory().available)


def check_memory(estimate: MemoryEstimate, *, available_bytes: int | None = None,
                 cell_size_m: float, k_nearest: int) -> str | None:
    """Why a run would not fit in memory, or None when it fits.

    Returns
    -------
    str or None
        A one-line message naming the key to change and the estimate:
        ``travel.k_nearest`` when it was raised above the default 3 and its table
        weighs most, else ``grid.cell_size_m``.
    """
    avail = available_memory_bytes() if available_bytes is None else available_bytes
    need = estimate.total_bytes
    if need <= avail:
        return None
    gb = 1024 ** 3
    what = (f"the run needs about {need / gb:.1f} GB of memory ({estimate.n_cells:,} cells of "
            f"{cell_size_m:g} m, k_nearest = {k_nearest}) but {avail / gb:.1f} GB are available")
    if k_nearest > 3 and estimate.k_nearest_bytes > estimate.grid_bytes + estimate.cells_bytes:
        fit = max(1, int(k_nearest * (avail - estimate.base_bytes - estimate.grid_bytes
                                      - estimate.cells_bytes)
                         / max(estimate.k_nearest_bytes, 1)))
        return (f"{what}; lower travel.k_nearest (at most about {fit}) "
                "(内存不足：请减小 k_nearest)")
    room = avail - estimate.base_bytes
    if room <= 0:
        return (f"{what}; close other programs or use a machine with more memory "
                "(内存不足)")
    factor = (estimate.data_bytes / room) ** 0.5
    return (f"{what}; raise grid.cell_size_m to at least {cell_size_m * factor * 1.05:.0f} m "
            "(内存不足：请增大网格边长)")
