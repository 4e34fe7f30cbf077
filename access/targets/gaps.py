"""Gap list: connected clusters of uncovered populated cells of a failed target.

Gap clusters use 8-neighbour connectivity by default: cells touching at a
corner are one cell size apart and read as one area on the map. Only uncovered
cells with residents in the target's scope form clusters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from access import coverage
from access.targets.context import Context

__all__ = ["GAP_COLUMNS", "gap_clusters"]

#: Columns of the gap list (``gaps.csv``).
GAP_COLUMNS = ["target_id", "cluster_id", "n_cells", "population", "x", "y", "cell_ids"]


def gap_clusters(target_id: str, ctx: Context, mask: np.ndarray, pop: np.ndarray,
                 ) -> pd.DataFrame:
    """Clusters of the cells in ``mask``, ranked by population (cluster 1 is the largest)."""
    labels = coverage.uncovered_clusters(ctx.cells["row"].to_numpy(),
                                         ctx.cells["col"].to_numpy(), mask, pop,
                                         connectivity=ctx.connectivity)
    if not labels.any():
        return pd.DataFrame(columns=GAP_COLUMNS)
    sel = labels > 0
    frame = pd.DataFrame({
        "cluster_id": labels[sel], "pop": pop[sel],
        "x": ctx.cells["x"].to_numpy(dtype=float)[sel],
        "y": ctx.cells["y"].to_numpy(dtype=float)[sel],
        "cell_id": ctx.cells["cell_id"].to_numpy()[sel],
    })
    frame["px"] = frame["x"] * frame["pop"]
    frame["py"] = frame["y"] * frame["pop"]
    agg = frame.groupby("cluster_id", sort=True).agg(
        n_cells=("cell_id", "size"), population=("pop", "sum"), px=("px", "sum"),
        py=("py", "sum"), cell_ids=("cell_id", lambda s: ";".join(str(int(v)) for v in s)))
    agg["x"] = agg["px"] / agg["population"]
    agg["y"] = agg["py"] / agg["population"]
    agg = agg.reset_index()
    agg.insert(0, "target_id", target_id)
    return agg[GAP_COLUMNS]

