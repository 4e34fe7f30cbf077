"""The summary's weighted median and the stable order it sorts by."""

from __future__ import annotations

import numpy as np
import pytest

from lifecircle.summary import stable_order, weighted_median

POOL = np.array([0.0, -0.0, 1.5, 2.0, np.inf, -np.inf, np.nan, 3.25])


@pytest.mark.parametrize("seed", range(40))
def test_stable_order_equals_numpy_stable_argsort(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 500))
    for v in (rng.choice(POOL, n), rng.integers(0, 12, n).astype(float), rng.random(n),
              np.where(rng.random(n) < 0.2, np.inf, rng.random(n) * 30)):
        np.testing.assert_array_equal(stable_order(v), np.argsort(v, kind="stable"))


def test_weighted_median_by_hand() -> None:
    # sorted: 1 (w 1), 2 (w 1), 5 (w 3); half of 5 is 2.5, first reached at 5
    assert weighted_median(np.array([5.0, 1.0, 2.0]), np.array([3.0, 1.0, 1.0])) == 5.0
    # lower median: the cumulative weight reaches half exactly at 2
    assert weighted_median(np.array([2.0, 9.0, 1.0, 3.0]), np.ones(4)) == 2.0
    # unreachable cells count: most residents at inf
    assert weighted_median(np.array([np.inf, 4.0]), np.array([3.0, 1.0])) == np.inf
    assert np.isnan(weighted_median(np.array([1.0]), np.array([0.0])))
