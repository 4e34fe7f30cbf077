"""Site selection models on sparse coverage structures: arrays in, arrays out.

Where should the next facilities go? Every model here takes plain arrays: a
sparse *coverage matrix* (demand rows × candidate columns, true where the
candidate serves the demand within the target's reach), demand weights
(residents of the target's group), optional candidate costs and capacities, and
for the distance models a long table of ``(demand, candidate, dist)`` pairs.
Nothing here knows about files, CRSs or category names: the application
(:mod:`lifecircle.site`) builds these arrays from network distances.

Models
------
* :func:`mclp` — maximal covering: best ``n`` sites (and/or within a budget)
  maximising the weight newly covered;
* :func:`lscp` — (partial) set covering: fewest sites (or least cost) covering at
  least a given weight; an unreachable amount is reported with the best
  reachable value (status ``"infeasible"``);
* :func:`p_median` — ``n`` sites minimising the weighted distance, existing
  facilities counting through each demand's base distance;
* :func:`p_center` — ``n`` sites minimising the worst distance;
* :func:`capacitated` — ``n`` sites maximising demand that gets a place when
  every facility has a capacity (splittable assignment within reach);
* :func:`least_important` — which existing facilities can close with the
  smallest loss of coverage;
* :func:`colocated` — sites hosting several categories at once, a resident
  counting when every category is within reach (life-circle completeness).

Every exact model is a mixed-integer program solved with HiGHS (``highspy``) and
returns a :class:`Solution` with the objective, the proven bound and the
relative gap. Demand rows that share the same candidate set are merged first
(:func:`aggregate_rows`), candidates whose set is contained in another's at no
lower cost are dropped (:func:`dominated_candidates`), and a greedy solution
starts the search. When the time limit stops HiGHS, the best solution found is
returned with status ``"time_limit"`` and the bound HiGHS proved. The greedy
answers (:func:`greedy_mclp`, :func:`greedy_lscp`, :func:`greedy_p_median`)
carry a certified bound of their own from submodularity: for any solution
``S`` and ``n`` more sites, ``OPT <= f(S) + (sum of the n largest marginal
gains at S)`` (Nemhauser, Wolsey and Fisher 1978; Minoux 1978).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

__all__ = [
    "Solution",
    "aggregate_rows",
    "capacitated",
    "colocated",
    "colocated_order",
    "colocated_value",
    "coverage_matrix",
    "dominated_candidates",
    "greedy_lscp",
    "greedy_mclp",
    "greedy_p_median",
    "least_important",
    "lscp",
    "marginal_order",
    "mclp",
    "p_center",
    "p_median",
]

log = logging.getLogger(__name__)

_EPS = 1e-9


@dataclass
class Solution:
    """Answer of a siting model.

    Attributes
    ----------
    model
        ``mclp``, ``lscp``, ``p_median``, ``p_center``, ``capacitated``,
        ``least_important`` or ``colocated``.
    sites
        Chosen candidate indices (for ``least_important``: the facilities to
        close), ascending.
    objective
        Value of the chosen sites: weight newly covered (``mclp``, ``colocated``,
        ``capacitated``: demand newly given a place), number of sites or total
        cost (``lscp``), weighted distance (``p_median``), worst distance
        (``p_center``), weight lost (``least_important``).
    bound
        Proven bound on the best possible objective (upper for maximising models,
        lower for minimising ones).
    gap
        ``|bound - objective| / max(|objective|, tiny)``; 0 when proven optimal.
    status
        ``optimal`` (within the requested gap), ``time_limit`` (best found when the
        limit hit), ``greedy`` (greedy answer with its certified bound) or
        ``infeasible`` (the requested amount cannot be reached; see
        ``best_reachable``).
    method
        ``highs`` (branch and bound), ``greedy``, ``lp_rounding`` (the LP
        relaxation's whole sites completed greedily, proven within the requested
        gap by the relaxation's bound) or ``lagrangian`` (p-median: the greedy
        answer proven within the requested gap by a Lagrangian bound).
    best_reachable
        For ``lscp``: the most weight any number of sites can cover.
    stats
        Instance size after reduction and seconds per step.
    detail
        Model-specific arrays (e.g. the capacitated assignment).
    """

    model: str
    sites: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    method: str
    best_reachable: float = math.nan
    stats: dict[str, float] = field(default_factory=dict)
    detail: dict[str, np.ndarray] = field(default_factory=dict)


def _gap(objective: float, bound: float) -> float:
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.inf
    diff = abs(bound - objective)
    if diff <= 1e-9 * max(1.0, abs(bound)):
        return 0.0
    return diff / max(abs(objective), 1e-12)


# ---------------------------------------------------------------------------
# Structures
# ---------------------------------------------------------------------------
def coverage_matrix(demand: np.ndarray, candidate: np.ndarray, n_demand: int,
                    n_candidates: int) -> sp.csr_matrix:
    """Boolean CSR matrix (demand × candidate) from parallel index arrays.

    Duplicate pairs collapse to one entry.
    """
    demand = np.asarray(demand, dtype=np.int64)
    candidate = np.asarray(candidate, dtype=np.int64)
    if demand.shape != candidate.shape:
        raise ValueError("demand and candidate index arrays differ in shape")
    m = sp.csr_matrix((np.ones(len(demand), dtype=bool), (demand, candidate)),
                      shape=(n_demand, n_candidates))
    m.sum_duplicates()
    m.data[:] = True
    m.sort_indices()
    return m


def _row_keys(indptr: np.ndarray, cols: np.ndarray, vals: np.ndarray | None) -> np.ndarray:
    """Two 64-bit hashes and the length of each row (a grouping key)."""
    n = len(indptr) - 1
    rng = np.random.default_rng(20240601)
    n_col = int(cols.max()) + 1 if len(cols) else 1
    r1 = rng.integers(1, 2**63, size=n_col, dtype=np.uint64)
    r2 = rng.integers(1, 2**63, size=n_col, dtype=np.uint64)
    t1 = r1[cols]
    t2 = r2[cols]
    if vals is not None:
        v = np.ascontiguousarray(vals, dtype=np.float64).view(np.uint64)
        t1 = t1 * (v | np.uint64(1))
        t2 = t2 ^ (v * np.uint64(0x9E3779B97F4A7C15))
    lengths = np.diff(indptr)
    h1 = np.zeros(n, dtype=np.uint64)
    h2 = np.zeros(n, dtype=np.uint64)
    nz = lengths > 0
    if len(cols):
        with np.errstate(over="ignore"):
            starts = indptr[:-1][nz]
            h1[nz] = np.add.reduceat(t1, starts)
            h2[nz] = np.add.reduceat(t2, starts)
    return np.column_stack([h1, h2, lengths.astype(np.uint64)])


def aggregate_rows(matrix: sp.csr_matrix, weight: np.ndarray, *,
                   extra_key: np.ndarray | None = None,
                   ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Merge demand rows with identical candidate sets (and values), summing weights.

    Rows are grouped by hashing their column indices (and stored values, for
    distance matrices); every group is then checked entry by entry, so the
    result is exact whatever the hashes.

    Parameters
    ----------
    matrix
        CSR matrix with sorted indices (demand × candidate).
    weight
        Weight of each row.
    extra_key
        Optional float per row that must also match (e.g. a base distance).

    Returns
    -------
    matrix_agg, weight_agg, group
        One row per distinct set (in order of first appearance), the summed
        weights, and the group of every original row.
    """
    m = sp.csr_matrix(matrix)
    m.sort_indices()
    weight = np.asarray(weight, dtype=float)
    vals = None if m.dtype == bool else m.data
    keys = _row_keys(m.indptr, m.indices, vals)
    if extra_key is not None:
        keys = np.column_stack([keys, np.asarray(extra_key, np.float64).view(np.uint64)])
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    # groups numbered in order of first appearance, so the result does not depend on hashes
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = rank[inverse]
    rep = first[order]
    # exact check: every row equals its representative
    rep_of_row = rep[group]
    lengths = np.diff(m.indptr)
    if not np.array_equal(lengths, lengths[rep_of_row]):
        raise RuntimeError("row hashing collision (lengths)")
    pos = np.arange(m.nnz) - np.repeat(m.indptr[:-1], lengths)
    other = np.repeat(m.indptr[rep_of_row], lengths) + pos
    same = m.indices == m.indices[other]
    if vals is not None:
        same &= m.data == m.data[other]
    if extra_key is not None:
        ek = np.asarray(extra_key, dtype=float)
        if not np.array_equal(ek, ek[rep_of_row], equal_nan=True):
            raise RuntimeError("row hashing collision (extra key)")
    if not same.all():
        raise RuntimeError("row hashing collision")
    w = np.bincount(group, weights=weight, minlength=len(rep))
    return m[rep], w, group


def dominated_candidates(matrix: sp.csr_matrix, cost: np.ndarray | None = None,
                         ) -> np.ndarray:
    """Mask of candidates worth keeping for covering models.

    A candidate is dropped when it covers nothing, or when another candidate
    covers every demand row it covers at no higher cost (among identical ones the
    lowest index stays). Valid for :func:`mclp` and :func:`lscp`: swapping a
    dominated site for its dominator never lowers coverage or raises cost.
    """
    a = sp.csc_matrix(matrix, dtype=np.float64)
    n = a.shape[1]
    cost = np.zeros(n) if cost is None else np.asarray(cost, dtype=float)
    size = np.diff(a.indptr)
    keep = size > 0
    overlap = (a.T @ a).tocoo()
    i, j, v = overlap.row, overlap.col, overlap.data
    # i dominated by j: N(i) ⊆ N(j), cost_j <= cost_i, and (strictly better or j < i)
    sub = (i != j) & (v >= size[i] - 0.5) & (cost[j] <= cost[i])
    tie = (size[j] == size[i]) & (cost[j] == cost[i])
    dom = sub & (~tie | (j < i))
    keep[np.unique(i[dom])] = False
    return keep


