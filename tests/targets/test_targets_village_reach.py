"""health_village: a clinic in the village, or one within the stated reach (hand-computed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from access.errors import ConfigError
from access.targets import evaluate_targets, load_catalogue
from tests.targets.synth import Fac

# One row of 45 cells of 100 m. Villages: A cols 0-4 (own clinic at col 2, 50 residents),
# B cols 5-9 (no clinic; 10 residents at col 5, 300 m from A's clinic, 30 at col 9, 700 m:
# mean (10*300 + 30*700) / 40 = 600 m), C cols 10-24 (no clinic; 20 residents at col 20,
# 1,800 m from A's clinic, 20 at col 24, 2,000 m from D's: mean 1,900 m), D cols 25-44
# (own clinic at col 44, nobody living there).
VILLAGES = pd.DataFrame({"unit_id": ["A", "B", "C", "D"], "name": ["甲村", "乙村", "丙村", "丁村"]})
CELL_VILLAGE = np.array(["A"] * 5 + ["B"] * 5 + ["C"] * 15 + ["D"] * 20, dtype=object)
POP = np.zeros(45)
POP[[5, 9, 20, 24]] = [10, 30, 20, 20]
POP[2] = 50


def _area(build):
    facs = [Fac("village_clinic", 0, 2, units={"village": "A"}),
            Fac("village_clinic", 0, 44, units={"village": "D"})]
    return build(1, 45, facs, pop={"total": POP}, cell_units={"village": CELL_VILLAGE},
                 units={"village": VILLAGES})


def _target(**modify):
    cat = load_catalogue(overrides={"modify": {"health_village": modify}} if modify else None)
    return {t.id: t for t in cat}["health_village"]


def _run(build, **modify):
    res = evaluate_targets([_target(**modify)], _area(build))
    return res.targets.set_index("id").loc["health_village"], res.units.set_index("unit_id")


def test_default_reach_is_stated_in_the_catalogue():
    t = _target()
    assert t.reach_m == 1000
    assert "1000" in t.note_zh
    assert "reach_m" in t.note_en


def test_village_with_clinic_in_reach_passes_beyond_fails(build):
    r, units = _run(build)
    assert units.loc["A", "met"]
    assert units.loc["D", "met"]
    assert units.loc["A", "detail_en"] == "1 of 1 required (village_clinic)"
    # B: no clinic of its own, residents' mean distance 600 m <= 1,000 m
    assert units.loc["B", "met"]
    assert units.loc["B", "value"] == 0
    assert "mean distance 600 m" in units.loc["B", "detail_en"]
    assert "within 1000 m" in units.loc["B", "detail_en"]
    # C: none in the village and none within reach (mean 1,900 m)
    assert not units.loc["C", "met"]
    assert units.loc["C", "detail_en"] == ("not in the unit (0 of 1 required, village_clinic) and "
                                        "none within 1000 m (residents' mean distance 1900 m)")
    assert units.loc["C", "detail"].endswith("1000 米内也没有（居民平均距离 1900 米）")
    assert r["value"] == pytest.approx(3 / 4)
    assert r["status"] == "not_met"
    assert "丙村" in r["reason_zh"]
    assert "1000 米内也没有" in r["reason_zh"]
    assert "1 units have none of their own but one within 1000 m" in r["reason_en"]


def test_reach_is_a_parameter(build):
    # 1,900 m: C's mean distance is exactly on the reach and passes
    r, units = _run(build, reach_m=1900)
    assert units.loc["C", "met"]
    assert r["status"] == "met"
    # 1,899 m: it does not
    assert not _run(build, reach_m=1899)[1].loc["C", "met"]
    # 0: only the village's own clinic counts
    r, units = _run(build, reach_m=0)
    assert not units.loc["B", "met"]
    assert not units.loc["C", "met"]
    assert units.loc["A", "met"]
    assert units.loc["D", "met"]
    assert units.loc["B", "detail_en"] == "0 of 1 required (village_clinic)"
    assert r["value"] == pytest.approx(2 / 4)


def test_own_clinic_passes_regardless_of_distance(build):
    # D's own clinic counts although nobody lives in D; a tiny reach changes nothing for A, D
    _, units = _run(build, reach_m=1)
    assert units.loc["A", "met"]
    assert units.loc["D", "met"]
    assert not units.loc["B", "met"]


def test_reach_never_lowers_the_share(build):
    values = [_run(build, reach_m=m)[0]["value"] for m in (0, 300, 600, 1000, 1900, 5000)]
    assert values == sorted(values)


def test_reach_without_cell_units_is_a_warning(build):
    facs = [Fac("village_clinic", 0, 2, units={"village": "A"})]
    area = build(1, 45, facs, pop={"total": POP}, units={"village": VILLAGES})
    res = evaluate_targets([_target()], area)
    r = res.targets.set_index("id").loc["health_village"]
    assert r["value"] == pytest.approx(1 / 4)
    assert "not counted" in r["warning_en"]


def test_negative_reach_refused():
    with pytest.raises(ConfigError, match="reach_m"):
        _target(reach_m=-5)
    with pytest.raises(ConfigError, match="reach_m"):
        _target(reach_m="far")
