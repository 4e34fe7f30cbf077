"""Sports grounds: area per person from real outline areas (hand-computed)."""

from __future__ import annotations

import numpy as np
import pytest

from access.targets import CATALOGUE_DIR, evaluate_targets, load_catalogue
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


# -- sports grounds by size in the life-circle levels --------------------------
# Levels holding only sports grounds, with the GB 50180 reaches and the shipped sizes:
# any ground within 300 m (5 min), one of >= 1,310 m² within 500 m (10 min), one of
# >= 3,150 m² within 1,000 m (15 min). One row of 16 cells of 100 m, one resident each:
# a small ground (800 m²) at col 0, a medium one (2,000 m²) at col 6, a large one
# (4,000 m²) at col 15.
#   any within 300 m:            cols 0-3, 3-9, 12-15  -> 0-9, 12-15   (14 cells)
#   medium/large within 500 m:   cols 1-11, 10-15      -> 1-15
#   large within 1,000 m:        cols 5-15
# life_circle_5 = 14/16, life_circle_10 = 13/16 (0 drops), life_circle_15 = 9/16 (5-9, 12-15)
def _levels_catalogue(tmp_path):
    text = (CATALOGUE_DIR / "targets.toml").read_text(encoding="utf-8")
    text += """
[life_circle.5min]
max_dist_m = 300
categories = ["sports_ground"]

[life_circle.10min]
max_dist_m = 500
lower = "5min"
categories = ["sports_ground"]
min_area_m2 = { sports_ground = 1310 }

[life_circle.15min]
max_dist_m = 1000
lower = "10min"
categories = ["sports_ground"]
min_area_m2 = { sports_ground = 3150 }
"""
    path = tmp_path / "cat.toml"
    path.write_text(text, encoding="utf-8")
    cat = {t.id: t for t in load_catalogue(path=path)}
    return [cat["life_circle_5"], cat["life_circle_10"], cat["life_circle_15"]]


def _levels(build, tmp_path, areas):
    facs = [Fac("sports_ground", 0, c, area_m2=a) for c, a in zip((0, 6, 15), areas,
                                                                   strict=True)]
    res = evaluate_targets(_levels_catalogue(tmp_path), build(1, 16, facs))
    return res, res.targets.set_index("id")["value"].to_dict()


def test_ground_counts_at_the_levels_its_size_qualifies_for(build, tmp_path):
    res, v = _levels(build, tmp_path, (800, 2000, 4000))
    assert v["life_circle_5"] == pytest.approx(14 / 16)
    assert v["life_circle_10"] == pytest.approx(13 / 16)
    assert v["life_circle_15"] == pytest.approx(9 / 16)
    missing = res.cell_flags["missing_types__life_circle_15"]
    assert missing[0] == "sports_ground>=3150m2;sports_ground>=1310m2"
    assert missing[1] == "sports_ground>=3150m2"
    assert missing[5] == ""
    assert missing[10] == "sports_ground"
    warn = res.targets.set_index("id").loc["life_circle_15", "warning_en"]
    assert "1 sports_ground smaller than 1310 m² not counted at the 10min level" in warn
    assert "2 sports_ground smaller than 3150 m² not counted at the 15min level" in warn


def test_unknown_size_counts_at_every_level(build, tmp_path):
    # the medium ground of unknown size counts as large too: 15-min = the 10-min cells
    _, v = _levels(build, tmp_path, (800, float("nan"), 4000))
    assert v["life_circle_15"] == pytest.approx(13 / 16)
    # no size known at all: today's rule, any ground at every level
    res, v = _levels(build, tmp_path, (float("nan"),) * 3)
    assert v["life_circle_5"] == v["life_circle_10"] == v["life_circle_15"] == \
        pytest.approx(14 / 16)
    assert "sizes unknown" in res.targets.set_index("id").loc["life_circle_15", "warning_en"]


def test_shipped_levels_state_the_sizes():
    cat = {t.id: t for t in load_catalogue()}
    reqs = {(r.category, r.min_area_m2): r.level for r in cat["life_circle_15"].requirements}
    assert reqs[("sports_ground", 0.0)] == "5min"
    assert reqs[("sports_ground", 1310.0)] == "10min"
    assert reqs[("sports_ground", 3150.0)] == "15min"
