"""The category taxonomy: coverage of the product's fixed keys, levels, rules, extension."""

from __future__ import annotations

from pathlib import Path

import pytest

from access.errors import ConfigError, UnknownKeyError
from facilities import load_taxonomy
from facilities.taxonomy import parse_osm_rule

FIXED_KEYS = {
    "kindergarten": "幼儿园", "nursery": "托育机构", "primary_school": "小学",
    "junior_middle_school": "初中", "community_health_centre": "社区卫生服务中心",
    "community_health_station": "社区卫生服务站", "township_health_centre": "乡镇卫生院",
    "village_clinic": "村卫生室", "clinic": "门诊部/诊所", "hospital": "医院",
    "emergency_station": "急救中心/站", "eldercare_institution": "养老院/敬老院/养老机构",
    "eldercare_service_centre": "街道综合养老服务中心",
    "eldercare_daycare": "日间照料中心/社区养老服务站", "fitness_site": "室外健身场地/健身点",
    "sports_centre": "体育馆/全民健身中心", "sports_ground": "运动场/球场", "park": "公园",
    "culture_centre": "文化活动中心/文化馆", "culture_station": "文化活动站/综合文化服务中心",
    "library": "图书馆", "convenience_store": "便利店", "fresh_market": "菜市场/生鲜超市",
    "community_service_station": "社区服务站", "pharmacy": "药店",
}
LEVELS = {
    15: ["junior_middle_school", "community_health_centre", "eldercare_institution",
         "culture_centre", "sports_centre"],
    10: ["primary_school", "clinic", "fresh_market", "culture_station"],
    5: ["kindergarten", "nursery", "community_health_station", "eldercare_daycare",
        "community_service_station", "fitness_site"],
}


def test_every_fixed_key_with_names(taxonomy):
    for key, zh in FIXED_KEYS.items():
        cat = taxonomy.categories[key]
        assert cat.name_zh == zh
        assert cat.name_en
        assert cat.name_en.isascii()


def test_levels_follow_gb50180(taxonomy):
    for level, keys in LEVELS.items():
        for key in keys:
            assert taxonomy.categories[key].level == level, key
    assert taxonomy.categories["sports_ground"].levels == (5, 10, 15)
    assert taxonomy.categories["hospital"].level is None
    assert taxonomy.levels[5].pop_min == 5000
    assert taxonomy.levels[15].pop_max == 100000


@pytest.mark.parametrize(("tags", "key"), [
    ({"amenity": "kindergarten"}, "kindergarten"),
    ({"amenity": "school", "name": "千里马大地幼儿园"}, "kindergarten"),
    ({"amenity": "childcare"}, "nursery"),
    ({"amenity": "school", "name": "成都市建设路小学东区"}, "primary_school"),
    ({"amenity": "school", "name": "树德中学"}, "junior_middle_school"),
    ({"amenity": "school", "name": "成都七中高级中学"}, "school"),
    ({"amenity": "school", "isced:level": "1"}, "primary_school"),
    ({"amenity": "clinic"}, "clinic"),
    ({"amenity": "clinic", "name": "荷花池街道社区卫生服务中心"}, "community_health_centre"),
    ({"healthcare": "centre", "name": "某镇中心卫生院"}, "township_health_centre"),
    ({"amenity": "hospital"}, "hospital"),
    ({"healthcare": "hospital"}, "hospital"),
    ({"social_facility": "nursing_home"}, "eldercare_institution"),
    ({"leisure": "fitness_station"}, "fitness_site"),
    ({"leisure": "sports_centre"}, "sports_centre"),
    ({"leisure": "pitch"}, "sports_ground"),
    ({"leisure": "park"}, "park"),
    ({"amenity": "library"}, "library"),
    ({"shop": "convenience"}, "convenience_store"),
    ({"amenity": "marketplace"}, "fresh_market"),
    ({"amenity": "pharmacy"}, "pharmacy"),
    ({"emergency": "ambulance_station"}, "emergency_station"),
    ({"highway": "residential", "name": "幼儿园路"}, None),
    ({"amenity": "restaurant"}, None),
])
def test_osm_rules(taxonomy, tags, key):
    assert taxonomy.match_osm(tags) == key


