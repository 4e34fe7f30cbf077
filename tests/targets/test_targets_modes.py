"""A mode per target and per settlement type, on a synthetic county with hand-computed answers.

The county is one row of 60 cells of 100 m, one resident each, a clinic in the
first cell; the "network" distance from cell ``c`` to the clinic is ``c * 100 m``.
Cells 0-9 are urban, 10-29 a town, 30-59 a village; each is its own township
unit. ``health_15`` walks in urban units (4.0 km/h: 1000 m in 15 minutes) and
rides an e-bike in towns and villages (15 km/h: 3750 m in 15 minutes).
"""

from __future__ import annotations

import numpy as np
import pytest

from access.errors import ConfigError
from access.modes import MODES
from access.targets import CircleTarget, evaluate_targets, load_catalogue
from lifecircle.pipeline import modes_to_build
from tests.targets.synth import Fac

WALK_KMH = 4.0
EBIKE_KMH = 15.0
N = 60
SETTLEMENT = np.array(["urban"] * 10 + ["town"] * 20 + ["village"] * 30, dtype=object)
UNIT = np.array(["U"] * 10 + ["T"] * 20 + ["V"] * 30, dtype=object)
DIST_M = np.arange(N) * 100.0


def county(build, *, with_ebike: bool = True):
    return build(1, N, [Fac("clinic", 0, 0)], settlement=SETTLEMENT,
                 cell_units={"township": UNIT}, walk_speed_kmh={"total": WALK_KMH},
                 ebike_speed_kmh=EBIKE_KMH if with_ebike else None)


def health_15(**modify):
    ov = {"modify": {"health_15": modify}} if modify else None
    return {t.id: t for t in load_catalogue(overrides=ov)}["health_15"]


def test_stated_speeds_are_the_shipped_ones():
    assert MODES["ebike"].speed_kmh["residential"] == EBIKE_KMH
    t = health_15()
    assert isinstance(t, CircleTarget)
    assert dict(t.modes) == {"urban": "walk", "town": "ebike", "village": "ebike"}
    assert t.mode == "urban:walk;town:ebike;village:ebike"
    assert dict(t.max_time_min) == {"urban": 15.0, "town": 15.0, "village": 15.0}


def test_health_15_per_settlement_type_by_hand(build):
    res = evaluate_targets([health_15()], county(build))
    # by hand: walking 15 min at 4 km/h = 1000 m; e-bike 15 min at 15 km/h = 3750 m
    walk_reach = 15 * WALK_KMH * 1000 / 60
    ebike_reach = 15 * EBIKE_KMH * 1000 / 60
    assert (walk_reach, ebike_reach) == (1000.0, 3750.0)
    covered = np.where(SETTLEMENT == "urban", walk_reach >= DIST_M, ebike_reach >= DIST_M)
    # urban 10/10, town 20/20 (at most 2900 m = 11.6 min), village 8/30 (3000-3700 m)
    assert covered[SETTLEMENT == "village"].sum() == 8
    units = res.units.set_index("unit_id")
    assert units.loc["U", "value"] == 1.0
    assert units.loc["U", "met"]
    assert units.loc["T", "value"] == 1.0
    assert units.loc["T", "met"]
    assert units.loc["V", "value"] == pytest.approx(8 / 30)
    assert not units.loc["V", "met"]
    assert list(units.loc[["U", "T", "V"], "mode"]) == ["walk", "ebike", "ebike"]
    r = res.targets.set_index("id").loc["health_15"]
    assert r["value"] == pytest.approx(covered.mean())
    assert r["status"] == "not_met"
    assert r["mode"] == "urban:walk;town:ebike;village:ebike"
    assert "镇区电动自行车" in r["reason_zh"]
    assert "town e-bike" in r["reason_en"]
    flags = res.cell_flags["covered__health_15"].to_numpy(dtype=bool)
    np.testing.assert_array_equal(flags, covered)


def test_all_walking_differs_by_hand(build):
    res = evaluate_targets([health_15(mode="walk")], county(build))
    units = res.units.set_index("unit_id")
    # the town's cells 10-29 lie 1000-2900 m away: only cell 10 is within 1000 m
    assert units.loc["T", "value"] == pytest.approx(1 / 20)
    assert units.loc["V", "value"] == 0.0
    assert res.targets.set_index("id").loc["health_15", "mode"] == "walk"


def test_village_by_car_in_a_study_area_override(build):
    # a car at 30 km/h: 15 min = 7500 m, the whole village is covered
    area = build(1, N, [Fac("clinic", 0, 0)], settlement=SETTLEMENT,
                 cell_units={"township": UNIT}, ebike_speed_kmh=EBIKE_KMH, drive_speed_kmh=30.0)
    t = health_15(mode={"urban": "walk", "town": "ebike", "village": "drive"})
    res = evaluate_targets([t], area)
    units = res.units.set_index("unit_id")
    assert units.loc["V", "value"] == 1.0
    assert units.loc["V", "mode"] == "drive"


def test_missing_ebike_times_is_no_data(build):
    res = evaluate_targets([health_15()], county(build, with_ebike=False))
    r = res.targets.set_index("id").loc["health_15"]
    assert r["status"] == "no_data"
    assert "ebike_time_min__" in r["reason_en"]


@pytest.mark.parametrize(("modify", "match"), [
    ({"mode": {"urban": "walk", "town": "bike", "village": "ebike"}}, "did you mean 'ebike'"),
    ({"mode": {"urban": "walk"}}, "no mode given for scope"),
    ({"mode": "ebike", "max_dist_m": 1000}, "needs max_time_min"),
])
def test_bad_modes(modify, match):
    with pytest.raises(ConfigError, match=match):
        health_15(**modify)


def test_networks_built_for_the_modes_targets_name():
    walk_only = [t for t in load_catalogue() if t.id in ("fitness_10_urban", "health_village")]
    assert modes_to_build(("walk",), walk_only) == ["walk"]
    assert modes_to_build(("walk", "drive"), walk_only) == ["walk", "drive"]
    assert modes_to_build(("walk",), [health_15()]) == ["walk", "ebike"]
    assert modes_to_build(("walk",), [health_15(mode="walk")]) == ["walk"]
    # a mode outside the target's scope is not needed
    t = health_15(scope=["urban"], mode={"urban": "walk", "town": "drive", "village": "drive"})
    assert modes_to_build(("walk",), [t]) == ["walk"]
