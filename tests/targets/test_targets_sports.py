"""Sports grounds: area per person from real outline areas (hand-computed)."""

from __future__ import annotations

import numpy as np
import pytest

from access.targets import evaluate_targets, load_catalogue
from tests.targets.synth import Fac

SPORTS_AREA = {t.id: t for t in load_catalogue()}["sports_area"]


def _row(build, facs, pop):
    area = build(1, 3, facs, pop={"total": np.asarray(pop, dtype=float)})
    return evaluate_targets([SPORTS_AREA], area).targets.set_index("id").loc["sports_area"]


def test_sports_area_from_outlines_by_hand(build):
    # 4,000 + 1,200 m² of outlines over 2,000 residents = 2.6 m² per person; the fitness
    # station mapped as a point has no area and is not counted
    facs = [Fac("sports_ground", 0, 0, area_m2=4000), Fac("sports_centre", 0, 1, area_m2=1200),
            Fac("fitness_site", 0, 2)]
    r = _row(build, facs, [500, 1000, 500])
    assert r["value"] == pytest.approx(2.6)
    assert r["status"] == "met"
    assert "5,200 m² from the outlines of 2 facilities" in r["reason_en"]
    assert "sports_centre 1, sports_ground 1" in r["reason_en"]
    assert "5,200 平方米" in r["reason_zh"]
    assert "1 of 3 facilities without area: the value is a lower bound" in r["warning_en"]
    # one resident more per cell: just below 2.6
    r = _row(build, facs, [501, 1001, 501])
    assert r["value"] == pytest.approx(5200 / 2003)
    assert r["status"] == "not_met"


def test_sports_area_without_any_outline_is_no_data(build):
    facs = [Fac("sports_ground", 0, 0), Fac("fitness_site", 0, 1)]
    r = _row(build, facs, [500, 1000, 500])
    assert r["status"] == "no_data"
    assert np.isnan(r["value"])
    assert "all are points, without an outline" in r["reason_en"]


def test_sports_area_note_states_the_source():
    assert "area_m2" in SPORTS_AREA.note_en
    assert "leisure=pitch|track" in SPORTS_AREA.note_en
    assert "轮廓" in SPORTS_AREA.note_zh