def test_unmatched_facility_like_tags_are_reportable(taxonomy):
    assert taxonomy.match_osm({"healthcare": "laboratory"}) is None
    assert taxonomy.osm_reportable({"healthcare": "laboratory"})
    assert not taxonomy.osm_reportable({"amenity": "restaurant"})


@pytest.mark.parametrize(("kw", "key"), [
    ({"name": "成华区三心幼儿园", "typecode": "141204"}, "kindergarten"),
    ({"name": "某某中心", "typecode": "141204"}, "kindergarten"),
    ({"name": "青龙街道社区卫生服务中心", "typecode": "090102"}, "community_health_centre"),
    ({"name": "杞县城郊乡卫生院", "typecode": "090102"}, "township_health_centre"),
    ({"name": "某村卫生室"}, "village_clinic"),
    ({"name": "某某", "typecode": "090100"}, "hospital"),
    ({"name": "建设路小学(东门)公交站", "typecode": "150700"}, None),
    ({"name": "某某", "type_text": "科教文化服务;学校;小学"}, "primary_school"),
    ({"label": "幼儿园"}, "kindergarten"),
    ({"label": "Hospital"}, "hospital"),
    ({"label": "eldercare_daycare"}, "eldercare_daycare"),
    ({"name": "某某有限公司", "typecode": "170200"}, None),
])
def test_table_classification(taxonomy, kw, key):
    assert taxonomy.classify(**kw)[0] == key


def test_extension_adds_and_overrides(tmp_path: Path):
    tax = load_taxonomy([
        {"key": "community_canteen", "name_zh": "老年食堂", "name_en": "community canteen",
         "level": 5, "amap_typecodes": ["050100"], "name_patterns": ["老年食堂", "长者食堂"],
         "osm": ["amenity=social_facility&name~食堂"]},
        {"key": "kindergarten", "amap_typecodes": ["141299"], "per_circle": 2},
        {"key": "hospital", "level": 15},
    ], base_dir=tmp_path, path=tmp_path / "area.toml")
    canteen = tax.categories["community_canteen"]
    assert canteen.level == 5
    assert tax.classify(name="红星社区长者食堂")[0] == "community_canteen"
    assert tax.match_osm({"amenity": "social_facility", "name": "老年食堂"}) == "community_canteen"
    kg = tax.categories["kindergarten"]
    assert kg.amap_typecodes == ("141204", "141299")  # appended, not replaced
    assert kg.per_circle == 2
    assert tax.categories["hospital"].level == 15
    assert len(tax.categories) == len(load_taxonomy().categories) + 1


@pytest.mark.parametrize(("table", "exc", "key"), [
    ({"key": "x", "name_zh": "甲"}, ConfigError, "categories[1].name_en"),
    ({"key": "kindergarten", "levle": 5}, UnknownKeyError, "categories[1].levle"),
    ({"key": "kindergarten", "level": 7}, ConfigError, "categories[1].level"),
    ({"key": "kindergarten", "osm": ["amenity"]}, ConfigError, "categories[1].osm"),
    ({"key": "kindergarten", "amap_typecodes": ["14120"]}, ConfigError,
     "categories[1].amap_typecodes"),
    ({"key": "Bad Key", "name_zh": "甲", "name_en": "a"}, ConfigError, "categories[1].key"),
    ({"key": "kindergarten", "capacity_unit": "kg"}, ConfigError,
     "categories[1].capacity_unit"),
])
def test_extension_errors(tmp_path: Path, table, exc, key):
    with pytest.raises(exc) as info:
        load_taxonomy([table], base_dir=tmp_path, path=tmp_path / "area.toml")
    assert type(info.value) is exc
    assert info.value.key == key
    assert "area.toml" in str(info.value)


def test_osm_rule_parser():
    rule = parse_osm_rule("amenity=school&name~小学|primary&name!~高中")
    assert rule.specificity == (3, 1)
    assert rule.matches({"amenity": "school", "name": "Primary One"})
    assert not rule.matches({"amenity": "school", "name": "小学高中部"})
    assert not rule.matches({"amenity": "college", "name": "小学"})
    with pytest.raises(ValueError, match="positive condition"):
        parse_osm_rule("name!~x")
