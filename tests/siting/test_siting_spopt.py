"""Siting models agree with PySAL spopt (same objective) on medium instances."""

from __future__ import annotations

import warnings

import numpy as np
import pulp
import pytest
import scipy.sparse as sp
from spopt.locate import LSCP, MCLP, PCenter, PMedian

from access import siting

with warnings.catch_warnings():
    # CBC, bundled with PuLP 3, an independent solver from HiGHS; PuLP 4 will unbundle it
    warnings.simplefilter("ignore", DeprecationWarning)
    SOLVER = pulp.PULP_CBC_CMD(msg=False)


def _points(seed: int, nd: int = 250, nc: int = 50, ne: int = 5):
    rng = np.random.default_rng(seed)
    dem = rng.random((nd, 2)) * 5000
    cand = rng.random((nc, 2)) * 5000
    ex = rng.random((ne, 2)) * 5000
    w = rng.integers(1, 50, nd).astype(float)
    dc = np.hypot(*(dem[:, None, :] - cand[None, :, :]).transpose(2, 0, 1))
    de = np.hypot(*(dem[:, None, :] - ex[None, :, :]).transpose(2, 0, 1))
    return dc, de, w


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("n", [5, 12])
def test_mclp_agrees_with_spopt(seed: int, n: int) -> None:
    dc, de, w = _points(seed)
    radius = 800.0
    covered_before = (de <= radius).any(axis=1)
    a = sp.csr_matrix((dc <= radius) & ~covered_before[:, None])
    ours = siting.mclp(a, w, n)
    full = np.hstack([dc, de])
    pre = np.r_[np.zeros(dc.shape[1]), np.ones(de.shape[1])].astype(int)
    model = MCLP.from_cost_matrix(full, w, radius, p_facilities=n + de.shape[1],
                                  predefined_facilities_arr=pre).solve(SOLVER)
    spopt_total = pulp.value(model.problem.objective)
    assert ours.objective == pytest.approx(spopt_total - w[covered_before].sum())


@pytest.mark.parametrize("seed", [0, 1])
def test_lscp_agrees_with_spopt(seed: int) -> None:
    dc, de, w = _points(seed, nd=300, nc=80)
    radius = 1200.0
    coverable = (dc <= radius).any(axis=1)
    dc, de, w = dc[coverable], de[coverable], w[coverable]
    covered_before = (de <= radius).any(axis=1)
    a = sp.csr_matrix((dc <= radius) & ~covered_before[:, None])
    ours = siting.lscp(a, w, None)
    full = np.hstack([dc, de])
    pre = np.r_[np.zeros(dc.shape[1]), np.ones(de.shape[1])].astype(int)
    model = LSCP.from_cost_matrix(full, radius, predefined_facilities_arr=pre).solve(SOLVER)
    assert ours.objective == pytest.approx(pulp.value(model.problem.objective) - de.shape[1])


@pytest.mark.parametrize("seed", [0, 1])
def test_p_median_agrees_with_spopt(seed: int) -> None:
    dc, de, w = _points(seed, nd=200, nc=30)
    n = 4
    di, ci = np.nonzero(np.isfinite(dc))
    ours = siting.p_median(di, ci, dc[di, ci], w, de.min(axis=1), n, n_candidates=dc.shape[1],
                      unreached_dist=1e9)
    full = np.hstack([dc, de])
    pre = np.r_[np.zeros(dc.shape[1]), np.ones(de.shape[1])].astype(int)
    model = PMedian.from_cost_matrix(full, w, p_facilities=n + de.shape[1],
                                     predefined_facilities_arr=pre).solve(SOLVER)
    assert ours.objective == pytest.approx(pulp.value(model.problem.objective), rel=1e-6)


def test_p_center_agrees_with_spopt() -> None:
    dc, de, w = _points(3, nd=120, nc=25)
    n = 3
    di, ci = np.nonzero(np.isfinite(dc))
    ours = siting.p_center(di, ci, dc[di, ci], np.ones(len(w)), de.min(axis=1), n,
                      n_candidates=dc.shape[1], unreached_dist=1e9)
    full = np.hstack([dc, de])
    pre = np.r_[np.zeros(dc.shape[1]), np.ones(de.shape[1])].astype(int)
    model = PCenter.from_cost_matrix(full, p_facilities=n + de.shape[1],
                                     predefined_facilities_arr=pre).solve(SOLVER)
    assert ours.objective == pytest.approx(pulp.value(model.problem.objective), rel=1e-6)
