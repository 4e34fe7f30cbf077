"""Labels in both languages, loading the last run, the scenario cache."""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import pytest

from access.errors import ConfigError, IncompleteRunError
from access.i18n import MESSAGES, t
from access.targets import load_catalogue
from dashboards.i18n import STRINGS, tr
from dashboards.state import (
    EditFormatError,
    ProfileError,
    ScenarioCache,
    area_path_for,
    build_scenario,
    check_edits,
    check_profile,
    with_profile,
)
from lifecircle.pipeline import RunResult
from lifecircle.results import MARKER
from lifecircle.scenario import ScenarioError
from lifecircle.study_area import default_area_path


def test_every_label_has_chinese_and_english() -> None:
    for key, (zh, en) in STRINGS.items():
        assert zh.strip(), key
        assert en.strip(), key
        assert set(re.findall(r"{(\w+)", zh)) == set(re.findall(r"{(\w+)", en)), key


def test_tr_rejects_unknown_language() -> None:
    with pytest.raises(ValueError, match="lang"):
        tr("page_map", "fr")
    assert tr("page_map", "en") == "Map"
    assert tr("page_map") == "可达性地图"


def test_area_path_defaults_to_sample(tmp_path: Path) -> None:
    assert area_path_for(tmp_path / "none") == default_area_path()
    assert area_path_for(tmp_path, tmp_path / "x.toml") == tmp_path / "x.toml"


def _run_record(folder: Path, content: str) -> None:
    """A run folder holding only ``run.json``, complete (with its marker)."""
    data = content.encode("utf-8")
    (folder / "run.json").write_bytes(data)
    marker = {"format_version": 1, "files": {"run.json": {
        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}}}
    (folder / MARKER).write_text(json.dumps(marker), encoding="utf-8")


def test_area_path_from_run_record(tmp_path: Path) -> None:
    _run_record(tmp_path, json.dumps({"study_area": "/data/a.toml"}))
    assert area_path_for(tmp_path) == Path("/data/a.toml")


def test_incomplete_run_is_refused(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(json.dumps({"study_area": "/data/a.toml"}),
                                       encoding="utf-8")
    with pytest.raises(IncompleteRunError, match=r"_COMPLETE\.json"):
        area_path_for(tmp_path)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"name": "x"})])
def test_bad_run_record_is_a_config_error(tmp_path: Path, content: str) -> None:
    _run_record(tmp_path, content)
    with pytest.raises(ConfigError, match=r"run\.json"):
        area_path_for(tmp_path)


def test_build_scenario_replays_and_checks_edits(sample_result: RunResult) -> None:
    fid = str(sample_result.facilities["facility_id"].iloc[0])
    sc = build_scenario(sample_result, [
        {"action": "add", "category": "park", "lon": 104.08, "lat": 30.69},
        {"action": "remove", "facility_id": fid}])
    assert [e.action for e in sc.edits] == ["add", "remove"]
    assert math.isnan(sc.edits[0].capacity)
    with pytest.raises(EditFormatError, match="lacks 'lon'"):
        build_scenario(sample_result, [{"action": "add", "category": "park"}])
    with pytest.raises(EditFormatError, match="unknown action"):
        build_scenario(sample_result, [{"action": "teleport"}])
    with pytest.raises(EditFormatError, match="lacks 'facility_id'"):
        build_scenario(sample_result, [{"action": "move"}])
    with pytest.raises(ScenarioError, match="outside the study area"):
        build_scenario(sample_result, [{"action": "add", "category": "park", "lon": 100.0,
                                        "lat": 30.0}])


@pytest.mark.parametrize(("edits", "match"), [
    ({"action": "add"}, "must be a list"),
    ("text", "must be a list"),
    ([None], "must be an object"),
    ([{"action": "add", "category": "park", "lon": None, "lat": 30.7}], "lon must be a finite"),
    ([{"action": "add", "category": "park", "lon": "104", "lat": 30.7}], "lon must be a finite"),
    ([{"action": "add", "category": "park", "lon": True, "lat": 30.7}], "lon must be a finite"),
    ([{"action": "add", "category": "spaceport", "lon": 104.0, "lat": 30.7}],
     "unknown category"),
    ([{"action": "capacity", "facility_id": "x", "capacity": -1}], "must not be negative"),
    ([{"action": "remove", "facility_id": 7}], "facility_id must be text"),
])
def test_malformed_edits_are_refused(edits: object, match: str) -> None:
    with pytest.raises(EditFormatError, match=match):
        check_edits(edits, {"park"})


def test_profiles_only_shipped_or_inside_the_area_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text("", encoding="utf-8")
    outside = tmp_path.parent / "outside.toml"
    outside.write_text("", encoding="utf-8")
    assert check_profile("kaifeng", tmp_path) == "kaifeng"
    assert check_profile("mine.toml", tmp_path) == str(tmp_path / "mine.toml")
    assert check_profile("", tmp_path) is None
    for bad in ("../outside.toml", str(outside), "/etc/passwd", "nope", 3, "x" * 500):
        with pytest.raises(ProfileError, match="unknown plan profile"):
            check_profile(bad, tmp_path)


def test_cache_returns_base_and_reuses_evaluations(sample_result: RunResult) -> None:
    cache = ScenarioCache(sample_result, size=2)
    assert cache.view([]).targets is sample_result.targets
    edits = [{"action": "add", "category": "park", "lon": 104.08, "lat": 30.69}]
    first = cache.view(edits)
    assert first.changed_categories == ["park"]
    assert cache.view(edits).cells is first.cells
    cache.view(edits, profile="kaifeng")
    cache.view([], profile="kaifeng")
    assert cache.view(edits).cells is not first.cells  # evicted: only two kept


def test_profile_cache_is_bounded(sample_result: RunResult) -> None:
    cache = ScenarioCache(sample_result, profiles=2)
    for p in ("kaifeng", "zhengzhou", "lankao", "xinxiang"):
        cache.view([], profile=p)
    assert len(cache._profiles) == 2


def test_profile_replaces_the_target_selection(sample_result: RunResult) -> None:
    view = ScenarioCache(sample_result).view([], profile="zhengzhou")
    ids = [t.id for t in load_catalogue(profile="zhengzhou")]
    assert view.targets.targets["id"].tolist() == ids
    assert with_profile(sample_result, "lankao").area.targets["profile"] == "lankao"
    assert "profile" not in sample_result.area.targets


def test_one_message_catalogue_for_cli_outputs_and_dashboard() -> None:
    assert STRINGS is MESSAGES
    for key in ("page_map", "unreachable_pop", "no_facilities"):
        assert tr(key, "zh") == t(key, "zh")
        assert tr(key, "en") == t(key, "en")
    for zh, en in MESSAGES.values():
        assert zh
        assert en
