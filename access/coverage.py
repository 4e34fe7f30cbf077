"""Coverage measures on plain arrays: circles, life-circle completeness, 2SFCA, ratios.

Every function here takes numpy arrays (per-cell population, per-cell distances,
thresholds in metres, facility supply) and returns numbers or arrays. Nothing
here knows about files, CRSs, category names or Chinese labels: the target
engine (:mod:`access.targets`) maps a study area onto these arrays.

Conventions
-----------
* Distances are metres; ``inf`` (or NaN) means "not reachable within the search
  limit" and never counts as covered.
* A cell is covered when ``dist_m <= max_dist_m`` (the threshold is inclusive).
* Shares are fractions in ``[0, 1]``; a share over zero population is NaN (the
  caller decides how to report "nothing to measure").
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from access.travel import time_to_dist_m

__all__ = [
    "area_coverage",
    "circle_coverage",
    "completeness",
    "covered_by_facility_radius",
    "covered_mask",
    "gaussian_weight",
    "provision_ratio",
    "time_to_dist_m",
    "two_step_fca",
    "uncovered_clusters",
    "weighted_share",
]

log = logging.getLogger(__name__)


def covered_mask(dist_m: np.ndarray, max_dist_m: float | np.ndarray) -> np.ndarray:
    """Boolean mask of cells whose distance is within the threshold.

    Parameters
    ----------
    dist_m
        Distance to the nearest facility per cell, metres (``inf``/NaN: none).
    max_dist_m
        Threshold in metres, a scalar or one value per cell (inclusive).
    """
    dist = np.asarray(dist_m, dtype=float)
    limit = np.broadcast_to(np.asarray(max_dist_m, dtype=float), dist.shape)
    with np.errstate(invalid="ignore"):
        return np.isfinite(dist) & (dist <= limit)


def weighted_share(weight: np.ndarray, mask: np.ndarray) -> float:
    """Share of the total weight (persons, m²) carried by the cells in ``mask``.

    NaN weights count as 0; negative weights are an error; NaN when the total is 0.
    """
    weight = np.nan_to_num(np.asarray(weight, dtype=float), nan=0.0)
    if np.any(weight < 0):
        raise ValueError("weights (population or area) must not be negative")
    total = weight.sum()
    if not total > 0:
        return float("nan")
    return float(weight[mask].sum() / total)


def circle_coverage(pop: np.ndarray, dist_m: np.ndarray, max_dist_m: float | np.ndarray) -> float:
    """Population-weighted share of cells within ``max_dist_m`` of a facility.

    Parameters
    ----------
    pop
        Persons per cell (NaN counts as 0; negative values are an error).
    dist_m
        Distance to the nearest facility per cell, metres.
    max_dist_m
        Threshold in metres, scalar or per cell.

    Returns
    -------
    float
        Covered persons divided by all persons; NaN when nobody lives in the cells.
    """
    return weighted_share(pop, covered_mask(dist_m, max_dist_m))


def area_coverage(area_m2: np.ndarray, dist_m: np.ndarray, max_dist_m: float | np.ndarray) -> float:
    """Area-weighted share of cells within reach (the city check-up measure).

    Same as :func:`circle_coverage` with the (residential) area of each cell as weight.
    """
    return weighted_share(area_m2, covered_mask(dist_m, max_dist_m))


def covered_by_facility_radius(n_cells: int, fac_idx: np.ndarray, cell_idx: np.ndarray,
                               dist_m: np.ndarray, radius_m: np.ndarray) -> np.ndarray:
    """Cells within the service radius of at least one facility, radius per facility.

    Parameters
    ----------
    n_cells
        Number of cells.
    fac_idx, cell_idx, dist_m
        Facility-cell pairs (facility index, cell index, distance in metres).
    radius_m
        Service radius of each facility, indexed by ``fac_idx`` values.
    """
    fac_idx = np.asarray(fac_idx, dtype=np.int64)
    cell_idx = np.asarray(cell_idx, dtype=np.int64)
    dist = np.asarray(dist_m, dtype=float)
    radius = np.asarray(radius_m, dtype=float)
    out = np.zeros(n_cells, dtype=bool)
    if fac_idx.size:
        ok = np.isfinite(dist) & (dist <= radius[fac_idx])
        out[cell_idx[ok]] = True
    return out


def completeness(pop: np.ndarray, dist_by_type: np.ndarray, max_dist_by_type: np.ndarray,
                 ) -> tuple[float, np.ndarray]:
    """Share of persons who reach every facility type within its own threshold.

    Implements the GB 50180-2018 non-nesting rule when the caller lists, for a
    level, its own types and every lower level's types with their own (shorter)
    thresholds: a type is only satisfied by a facility of that type, so a
    higher-level facility never stands in for a lower one.

    Parameters
    ----------
    pop
        Persons per cell, shape ``(n_cells,)``.
    dist_by_type
        Distance to the nearest facility of each type, shape ``(n_cells, n_types)``.
    max_dist_by_type
        Threshold of each type in metres, shape ``(n_types,)``.

    Returns
    -------
    share : float
        Population-weighted share of cells with no missing type (NaN with no people).
    missing : numpy.ndarray
        Boolean ``(n_cells, n_types)``: True where the type is out of reach.
    """
    dist = np.asarray(dist_by_type, dtype=float)
    if dist.ndim != 2:
        raise ValueError(f"dist_by_type must be 2-D (n_cells, n_types), got shape {dist.shape}")
    limits = np.asarray(max_dist_by_type, dtype=float)
    if limits.shape != (dist.shape[1],):
        raise ValueError(f"max_dist_by_type must have shape ({dist.shape[1]},), "
                         f"got {limits.shape}")
    missing = ~covered_mask(dist, limits[np.newaxis, :])
    complete = np.asarray(~missing.any(axis=1))
    return weighted_share(pop, complete), missing


def gaussian_weight(dist_m: np.ndarray, max_dist_m: float) -> np.ndarray:
    """Gaussian distance decay used by the Gaussian 2SFCA (1 at 0 m, 0 at the limit).

    ``w = (exp(-d²/(2 d0²)) - exp(-1/2)) / (1 - exp(-1/2))`` for ``d <= d0``, else 0.
    """
    d = np.asarray(dist_m, dtype=float)
    edge = np.exp(-0.5)
    with np.errstate(invalid="ignore"):
        w = (np.exp(-0.5 * (d / max_dist_m) ** 2) - edge) / (1.0 - edge)
        return np.where(np.isfinite(d) & (d <= max_dist_m), np.clip(w, 0.0, 1.0), 0.0)


def two_step_fca(supply: np.ndarray, demand: np.ndarray, fac_idx: np.ndarray,
                 cell_idx: np.ndarray, dist_m: np.ndarray, *, max_dist_m: float,
                 kernel: str = "uniform") -> np.ndarray:
    """Two-step floating catchment area accessibility score per cell.

    Step 1: each facility's supply-to-demand ratio over the (weighted) demand in
    its catchment. Step 2: each cell sums the (weighted) ratios of the facilities
    whose catchment contains it. With the uniform kernel and a catchment that
    links every facility to every cell, every cell scores exactly total supply /
    total demand.

    Parameters
    ----------
    supply
        Capacity per facility, shape ``(n_facilities,)`` (NaN counts as 0).
    demand
        Persons per cell, shape ``(n_cells,)`` (NaN counts as 0).
    fac_idx, cell_idx, dist_m
        Facility-cell pairs: facility index, cell index and distance in metres.
        Pairs beyond ``max_dist_m`` are ignored.
    max_dist_m
        Catchment size in metres.
    kernel
        ``"uniform"`` (classic 2SFCA) or ``"gaussian"`` (Gaussian 2SFCA).

    Returns
    -------
    numpy.ndarray
        Supply per person reachable from each cell, shape ``(n_cells,)``. A
        facility with no demand in its catchment contributes nothing.
    """
    if kernel not in ("uniform", "gaussian"):
        raise ValueError(f"kernel must be 'uniform' or 'gaussian', got {kernel!r}")
    if not max_dist_m > 0:
        raise ValueError(f"max_dist_m must be positive, got {max_dist_m}")
    supply = np.nan_to_num(np.asarray(supply, dtype=float), nan=0.0)
    demand = np.nan_to_num(np.asarray(demand, dtype=float), nan=0.0)
    if np.any(supply < 0) or np.any(demand < 0):
        raise ValueError("supply and demand must not be negative")
    fac_idx = np.asarray(fac_idx, dtype=np.int64)
    cell_idx = np.asarray(cell_idx, dtype=np.int64)
    dist = np.asarray(dist_m, dtype=float)
    if not (fac_idx.shape == cell_idx.shape == dist.shape):
        raise ValueError("fac_idx, cell_idx and dist_m must have the same length")
    keep = np.isfinite(dist) & (dist <= max_dist_m)
    fac_idx, cell_idx, dist = fac_idx[keep], cell_idx[keep], dist[keep]
    w = np.ones_like(dist) if kernel == "uniform" else gaussian_weight(dist, max_dist_m)
    weighted_demand = np.bincount(fac_idx, weights=w * demand[cell_idx],
                                  minlength=supply.size)
    ratio = np.divide(supply, weighted_demand, out=np.zeros_like(supply),
                      where=weighted_demand > 0)
    return np.bincount(cell_idx, weights=w * ratio[fac_idx], minlength=demand.size)


def provision_ratio(capacity: np.ndarray, population: np.ndarray, *,
                    per_persons: float = 1000.0) -> float:
    """Capacity per ``per_persons`` persons, e.g. beds per 1000 elderly.

    Parameters
    ----------
    capacity
        Capacity of each facility (NaN counts as 0: the caller reports unknowns).
    population
        Persons of the group (per cell or per unit; summed).
    per_persons
        1000 for "per 1000", 1 for "per person" (m² per person).

    Returns
    -------
    float
        NaN when the population is zero.
    """
    total_pop = float(np.nansum(np.asarray(population, dtype=float)))
    total_cap = float(np.nansum(np.asarray(capacity, dtype=float)))
    if not total_pop > 0:
        return float("nan")
    return total_cap / total_pop * per_persons


def uncovered_clusters(rows: np.ndarray, cols: np.ndarray, uncovered_mask: np.ndarray,
                       pop: np.ndarray, *, connectivity: int = 8) -> np.ndarray:
    """Label connected clusters of uncovered cells, ranked by population.

    Parameters
    ----------
    rows, cols
        Grid position of each cell.
    uncovered_mask
        True for cells to group (uncovered and worth reporting).
    pop
        Persons per cell, for the ranking.
    connectivity
        8 (cells touching at a corner join: the default, since diagonal
        neighbours are one cell size apart and form one area on the map) or 4.

    Returns
    -------
    numpy.ndarray
        Cluster label per cell: 0 outside every cluster, 1 for the most
        populous cluster, 2 for the next, ... (ties broken by size, then by
        the smallest row-major position).
    """
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    mask = np.asarray(uncovered_mask, dtype=bool)
    pop = np.nan_to_num(np.asarray(pop, dtype=float), nan=0.0)
    out = np.zeros(rows.size, dtype=np.int64)
    if not mask.any():
        return out
    r0, c0 = rows[mask].min(), cols[mask].min()
    r, c = rows[mask] - r0, cols[mask] - c0
    image = np.zeros((r.max() + 1, c.max() + 1), dtype=bool)
    image[r, c] = True
    structure = ndimage.generate_binary_structure(2, 2 if connectivity == 8 else 1)
    labels, n = ndimage.label(image, structure=structure)
    raw = labels[r, c]
    cluster_pop = np.bincount(raw, weights=pop[mask], minlength=n + 1)[1:]
    cluster_size = np.bincount(raw, minlength=n + 1)[1:]
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, raw - 1, r * image.shape[1] + c)
    order = np.lexsort((first, -cluster_size, -cluster_pop))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    out[mask] = rank[raw - 1]
    return out
