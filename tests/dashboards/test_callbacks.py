"""Callback bodies as plain functions, on the sample run."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pandas as pd
import pytest
from dash import dash_table, html

import app as app_module
from access.targets import load_catalogue
from dashboards import callbacks
from dashboards.components import translate_all
from dashboards.state import DashboardState
from lifecircle.pipeline import RunResult


def _find(component: object, cls: type) -> list[object]:
    """Every component of type ``cls`` in a component tree."""
    found = []
    stack = [component]
    while stack:
        c = stack.pop()
        if isinstance(c, cls):
            found.append(c)
        if isinstance(c, list | tuple):
            stack.extend(c)
        elif hasattr(c, "children"):
            stack.append(c.children)
    return found


def _gap_cell(result: RunResult) -> pd.Series:
    """The most populated reachable cell beyond 15 min of a primary school."""
    c = result.cells
    sel = c[c["reachable"] & (c["time_min__primary_school"] > 15) & (c["pop_total"] > 0)]
    return sel.sort_values("pop_total").iloc[-1]


def test_overview_scorecard_and_profile_filter(state: DashboardState) -> None:
    out = callbacks.render_overview("", "en")
    table = _find(out, dash_table.DataTable)[0]
    assert [r["id"] for r in table.data] == state.result.targets.targets["id"].tolist()
    assert {c["name"] for c in table.columns} >= {"Value", "Threshold", "Result",
                                                   "Source plan"}
    kaifeng = callbacks.render_overview("kaifeng", "zh")
    rows = _find(kaifeng, dash_table.DataTable)[0].data
    assert [r["id"] for r in rows] == [t.id for t in load_catalogue(profile="kaifeng")]
    assert {r["status"] for r in rows} <= {"达标", "未达标", "无数据"}


def test_overview_with_edits_shows_scenario_columns(state: DashboardState) -> None:
    cell = _gap_cell(state.result)
    edits, msg = callbacks.edit_from_click([], action="add", category="primary_school",
                                           lang="en", x_m=cell["x"], y_m=cell["y"])
    assert msg == ""
    out = callbacks.render_overview("", "en", edits, "new school")
    rows = {r["id"]: r for r in _find(out, dash_table.DataTable)[0].data}
    assert rows["primary_school_500"]["change"].startswith("+")
    assert "new school" in str(out[1].children)


def test_whatif_click_changes_scorecard(state: DashboardState) -> None:
    result = state.result
    before = callbacks.render_whatif([], "primary_school", "en")
    assert "No edits" in before["status"]
    cell = _gap_cell(result)
    edits, msg = callbacks.edit_from_click([], action="add", category="primary_school",
                                           lang="en", x_m=cell["x"], y_m=cell["y"])
    assert msg == ""
    assert edits[0]["category"] == "primary_school"
    after = callbacks.render_whatif(edits, "primary_school", "en")
    rows = {r["id"]: r for r in after["scorecard"].data}
    base_value = result.targets.targets.set_index("id").loc["primary_school_500", "value"]
    assert rows["primary_school_500"]["value"] == f"{base_value:.1%}"
    assert rows["primary_school_500"]["scenario_value"] != rows["primary_school_500"]["value"]
    assert "primary school" in after["status"]
    assert len(after["figure"].data) > len(before["figure"].data)  # the added marker
    view = state.cache.view(edits)
    assert view.changed_categories == ["primary_school"]


def test_click_by_coordinates_and_errors(state: DashboardState) -> None:
    c = state.result.boundary_lonlat.centroid
    edits, msg = callbacks.edit_from_click([], action="add", category="park", lang="en",
                                           lon=c.x, lat=c.y)
    assert msg == ""
    assert edits[0]["lon"] == pytest.approx(c.x)
    same, msg = callbacks.edit_from_click(edits, action="add", category="park", lang="zh",
                                          lon=100.0, lat=30.0)
    assert same == edits
    assert msg.startswith("错误")
    assert "outside the study area" in msg
    same, msg = callbacks.edit_from_click(edits, action="add", category="park", lang="en",
                                          lon=None, lat=None)
    assert same == edits
    assert msg == "Longitude and latitude must be numbers"
    same, msg = callbacks.edit_from_click(edits, action="add", category="park", lang="en",
                                          lon="abc", lat=30.0)
    assert same == edits
    assert msg == "Longitude and latitude must be numbers"


def test_remove_nearest_facility(state: DashboardState) -> None:
    fac = state.result.facilities
    park = fac[fac["category"] == "park"].iloc[0]
    edits, msg = callbacks.edit_from_click([], action="remove", category="park", lang="en",
                                           x_m=park.geometry.x + 20, y_m=park.geometry.y)
    assert msg == ""
    assert edits == [{"action": "remove", "facility_id": park["facility_id"]}]
    out = callbacks.render_whatif(edits, "park", "en")
    assert "removed facility" in [t.name for t in out["figure"].data]
    none, msg = callbacks.edit_from_click([], action="remove", category="park", lang="en",
                                          x_m=park.geometry.x + 5e4, y_m=park.geometry.y)
    assert none == []
    assert "No park within 300 m" in msg


def test_bad_stored_edits_show_the_library_message(state: DashboardState) -> None:
    bad = [{"action": "remove", "facility_id": "does-not-exist"}]
    out = callbacks.render_whatif(bad, "park", "en")
    assert isinstance(out["status"], html.Div)
    assert "does-not-exist" in str(out["status"])
    ov = callbacks.render_overview("", "en", bad)
    assert "does-not-exist" in str(ov[0])


def test_map_callback(state: DashboardState) -> None:
    fig, summary = callbacks.render_map("park", "time", "total", "time15", True, "en")
    assert fig.data[0].type == "heatmap"
    assert "park" in summary.children
    assert "within 15 min" in summary.children


def test_units_table_and_export(state: DashboardState) -> None:
    out = callbacks.render_units("district", "en")
    table = out[0]
    assert table.sort_action == "native"
    assert len(table.data) == 5
    dl = callbacks.export_units("xlsx", "district", "en")
    assert dl["filename"].endswith(".xlsx")
    frame = pd.read_excel(io.BytesIO(base64.b64decode(dl["content"])))
    assert len(frame) == 5
    dl = callbacks.export_units("csv", "district", "zh")
    assert dl["filename"].endswith(".csv")
    assert base64.b64decode(dl["content"]).decode("utf-8-sig").startswith("编码,名称,人口")


def test_saved_scenarios_compare(state: DashboardState) -> None:
    saved, msg = callbacks.add_saved({}, "  ", [], lang="en")
    assert list(saved) == ["scenario 1"]
    assert "scenario 1" in msg
    edits = [{"action": "add", "category": "park", "lon": 104.08, "lat": 30.69}]
    saved, _ = callbacks.add_saved(saved, "park", edits, lang="en")
    table = callbacks.compare_table(saved, ["scenario 1", "park", "missing"], lang="en")
    assert [c["id"] for c in table.columns] == ["Target", "Threshold", "current",
                                                "scenario 1", "park"]
    assert isinstance(callbacks.compare_table(saved, [], lang="en"), html.Div)


def test_translate_all() -> None:
    ids = [{"type": "lc-tr", "key": "apply"}, {"type": "lc-tr", "key": "apply#2"}]
    assert translate_all(ids, "en") == ["Apply", "Apply"]
    assert translate_all(ids, "zh") == ["应用", "应用"]


def test_serve_reports_load_errors_without_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = app_module.serve(area=tmp_path / "missing.toml", progress=False)
    err = capsys.readouterr().err
    assert code == 2
    assert "missing.toml" in err
    assert "Traceback" not in err


def test_app_defaults_are_safe() -> None:
    assert app_module.DEFAULT_HOST == "127.0.0.1"
    import inspect

    assert inspect.signature(app_module.serve).parameters["debug"].default is False
    args = app_module.main.__doc__
    assert args
