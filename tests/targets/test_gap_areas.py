"""Gap areas: bounded by the reach, every uncovered resident in exactly one, deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from access.targets import TargetInputs, evaluate_targets, load_catalogue
from access.targets.context import Context
from access.targets.gaps import gap_areas, grid_areas
from tests.targets.synth import Fac


def brute_greedy(x, y, w, key, radius):
    """Plain greedy: each round, the cell with the most unassigned weight within radius."""
    n = len(x)
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    near = d <= radius + 1e-9
    area = np.full(n, -1)
    centres = []
    while (area < 0).any():
        alive = area < 0
        score = np.where(alive, (near * (w * alive)[None, :]).sum(axis=1), -1.0)
        best = max(np.flatnonzero(alive), key=lambda i: (score[i], -key[i]))
        members = near[best] & alive
        area[members] = len(centres)
        centres.append(best)
    return area, np.array(centres)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("radius", [0.0, 100.0, 150.0, 250.0, 420.0])
def test_grid_areas_equal_plain_greedy(seed, radius):
    rng = np.random.default_rng(seed)
    n_rows, n_cols = 9, 11
    r, c = np.divmod(np.arange(n_rows * n_cols), n_cols)
    keep = rng.random(r.size) < 0.55
    r, c = r[keep], c[keep]
    w = rng.integers(1, 4, r.size).astype(float)  # small integers: many exact ties
    key = rng.permutation(r.size)
    area, centres = grid_areas(r, c, w, key, radius, 100.0)
    x, y = c * 100.0, -r * 100.0
    want_area, want_centres = brute_greedy(x, y, w, key, radius)
    assert area.tolist() == want_area.tolist()
    assert centres.tolist() == want_centres.tolist()


def _random_inputs(seed, n_rows=30, n_cols=40, cell=50.0):
    rng = np.random.default_rng(seed)
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    pop = np.where(rng.random(rows.size) < 0.6, rng.gamma(2.0, 20.0, rows.size), 0.0)
    cells = pd.DataFrame({"cell_id": 1000 + np.arange(rows.size), "row": rows, "col": cols,
                          "x": 500_000 + (cols + 0.5) * cell,
                          "y": 3_000_000 - (rows + 0.5) * cell, "area_m2": cell * cell,
                          "pop_total": pop,
                          "unit__street": np.where(cols < n_cols // 2, "W", "E")})
    return TargetInputs(cells=cells, facilities=pd.DataFrame({"category": []})), rng


@pytest.mark.parametrize("seed", range(5))
def test_areas_within_radius_and_partition(seed):
    inputs, rng = _random_inputs(seed)
    ctx = Context(inputs)
    pop = ctx.pop("total")
    mask = rng.random(ctx.n) < 0.7
    radius = np.where(ctx.cells["col"].to_numpy() < 20, 300.0, 520.0)  # two reaches
    gaps, members = gap_areas("t", "total", ctx, mask, pop, radius)
    uncovered = mask & (pop > 0)
    # every uncovered populated cell in exactly one area, nothing else
    assert members["cell_id"].is_unique
    assert set(members["cell_id"]) == set(ctx.cells["cell_id"][uncovered])
    assert gaps["residents"].sum() == pytest.approx(pop[uncovered].sum(), rel=1e-12)
    assert gaps["n_cells"].sum() == uncovered.sum()
    assert gaps["rank"].tolist() == list(range(1, len(gaps) + 1))
    assert gaps["residents"].is_monotonic_decreasing
    # every cell within its area's radius of the centre; one reach per area
    xy = ctx.cells.set_index("cell_id")[["x", "y"]]
    rad = pd.Series(radius, index=ctx.cells["cell_id"])
    m = members.merge(gaps[["rank", "x", "y", "radius_m"]], on="rank")
    d = np.hypot(xy.loc[m["cell_id"], "x"].to_numpy() - m["x"].to_numpy(),
                 xy.loc[m["cell_id"], "y"].to_numpy() - m["y"].to_numpy())
    assert (d <= m["radius_m"].to_numpy() + 1e-6).all()
    assert (rad.loc[m["cell_id"]].to_numpy() == m["radius_m"].to_numpy()).all()
    # each area's residents are the sum of its cells'
    cpop = pd.Series(pop, index=ctx.cells["cell_id"])
    per = cpop.loc[members["cell_id"]].groupby(members["rank"].to_numpy()).sum()
    assert np.allclose(per.sort_index().to_numpy(), gaps["residents"].to_numpy())
    # the centre is the area's own cell and its unit is the centre's
    assert set(gaps["center_cell_id"]) <= set(members["cell_id"])
    unit = ctx.cells.set_index("cell_id")["unit__street"]
    assert (unit.loc[gaps["center_cell_id"]].to_numpy() == gaps["unit__street"]).all()


def test_deterministic_and_independent_of_row_order():
    inputs, rng = _random_inputs(3)
    mask = rng.random(len(inputs.cells)) < 0.8
    radius = np.full(len(inputs.cells), 400.0)
    ctx = Context(inputs)
    a, am = gap_areas("t", "total", ctx, mask, ctx.pop("total"), radius)
    b, bm = gap_areas("t", "total", ctx, mask, ctx.pop("total"), radius)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(am, bm)
    perm = rng.permutation(len(inputs.cells))
    shuffled = TargetInputs(cells=inputs.cells.iloc[perm].reset_index(drop=True),
                            facilities=inputs.facilities)
    sctx = Context(shuffled)
    c, cm = gap_areas("t", "total", sctx, mask[perm], sctx.pop("total"), radius[perm])
    pd.testing.assert_frame_equal(a, c)
    pd.testing.assert_frame_equal(am, cm)


def test_one_area_per_reach_when_everyone_fits():
    # 3 x 3 uncovered cells of 100 m; a 150 m reach from the middle covers all nine
    inputs, _ = _random_inputs(0, n_rows=3, n_cols=3, cell=100.0)
    inputs.cells["pop_total"] = 1.0
    ctx = Context(inputs)
    gaps, _ = gap_areas("t", "total", ctx, np.ones(9, bool), ctx.pop("total"),
                        np.full(9, 150.0))
    assert gaps["n_cells"].tolist() == [9]
    assert gaps["center_cell_id"].tolist() == [1004]
    # 100 m: the middle takes its cross (5), the four corners are left alone
    gaps, _ = gap_areas("t", "total", ctx, np.ones(9, bool), ctx.pop("total"),
                        np.full(9, 100.0))
    assert gaps["n_cells"].tolist() == [5, 1, 1, 1, 1]
    assert gaps["center_cell_id"].tolist() == [1004, 1000, 1002, 1006, 1008]


def test_irregular_cells_refused():
    inputs, _ = _random_inputs(0, n_rows=2, n_cols=2)
    inputs.cells.loc[3, "x"] += 7.0
    ctx = Context(inputs)
    with pytest.raises(ValueError, match="regular grid"):
        gap_areas("t", "total", ctx, np.ones(4, bool), np.ones(4), np.full(4, 100.0))


def test_completeness_area_uses_the_shortest_missing_reach(build):
    # a row of 30 cells of 100 m, one resident each. Every 300 m type stands at
    # columns 0, 6, 12, 18, 24 and 29 (every cell within 300 m); the 500 m types
    # (primary school, clinic, fresh market, culture station) only at column 0, so
    # columns 6..29 lack only 500 m types: areas of radius 500 m = 5 cells each side.
    # Greedy by hand: columns 11..24 reach 11 cells, 11 wins (smallest id) and takes
    # 6..16; then 22 takes 17..27 (11 cells); then 28 takes 28..29.
    target = {t.id: t for t in load_catalogue()}["life_circle_10"]
    facs = []
    for r in target.requirements:
        cols = [0] if r.max_dist_m == 500.0 and r.category != "sports_ground" else [
            0, 6, 12, 18, 24, 29]
        facs += [Fac(r.category, 0, c) for c in cols]
    res = evaluate_targets([target], build(1, 30, facs))
    gaps = res.gaps
    assert gaps["n_cells"].tolist() == [11, 11, 2]
    assert gaps["center_cell_id"].tolist() == [11, 22, 28]
    assert (gaps["radius_m"] == 500.0).all()
    members = res.gap_cells.groupby("rank")["cell_id"].agg(list)
    assert members[1] == list(range(6, 17))
    assert members[3] == [28, 29]