# ---------------------------------------------------------------------------
# HiGHS
# ---------------------------------------------------------------------------
_HIGHS_STARTED = False


def _new_highs() -> highspy.Highs:
    """A HiGHS instance; the banner HiGHS prints on its first start stays off stdout."""
    global _HIGHS_STARTED
    if _HIGHS_STARTED:
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _HIGHS_STARTED = True
    return h


@dataclass
class _MipResult:
    x: np.ndarray
    objective: float
    bound: float
    status: str
    seconds: float


def _solve_mip(c: np.ndarray, a: sp.spmatrix, row_lo: np.ndarray, row_hi: np.ndarray,
               col_lo: np.ndarray, col_hi: np.ndarray, integer: np.ndarray, *,
               maximize: bool, time_limit_s: float, mip_rel_gap: float,
               start: np.ndarray | None = None, offset: float = 0.0) -> _MipResult:
    """Solve one MIP with HiGHS (deterministic: one thread, fixed seed)."""
    t0 = time.perf_counter()
    a = sp.csc_matrix(a, dtype=np.float64)
    a.sort_indices()
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    lp = highspy.HighsLp()
    lp.num_col_ = a.shape[1]
    lp.num_row_ = a.shape[0]
    lp.col_cost_ = np.asarray(c, dtype=np.float64)
    lp.col_lower_ = np.asarray(col_lo, dtype=np.float64)
    lp.col_upper_ = np.asarray(col_hi, dtype=np.float64)
    lp.row_lower_ = np.asarray(row_lo, dtype=np.float64)
    lp.row_upper_ = np.asarray(row_hi, dtype=np.float64)
    lp.offset_ = float(offset)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data
    lp.a_matrix_.num_col_ = a.shape[1]
    lp.a_matrix_.num_row_ = a.shape[0]
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    lp.integrality_ = [highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
                       for v in np.asarray(integer, dtype=bool)]
    h.passModel(lp)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    seconds = time.perf_counter() - t0
    if status == highspy.HighsModelStatus.kInfeasible:
        return _MipResult(np.zeros(a.shape[1]), math.nan, math.nan, "infeasible", seconds)
    x = np.asarray(h.getSolution().col_value, dtype=float)
    obj = float(info.objective_function_value)
    # an LP (no integer column) is its own bound; HiGHS reports no MIP bound for it
    bound = float(info.mip_dual_bound) if np.any(integer) else obj
    if not math.isfinite(bound):
        bound = math.inf if maximize else -math.inf
    if status == highspy.HighsModelStatus.kOptimal:
        st = "optimal"
    elif status in (highspy.HighsModelStatus.kTimeLimit,
                    highspy.HighsModelStatus.kSolutionLimit,
                    highspy.HighsModelStatus.kIterationLimit):
        st = "time_limit"
    else:
        raise RuntimeError(f"HiGHS ended with status {h.modelStatusToString(status)}")
    if x.size != a.shape[1] or info.primal_solution_status < 1:
        return _MipResult(np.zeros(a.shape[1]), math.nan, bound, "no_solution", seconds)
    return _MipResult(x, obj, bound, st, seconds)


def _check_n(n: int | None, n_candidates: int) -> None:
    if n is None:
        return
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n > n_candidates:
        raise ValueError(f"n = {n} is larger than the number of candidates ({n_candidates})")


# ---------------------------------------------------------------------------
# Greedy (with certified bounds)
# ---------------------------------------------------------------------------
def _cover_greedy(a_csr: sp.csr_matrix, w: np.ndarray, *, n: int | None,
                  cost: np.ndarray | None, budget: float | None, need: float | None,
                  ) -> tuple[list[int], float, float]:
    """Greedy on a weighted coverage function.

    Stops after ``n`` sites, when the budget allows no more, or once ``need`` is
    covered. Returns (sites, value, bound): ``bound`` is the best submodular
    upper bound on the optimum of the cardinality/budget problem seen on the way.
    """
    a_csc = a_csr.tocsc()
    n_cand = a_csr.shape[1]
    by_cost = cost is not None
    cost = np.ones(n_cand) if cost is None else np.asarray(cost, dtype=float)
    uncovered = np.ones(a_csr.shape[0], dtype=bool)
    gain = np.asarray(a_csc.T @ w, dtype=float).ravel()
    chosen: list[int] = []
    value = 0.0
    spent = 0.0
    bound = math.inf
    avail = np.ones(n_cand, dtype=bool)
    while True:
        bound = min(bound, value + _gain_bound(gain, avail, cost, n, len(chosen), budget,
                                               spent))
        if n is not None and len(chosen) >= n:
            break
        if need is not None and value >= need - _EPS * max(1.0, need):
            break
        ok = avail & (gain > _EPS)
        if budget is not None:
            ok &= cost <= budget - spent + 1e-12
        if not ok.any():
            break
        score = np.where(ok, gain / np.where(cost > 0, cost, 1e-12) if by_cost
                         else gain, -np.inf)
        j = int(np.argmax(score))
        chosen.append(j)
        avail[j] = False
        spent += cost[j]
        rows = a_csc.indices[a_csc.indptr[j]:a_csc.indptr[j + 1]]
        new = rows[uncovered[rows]]
        if len(new):
            uncovered[new] = False
            value += float(w[new].sum())
            sub = a_csr[new]
            gain -= np.bincount(sub.indices, weights=np.repeat(w[new], np.diff(sub.indptr)),
                                minlength=n_cand)
            gain[np.abs(gain) < 1e-9] = 0.0
    if budget is not None and n is None:
        # the classic guard: the best single affordable site may beat ratio-greedy
        ok = cost <= budget + 1e-12
        single = np.asarray(a_csc.T @ w, dtype=float).ravel()
        if ok.any():
            j = int(np.argmax(np.where(ok, single, -np.inf)))
            if single[j] > value + _EPS:
                chosen, value = [j], float(single[j])
    return chosen, value, bound


def _gain_bound(gain: np.ndarray, avail: np.ndarray, cost: np.ndarray, n: int | None,
                n_chosen: int, budget: float | None, spent: float) -> float:
    """Upper bound on what more sites can add: top-k gains, or a fractional knapsack."""
    g = np.where(avail, np.maximum(gain, 0.0), 0.0)
    bounds = []
    if n is not None:
        # any n-site optimum gains at most the n largest marginal gains at S
        k = min(n, len(g))
        bounds.append(float(np.sort(g)[::-1][:k].sum()) if k > 0 else 0.0)
    if budget is not None:
        order = np.argsort(-(g / np.where(cost > 0, cost, 1e-12)), kind="stable")
        left = float(budget)
        tot = 0.0
        for j in order:
            if g[j] <= 0 or left <= 0:
                break
            take = min(1.0, left / cost[j]) if cost[j] > 0 else 1.0
            tot += take * g[j]
            left -= take * cost[j]
        bounds.append(tot)
    if not bounds:
        bounds.append(float(g.sum()))
    return min(bounds)


def greedy_mclp(matrix: sp.csr_matrix, weight: np.ndarray, n: int | None = None, *,
                cost: np.ndarray | None = None, budget: float | None = None) -> Solution:
    """Greedy maximal covering with a certified upper bound.

    Parameters
    ----------
    matrix
        Demand × candidate coverage (true = within reach).
    weight
        Weight of each demand row (residents not yet covered).
    n
        Number of sites (None: only the budget limits).
    cost, budget
        Optional cost per candidate and total budget (greedy by gain per cost).
    """
    t0 = time.perf_counter()
    a = sp.csr_matrix(matrix, dtype=bool)
    _check_n(n, a.shape[1])
    if n is None and budget is None:
        raise ValueError("give n, budget or both")
    w = np.asarray(weight, dtype=float)
    sites, value, bound = _cover_greedy(a, w, n=n, cost=cost, budget=budget, need=None)
    if budget is not None:
        # the certificate: a fractional knapsack over marginal gains at the start
        bound = max(bound, value)
    return Solution("mclp", np.array(sorted(sites), dtype=np.int64), value, bound,
                    _gap(value, bound), "greedy", "greedy",
                    stats={"greedy_s": time.perf_counter() - t0})


