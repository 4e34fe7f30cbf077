"""Every kind of target evaluated on small synthetic areas with hand-computed answers."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from pyproj import CRS, Transformer

from access.errors import ConfigError
from access.targets import (
    apply_settlement,
    evaluate_targets,
    format_summary,
    load_catalogue,
)
from tests.targets.synth import Fac, catalogue_5min_in_minutes

CATALOGUE = {t.id: t for t in load_catalogue()}


def one(tid: str, **modify):
    """A catalogue target, optionally modified through the override path."""
    if not modify:
        return CATALOGUE[tid]
    return {t.id: t for t in load_catalogue(overrides={"modify": {tid: modify}})}[tid]


def row(results, tid):
    return results.targets.set_index("id").loc[tid]


def grid_pop(n_rows, n_cols, values: dict[tuple[int, int], float]) -> np.ndarray:
    pop = np.zeros(n_rows * n_cols)
    for (r, c), v in values.items():
        pop[r * n_cols + c] = v
    return pop


# -- circle --------------------------------------------------------------------
# 5x5 grid, a fitness site in the middle (2, 2), reach 100 m: the cell and its four
# edge neighbours are covered. Residents: 34 in the middle, corners and two more.
POP = {(2, 2): 34, (0, 0): 10, (0, 1): 1, (0, 4): 20, (4, 0): 30, (4, 4): 5, (1, 3): 2}
TOTAL = sum(POP.values())  # 102


@pytest.fixture
def circle_area(build):
    units = np.array(["A" if c <= 2 else "B" for c in range(5)] * 5, dtype=object)
    return build(5, 5, [Fac("fitness_site", 2, 2)], pop={"total": grid_pop(5, 5, POP)},
                 cell_units={"township": units})


def test_circle_value_area_units_and_flags(circle_area):
    target = one("fitness_10_urban", max_dist_m=100)
    res = evaluate_targets([target], circle_area)
    r = row(res, "fitness_10_urban")
    assert r["value"] == pytest.approx(34 / TOTAL)
    assert r["status"] == "not_met"
    assert r["met"] is False
    assert r["population_base"] == pytest.approx(TOTAL)
    # area-based beside it: no residential area known, populated cells' area: 1 of 7
    assert r["value_area"] == pytest.approx(1 / 7)
    assert r["area_base"] == "populated_cell_area"
    assert "every cell treated as urban" in r["reason_en"]
    flags = res.cell_flags.set_index("cell_id")["covered__fitness_10_urban"]
    assert flags.sum() == 5
    assert bool(flags[12])
    assert bool(flags[7])
    assert not bool(flags[6])
    units = res.units.set_index("unit_id")
    assert units.loc["A", "value"] == pytest.approx(34 / 75)
    assert units.loc["B", "value"] == 0.0
    assert units.loc["B", "met"] is False or not units.loc["B", "met"]


def test_circle_area_based_uses_residential_area(build):
    res_m2 = grid_pop(5, 5, {(2, 2): 5000, (4, 0): 10000})
    area = build(5, 5, [Fac("fitness_site", 2, 2)], pop={"total": grid_pop(5, 5, POP)},
                 residential_m2=res_m2)
    r = row(evaluate_targets([one("fitness_10_urban", max_dist_m=100)], area),
            "fitness_10_urban")
    assert r["value_area"] == pytest.approx(1 / 3)
    assert r["area_base"] == "residential_m2"


def test_circle_time_uses_group_walking_speed(build):
    # one row of 10 cells, a day-care centre at col 0; 60+ walk 2.4 km/h: 15 min = 600 m
    pop = np.ones(10)
    area = build(1, 10, [Fac("eldercare_daycare", 0, 0)], pop={"total": pop,
                                                                "age_60_plus": pop},
                 walk_speed_kmh={"total": 4.0, "age_60_plus": 2.4})
    r = row(evaluate_targets([one("eldercare_15")], area), "eldercare_15")
    assert r["value"] == pytest.approx(0.7)  # cols 0..6 within 600 m
    assert "eldercare_service_centre" in r["warning_en"]  # the other category is absent
    # a group without its own speed uses the total's: 15 min at 4 km/h = 1000 m
    area.walk_speed_kmh = {"total": 4.0}
    r = row(evaluate_targets([one("eldercare_15")], area), "eldercare_15")
    assert r["value"] == pytest.approx(1.0)
    assert r["status"] == "met"


def test_circle_any_of_several_categories(build):
    area = build(1, 10, [Fac("convenience_store", 0, 0), Fac("fresh_market", 0, 9)],
                 walk_speed_kmh={"total": 1.2})  # 15 min = 300 m
    r = row(evaluate_targets([one("convenience_15")], area), "convenience_15")
    assert r["value"] == pytest.approx(0.8)  # cols 0-3 and 6-9


def test_gap_areas_bounded_by_the_reach(circle_area):
    target = one("fitness_10_urban", max_dist_m=100)
    res = evaluate_targets([target], circle_area)
    gaps = res.gaps
    # reach 100 m: a centre serves itself and its four edge neighbours. Scores:
    # (4,0) 30, (0,4) 20, (0,0) and (0,1) 10 + 1 = 11 (tie: smaller cell id 0 wins),
    # (4,4) 5, (1,3) 2 (its neighbour (0,4) is diagonal, 141 m away)
    assert gaps["residents"].tolist() == [30, 20, 11, 5, 2]
    assert gaps["rank"].tolist() == [1, 2, 3, 4, 5]
    assert gaps["n_cells"].tolist() == [1, 1, 2, 1, 1]
    assert gaps["center_cell_id"].tolist() == [20, 4, 0, 24, 8]
    assert (gaps["radius_m"] == 100).all()
    assert (gaps["group"] == "total").all()
    top = gaps.iloc[0]
    assert (top["x"], top["y"]) == (50.0, 50.0)
    assert gaps["unit__township"].tolist() == ["A", "B", "A", "B", "B"]
    assert gaps["unit_name__township"].tolist() == ["A", "B", "A", "B", "B"]
    assert gaps["lon"].isna().all()  # no CRS given to the engine
    members = res.gap_cells
    assert list(members.columns) == ["target_id", "rank", "cell_id"]
    assert members[members["rank"] == 3]["cell_id"].tolist() == [0, 1]
    assert sorted(members["cell_id"]) == [0, 1, 4, 8, 20, 24]
    # 150 m: (1,3) is covered now (141 m from the site); the rest as before
    wide = evaluate_targets([one("fitness_10_urban", max_dist_m=150)], circle_area).gaps
    assert wide["residents"].tolist() == [30, 20, 11, 5]
    assert wide["center_cell_id"].tolist() == [20, 4, 0, 24]
    assert (wide["radius_m"] == 150).all()


def test_gap_areas_lonlat_with_crs(circle_area):
    area = replace(circle_area, crs=CRS.from_epsg(32648))
    gaps = evaluate_targets([one("fitness_10_urban", max_dist_m=100)], area).gaps
    lon, lat = Transformer.from_crs(32648, 4326, always_xy=True).transform(50.0, 50.0)
    assert gaps.iloc[0]["lon"] == pytest.approx(lon, abs=1e-9)
    assert gaps.iloc[0]["lat"] == pytest.approx(lat, abs=1e-9)


def test_no_gaps_when_met(circle_area):
    res = evaluate_targets([one("fitness_10_urban", max_dist_m=100, threshold=0.3)],
                           circle_area)
    assert row(res, "fitness_10_urban")["status"] == "met"
    assert res.gaps.empty


def test_park_radius_by_park_area(build):
    # a 2 ha park at col 0 serves 500 m, a 0.5 ha park at col 11 serves 300 m
    area = build(1, 12, [Fac("park", 0, 0, area_m2=20_000), Fac("park", 0, 11, area_m2=5_000)])
    r = row(evaluate_targets([one("park_radius")], area), "park_radius")
    assert r["value"] == pytest.approx(10 / 12)  # cols 0-5 and 8-11
    # without per-facility distances every park gets the smaller radius: cols 0-3, 8-11
    area.catchments = None
    r = row(evaluate_targets([one("park_radius")], area), "park_radius")
    assert r["value"] == pytest.approx(8 / 12)
    assert "300 m" in r["reason_en"]


def test_drive_target(build):
    # 30 km/h: 1 km = 2 min; one row of cells 1 km apart would be large, so use 1 km/h
    area = build(1, 10, [Fac("emergency_station", 0, 0)], drive_speed_kmh=0.6)
    # 0.6 km/h = 10 m/min: 60 min = 600 m -> cols 0..6
    r = row(evaluate_targets([one("emergency_60")], area), "emergency_60")
    assert r["value"] == pytest.approx(0.7)
    no_drive = build(1, 10, [Fac("emergency_station", 0, 0)])
    r = row(evaluate_targets([one("emergency_60")], no_drive), "emergency_60")
    assert r["status"] == "no_data"
    assert "drive" in r["reason_en"]


def test_culture_reach_per_settlement(build):
    settlement = np.array(["urban"] * 5 + ["village"] * 5, dtype=object)
    area = build(1, 10, [Fac("library", 0, 0)], settlement=settlement,
                 walk_speed_kmh={"total": 1.2})  # 15 min = 300 m, 20 min = 400 m
    r = row(evaluate_targets([one("culture_15_20")], area), "culture_15_20")
    # urban cols 0-3 within 300 m; village cols 5-9 at 500-900 m: none within 400 m
    assert r["value"] == pytest.approx(0.4)


# -- scope -------------------------------------------------------------------
def test_town_and_village_targets_need_settlement(build):
    area = build(1, 4, [Fac("fitness_site", 0, 0)])
    res = evaluate_targets([one("fitness_15_town"), one("fitness_20_village")], area)
    for tid in ("fitness_15_town", "fitness_20_village"):
        r = row(res, tid)
        assert r["status"] == "no_data"
        assert r["met"] is None
        assert math.isnan(r["value"])
        assert "settlement" in r["reason_en"]
        assert "城乡分类" in r["reason_zh"]


def test_settlement_from_study_area_units(build):
    units = np.array(["T1", "T1", "V1", "V1"], dtype=object)
    area = build(1, 4, [Fac("fitness_site", 0, 0)], cell_units={"township": units},
                 walk_speed_kmh={"total": 0.6})  # 15 min = 150 m, 20 min = 200 m
    area = apply_settlement(area, {"level": "township", "town": ["T1"], "village": ["V1"]})
    res = evaluate_targets([one("fitness_15_town"), one("fitness_20_village"),
                            one("fitness_10_urban")], area)
    assert row(res, "fitness_15_town")["value"] == pytest.approx(1.0)   # cols 0, 1
    assert row(res, "fitness_20_village")["value"] == pytest.approx(0.5)  # col 2 only
    assert row(res, "fitness_10_urban")["status"] == "no_data"  # no urban residents
    flags = res.cell_flags["covered__fitness_15_town"]
    assert flags.isna().tolist() == [False, False, True, True]


def test_apply_settlement_bad_level(build):
    area = build(1, 2, [Fac("fitness_site", 0, 0)])
    with pytest.raises(ConfigError, match="no 'village' units"):
        apply_settlement(area, {"level": "village", "town": ["x"]})


def test_bad_settlement_values_rejected(build):
    area = build(1, 2, [Fac("fitness_site", 0, 0)],
                 settlement=np.array(["urban", "suburb"], dtype=object))
    with pytest.raises(ValueError, match="suburb"):
        evaluate_targets([one("fitness_10_urban")], area)


# -- completeness ------------------------------------------------------------
FIVE = ["kindergarten", "nursery", "community_health_station", "eldercare_daycare",
        "community_service_station", "fitness_site", "sports_ground"]
TEN = ["primary_school", "clinic", "fresh_market", "culture_station", "sports_ground"]


def test_completeness_by_hand(build):
    facs = [Fac(c, 0, 0) for c in dict.fromkeys(FIVE + TEN)]
    area = build(1, 10, facs)
    res = evaluate_targets([one("life_circle_5"), one("life_circle_10")], area)
    # every type at col 0: 5-min list within 300 m (cols 0-3) decides both levels
    assert row(res, "life_circle_5")["value"] == pytest.approx(0.4)
    assert row(res, "life_circle_10")["value"] == pytest.approx(0.4)
    missing = res.cell_flags["missing_types__life_circle_10"]
    assert missing[0] == ""
    # col 4 (400 m): the 10-min types are in reach, every 5-min type is not
    assert missing[4].split(";") == ["sports_ground", "kindergarten", "nursery",
                                     "community_health_station", "eldercare_daycare",
                                     "community_service_station", "fitness_site"]


def test_completeness_non_nesting(build):
    # all types at col 0 except the fitness site, at col 9
    facs = [Fac(c, 0, 0) for c in dict.fromkeys(FIVE + TEN) if c != "fitness_site"]
    facs.append(Fac("fitness_site", 0, 9))
    area = build(1, 10, facs)
    res = evaluate_targets([one("life_circle_10")], area)
    r = row(res, "life_circle_10")
    assert r["value"] == 0.0
    assert r["status"] == "not_met"
    missing = res.cell_flags["missing_types__life_circle_10"]
    assert missing[0] == "fitness_site"
    assert missing[9].startswith("primary_school;clinic")
    assert "fitness_site" not in missing[9]
    # completeness never exceeds the coverage of any of its parts
    fit = row(evaluate_targets([one("fitness_10_urban", max_dist_m=300)], area),
              "fitness_10_urban")
    assert r["value"] <= fit["value"]


def test_completeness_missing_category_is_no_data(build):
    facs = [Fac(c, 0, 0) for c in FIVE if c != "nursery"]
    res = evaluate_targets([one("life_circle_5")], build(1, 4, facs))
    r = row(res, "life_circle_5")
    assert r["status"] == "no_data"
    assert "nursery" in r["reason_en"]
    assert math.isnan(r["value"])


def test_completeness_level_in_minutes(build, tmp_path):
    path = catalogue_5min_in_minutes(tmp_path)
    target = {t.id: t for t in load_catalogue(path=path)}["life_circle_5"]
    area = build(1, 10, [Fac(c, 0, 0) for c in FIVE], walk_speed_kmh={"total": 6.0})
    # 5 min at 6 km/h = 500 m: cols 0-5
    assert row(evaluate_targets([target], area), "life_circle_5")["value"] == pytest.approx(0.6)


# -- unit counts -------------------------------------------------------------
TOWNSHIPS = pd.DataFrame({"unit_id": ["T1", "T2", "T3"], "name": ["一镇", "二镇", "三镇"],
                          "pop_total": [40_000.0, 20_000.0, 35_000.0]})


def _kindergartens():
    return [Fac("kindergarten", 0, 0, ownership="public", units={"township": "T1"}),
            Fac("kindergarten", 0, 1, ownership="private", units={"township": "T1"}),
            Fac("kindergarten", 0, 2, ownership="public", units={"township": "T2"}),
            Fac("kindergarten", 0, 3, ownership="public", units={"township": "T3"}),
            Fac("kindergarten", 0, 3, ownership="inclusive", units={"township": "T3"}),
            Fac("kindergarten", 0, 4, ownership="public", units={"township": "T3"})]


def test_unit_count_zhengzhou_rule(build):
    area = build(1, 5, _kindergartens(), units={"township": TOWNSHIPS})
    zz = {t.id: t for t in load_catalogue(profile="zhengzhou")}["kindergarten_township_30k"]
    res = evaluate_targets([zz], area)
    r = row(res, "kindergarten_township_30k")
    assert r["group"] == "advisory"
    assert r["value"] == pytest.approx(2 / 3)
    assert r["status"] == "not_met"
    assert r["n_units"] == 3
    units = res.units.set_index("unit_id")
    assert units.loc["T1", "value"] == 1
    assert units.loc["T1", "threshold"] == 2
    assert not units.loc["T1", "met"]
    assert units.loc["T2", "threshold"] == 1
    assert units.loc["T2", "met"]
    assert units.loc["T3", "value"] == 2
    assert units.loc["T3", "met"]
    assert "一镇" in r["reason_zh"]
    # the Kaifeng rule (>= 1 public kindergarten) is met everywhere
    kf = {t.id: t for t in load_catalogue(profile="kaifeng")}["kindergarten_township"]
    assert row(evaluate_targets([kf], area), "kindergarten_township")["status"] == "met"


def test_unit_count_units_without_facilities_fail(build):
    towns = pd.concat([TOWNSHIPS, pd.DataFrame({"unit_id": ["T4"], "name": ["四镇"],
                                                "pop_total": [1000.0]})])
    area = build(1, 5, _kindergartens(), units={"township": towns})
    res = evaluate_targets([one("kindergarten_township")], area)
    assert row(res, "kindergarten_township")["value"] == pytest.approx(0.75)
    assert res.units.set_index("unit_id").loc["T4", "value"] == 0


def test_unit_count_missing_level_is_no_data(build):
    area = build(1, 5, [Fac("village_clinic", 0, 0, units={"township": "T1"})])
    r = row(evaluate_targets([one("health_village")], area), "health_village")
    assert r["status"] == "no_data"
    assert "village" in r["reason_en"]
    assert "村" not in r["reason_en"]


def test_unit_count_units_from_admin_codes(build):
    cell_units = np.array(["T1", "T1", "T2", "T2", "T3"], dtype=object)
    facs = [Fac("township_health_centre", 0, 0, units={"township": "T1"}),
            Fac("community_health_centre", 0, 2, units={"township": "T2"}),
            Fac("kindergarten", 0, 4, units={"township": "T3"})]
    area = build(1, 5, facs, cell_units={"township": cell_units})
    res = evaluate_targets([one("health_township")], area)
    r = row(res, "health_township")
    assert r["value"] == pytest.approx(2 / 3)
    assert "cannot be seen" in r["warning_en"]
    assert res.units.set_index("unit_id").loc["T3", "met"] == False  # noqa: E712


def test_unit_count_ownership_unknown_is_no_data(build):
    facs = [Fac("kindergarten", 0, 0, units={"township": "T1"})]
    area = build(1, 2, facs, units={"township": TOWNSHIPS})
    r = row(evaluate_targets([one("kindergarten_township")], area), "kindergarten_township")
    assert r["status"] == "no_data"
    assert "ownership" in r["reason_en"]


def test_unit_share_ninety_percent(build):
    subs = pd.DataFrame({"unit_id": [f"S{i}" for i in range(10)],
                         "name": [f"街道{i}" for i in range(10)]})
    facs = [Fac("eldercare_service_centre", 0, 0, units={"subdistrict": f"S{i}"})
            for i in range(9)]
    area = build(1, 3, facs, units={"subdistrict": subs})
    r = row(evaluate_targets([one("eldercare_subdistrict")], area), "eldercare_subdistrict")
    assert r["value"] == pytest.approx(0.9)
    assert r["status"] == "met"
    area = build(1, 3, facs[:8], units={"subdistrict": subs})
    r = row(evaluate_targets([one("eldercare_subdistrict")], area), "eldercare_subdistrict")
    assert r["value"] == pytest.approx(0.8)
    assert r["status"] == "not_met"
    assert "街道8" in r["reason_zh"]
    assert "街道9" in r["reason_zh"]


# -- provision ---------------------------------------------------------------
def test_provision_overall_and_per_unit(build):
    pop60 = np.array([1000.0, 1000.0, 1500.0, 500.0])
    districts = np.array(["D1", "D1", "D2", "D2"], dtype=object)
    facs = [Fac("eldercare_institution", 0, 0, capacity=100, units={"district": "D1"}),
            Fac("eldercare_institution", 0, 3, capacity=60, units={"district": "D2"})]
    area = build(1, 4, facs, pop={"total": pop60 * 5, "age_60_plus": pop60},
                 cell_units={"district": districts})
    res = evaluate_targets([one("eldercare_beds")], area)
    r = row(res, "eldercare_beds")
    assert r["value"] == pytest.approx(40.0)  # 160 beds / 4000 elderly * 1000
    assert r["status"] == "met"
    assert r["unit"] == "per_1000"
    units = res.units.set_index("unit_id")
    assert units.loc["D1", "value"] == pytest.approx(50.0)
    assert units.loc["D2", "value"] == pytest.approx(30.0)
    assert not units.loc["D2", "met"]


def test_provision_capacity_unknown_is_no_data_partial_is_lower_bound(build):
    facs = [Fac("nursery", 0, 0), Fac("nursery", 0, 1)]
    area = build(1, 2, facs, pop={"total": np.array([1000.0, 1000.0])})
    r = row(evaluate_targets([one("childcare_places")], area), "childcare_places")
    assert r["status"] == "no_data"
    assert math.isnan(r["value"])
    facs[0].capacity = 6.0
    area = build(1, 2, facs, pop={"total": np.array([1000.0, 1000.0])})
    r = row(evaluate_targets([one("childcare_places")], area), "childcare_places")
    assert r["value"] == pytest.approx(3.0)
    assert r["status"] == "not_met"
    assert "lower bound" in r["warning_en"]


def test_sports_area_per_person(build):
    facs = [Fac("sports_ground", 0, 0, area_m2=5000), Fac("fitness_site", 0, 1, area_m2=200)]
    area = build(1, 2, facs, pop={"total": np.array([1000.0, 1000.0])})
    r = row(evaluate_targets([one("sports_area")], area), "sports_area")
    assert r["value"] == pytest.approx(2.6)
    assert r["status"] == "met"
    assert r["unit"] == "m2_per_person"


def test_provision_missing_group_is_no_data(build):
    area = build(1, 2, [Fac("eldercare_institution", 0, 0, capacity=10)])
    r = row(evaluate_targets([one("eldercare_beds")], area), "eldercare_beds")
    assert r["status"] == "no_data"
    assert "age_60_plus" in r["reason_en"]


def test_capacity_share(build):
    facs = [Fac("kindergarten", 0, 0, capacity=200, ownership="public"),
            Fac("kindergarten", 0, 1, capacity=100, ownership="inclusive"),
            Fac("kindergarten", 0, 1, capacity=100, ownership="private")]
    r = row(evaluate_targets([one("kindergarten_coverage")], build(1, 2, facs)),
            "kindergarten_coverage")
    assert r["value"] == pytest.approx(0.75)
    assert r["status"] == "not_met"
    facs = [Fac("kindergarten", 0, 0, capacity=200)]
    r = row(evaluate_targets([one("kindergarten_coverage")], build(1, 2, facs)),
            "kindergarten_coverage")
    assert r["status"] == "no_data"


# -- 2SFCA ---------------------------------------------------------------------
def test_fca_huge_catchment_gives_supply_over_demand(build, rng):
    pop = rng.uniform(100, 1000, 12)
    facs = [Fac("nursery", 0, 0, capacity=3.0), Fac("nursery", 2, 3, capacity=7.0)]
    area = build(3, 4, facs, pop={"total": pop})
    target = one("childcare_places_2sfca", max_dist_m=1e6)
    res = evaluate_targets([target], area)
    expected = 10.0 / pop.sum() * 1000
    np.testing.assert_allclose(res.cell_flags["score__childcare_places_2sfca"], expected,
                               rtol=1e-9)
    r = row(res, "childcare_places_2sfca")
    assert r["value"] == (1.0 if expected >= 4.5 else 0.0)


def test_fca_by_hand_two_facilities(build):
    # 1x4 row, nursery A (4 places) at col 0, B (2 places) at col 3, catchment 150 m
    facs = [Fac("nursery", 0, 0, capacity=4.0), Fac("nursery", 0, 3, capacity=2.0)]
    area = build(1, 4, facs, pop={"total": np.array([500.0, 500.0, 1000.0, 1000.0])})
    res = evaluate_targets([one("childcare_places_2sfca", max_dist_m=150)], area)
    score = res.cell_flags["score__childcare_places_2sfca"].to_numpy()
    # A serves cols 0, 1 (1000 people): 4 per 1000; B serves cols 2, 3 (2000): 1 per 1000
    np.testing.assert_allclose(score, [4.0, 4.0, 1.0, 1.0])
    assert row(res, "childcare_places_2sfca")["value"] == 0.0


def test_fca_without_catchments_is_no_data(build):
    area = build(1, 2, [Fac("nursery", 0, 0, capacity=5)], with_catchments=False)
    r = row(evaluate_targets([one("childcare_places_2sfca")], area), "childcare_places_2sfca")
    assert r["status"] == "no_data"
    assert "catchments" in r["reason_en"]


# -- reporting -------------------------------------------------------------
def test_missing_input_is_no_data_never_zero(build):
    area = build(1, 3, [Fac("fitness_site", 0, 0)])
    res = evaluate_targets([one("eldercare_15"), one("eldercare_beds"),
                            one("eldercare_subdistrict")], area)
    for r in res.targets.itertuples():
        assert r.status == "no_data"
        assert r.met is None
        assert math.isnan(r.value)
        assert r.reason_en
        assert r.reason_zh


def test_data_warnings_and_derived_groups_are_carried(build):
    pop = np.ones(3)
    area = build(1, 3, [Fac("eldercare_daycare", 0, 0)], pop={"total": pop, "age_60_plus": pop},
                 data_warnings={"eldercare_daycare": ("数据可能缺失", "data may be missing")})
    area.groups_derived = {"age_60_plus": ("由比例推算", "derived from shares")}
    r = row(evaluate_targets([one("eldercare_15")], area), "eldercare_15")
    assert "data may be missing" in r["warning_en"]
    assert "数据可能缺失" in r["warning_zh"]
    assert "derived from shares" in r["warning_en"]


def test_results_columns(circle_area):
    res = evaluate_targets(list(CATALOGUE.values()), circle_area)
    for col in ("id", "name_zh", "name_en", "kind", "value", "threshold", "unit",
                "comparison", "met", "status", "population_base", "scope", "source",
                "clause", "confidence", "reason_zh", "reason_en", "warning_zh", "warning_en",
                "mode", "group"):
        assert col in res.targets.columns
    assert len(res.targets) == len(CATALOGUE)
    assert set(res.targets["status"]) <= {"met", "not_met", "no_data"}
    assert list(res.units.columns) == ["target_id", "level", "unit_id", "name", "value",
                                       "threshold", "met", "detail", "detail_en", "mode"]
    assert list(res.gaps.columns)[:11] == ["target_id", "rank", "group", "residents",
                                          "n_cells", "radius_m", "x", "y", "lon", "lat",
                                          "center_cell_id"]
    assert len(res.cell_flags) == 25


def test_format_summary(circle_area):
    res = evaluate_targets([one("fitness_10_urban", max_dist_m=100), one("eldercare_beds"),
                            one("park_radius")], circle_area)
    zh = format_summary(res)
    en = format_summary(res, lang="en")
    assert "城市社区10分钟健身圈" in zh
    assert "未达标" in zh
    assert "无数据" in zh
    assert "33.3%" in zh
    assert "NOT MET" in en
    assert "no data" in en
    assert "Park service-radius" not in zh
    assert en.splitlines()[-1] == "0 met, 1 not met, 2 without data"
    with pytest.raises(ValueError, match="lang"):
        format_summary(res, lang="fr")


def test_inputs_missing_columns(build):
    area = build(1, 2, [Fac("park", 0, 0)])
    area.cells = area.cells.drop(columns=["row"])
    with pytest.raises(ValueError, match="row"):
        evaluate_targets([one("park_radius")], area)


def test_settlement_from_unit_table(build):
    units = np.array(["T1", "T1", "V1", None], dtype=object)
    table = pd.DataFrame({"unit_id": ["T1", "V1"], "name": ["镇", "村"],
                          "settlement": ["town", "village"]})
    area = build(1, 4, [Fac("fitness_site", 0, 0)], cell_units={"township": units},
                 units={"township": table}, walk_speed_kmh={"total": 0.6})
    res = evaluate_targets([one("fitness_15_town"), one("fitness_20_village")], area)
    assert row(res, "fitness_15_town")["value"] == pytest.approx(1.0)
    r = row(res, "fitness_20_village")
    assert r["value"] == pytest.approx(1.0)  # col 2 at 200 m; col 3 has no class
    assert "outside every scope" in r["warning_en"]
