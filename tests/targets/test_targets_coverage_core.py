"""Numeric core of the coverage measures: hand-computed cases and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from access import coverage

INF = np.inf


# -- hand-computed -----------------------------------------------------------
def test_time_to_dist_matches_gb50180():
    assert coverage.time_to_dist_m(15, 4.0) == pytest.approx(1000.0)
    assert coverage.time_to_dist_m(10, 3.0) == pytest.approx(500.0)
    np.testing.assert_allclose(coverage.time_to_dist_m(np.array([5.0, 15.0]), 3.6),
                               [300.0, 900.0])


def test_time_to_dist_rejects_zero_speed():
    with pytest.raises(ValueError, match="speed_kmh"):
        coverage.time_to_dist_m(15, 0.0)


def test_covered_mask_is_inclusive_and_ignores_inf_and_nan():
    dist = np.array([0.0, 300.0, 300.0001, INF, np.nan])
    assert coverage.covered_mask(dist, 300.0).tolist() == [True, True, False, False, False]


def test_covered_mask_per_cell_threshold():
    dist = np.array([400.0, 400.0])
    assert coverage.covered_mask(dist, np.array([300.0, 500.0])).tolist() == [False, True]


def test_circle_coverage_by_hand():
    pop = np.array([100.0, 50.0, 30.0, 20.0])
    dist = np.array([200.0, 800.0, 1000.0, INF])
    # within 1000 m: 100 + 50 + 30 of 200; within 500 m: 100 of 200
    assert coverage.circle_coverage(pop, dist, 1000.0) == pytest.approx(0.9)
    assert coverage.circle_coverage(pop, dist, 500.0) == pytest.approx(0.5)


def test_circle_coverage_nan_pop_counts_zero_and_empty_is_nan():
    assert coverage.circle_coverage(np.array([np.nan, 10.0]), np.array([0.0, INF]),
                                    100.0) == 0.0
    assert math.isnan(coverage.circle_coverage(np.zeros(3), np.zeros(3), 100.0))


def test_circle_coverage_rejects_negative_population():
    with pytest.raises(ValueError, match="negative"):
        coverage.circle_coverage(np.array([-1.0]), np.array([0.0]), 10.0)


def test_area_coverage_by_hand():
    area = np.array([10_000.0, 5_000.0, 0.0])
    dist = np.array([100.0, 900.0, 0.0])
    assert coverage.area_coverage(area, dist, 500.0) == pytest.approx(10_000 / 15_000)


def test_covered_by_facility_radius():
    # facility 0 radius 300, facility 1 radius 500
    fac = np.array([0, 0, 1, 1])
    cell = np.array([0, 1, 1, 2])
    dist = np.array([250.0, 350.0, 600.0, 450.0])
    out = coverage.covered_by_facility_radius(4, fac, cell, dist, np.array([300.0, 500.0]))
    assert out.tolist() == [True, False, True, False]


def test_completeness_by_hand_non_nesting():
    # types: A (15-min, 1000 m), B (5-min, 300 m)
    pop = np.array([10.0, 20.0, 30.0])
    dist = np.array([[900.0, 250.0],    # complete
                     [200.0, 400.0],    # B too far: a near A does not stand in for B
                     [1200.0, 100.0]])  # A too far
    share, missing = coverage.completeness(pop, dist, np.array([1000.0, 300.0]))
    assert share == pytest.approx(10 / 60)
    assert missing.tolist() == [[False, False], [False, True], [True, False]]


def test_completeness_shape_errors():
    with pytest.raises(ValueError, match="2-D"):
        coverage.completeness(np.ones(2), np.ones(2), np.ones(1))
    with pytest.raises(ValueError, match="shape"):
        coverage.completeness(np.ones(2), np.ones((2, 3)), np.ones(2))


def test_two_step_fca_by_hand():
    # facility 0 (supply 10) reaches cells 0, 1; facility 1 (supply 6) reaches cell 1, 2
    supply = np.array([10.0, 6.0])
    demand = np.array([100.0, 100.0, 200.0])
    fac = np.array([0, 0, 1, 1])
    cell = np.array([0, 1, 1, 2])
    dist = np.array([100.0, 200.0, 100.0, 200.0])
    score = coverage.two_step_fca(supply, demand, fac, cell, dist, max_dist_m=500.0)
    r0, r1 = 10 / 200, 6 / 300
    np.testing.assert_allclose(score, [r0, r0 + r1, r1])


def test_two_step_fca_ignores_pairs_beyond_catchment():
    score = coverage.two_step_fca(np.array([10.0]), np.array([10.0, 10.0]), np.array([0, 0]),
                                  np.array([0, 1]), np.array([100.0, 900.0]),
                                  max_dist_m=500.0)
    np.testing.assert_allclose(score, [1.0, 0.0])


def test_gaussian_weight_ends():
    w = coverage.gaussian_weight(np.array([0.0, 500.0, 1000.0, 1001.0, INF]), 1000.0)
    assert w[0] == pytest.approx(1.0)
    assert 0 < w[1] < 1
    assert w[2] == pytest.approx(0.0)
    assert w[3] == 0.0
    assert w[4] == 0.0


def test_gaussian_fca_by_hand():
    # one facility, two cells at 0 m and 500 m of a 1000 m catchment
    w1 = coverage.gaussian_weight(np.array([500.0]), 1000.0)[0]
    score = coverage.two_step_fca(np.array([30.0]), np.array([10.0, 20.0]), np.array([0, 0]),
                                  np.array([0, 1]), np.array([0.0, 500.0]), max_dist_m=1000.0,
                                  kernel="gaussian")
    ratio = 30.0 / (10.0 + w1 * 20.0)
    np.testing.assert_allclose(score, [ratio, w1 * ratio])


def test_two_step_fca_bad_kernel():
    with pytest.raises(ValueError, match="kernel"):
        coverage.two_step_fca(np.ones(1), np.ones(1), np.zeros(1), np.zeros(1), np.zeros(1),
                              max_dist_m=1.0, kernel="box")


def test_provision_ratio_by_hand():
    assert coverage.provision_ratio(np.array([30.0, 10.0, np.nan]), np.array([5000.0, 5000.0]),
                                    ) == pytest.approx(4.0)
    assert coverage.provision_ratio(np.array([26.0]), np.array([10.0]),
                                    per_persons=1) == pytest.approx(2.6)
    assert math.isnan(coverage.provision_ratio(np.array([1.0]), np.array([0.0])))


def test_uncovered_clusters_4_vs_8():
    # 3x3 grid; uncovered: (0,0), (1,1), (2,2) diagonal and (0,2)
    rows, cols = np.divmod(np.arange(9), 3)
    mask = np.zeros(9, dtype=bool)
    mask[[0, 4, 8, 2]] = True
    pop = np.array([1.0, 0, 5.0, 0, 2.0, 0, 0, 0, 3.0])
    lab8 = coverage.uncovered_clusters(rows, cols, mask, pop, connectivity=8)
    # 8-neighbour: the diagonal and (0,2) all touch (1,1): one cluster
    assert set(lab8[mask]) == {1}
    assert (lab8[~mask] == 0).all()
    lab4 = coverage.uncovered_clusters(rows, cols, mask, pop, connectivity=4)
    # 4-neighbour: four singletons ranked by population 5, 3, 2, 1
    assert lab4[[2, 8, 4, 0]].tolist() == [1, 2, 3, 4]


def test_uncovered_clusters_empty_and_bad_connectivity():
    assert coverage.uncovered_clusters(np.zeros(2), np.arange(2), np.zeros(2, bool),
                                       np.ones(2)).tolist() == [0, 0]
    with pytest.raises(ValueError, match="connectivity"):
        coverage.uncovered_clusters(np.zeros(1), np.zeros(1), np.ones(1, bool), np.ones(1),
                                    connectivity=6)


# -- properties --------------------------------------------------------------
_pops = hnp.arrays(np.float64, st.integers(1, 40),
                   elements=st.floats(0, 1e4, allow_nan=False))


@st.composite
def _pop_dist(draw, n_types: int = 1):
    pop = draw(_pops)
    dist = draw(hnp.arrays(np.float64, (pop.size, n_types), elements=st.one_of(
        st.floats(0, 5e3, allow_nan=False), st.just(np.inf))))
    return pop, dist


@settings(max_examples=60, deadline=None)
@given(_pop_dist(), st.floats(0, 5e3), st.floats(0, 5e3))
def test_coverage_never_falls_when_threshold_grows(pd_, t1, t2):
    pop, dist = pd_
    lo, hi = min(t1, t2), max(t1, t2)
    a = coverage.circle_coverage(pop, dist[:, 0], lo)
    b = coverage.circle_coverage(pop, dist[:, 0], hi)
    if pop.sum() > 0:
        assert b >= a - 1e-12


@settings(max_examples=60, deadline=None)
@given(_pop_dist(n_types=2), st.floats(0, 5e3))
def test_coverage_never_falls_when_a_facility_is_added(pd_, t):
    pop, dist = pd_
    before = coverage.circle_coverage(pop, dist[:, 0], t)
    # a new facility: each cell's nearest distance is the minimum of old and new
    after = coverage.circle_coverage(pop, np.minimum(dist[:, 0], dist[:, 1]), t)
    if pop.sum() > 0:
        assert after >= before - 1e-12


@settings(max_examples=60, deadline=None)
@given(_pop_dist(n_types=4), st.lists(st.floats(1, 3e3), min_size=4, max_size=4))
def test_completeness_at_most_smallest_part(pd_, limits):
    pop, dist = pd_
    limits = np.array(limits)
    share, missing = coverage.completeness(pop, dist, limits)
    if pop.sum() > 0:
        parts = [coverage.circle_coverage(pop, dist[:, j], limits[j]) for j in range(4)]
        assert share <= min(parts) + 1e-12
    assert missing.shape == dist.shape


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 12), st.data())
def test_fca_everything_in_catchment_gives_supply_over_demand(n_fac, n_cells, data):
    supply = np.array(data.draw(st.lists(st.floats(0, 500), min_size=n_fac, max_size=n_fac)))
    demand = np.array(data.draw(st.lists(st.floats(0.5, 1e4), min_size=n_cells,
                                         max_size=n_cells)))
    fac, cell = np.meshgrid(np.arange(n_fac), np.arange(n_cells), indexing="ij")
    dist = np.array(data.draw(st.lists(st.floats(0, 999), min_size=fac.size,
                                       max_size=fac.size)))
    score = coverage.two_step_fca(supply, demand, fac.ravel(), cell.ravel(), dist,
                                  max_dist_m=1000.0)
    np.testing.assert_allclose(score, supply.sum() / demand.sum(), rtol=1e-9, atol=1e-12)


def test_fca_invariant_on_seeded_random_data(rng):
    supply = rng.uniform(0, 100, 30)
    demand = rng.uniform(0, 1000, 200)
    fac, cell = np.meshgrid(np.arange(30), np.arange(200), indexing="ij")
    dist = rng.uniform(0, 4_000, fac.size)
    score = coverage.two_step_fca(supply, demand, fac.ravel(), cell.ravel(), dist,
                                  max_dist_m=1e9)
    np.testing.assert_allclose(score, supply.sum() / demand.sum(), rtol=1e-9)
    # demand-weighted mean of the Gaussian score conserves supply when every
    # facility has demand in reach
    g = coverage.two_step_fca(supply, demand, fac.ravel(), cell.ravel(), dist,
                              max_dist_m=5_000.0, kernel="gaussian")
    assert (g >= 0).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.data())
def test_clusters_partition_uncovered_population(n_rows, n_cols, data):
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=rows.size, max_size=rows.size)))
    pop = np.array(data.draw(st.lists(st.floats(0, 100), min_size=rows.size,
                                      max_size=rows.size)))
    lab8 = coverage.uncovered_clusters(rows, cols, mask, pop, connectivity=8)
    lab4 = coverage.uncovered_clusters(rows, cols, mask, pop, connectivity=4)
    assert ((lab8 > 0) == mask).all()
    assert lab4.max() >= lab8.max()
    if lab8.max():
        sums = np.bincount(lab8, weights=pop)[1:]
        assert np.all(np.diff(sums) <= 1e-9)
        assert sums.sum() == pytest.approx(pop[mask].sum())