def greedy_lscp(matrix: sp.csr_matrix, weight: np.ndarray, need: float, *,
                cost: np.ndarray | None = None) -> Solution:
    """Greedy partial set covering with a certified lower bound on the number of sites.

    The bound: no ``k`` sites cover more than the ``k`` largest single-site
    coverages, so at least the smallest such ``k`` reaching ``need`` is needed.
    """
    t0 = time.perf_counter()
    a = sp.csr_matrix(matrix, dtype=bool)
    w = np.asarray(weight, dtype=float)
    reachable = float(w[np.diff(a.indptr) > 0].sum())
    sites, _, _ = _cover_greedy(a, w, n=None, cost=cost, budget=None, need=need)
    single = np.asarray(a.T @ w, dtype=float).ravel()
    c = np.ones(a.shape[1]) if cost is None else np.asarray(cost, dtype=float)
    lb = _lscp_lower_bound(single, c, min(need, reachable))
    obj = float(c[sites].sum()) if sites else 0.0
    status = "greedy" if need <= reachable + _EPS * max(1.0, need) else "infeasible"
    return Solution("lscp", np.array(sorted(sites), dtype=np.int64), obj, lb,
                    _gap(obj, lb), status, "greedy", best_reachable=reachable,
                    stats={"greedy_s": time.perf_counter() - t0})


def _lscp_lower_bound(single: np.ndarray, cost: np.ndarray, need: float) -> float:
    """Least cost of a fractional knapsack of single-site coverages reaching ``need``."""
    if need <= 0:
        return 0.0
    ratio = single / np.where(cost > 0, cost, 1e-12)
    order = np.argsort(-ratio, kind="stable")
    got, spent = 0.0, 0.0
    for j in order:
        if single[j] <= 0:
            break
        if got + single[j] >= need - 1e-9:
            spent += cost[j] * (need - got) / single[j]
            # with unit costs the count is an integer
            return math.ceil(spent - 1e-9) if np.all(cost == 1) else spent
        got += single[j]
        spent += cost[j]
    return spent


