"""The shipped catalogue and plan profiles, and study-area overrides."""

from __future__ import annotations

import pytest

from access.errors import ConfigError, UnknownKeyError
from access.targets import (
    CATALOGUE_DIR,
    PROFILES,
    CatalogueError,
    CircleTarget,
    UnitCountTarget,
    load_catalogue,
)
from tests.targets.synth import catalogue_5min_in_minutes

# Every target of the plans (TARGETS.md section 1) with its kind, threshold,
# group and the seed plans it comes from; thresholds are the catalogue defaults.
PLAN_TARGETS = {
    "life_circle_15": ("completeness", 1.0, "total", {"000", "001"}),
    "convenience_15": ("circle", 1.0, "total", {"001"}),
    "eldercare_15": ("circle", 1.0, "age_60_plus", {"001", "004"}),
    "eldercare_subdistrict": ("unit_share", 0.9, "total", {"001"}),
    "eldercare_beds": ("provision", 40.0, "age_60_plus", {"004", "003"}),
    "fitness_10_urban": ("circle", 1.0, "total", {"001", "004", "003"}),
    "fitness_15_town": ("circle", 1.0, "total", {"001"}),
    "fitness_20_village": ("circle", 1.0, "total", {"001"}),
    "health_township": ("unit_count", 1.0, "total", {"000", "001", "004"}),
    "health_village": ("unit_count", 1.0, "total", {"000", "001", "004"}),
    "health_15": ("circle", 1.0, "total", {"nhc"}),
    "emergency_60": ("circle", 1.0, "total", {"004"}),
    "kindergarten_township": ("unit_count", 1.0, "total", {"000", "001"}),
    "kindergarten_coverage": ("capacity_share", 0.85, "total", {"001", "003"}),
    "childcare_places": ("provision", 4.5, "total", {"001", "000", "003"}),
    "culture_15_20": ("circle", 1.0, "total", {"004"}),
    "park_radius": ("circle", 0.8, "total", {"003"}),
    "sports_area": ("provision", 2.6, "total", {"001", "003"}),
    "schools_township": ("unit_count", 1.0, "total", {"001", "002"}),
}

# Targets from the national standards (TARGETS.md section 2).
STANDARD_TARGETS = {
    "life_circle_5": ("5min", {"gb50180"}),
    "life_circle_10": ("10min", {"gb50180"}),
    "life_circle_15": ("15min", {"gb50180"}),
    "primary_school_500": (500.0, {"gb50180"}),
    "junior_middle_1000": (1000.0, {"gb50180"}),
    "kindergarten_300": (300.0, {"gb50180"}),
    "park_radius": (300.0, {"gb55014"}),
    "kindergarten_county": (3, {"henan_edu_2016"}),
}


@pytest.fixture(scope="module")
def catalogue():
    return {t.id: t for t in load_catalogue()}


@pytest.mark.parametrize("tid", sorted(PLAN_TARGETS))
def test_each_plan_target_present_with_threshold_and_source(catalogue, tid):
    kind, threshold, group, sources = PLAN_TARGETS[tid]
    t = catalogue[tid]
    assert t.kind == kind
    assert t.threshold == pytest.approx(threshold)
    assert t.group == group
    assert sources <= set(t.source)
    assert t.name_zh
    assert t.name_en
    assert t.clause
    assert t.confidence in ("V", "S", "M")


@pytest.mark.parametrize("tid", sorted(STANDARD_TARGETS))
def test_each_standard_target_present(catalogue, tid):
    expected, sources = STANDARD_TARGETS[tid]
    t = catalogue[tid]
    assert sources <= set(t.source)
    if t.kind == "completeness":
        assert t.level == expected
    elif t.kind == "circle":
        assert dict(t.max_dist_m)["urban"] == pytest.approx(expected)
    else:
        assert t.min_count == expected


def test_circle_reaches_match_the_plans(catalogue):
    minutes = {"convenience_15": 15, "eldercare_15": 15, "fitness_10_urban": 10,
               "fitness_15_town": 15, "fitness_20_village": 20, "health_15": 15,
               "emergency_60": 60}
    for tid, t_min in minutes.items():
        assert {v for _, v in catalogue[tid].max_time_min} == {t_min}, tid
    assert dict(catalogue["culture_15_20"].max_time_min) == {"urban": 15, "town": 20,
                                                             "village": 20}
    assert catalogue["emergency_60"].mode == "drive"
    assert catalogue["fitness_15_town"].scope == ("town",)
    assert catalogue["fitness_20_village"].scope == ("village",)
    assert catalogue["park_radius"].radius_by_area == ((0.0, 300.0), (10000.0, 500.0))


def test_life_circle_15_requires_every_lower_level_at_its_own_reach(catalogue):
    reqs = {r.category: r for r in catalogue["life_circle_15"].requirements}
    assert reqs["junior_middle_school"].max_dist_m == 1000
    assert reqs["primary_school"].max_dist_m == 500
    assert reqs["kindergarten"].max_dist_m == 300
    assert reqs["eldercare_daycare"].max_dist_m == 300
    # sports grounds are listed at every level: the lowest level's reach applies
    assert reqs["sports_ground"].max_dist_m == 300
    assert len(reqs) == 16
    lc5 = {r.category for r in catalogue["life_circle_5"].requirements}
    assert lc5 == {"kindergarten", "nursery", "community_health_station", "eldercare_daycare",
                   "community_service_station", "fitness_site", "sports_ground"}


def test_every_target_has_source_text(catalogue):
    for t in catalogue.values():
        assert t.source_text
        assert "[" in t.source_text  # rendered from the [sources] table


@pytest.mark.parametrize(("profile", "tid", "threshold"), [
    ("kaifeng", "childcare_places", 4.5),
    ("zhengzhou", "childcare_places", 3.0),
    ("lankao", "childcare_places", 4.5),
    ("xinxiang", "eldercare_beds", 40.0),
    ("zhengzhou", "eldercare_beds", 35.0),
    ("kaifeng", "sports_area", 2.6),
    ("zhengzhou", "sports_area", 2.4),
    ("zhengzhou", "park_radius", 0.93),
    ("kaifeng", "kindergarten_coverage", 0.85),
    ("zhengzhou", "kindergarten_coverage", 0.85),
    ("kaifeng", "eldercare_subdistrict", 0.9),
])
def test_profiles_carry_their_plans_numbers(profile, tid, threshold):
    targets = {t.id: t for t in load_catalogue(profile=profile)}
    assert targets[tid].threshold == pytest.approx(threshold)


@pytest.mark.parametrize(("profile", "must_have", "source"), [
    ("kaifeng", {"life_circle_15", "convenience_15", "eldercare_subdistrict",
                 "fitness_15_town", "fitness_20_village", "emergency_15",
                 "kindergarten_township", "childcare_community", "schools_township"}, "001"),
    ("zhengzhou", {"fitness_10_urban", "eldercare_beds", "park_radius", "sports_area",
                   "childcare_places", "kindergarten_coverage"}, "003"),
    ("xinxiang", {"eldercare_15", "eldercare_beds", "fitness_10_urban", "health_township",
                  "health_village", "emergency_60", "culture_15_20"}, "004"),
    ("lankao", {"schools_township", "kindergarten_township", "primary_school_500",
                "junior_middle_1000"}, "002"),
])
def test_profiles_select_their_plans_targets(profile, must_have, source):
    targets = {t.id: t for t in load_catalogue(profile=profile)}
    assert must_have <= set(targets)
    assert any(source in t.source for t in targets.values())


def test_zhengzhou_kindergarten_rule():
    t = {t.id: t for t in load_catalogue(profile="zhengzhou")}["kindergarten_township_30k"]
    assert t.min_count == 1
    assert t.min_count_rules == (("total", 30000.0, 2),)
    assert t.ownership == ("public",)


def test_xinxiang_does_not_inherit_zhengzhou_numbers():
    t = {t.id: t for t in load_catalogue(profile="xinxiang")}
    assert "park_radius" not in t
    assert "003" not in t["eldercare_beds"].source


def test_profiles_shipped():
    for p in PROFILES:
        assert (CATALOGUE_DIR / f"{p}.toml").exists()