def marginal_order(matrix: sp.csr_matrix, weight: np.ndarray, sites: np.ndarray,
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Rank chosen sites by what each adds: greedily, largest marginal weight first.

    Returns
    -------
    order, marginal
        ``sites`` reordered, and the weight each adds given those before it
        (the marginals sum to the weight the whole set covers).
    """
    a = sp.csc_matrix(matrix, dtype=bool)
    sites = np.asarray(sites, dtype=np.int64)
    w = np.asarray(weight, dtype=float)
    covered = np.zeros(a.shape[0], dtype=bool)
    left = list(sites)
    order, marg = [], []
    while left:
        gains = []
        for j in left:
            rows = a.indices[a.indptr[j]:a.indptr[j + 1]]
            gains.append(float(w[rows[~covered[rows]]].sum()))
        k = int(np.argmax(gains))  # ties: the earlier (lower index) site
        j = left.pop(k)
        order.append(j)
        marg.append(gains[k])
        covered[a.indices[a.indptr[j]:a.indptr[j + 1]]] = True
    return np.array(order, dtype=np.int64), np.array(marg, dtype=float)


# ---------------------------------------------------------------------------
# Covering models (MCLP, LSCP, co-located)
# ---------------------------------------------------------------------------
def _prepare_cover(matrix: sp.spmatrix, weight: np.ndarray, cost: np.ndarray | None,
                   reduce: bool) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, dict[str, float]]:
    """Aggregate demand, drop empty rows and dominated candidates."""
    t0 = time.perf_counter()
    a = sp.csr_matrix(matrix, dtype=bool)
    a.sort_indices()
    w = np.asarray(weight, dtype=float)
    if w.shape != (a.shape[0],):
        raise ValueError("weight needs one value per demand row")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("demand weights must be finite and non-negative")
    useful = (np.diff(a.indptr) > 0) & (w > 0)
    a = a[np.flatnonzero(useful)]
    w = w[useful]
    agg, wg, _ = aggregate_rows(a, w)
    keep = dominated_candidates(agg, cost) if reduce else np.ones(a.shape[1], dtype=bool)
    stats = {"demand_rows": float(useful.sum()), "demand_groups": float(agg.shape[0]),
             "candidates_kept": float(keep.sum()),
             "reduce_s": time.perf_counter() - t0}
    return agg, wg, keep, stats


def _max_cover_mip(req: sp.csr_matrix, req_group: np.ndarray, wg: np.ndarray, *,
                   n: int | None, cost: np.ndarray | None, budget: float | None,
                   start: np.ndarray | None, time_limit_s: float, mip_rel_gap: float,
                   exact_n: bool = False, relax: bool = False) -> _MipResult:
    """max Σ w_g y_g  s.t.  y_g <= Σ_{j in R} x_j for every requirement R of g."""
    n_c = req.shape[1]
    n_g = len(wg)
    n_r = req.shape[0]
    # rows: y_g - Σ x_j <= 0
    y_part = sp.csr_matrix((np.ones(n_r), (np.arange(n_r), req_group)), shape=(n_r, n_g))
    blocks = [sp.hstack([-req.astype(np.float64), y_part])]
    lo = [np.full(n_r, -np.inf)]
    hi = [np.zeros(n_r)]
    if n is not None:
        blocks.append(sp.hstack([sp.csr_matrix(np.ones((1, n_c))), sp.csr_matrix((1, n_g))]))
        lo.append(np.array([float(n) if exact_n else -np.inf]))
        hi.append(np.array([float(n)]))
    if budget is not None:
        blocks.append(sp.hstack([sp.csr_matrix(np.asarray(cost, float)[None, :]),
                                 sp.csr_matrix((1, n_g))]))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([float(budget)]))
    a = sp.vstack(blocks)
    c = np.concatenate([np.zeros(n_c), wg])
    integer = np.concatenate([np.full(n_c, not relax), np.zeros(n_g, bool)])
    x0 = None
    if start is not None:
        x0 = np.concatenate([start, np.zeros(n_g)])
        hit = np.zeros(n_r, dtype=bool)
        if n_r:
            hit = np.asarray(req.astype(np.float64) @ start > 0.5).ravel()
        ok = np.ones(n_g, dtype=bool)
        np.logical_and.at(ok, req_group, hit)
        x0[n_c:] = ok
    return _solve_mip(c, a, np.concatenate(lo), np.concatenate(hi),
                      np.zeros(n_c + n_g), np.ones(n_c + n_g), integer, maximize=True,
                      time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, start=x0)


def mclp(matrix: sp.spmatrix, weight: np.ndarray, n: int | None = None, *,
         cost: np.ndarray | None = None, budget: float | None = None,
         time_limit_s: float = 60.0, mip_rel_gap: float = 1e-4,
         reduce: bool = True) -> Solution:
    """Maximal covering location: at most ``n`` sites (and/or within ``budget``).

    Parameters
    ----------
    matrix
        Demand × candidate coverage, true where the candidate serves the demand.
        Rows are the demand *not yet covered* by existing facilities.
    weight
        Weight of each row (e.g. residents of the target's group).
    n
        Maximum number of new sites (None: only the budget limits).
    cost, budget
        Cost per candidate and the total budget.
    time_limit_s, mip_rel_gap
        HiGHS limits; the answer reports the gap reached.
    reduce
        Drop dominated candidates first (never changes the optimum).

    Returns
    -------
    Solution
        ``objective`` = weight newly covered, ``bound`` its proven upper bound.
    """
    a = sp.csr_matrix(matrix, dtype=bool)
    _check_n(n, a.shape[1])
    if n is None and budget is None:
        raise ValueError("give n, budget or both")
    if budget is not None and cost is None:
        raise ValueError("a budget needs a cost per candidate")
    if cost is not None:
        cost = np.asarray(cost, dtype=float)
        if cost.shape != (a.shape[1],) or np.any(cost < 0) or not np.all(np.isfinite(cost)):
            raise ValueError("cost needs one finite, non-negative value per candidate")
    if budget is None:
        cost = None  # without a budget the cost plays no part
    agg, wg, keep, stats = _prepare_cover(a, weight, cost, reduce)
    kidx = np.flatnonzero(keep)
    sub = agg[:, kidx]
    csub = None if cost is None else cost[kidx]
    t0 = time.perf_counter()
    g_sites, g_val, g_bound = _cover_greedy(sub, wg, n=n, cost=csub, budget=budget, need=None)
    stats["greedy_s"] = time.perf_counter() - t0
    start = np.zeros(len(kidx))
    start[g_sites] = 1
    if g_bound <= g_val + 1e-9 * max(1.0, g_val):
        # the greedy answer is proven optimal (everything coverable is covered)
        stats["solve_s"] = 0.0
        return Solution("mclp", np.sort(kidx[g_sites]), g_val, g_bound, 0.0, "optimal",
                        "greedy", stats=stats)
    # the LP relaxation: its bound, and its whole sites completed greedily, often close
    # the gap without branching (MCLP relaxations are nearly integral)
    t1 = time.perf_counter()
    lp = _max_cover_mip(sub, np.arange(sub.shape[0]), wg, n=n, cost=csub, budget=budget,
                        start=None, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap,
                        relax=True)
    stats["lp_s"] = time.perf_counter() - t1
    if lp.status == "optimal":
        g_bound = min(g_bound, lp.bound)
        r_sites, r_val = _complete_greedy(sub, wg, np.flatnonzero(lp.x[:len(kidx)] > 1 - 1e-6),
                                          n=n, cost=csub, budget=budget)
        if r_val > g_val:
            g_sites, g_val = r_sites, r_val
            start = np.zeros(len(kidx))
            start[g_sites] = 1
        if _gap(g_val, g_bound) <= mip_rel_gap:
            stats["solve_s"] = stats["lp_s"]
            return Solution("mclp", np.sort(kidx[g_sites]), g_val, g_bound,
                            _gap(g_val, g_bound), "optimal", "lp_rounding", stats=stats)
    res = _max_cover_mip(sub, np.arange(sub.shape[0]), wg, n=n, cost=csub, budget=budget,
                         start=start, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap)
    stats["solve_s"] = res.seconds
    return _cover_solution("mclp", res, kidx, g_sites, g_val, g_bound, stats)


def _complete_greedy(a: sp.csr_matrix, w: np.ndarray, init: np.ndarray, *, n: int | None,
                     cost: np.ndarray | None, budget: float | None) -> tuple[list[int], float]:
    """``init`` sites, then greedy additions up to ``n`` sites and the budget."""
    init = np.asarray(init, dtype=np.int64)
    if n is not None and len(init) > n:
        init = init[:n]
    covered = np.asarray(a[:, init].sum(axis=1)).ravel() > 0 if len(init) else \
        np.zeros(a.shape[0], dtype=bool)
    value = float(w[covered].sum())
    spent = float(cost[init].sum()) if cost is not None and len(init) else 0.0
    if budget is not None and spent > budget + 1e-9:
        return [], 0.0
    rest = None if n is None else n - len(init)
    more: list[int] = []
    if rest is None or rest > 0:
        # the init sites cover nothing more, so the greedy never picks them again
        more, extra, _ = _cover_greedy(a, np.where(covered, 0.0, w), n=rest, cost=cost,
                                       budget=None if budget is None else budget - spent,
                                       need=None)
        value += extra
    return [int(j) for j in init] + [int(j) for j in more], value


def _cover_solution(model: str, res: _MipResult, kidx: np.ndarray, g_sites: list[int],
                    g_val: float, g_bound: float, stats: dict[str, float]) -> Solution:
    n_c = len(kidx)
    if res.status == "no_solution" or not (res.objective >= g_val - 1e-9):
        bound = min(res.bound, g_bound) if math.isfinite(res.bound) else g_bound
        return Solution(model, np.sort(kidx[g_sites]), g_val, bound, _gap(g_val, bound),
                        "time_limit" if res.status != "optimal" else "optimal", "greedy",
                        stats=stats)
    sites = kidx[np.flatnonzero(res.x[:n_c] > 0.5)]
    bound = min(res.bound, g_bound)
    return Solution(model, np.sort(sites), res.objective, bound,
                    _gap(res.objective, bound), res.status, "highs", stats=stats)


def lscp(matrix: sp.spmatrix, weight: np.ndarray, need: float | None = None, *,
         cost: np.ndarray | None = None, time_limit_s: float = 120.0,
         mip_rel_gap: float = 1e-4, reduce: bool = True) -> Solution:
    """Fewest sites (or least total cost) covering at least ``need`` weight.

    Parameters
    ----------
    matrix, weight
        As in :func:`mclp`: demand not yet covered.
    need
        Weight to cover; None covers every row some candidate can reach
        (classic set covering).
    cost
        Cost per candidate (default 1: the number of sites).

    Returns
    -------
    Solution
        ``objective`` = number of sites (or cost), ``bound`` its proven lower
        bound. When ``need`` exceeds what all candidates together cover, status
        is ``"infeasible"``, ``best_reachable`` holds that most, and the sites
        are the fewest reaching it.
    """
    a = sp.csr_matrix(matrix, dtype=bool)
    if cost is not None:
        cost = np.asarray(cost, dtype=float)
        if cost.shape != (a.shape[1],) or np.any(cost < 0) or not np.all(np.isfinite(cost)):
            raise ValueError("cost needs one finite, non-negative value per candidate")
    agg, wg, keep, stats = _prepare_cover(a, weight, cost, reduce)
    reachable = float(wg.sum())
    infeasible = False
    if need is None:
        need = reachable
    elif need > reachable + 1e-9 * max(1.0, reachable):
        infeasible = True
        need = reachable
    need = float(max(need, 0.0))
    kidx = np.flatnonzero(keep)
    sub = agg[:, kidx]
    n_c = len(kidx)
    c = np.ones(n_c) if cost is None else cost[kidx]
    t0 = time.perf_counter()
    g = greedy_lscp(sub, wg, need, cost=c)
    stats["greedy_s"] = time.perf_counter() - t0
    start = np.zeros(n_c)
    start[g.sites] = 1
    if need <= 0:
        sol = Solution("lscp", np.zeros(0, np.int64), 0.0, 0.0, 0.0, "optimal", "greedy",
                       stats=stats)
    elif g.gap == 0.0:
        sol = Solution("lscp", np.sort(kidx[g.sites]), g.objective, g.bound, 0.0, "optimal",
                       "greedy", stats=stats)
    else:
        n_g = sub.shape[0]
        full = need >= reachable - 1e-9 * max(1.0, reachable)
        if full:
            # classic set covering: every group needs a site
            a_mip = sub.astype(np.float64)
            res = _solve_mip(c, a_mip, np.ones(n_g), np.full(n_g, np.inf), np.zeros(n_c),
                             np.ones(n_c), np.ones(n_c, bool), maximize=False,
                             time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, start=start)
            x = res.x
        else:
            cover = sp.hstack([-sub.astype(np.float64), sp.identity(n_g, format="csr")])
            need_row = sp.hstack([sp.csr_matrix((1, n_c)), sp.csr_matrix(wg[None, :])])
            a_mip = sp.vstack([cover, need_row])
            lo = np.concatenate([np.full(n_g, -np.inf), [need]])
            hi = np.concatenate([np.zeros(n_g), [np.inf]])
            y0 = np.zeros(n_g)
            y0[np.flatnonzero(np.asarray(sub.astype(np.float64) @ start > 0.5).ravel())] = 1
            res = _solve_mip(np.concatenate([c, np.zeros(n_g)]), a_mip, lo, hi,
                             np.zeros(n_c + n_g), np.ones(n_c + n_g),
                             np.concatenate([np.ones(n_c, bool), np.zeros(n_g, bool)]),
                             maximize=False, time_limit_s=time_limit_s,
                             mip_rel_gap=mip_rel_gap, start=np.concatenate([start, y0]))
            x = res.x
        stats["solve_s"] = res.seconds
        bound = max(res.bound, g.bound) if math.isfinite(res.bound) else g.bound
        if res.status == "no_solution" or res.objective > g.objective + 1e-9:
            sol = Solution("lscp", np.sort(kidx[g.sites]), g.objective, bound,
                           _gap(g.objective, bound), "time_limit", "greedy", stats=stats)
        else:
            sites = kidx[np.flatnonzero(x[:n_c] > 0.5)]
            sol = Solution("lscp", np.sort(sites), res.objective, bound,
                           _gap(res.objective, bound), res.status, "highs", stats=stats)
    sol.best_reachable = reachable
    if infeasible:
        sol.status = "infeasible"
    return sol


def colocated(matrices: list[sp.spmatrix], covered: np.ndarray, weight: np.ndarray,
              n: int, *, time_limit_s: float = 60.0, mip_rel_gap: float = 1e-4) -> Solution:
    """Sites hosting every listed category at once, scored on completeness.

    A demand row counts when, for every category ``c``, it is already covered
    (``covered[:, c]``) or a chosen site serves it (``matrices[c]``).

    Parameters
    ----------
    matrices
        One demand × candidate coverage matrix per category (same candidates:
        the reach may differ per category).
    covered
        ``(n_demand, n_categories)`` boolean: category already within reach.
    weight
        Weight of each demand row.
    n
        Maximum number of complexes.

    Returns
    -------
    Solution
        ``objective`` = weight newly complete.
    """
    covered = np.asarray(covered, dtype=bool)
    w = np.asarray(weight, dtype=float)
    n_d = len(w)
    n_cat = len(matrices)
    if covered.shape != (n_d, n_cat):
        raise ValueError("covered must be (n_demand, n_categories)")
    n_c = matrices[0].shape[1]
    _check_n(n, n_c)
    t0 = time.perf_counter()
    # one combined row per demand: columns c * n_c + j for every missing category c
    parts = []
    for ci, m in enumerate(matrices):
        m = sp.csr_matrix(m, dtype=bool)
        m = sp.diags((~covered[:, ci]).astype(float)) @ m.astype(float)
        parts.append(m)
    combo = sp.csr_matrix(sp.hstack(parts), dtype=bool)
    combo.eliminate_zeros()
    combo.sort_indices()
    # usable: not yet complete, and every missing category has a candidate in reach
    missing = ~covered
    reach_ok = np.ones(n_d, dtype=bool)
    for ci, m in enumerate(parts):
        has = np.diff(sp.csr_matrix(m).indptr) > 0
        reach_ok &= ~missing[:, ci] | has
    useful = missing.any(axis=1) & reach_ok & (w > 0)
    rows = np.flatnonzero(useful)
    agg, wg, _ = aggregate_rows(combo[rows], w[rows])
    # split each group into one requirement row per missing category
    coo = agg.tocoo()
    cat_of = coo.col // n_c
    req_key = coo.row * n_cat + cat_of
    uniq, req_row = np.unique(req_key, return_inverse=True)
    req = sp.csr_matrix((np.ones(len(coo.col)), (req_row.ravel(), coo.col % n_c)),
                        shape=(len(uniq), n_c))
    req.data[:] = 1.0
    req_group = (uniq // n_cat).astype(np.int64)
    stats = {"demand_groups": float(agg.shape[0]), "requirements": float(len(uniq)),
             "reduce_s": time.perf_counter() - t0}
    res = _max_cover_mip(req, req_group, wg, n=n, cost=None, budget=None, start=None,
                         time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap)
    stats["solve_s"] = res.seconds
    if res.status == "no_solution":
        return Solution("colocated", np.zeros(0, np.int64), 0.0, res.bound,
                        _gap(0.0, res.bound), "time_limit", "highs", stats=stats)
    sites = np.flatnonzero(res.x[:n_c] > 0.5)
    return Solution("colocated", sites, res.objective, res.bound,
                    _gap(res.objective, res.bound), res.status, "highs", stats=stats)


def colocated_value(matrices: list[sp.spmatrix], covered: np.ndarray, weight: np.ndarray,
                    sites: np.ndarray) -> float:
    """Weight made complete by complexes at ``sites`` (rows complete before excluded)."""
    covered = np.asarray(covered, dtype=bool)
    w = np.asarray(weight, dtype=float)
    sites = np.asarray(sites, dtype=np.int64)
    ok = np.ones(len(w), dtype=bool)
    for ci, m in enumerate(matrices):
        hit = (np.asarray(sp.csc_matrix(m)[:, sites].sum(axis=1)).ravel() > 0 if len(sites)
               else np.zeros(len(w), dtype=bool))
        ok &= covered[:, ci] | hit
    return float(w[ok & ~covered.all(axis=1)].sum())


def colocated_order(matrices: list[sp.spmatrix], covered: np.ndarray, weight: np.ndarray,
                    sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank complexes greedily: each next the one making the most weight complete.

    Returns ``sites`` reordered and the marginal weights (they sum to
    :func:`colocated_value` of the whole set). Completeness is not submodular (two
    complexes can complete residents neither completes alone), so the marginals
    need not decrease.
    """
    left = [int(j) for j in np.asarray(sites, dtype=np.int64)]
    order: list[int] = []
    marg: list[float] = []
    value = 0.0
    while left:
        vals = [colocated_value(matrices, covered, weight, np.array([*order, j], np.int64))
                for j in left]
        k = int(np.argmax(vals))  # ties: the earlier (lower index) site
        order.append(left.pop(k))
        marg.append(vals[k] - value)
        value = vals[k]
    return np.array(order, dtype=np.int64), np.array(marg, dtype=float)


def least_important(matrix: sp.spmatrix, weight: np.ndarray, n_close: int, *,
                    time_limit_s: float = 60.0, mip_rel_gap: float = 1e-6) -> Solution:
    """Which ``n_close`` existing facilities can close with the least loss of coverage.

    Parameters
    ----------
    matrix
        Demand × existing-facility coverage.
    weight
        Weight of each demand row.
    n_close
        Number of facilities to close (rural school consolidation, 撤点并校).

    Returns
    -------
    Solution
        ``sites`` = facilities to close, ``objective`` = weight no longer covered,
        ``bound`` its proven lower bound; ``detail["loss_alone"]`` = loss of
        closing each facility alone (its uniquely covered weight).
    """
    a = sp.csr_matrix(matrix, dtype=bool)
    n_f = a.shape[1]
    if not 0 <= n_close <= n_f:
        raise ValueError(f"n_close = {n_close} must lie between 0 and the number of "
                         f"facilities ({n_f})")
    w = np.asarray(weight, dtype=float)
    cnt = np.diff(a.indptr)
    unique_rows = np.flatnonzero(cnt == 1)
    loss_alone = np.bincount(a.indices[a.indptr[unique_rows]], weights=w[unique_rows],
                             minlength=n_f)
    before = float(w[cnt > 0].sum())
    keep_n = n_f - n_close
    agg, wg, _ = aggregate_rows(a[cnt > 0], w[cnt > 0])
    res = _max_cover_mip(agg, np.arange(agg.shape[0]), wg, n=keep_n, cost=None, budget=None,
                         start=None, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap,
                         exact_n=True)
    kept = np.flatnonzero(res.x[:n_f] > 0.5)
    closed = np.setdiff1d(np.arange(n_f), kept)
    loss = before - res.objective
    lb = before - res.bound
    return Solution("least_important", closed, loss, lb, _gap(loss, lb), res.status, "highs",
                    stats={"solve_s": res.seconds, "covered_before": before},
                    detail={"loss_alone": loss_alone})


# ---------------------------------------------------------------------------
# Distance models (p-median, p-center)
# ---------------------------------------------------------------------------
def _pairs_matrix(demand: np.ndarray, candidate: np.ndarray, dist: np.ndarray,
                  base: np.ndarray, n_candidates: int) -> sp.csr_matrix:
    """CSR of distances keeping, per demand and candidate, the shortest pair below base."""
    demand = np.asarray(demand, dtype=np.int64)
    candidate = np.asarray(candidate, dtype=np.int64)
    dist = np.asarray(dist, dtype=float)
    if not (demand.shape == candidate.shape == dist.shape):
        raise ValueError("demand, candidate and dist must be parallel arrays")
    if np.any(~np.isfinite(dist)) or np.any(dist < 0):
        raise ValueError("pair distances must be finite and non-negative")
    keep = dist < base[demand]
    d, c, v = demand[keep], candidate[keep], dist[keep]
    o = np.lexsort((v, c, d))
    d, c, v = d[o], c[o], v[o]
    first = np.ones(len(d), dtype=bool)
    first[1:] = (d[1:] != d[:-1]) | (c[1:] != c[:-1])
    d, c, v = d[first], c[first], v[first]
    # store distance + 1 so that a zero distance stays a stored entry
    m = sp.csr_matrix((v + 1.0, (d, c)), shape=(len(base), n_candidates))
    m.sort_indices()
    return m


def _base(base_dist: np.ndarray, unreached_dist: float) -> np.ndarray:
    b = np.asarray(base_dist, dtype=float).copy()
    b[~np.isfinite(b)] = unreached_dist
    return np.minimum(b, unreached_dist)


def _base_and_weight(base_dist: np.ndarray, unreached_dist: float, weight: np.ndarray,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Each demand row's trip today (capped at ``unreached_dist``) and its weight,
    checked to be one value per row."""
    base = _base(base_dist, unreached_dist)
    w = np.asarray(weight, dtype=float)
    if w.shape != base.shape:
        raise ValueError("weight and base_dist need one value per demand row")
    return base, w


def greedy_p_median(demand: np.ndarray, candidate: np.ndarray, dist: np.ndarray,
                    weight: np.ndarray, base_dist: np.ndarray, n: int, *,
                    n_candidates: int, unreached_dist: float) -> Solution:
    """Greedy p-median (largest saving first) with a certified lower bound.

    Savings are submodular, so ``cost >= cost(S) - (sum of the n largest
    marginal savings at S)`` for every ``S`` on the way.
    """
    t0 = time.perf_counter()
    base = _base(base_dist, unreached_dist)
    w = np.asarray(weight, dtype=float)
    m = _pairs_matrix(demand, candidate, dist, base, n_candidates)
    sites, cost, bound = _pmed_greedy(m, w, base, n)
    return Solution("p_median", np.array(sorted(sites), np.int64), cost, bound,
                    _gap(cost, bound), "greedy", "greedy",
                    stats={"greedy_s": time.perf_counter() - t0})


def _pmed_greedy(m: sp.csr_matrix, w: np.ndarray, base: np.ndarray, n: int,
                 ) -> tuple[list[int], float, float]:
    n_c = m.shape[1]
    _check_n(n, n_c)
    csc = m.tocsc()
    rows_of = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    dist = m.data - 1.0
    cur = base.copy()
    contrib = w[rows_of] * np.maximum(cur[rows_of] - dist, 0.0)
    gain = np.bincount(m.indices, weights=contrib, minlength=n_c)
    cost = float((w * cur).sum())
    chosen: list[int] = []
    avail = np.ones(n_c, dtype=bool)
    bound = -math.inf
    while True:
        g = np.where(avail, gain, 0.0)
        k = min(n, n_c)  # an optimum has n sites: at most the n largest savings at S
        top = float(np.sort(g)[::-1][:k].sum()) if k > 0 else 0.0
        bound = max(bound, cost - top)
        if len(chosen) >= n or not (g > 1e-12).any():
            break
        j = int(np.argmax(g))
        chosen.append(j)
        avail[j] = False
        r = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        dj = csc.data[csc.indptr[j]:csc.indptr[j + 1]] - 1.0
        better = dj < cur[r]
        r, dj = r[better], dj[better]
        if not len(r):
            continue
        # recompute the contributions of every pair in the rows that improved
        lo, hi = m.indptr[r], m.indptr[r + 1]
        lens = hi - lo
        idx = np.repeat(lo, lens) + (np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens,
                                                                        lens))
        old = contrib[idx]
        cost -= float((w[r] * (cur[r] - dj)).sum())
        cur[r] = dj
        new = w[rows_of[idx]] * np.maximum(cur[rows_of[idx]] - dist[idx], 0.0)
        contrib[idx] = new
        gain += np.bincount(m.indices[idx], weights=new - old, minlength=n_c)
    return chosen, cost, bound


def p_median(demand: np.ndarray, candidate: np.ndarray, dist: np.ndarray,
             weight: np.ndarray, base_dist: np.ndarray, n: int, *, n_candidates: int,
             unreached_dist: float, time_limit_s: float = 120.0,
             mip_rel_gap: float = 1e-4, max_entries: int = 20_000_000,
             lagrangian: bool = True) -> Solution:
    """``n`` new sites minimising the weighted distance to the nearest facility.

    Each demand row travels to the nearer of its base distance (nearest existing
    facility; ``inf`` = none within the search limit, counted as
    ``unreached_dist``) and the chosen candidates within reach.

    Formulation: the radius formulation of Elloumi (2010). For demand ``k`` with
    candidate distances ``D_1 < ... < D_m`` below its base ``D_{m+1}``, cost
    ``D_1 + Σ_r (D_{r+1} - D_r) z_kr`` with ``z_kr >= 1 - Σ_{d_kj <= D_r} x_j``,
    ``z >= 0``. Demand rows with identical distance rows are merged first. When
    that formulation would exceed ``max_entries`` matrix entries (many candidates
    within reach of each demand), the assignment formulation is used instead
    (``z_kj <= x_j``, ``Σ_j z_kj <= 1``; linear in the number of pairs). Before
    branching, a Lagrangian bound (:func:`_p_median_lagrangian`) may already prove
    the greedy answer within ``mip_rel_gap`` (method ``lagrangian``; off with
    ``lagrangian=False``).

    Parameters
    ----------
    demand, candidate, dist
        Parallel arrays: every (demand, candidate) pair within reach, metres.
    weight
        Weight per demand row.
    base_dist
        Distance per demand row to the nearest existing facility (inf: none).
    n
        Number of new sites.
    n_candidates
        Number of candidates (columns).
    unreached_dist
        Distance counted for demand no facility reaches (e.g. the search limit).

    Returns
    -------
    Solution
        ``objective`` = Σ weight × distance, ``bound`` its proven lower bound.
    """
    base, w = _base_and_weight(base_dist, unreached_dist, weight)
    _check_n(n, n_candidates)
    t0 = time.perf_counter()
    m = _pairs_matrix(demand, candidate, dist, base, n_candidates)
    const_rows = np.diff(m.indptr) == 0
    constant = float((w[const_rows] * base[const_rows]).sum())
    rows = np.flatnonzero(~const_rows & (w > 0))
    agg, wg, group = aggregate_rows(m[rows], w[rows], extra_key=base[rows])
    _, first_idx = np.unique(group, return_index=True)
    grp_base = base[rows][first_idx]
    stats = {"demand_rows": float(len(rows)), "demand_groups": float(agg.shape[0]),
             "reduce_s": time.perf_counter() - t0}
    t1 = time.perf_counter()
    g_sites, g_cost, g_bound = _pmed_greedy(agg, wg, grp_base, n)
    stats["greedy_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    lag, its = (_p_median_lagrangian(agg, wg, grp_base, n, g_cost, mip_rel_gap) if lagrangian
                else (-math.inf, 0))
    stats["lagrangian_s"] = time.perf_counter() - t2
    stats["lagrangian_iterations"] = float(its)
    g_cost += constant
    by_lag = lag > g_bound
    g_bound = max(g_bound, lag) + constant
    if lagrangian and _gap(g_cost, g_bound) <= mip_rel_gap:
        # the greedy answer is proven within the requested gap (by the Lagrangian bound,
        # or by the greedy's own certificate)
        stats["solve_s"] = 0.0
        return Solution("p_median", np.array(sorted(g_sites), np.int64), g_cost, g_bound,
                        _gap(g_cost, g_bound), "optimal",
                        "lagrangian" if by_lag else "greedy", stats=stats)
    coo = agg.tocoo()
    n_c = n_candidates
    x0 = np.zeros(n_c)
    x0[g_sites] = 1
    # entries of the radius formulation: a pair enters its level's row and every later one
    lens = np.diff(agg.indptr)
    if float((lens * (lens + 1) // 2).sum()) <= max_entries:
        res = _p_median_radius(coo, wg, grp_base, n, n_c, x0, constant, time_limit_s,
                               mip_rel_gap, stats)
    else:
        res = _p_median_assign(coo, wg, grp_base, n, n_c, x0, constant, time_limit_s,
                               mip_rel_gap, stats)
    stats["solve_s"] = res.seconds
    bound = max(res.bound, g_bound) if math.isfinite(res.bound) else g_bound
    if res.status == "no_solution" or res.objective > g_cost + 1e-6 * max(1.0, g_cost):
        return Solution("p_median", np.array(sorted(g_sites), np.int64), g_cost, bound,
                        _gap(g_cost, bound), "time_limit", "greedy", stats=stats)
    sites = np.flatnonzero(res.x[:n_c] > 0.5)
    return Solution("p_median", sites, res.objective, bound, _gap(res.objective, bound),
                    res.status, "highs", stats=stats)


def _p_median_lagrangian(m: sp.csr_matrix, w: np.ndarray, base: np.ndarray, n: int,
                         upper: float, rel_gap: float, max_iter: int = 100,
                         ) -> tuple[float, int]:
    """Lower bound on the p-median cost by Lagrangian relaxation (subgradient ascent).

    The model ``min Σ_i w_i (b_i z_i + Σ_j d_ij y_ij)`` with ``z_i + Σ_j y_ij = 1``,
    ``y_ij <= x_j``, ``Σ x_j <= n`` has those assignment rows relaxed with multipliers
    ``u_i``: ``L(u) = Σ u_i + Σ min(0, w_i b_i - u_i) + (the n smallest
    ρ_j = Σ_i min(0, w_i d_ij - u_i))``, a valid bound for every ``u``
    (Cornuéjols, Fisher and Nemhauser 1977). ``u`` starts at ``w_i b_i`` (the bound of
    the best ``n`` single savings), stays within ``[w_i min_j d_ij, w_i b_i]``, and moves
    by Polyak steps towards ``upper`` (a known cost). Stops once the bound proves
    ``upper`` within ``rel_gap`` or the steps become too small.

    Returns the best bound (over ``m``'s rows only) and the number of iterations.
    """
    n_r, n_c = m.shape
    if n_r == 0:
        return 0.0, 0
    r_of = np.repeat(np.arange(n_r), np.diff(m.indptr))
    col = m.indices
    wd = w[r_of] * (m.data - 1.0)
    d_min = np.full(n_r, np.inf)
    np.minimum.at(d_min, r_of, m.data - 1.0)
    wb = w * base
    lo, hi = np.minimum(w * d_min, wb), wb
    u = hi.copy()
    best = -math.inf
    theta, stall, its = 2.0, 0, 0
    while its < max_iter:
        its += 1
        v = wd - u[r_of]
        neg = v < 0
        rho = np.bincount(col[neg], weights=v[neg], minlength=n_c)
        chosen = (np.argpartition(rho, n - 1)[:n] if 0 < n < n_c
                  else np.arange(n_c if n else 0))
        value = float(u.sum() + np.minimum(0.0, wb - u).sum() + rho[chosen].sum())
        if value > best + 1e-12 * max(1.0, abs(value)):
            best, stall = value, 0
        else:
            stall += 1
            if stall >= 10:
                theta, stall = theta / 2, 0
        if upper - best <= rel_gap * abs(upper) or theta < 1e-3:
            break
        is_open = np.zeros(n_c, dtype=bool)
        is_open[chosen] = True
        y = np.bincount(r_of[neg & is_open[col]], minlength=n_r)
        g = 1.0 - ((wb - u) < 0) - y
        norm = float(g @ g)
        if norm == 0.0:
            break
        u = np.clip(u + theta * max(upper - value, 0.0) / norm * g, lo, hi)
    return best, its


def _p_median_radius(coo: sp.coo_matrix, wg: np.ndarray, grp_base: np.ndarray, n: int,
                     n_c: int, x0: np.ndarray, constant: float, time_limit_s: float,
                     mip_rel_gap: float, stats: dict[str, float]) -> _MipResult:
    """Radius formulation (Elloumi 2010): tight, quadratic in candidates per demand."""
    order = np.lexsort((coo.data, coo.row))
    pr, pc, pd_ = coo.row[order], coo.col[order], coo.data[order] - 1.0
    n_g = len(wg)
    new_level = np.ones(len(pr), dtype=bool)
    new_level[1:] = (pr[1:] != pr[:-1]) | (pd_[1:] != pd_[:-1])
    lvl_id = np.cumsum(new_level) - 1
    lvl_row = pr[new_level]
    lvl_d = pd_[new_level]
    n_l = len(lvl_d)
    nxt = np.empty(n_l)
    nxt[:-1] = lvl_d[1:]
    last = np.ones(n_l, dtype=bool)
    last[:-1] = lvl_row[1:] != lvl_row[:-1]
    nxt[last] = grp_base[lvl_row[last]]
    first_lvl = np.ones(n_l, dtype=bool)
    first_lvl[1:] = lvl_row[1:] != lvl_row[:-1]
    constant += float((wg[lvl_row[first_lvl]] * lvl_d[first_lvl]).sum())
    z_cost = wg[lvl_row] * (nxt - lvl_d)
    grp_last_lvl = np.zeros(n_g, dtype=np.int64)
    grp_last_lvl[lvl_row] = np.arange(n_l)  # last write wins: the highest level
    reps = grp_last_lvl[pr] - lvl_id + 1
    ent_row = np.repeat(lvl_id, reps) + (np.arange(reps.sum()) - np.repeat(np.cumsum(reps)
                                                                            - reps, reps))
    ent_col = np.repeat(pc, reps)
    a_x = sp.csr_matrix((np.ones(len(ent_row)), (ent_row, ent_col)), shape=(n_l, n_c))
    a = sp.vstack([sp.hstack([a_x, sp.identity(n_l, format="csr")]),
                   sp.hstack([sp.csr_matrix(np.ones((1, n_c))), sp.csr_matrix((1, n_l))])])
    lo = np.concatenate([np.ones(n_l), [-np.inf]])
    hi = np.concatenate([np.full(n_l, np.inf), [float(n)]])
    c = np.concatenate([np.zeros(n_c), z_cost])
    integer = np.concatenate([np.ones(n_c, bool), np.zeros(n_l, bool)])
    hit = np.asarray(a_x @ x0).ravel() > 0.5
    start = np.concatenate([x0, (~hit).astype(float)])
    stats["levels"] = float(n_l)
    stats["formulation_radius"] = 1.0
    return _solve_mip(c, a, lo, hi, np.zeros(n_c + n_l),
                      np.concatenate([np.ones(n_c), np.full(n_l, np.inf)]), integer,
                      maximize=False, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap,
                      start=start, offset=constant)


def _p_median_assign(coo: sp.coo_matrix, wg: np.ndarray, grp_base: np.ndarray, n: int,
                     n_c: int, x0: np.ndarray, constant: float, time_limit_s: float,
                     mip_rel_gap: float, stats: dict[str, float]) -> _MipResult:
    """Assignment formulation: z_p <= x_j, one assignment per demand; linear in pairs."""
    g, j, d = coo.row, coo.col, coo.data - 1.0
    n_p = len(g)
    n_g = len(wg)
    saving = wg[g] * (grp_base[g] - d)
    constant += float((wg * grp_base).sum())
    ar = np.arange(n_p)
    r_dem = sp.csr_matrix((np.ones(n_p), (g, n_c + ar)), shape=(n_g, n_c + n_p))
    r_link = sp.csr_matrix((np.r_[np.ones(n_p), -np.ones(n_p)],
                            (np.r_[ar, ar], np.r_[n_c + ar, j])), shape=(n_p, n_c + n_p))
    r_n = sp.csr_matrix((np.ones(n_c), (np.zeros(n_c, np.int64), np.arange(n_c))),
                        shape=(1, n_c + n_p))
    a = sp.vstack([r_dem, r_link, r_n])
    lo = np.full(a.shape[0], -np.inf)
    hi = np.concatenate([np.ones(n_g), np.zeros(n_p), [float(n)]])
    c = np.concatenate([np.zeros(n_c), -saving])
    integer = np.concatenate([np.ones(n_c, bool), np.zeros(n_p, bool)])
    # warm start: each demand to its best open candidate
    z0 = np.zeros(n_p)
    open_ = x0[j] > 0.5
    if open_.any():
        idx = np.flatnonzero(open_)
        best = np.full(n_g, -1, dtype=np.int64)
        o = idx[np.lexsort((-saving[idx], g[idx]))]
        first = np.ones(len(o), dtype=bool)
        first[1:] = g[o][1:] != g[o][:-1]
        best[g[o][first]] = o[first]
        z0[best[best >= 0]] = 1
    stats["pairs"] = float(n_p)
    stats["formulation_radius"] = 0.0
    return _solve_mip(c, a, lo, hi, np.zeros(n_c + n_p), np.ones(n_c + n_p), integer,
                      maximize=False, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap,
                      start=np.concatenate([x0, z0]), offset=constant)


def p_center(demand: np.ndarray, candidate: np.ndarray, dist: np.ndarray,
             weight: np.ndarray, base_dist: np.ndarray, n: int, *, n_candidates: int,
             unreached_dist: float, time_limit_s: float = 120.0) -> Solution:
    """``n`` new sites minimising the worst trip among residents a candidate can help.

    A resident (demand row with weight > 0) is *helpable* when some candidate
    lies nearer than their current trip (the base distance, capped at
    ``unreached_dist``). The others keep their trip whatever is chosen, so they
    are set apart and reported (``detail["unhelped_weight"]``,
    ``detail["unhelped_worst"]``) rather than fixing the answer at their
    distance. Among the helpable, the model is lexicographic: first the smallest
    worst trip ``R*`` (exact, by bisection over the candidate radii: radius
    ``R`` is feasible when a set cover of every row whose base exceeds ``R``
    needs at most ``n`` sites, each cover solved to optimality with HiGHS), then,
    among the site sets reaching ``R*``, the fewest residents left at ``R*``.
    Sites that change neither figure are dropped.

    When no ``n`` sites lower the current worst trip (``R*`` equals it, e.g. many
    residents scattered at the trip cap), ``detail["sites_to_lower"]`` gives the
    fewest sites that would lower it (with ``"sites_to_lower_bound"``, its proven
    lower bound), and the sites returned are the ones that take the most
    residents below it.

    Returns
    -------
    Solution
        ``objective`` = worst trip among the helpable (metres), equal to its
        bound. ``detail`` (one-element arrays unless stated): ``worst_before``,
        ``at_worst_before``, ``at_worst_after`` (weight at the worst trip before
        and after), ``at_worst_bound`` (lower bound on ``at_worst_after``),
        ``helpable_weight``, ``unhelped_weight``, ``unhelped_worst``,
        ``sites_to_lower``, ``sites_to_lower_bound`` (NaN when the worst trip is
        lowered), and ``helpable`` (bool per demand row).
    """
    base, w = _base_and_weight(base_dist, unreached_dist, weight)
    _check_n(n, n_candidates)
    t0 = time.perf_counter()
    live = w > 0
    m_all = _pairs_matrix(demand, candidate, dist, base, n_candidates)
    helpable = live & (np.diff(m_all.indptr) > 0)
    unhelped = live & ~helpable
    nan = np.array([math.nan])
    detail: dict[str, np.ndarray] = {
        "helpable": helpable,
        "helpable_weight": np.array([float(w[helpable].sum())]),
        "unhelped_weight": np.array([float(w[unhelped].sum())]),
        "unhelped_worst": np.array([float(base[unhelped].max()) if unhelped.any()
                                    else math.nan]),
        "sites_to_lower": nan.copy(), "sites_to_lower_bound": nan.copy(),
    }
    if not helpable.any():
        worst = float(base[live].max()) if live.any() else 0.0
        detail.update(worst_before=np.array([worst]), at_worst_before=np.array([0.0]),
                      at_worst_after=np.array([0.0]), at_worst_bound=np.array([0.0]))
        return Solution("p_center", np.zeros(0, np.int64), worst, worst, 0.0, "optimal",
                        "highs", stats={"solve_s": time.perf_counter() - t0}, detail=detail)
    rows = np.flatnonzero(helpable)
    m = m_all[rows]
    b = base[rows]
    wh = w[rows]
    r0 = float(b.max())
    best_single = b.copy()
    rows_of = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    np.minimum.at(best_single, rows_of, m.data - 1.0)
    lower = float(best_single.max())
    radii = np.unique(np.concatenate([m.data - 1.0, b]))
    radii = radii[(radii >= lower) & (radii <= r0)]

    def cover(need: np.ndarray, r: float, strict: bool, limit: int | None,
              ) -> _MipResult | None:
        """Fewest sites bringing every ``need`` row within ``r`` (``< r`` if strict)."""
        sub = m[np.flatnonzero(need)]
        cov = sub.copy()
        d = cov.data - 1.0
        cov.data = ((d < r) if strict else (d <= r)).astype(float)
        cov.eliminate_zeros()
        if np.any(np.diff(cov.indptr) == 0):
            return None
        agg, _, _ = aggregate_rows(sp.csr_matrix(cov, dtype=bool), np.ones(cov.shape[0]))
        n_c = agg.shape[1]
        res = _solve_mip(np.ones(n_c), agg.astype(np.float64), np.ones(agg.shape[0]),
                         np.full(agg.shape[0], np.inf), np.zeros(n_c), np.ones(n_c),
                         np.ones(n_c, bool), maximize=False, time_limit_s=time_limit_s,
                         mip_rel_gap=0.0)
        if limit is not None and (res.status != "optimal" or res.objective > limit + 0.5):
            return None
        return res

    def sites_for(r: float) -> np.ndarray | None:
        need = b > r
        if not need.any():
            return np.zeros(0, np.int64)
        res = cover(need, r, False, n)
        return None if res is None else np.flatnonzero(res.x > 0.5)

    lo, hi = 0, len(radii) - 1
    best = sites_for(float(radii[hi]))
    best_r = float(radii[hi])
    if best is None:  # pragma: no cover - the largest radius needs no site
        raise RuntimeError("p-center: no feasible radius")
    if hi > 0 and sites_for(float(radii[hi - 1])) is None:
        lo = hi  # the worst trip cannot be lowered at all: no bisection needed
    while lo < hi:
        mid = (lo + hi) // 2
        s = sites_for(float(radii[mid]))
        if s is None:
            lo = mid + 1
        else:
            hi = mid
            best, best_r = s, float(radii[mid])
    at_worst_before = float(wh[b >= r0].sum())
    # second stage: among site sets reaching best_r, fewest residents left at best_r
    sites, at_after, at_bound, status = _p_center_ties(m, b, wh, best_r, best, n,
                                                       time_limit_s)
    if best_r >= r0:
        res = cover(b >= r0, r0, True, None)
        if res is not None:
            detail["sites_to_lower"] = np.array([res.objective])
            detail["sites_to_lower_bound"] = np.array([math.ceil(res.bound - 1e-9)
                                                       if math.isfinite(res.bound)
                                                       else math.nan])
    detail.update(worst_before=np.array([r0]), at_worst_before=np.array([at_worst_before]),
                  at_worst_after=np.array([at_after]), at_worst_bound=np.array([at_bound]))
    return Solution("p_center", np.sort(sites), best_r, best_r, 0.0, status, "highs",
                    stats={"solve_s": time.perf_counter() - t0, "radii": float(len(radii)),
                           "demand_rows": float(len(rows))},
                    detail=detail)


def _p_center_ties(m: sp.csr_matrix, b: np.ndarray, w: np.ndarray, r: float,
                   start: np.ndarray, n: int, time_limit_s: float,
                   ) -> tuple[np.ndarray, float, float, str]:
    """At most ``n`` sites keeping every row within ``r`` and the fewest at ``r``.

    Returns the sites, the weight left at ``r``, its proven lower bound and the
    status. Rows at ``r`` after are those with base ``>= r`` and no chosen site
    nearer than ``r``.
    """
    n_c = m.shape[1]
    at_risk = np.flatnonzero(b >= r)
    hard = np.flatnonzero(b > r)

    def part(rows: np.ndarray, strict: bool) -> sp.csr_matrix:
        sub = m[rows]
        dd = sub.data - 1.0
        out = sub.copy()
        out.data = ((dd < r) if strict else (dd <= r)).astype(float)
        out.eliminate_zeros()
        return sp.csr_matrix(out, dtype=bool)

    def left_at_r(sites: np.ndarray) -> float:
        x = np.zeros(n_c)
        x[sites] = 1
        hit = np.asarray(part(at_risk, True).astype(np.float64) @ x).ravel() > 0.5
        return float(w[at_risk][~hit].sum())

    total = float(w[at_risk].sum())
    below = part(at_risk, True)
    rows_y = np.flatnonzero(np.diff(below.indptr) > 0)
    if r <= 0 or not len(rows_y):
        sites = np.asarray(start, np.int64)
        return sites, left_at_r(sites), left_at_r(sites), "optimal"
    agg_y, wy, _ = aggregate_rows(below[rows_y], w[at_risk][rows_y])
    hard_m = part(hard, False)
    agg_h = (aggregate_rows(hard_m, np.ones(hard_m.shape[0]))[0] if len(hard)
             else sp.csr_matrix((0, n_c), dtype=bool))
    n_y, n_h = agg_y.shape[0], agg_h.shape[0]
    y_part = sp.identity(n_y, format="csr")
    a = sp.vstack([
        sp.hstack([-agg_y.astype(np.float64), y_part]),
        sp.hstack([agg_h.astype(np.float64), sp.csr_matrix((n_h, n_y))]),
        sp.hstack([sp.csr_matrix(np.ones((1, n_c))), sp.csr_matrix((1, n_y))]),
    ])
    lo = np.concatenate([np.full(n_y, -np.inf), np.ones(n_h), [-np.inf]])
    hi = np.concatenate([np.zeros(n_y), np.full(n_h, np.inf), [float(n)]])
    x0 = np.zeros(n_c)
    x0[np.asarray(start, np.int64)] = 1
    y0 = (np.asarray(agg_y.astype(np.float64) @ x0).ravel() > 0.5).astype(float)
    res = _solve_mip(np.concatenate([np.zeros(n_c), wy]), a, lo, hi, np.zeros(n_c + n_y),
                     np.ones(n_c + n_y), np.concatenate([np.ones(n_c, bool),
                                                         np.zeros(n_y, bool)]),
                     maximize=True, time_limit_s=time_limit_s, mip_rel_gap=0.0,
                     start=np.concatenate([x0, y0]))
    if res.status == "no_solution" or res.objective < float(wy @ y0) - 1e-9:
        sites = np.asarray(start, np.int64)
        status = "time_limit" if res.status != "optimal" else "optimal"
    else:
        sites = np.flatnonzero(res.x[:n_c] > 0.5)
        status = res.status
    # drop sites that change neither the worst trip nor the residents left at it
    keep = list(sites)
    left = left_at_r(np.asarray(keep, np.int64))
    hard_f = hard_m.astype(np.float64)
    for j in sorted(sites, reverse=True):
        trial = np.asarray([k for k in keep if k != j], np.int64)
        x = np.zeros(n_c)
        x[trial] = 1
        ok = (not len(hard)) or bool(np.all(np.asarray(hard_f @ x).ravel() > 0.5))
        if ok and left_at_r(trial) <= left + 1e-9 * max(1.0, total):
            keep = list(trial)
    sites = np.asarray(keep, np.int64)
    at_bound = (total - res.bound if math.isfinite(res.bound) else 0.0)
    return sites, left_at_r(sites), max(min(at_bound, left), 0.0), status


# ---------------------------------------------------------------------------
# Capacitated
# ---------------------------------------------------------------------------
def capacitated(cand_demand: np.ndarray, cand_index: np.ndarray, cand_capacity: np.ndarray,
                exist_demand: np.ndarray, exist_index: np.ndarray,
                exist_capacity: np.ndarray, weight: np.ndarray, n: int, *,
                time_limit_s: float = 60.0, mip_rel_gap: float = 1e-4) -> Solution:
    """``n`` new sites maximising the demand that gets a place within reach.

    Residents may be split between facilities in reach; each facility serves at
    most its capacity; existing facilities stay open.

    Parameters
    ----------
    cand_demand, cand_index
        (demand, candidate) pairs within reach.
    cand_capacity
        Places per candidate.
    exist_demand, exist_index
        (demand, existing facility) pairs within reach.
    exist_capacity
        Places per existing facility.
    weight
        Demand per row (e.g. children aged 3–5).
    n
        Number of new sites.

    Returns
    -------
    Solution
        ``objective`` = demand newly given a place (served after minus served
        before), ``bound`` its upper bound; ``detail["served_before"]`` and
        ``detail["served_after"]`` (one-element arrays).
    """
    cc = np.asarray(cand_capacity, dtype=float)
    ec = np.asarray(exist_capacity, dtype=float)
    w = np.asarray(weight, dtype=float)
    n_c, n_e, n_d = len(cc), len(ec), len(w)
    _check_n(n, n_c)
    if np.any(cc < 0) or np.any(ec < 0) or not (np.all(np.isfinite(cc))
                                                 and np.all(np.isfinite(ec))):
        raise ValueError("capacities must be finite and non-negative")
    t0 = time.perf_counter()
    # facilities 0..n_c-1 candidates, n_c.. existing; merge demand with the same reach
    fac = np.concatenate([np.asarray(cand_index, np.int64),
                          n_c + np.asarray(exist_index, np.int64)])
    dem = np.concatenate([np.asarray(cand_demand, np.int64), np.asarray(exist_demand, np.int64)])
    reach = coverage_matrix(dem, fac, n_d, n_c + n_e)
    rows = np.flatnonzero((np.diff(reach.indptr) > 0) & (w > 0))
    agg, wg, _ = aggregate_rows(reach[rows], w[rows])
    coo = agg.tocoo()
    n_p = len(coo.row)
    n_g = agg.shape[0]
    cap = np.concatenate([cc, ec])

    def build(n_new: int) -> _MipResult:
        # columns: x (n_c, binary), a (n_p pairs, continuous)
        r_dem = sp.csr_matrix((np.ones(n_p), (coo.row, n_c + np.arange(n_p))),
                              shape=(n_g, n_c + n_p))
        r_fac = sp.csr_matrix((np.ones(n_p), (coo.col, n_c + np.arange(n_p))),
                              shape=(n_c + n_e, n_c + n_p)).tolil()
        for j in range(n_c):
            r_fac[j, j] = -cc[j]
        r_fac = r_fac.tocsr()
        r_n = sp.csr_matrix((np.ones(n_c), (np.zeros(n_c, np.int64), np.arange(n_c))),
                            shape=(1, n_c + n_p))
        a = sp.vstack([r_dem, r_fac, r_n])
        lo = np.full(a.shape[0], -np.inf)
        hi = np.concatenate([wg, np.zeros(n_c), ec, [float(n_new)]])
        c = np.concatenate([np.zeros(n_c), np.ones(n_p)])
        return _solve_mip(c, a, lo, hi, np.zeros(n_c + n_p),
                          np.concatenate([np.ones(n_c), np.full(n_p, np.inf)]),
                          np.concatenate([np.ones(n_c, bool), np.zeros(n_p, bool)]),
                          maximize=True, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap)

    before = build(0)
    after = build(n)
    served_before = before.objective
    stats = {"demand_groups": float(n_g), "pairs": float(n_p),
             "solve_s": time.perf_counter() - t0}
    del cap
    sites = np.flatnonzero(after.x[:n_c] > 0.5)
    flow = after.x[n_c:]
    gain = after.objective - served_before
    bound = after.bound - served_before
    return Solution("capacitated", sites, gain, bound, _gap(gain, bound), after.status,
                    "highs", stats=stats,
                    detail={"served_before": np.array([served_before]),
                            "served_after": np.array([after.objective]),
                            "pair_group": coo.row, "pair_facility": coo.col,
                            "pair_flow": flow})