# -- overrides ---------------------------------------------------------------
def test_overrides_drop_threshold_modify_add():
    ov = {
        "profile": "kaifeng",
        "drop": ["emergency_15"],
        "thresholds": {"fitness_10_urban": 0.95},
        "modify": {"convenience_15": {"max_dist_m": 800, "scope": ["urban", "town"]}},
        "add": [{"id": "pharmacy_10", "name_zh": "10分钟药店", "name_en": "Pharmacy in 10 min",
                 "kind": "circle", "categories": ["pharmacy"], "max_time_min": 10,
                 "threshold": 0.9, "source": "local plan", "confidence": "M"}],
    }
    targets = {t.id: t for t in load_catalogue(overrides=ov)}
    # a reach given in metres replaces the catalogue's minutes
    assert targets["convenience_15"].max_time_min is None
    assert dict(targets["convenience_15"].max_dist_m)["town"] == 800
    ov["modify"] = {"convenience_15": {"threshold": 0.5, "scope": ["urban", "town"]}}
    targets = {t.id: t for t in load_catalogue(overrides=ov)}
    assert "emergency_15" not in targets
    assert targets["fitness_10_urban"].threshold == 0.95
    assert targets["convenience_15"].threshold == 0.5
    assert targets["convenience_15"].scope == ("urban", "town")
    assert targets["pharmacy_10"].source_text == "local plan"
    assert list(targets)[-1] == "pharmacy_10"


def test_profile_path_relative_to_base_dir(tmp_path):
    (tmp_path / "mine.toml").write_text('targets = ["sports_area"]\n'
                                        "[thresholds]\nsports_area = 2.0\n", encoding="utf-8")
    targets = load_catalogue(overrides={"profile": "mine.toml"}, base_dir=tmp_path)
    assert [t.id for t in targets] == ["sports_area"]
    assert targets[0].threshold == 2.0


def test_life_circle_levels_from_gb50180_or_the_catalogue(tmp_path):
    """The shipped catalogue takes GB 50180 from the vocabulary; a catalogue may replace it."""
    shipped = {r.category: r for r in {t.id: t for t in load_catalogue()}
               ["life_circle_15"].requirements}
    assert shipped["kindergarten"].max_dist_m == 300
    assert shipped["primary_school"].max_dist_m == 500
    assert shipped["culture_centre"].max_dist_m == 1000
    path = catalogue_5min_in_minutes(tmp_path)
    reqs = {r.category: r for r in {t.id: t for t in load_catalogue(path=path)}
            ["life_circle_15"].requirements}
    assert reqs["kindergarten"].max_time_min == 5
    assert reqs["kindergarten"].max_dist_m is None


@pytest.mark.parametrize(("overrides", "exc", "match"), [
    ({"profil": "kaifeng"}, UnknownKeyError, "did you mean 'profile'"),
    ({"profile": "kaifang"}, ConfigError, "did you mean 'kaifeng'"),
    ({"thresholds": {"fitness_10_urbn": 1.0}}, UnknownKeyError, "fitness_10_urban"),
    ({"thresholds": {"fitness_10_urban": "high"}}, ConfigError, "expected a number"),
    ({"drop": ["emergency_6"]}, UnknownKeyError, "emergency_60"),
    ({"modify": {"park_radius": {"treshold": 0.9}}}, UnknownKeyError, "threshold"),
    ({"modify": {"park_radius": {"categories": ["parc"]}}}, ConfigError, "'park'"),
    ({"modify": {"park_radius": {"group": "elderly"}}}, ConfigError, "group"),
    ({"modify": {"eldercare_beds": {"max_time_min": 15}}}, ConfigError, "not used"),
    ({"modify": {"culture_15_20": {"max_time_min": {"urban": 15}}}}, ConfigError,
     "no reach given"),
    ({"add": [{"id": "park_radius"}]}, ConfigError, "already exists"),
    ({"add": [{"id": "x1", "name_zh": "x", "name_en": "x", "kind": "cirle",
               "categories": ["park"], "threshold": 1, "source": "s"}]}, ConfigError,
     "did you mean 'circle'"),
    ({"add": [{"id": "x1", "name_zh": "x", "name_en": "x", "kind": "circle",
               "categories": ["park"], "threshold": 1, "source": "s"}]}, ConfigError,
     "exactly one"),
    ({"add": [{"id": "x1", "name_zh": "x", "name_en": "x", "kind": "circle", "mode": "drive",
               "categories": ["park"], "max_dist_m": 100, "threshold": 1, "source": "s"}]},
     ConfigError, "drive"),
    ({"add": [{"id": "x1", "name_zh": "x", "name_en": "x", "kind": "unit_count",
               "categories": ["park"], "threshold": 1, "source": "s"}]}, ConfigError,
     "unit_levels"),
    ({"add": [{"id": "X-1", "name_zh": "x", "name_en": "x", "kind": "circle",
               "categories": ["park"], "max_dist_m": 100, "threshold": 1, "source": "s"}]},
     ConfigError, "lower-case"),
    ({"settlement": {"level": "township", "towns": []}}, UnknownKeyError, "town"),
    ({"settlement": {"level": "township", "town": ["1"], "village": ["1"]}}, ConfigError,
     "both"),
])
def test_bad_overrides(overrides, exc, match):
    with pytest.raises(exc, match=match) as info:
        load_catalogue(overrides=overrides)
    assert type(info.value) is exc


def test_profile_given_twice_differently():
    with pytest.raises(ConfigError, match="twice"):
        load_catalogue(profile="kaifeng", overrides={"profile": "zhengzhou"})


def test_extra_categories_allow_new_keys():
    ov = {"extra_categories": ["library_branch"],
          "add": [{"id": "branch_10", "name_zh": "分馆", "name_en": "Branch library",
                   "kind": "circle", "categories": ["library_branch"], "max_time_min": 10,
                   "threshold": 0.5, "source": "local"}]}
    assert load_catalogue(overrides=ov)[-1].categories == ("library_branch",)


def test_error_names_the_study_area_file(tmp_path):
    study = tmp_path / "area.toml"
    with pytest.raises(UnknownKeyError) as info:
        load_catalogue(overrides={"dorp": []}, config_path=study)
    assert str(study) in str(info.value)
    assert "targets.dorp" in str(info.value)


def test_broken_catalogue_file(tmp_path):
    path = tmp_path / "cat.toml"
    path.write_text("[[target]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_catalogue(path=path)
    text = (CATALOGUE_DIR / "targets.toml").read_text(encoding="utf-8")
    path.write_text(text + '\n[[target]]\nid = "park_radius"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="duplicate"):
        load_catalogue(path=path)


def test_every_problem_reported_together(tmp_path):
    study = tmp_path / "area.toml"
    ov = {"dorp": [], "thresholds": {"fitness_10_urbn": 1.0},
          "modify": {"park_radius": {"group": "elderly"}},
          "add": [{"id": "X-1", "name_zh": "x", "name_en": "x", "kind": "circle",
                   "categories": ["parc"], "threshold": "high", "source": "s"}]}
    with pytest.raises(CatalogueError) as info:
        load_catalogue(overrides=ov, config_path=study)
    keys = {p.key for p in info.value.problems}
    assert {"targets.dorp", "targets.thresholds.fitness_10_urbn",
            "targets.modify.park_radius.group", "targets.add[1].id",
            "targets.add[1].categories", "targets.add[1].threshold",
            "targets.add[1].max_time_min"} <= keys
    text = str(info.value)
    assert text.count("\n  - ") == len(info.value.problems)
    assert str(study) in text


def test_one_type_per_kind():
    by_id = {t.id: t for t in load_catalogue()}
    assert type(by_id["fitness_10_urban"]) is CircleTarget
    assert type(by_id["health_village"]) is UnitCountTarget
    assert not hasattr(by_id["health_village"], "max_time_min")
    assert not hasattr(by_id["fitness_10_urban"], "min_count")
    with pytest.raises(ConfigError, match="not used by kind 'unit_count'"):
        load_catalogue(overrides={"modify": {"health_village": {"radius_by_area": []}}})
