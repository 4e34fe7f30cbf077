"""Callback bodies as plain functions, on the sample run."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pandas as pd
import pytest
from dash import dash_table, html
from openpyxl import load_workbook
from PIL import Image

import app as app_module
from access.crs import metric_to_lonlat
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
    fig, _, _ = callbacks.render_map("primary_school", "time", "total", "time15", "en", edits)
    assert "added facility" in [t.name for t in fig.data]
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
    assert "remove park" in str(out["edits"])
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
    fig, legend, summary = callbacks.render_map("park", "time", "total", "time15", "en")
    assert fig.layout.images[-1].source.startswith("data:image/png;base64,")
    assert fig.layout.xaxis.ticksuffix == "°E"
    assert fig.layout.yaxis.ticksuffix == "°N"
    assert "park" in summary.children
    assert "within 15 min" in summary.children
    assert "≤ 5 min" in str(legend)


def test_map_window_follows_the_browser_view(state: DashboardState) -> None:
    lon0, lat0, lon1, lat1 = state.map.bounds
    view = {"x": [lon0, (lon0 + lon1) / 2], "y": [lat0, (lat0 + lat1) / 2], "w": 400, "h": 300}
    fig, _, _ = callbacks.render_map("park", "population", "total", "time15", "zh", [], view)
    png = base64.b64decode(fig.layout.images[-1].source.split(",", 1)[1])
    assert Image.open(io.BytesIO(png)).size == (400, 300)
    assert fig.layout.meta == {"w": 400, "h": 300}


def test_point_info_looks_up_the_cell(state: DashboardState) -> None:
    cell = _gap_cell(state.result)
    lon, lat = metric_to_lonlat([cell["x"]], [cell["y"]], state.result.crs)
    out = callbacks.point_info({"points": [{"x": float(lon[0]), "y": float(lat[0])}]},
                               "primary_school", "total", "en")
    assert f"{cell['time_min__primary_school']:.1f} min" in out.children
    assert f"{cell['pop_total']:,.0f}" in out.children
    assert callbacks.point_info(None, "primary_school", "total", "en").startswith("Point")


def test_category_without_facilities_can_be_added(state: DashboardState) -> None:
    present = set(state.result.facilities["category"])
    missing = [c for c in state.categories if c not in present]
    assert missing, "the sample lacks some categories"
    cat = missing[0]
    assert cat in [o["value"] for o in callbacks.category_options("en")]
    c = state.result.boundary_lonlat.centroid
    edits, msg = callbacks.edit_from_click([], action="add", category=cat, lang="en",
                                           lon=c.x, lat=c.y)
    assert msg == ""
    view = state.cache.view(edits)
    assert f"time_min__{cat}" in view.cells


def test_move_and_capacity_edits(state: DashboardState) -> None:
    fac = state.result.facilities
    park = fac[fac["category"] == "park"].iloc[0]
    c = state.result.boundary_lonlat.centroid
    _, msg = callbacks.edit_from_click([], action="move", category="park", lang="en",
                                       x_m=park.geometry.x, y_m=park.geometry.y)
    assert msg == f"PICK:{park['facility_id']}"
    edits, msg = callbacks.edit_from_click([], action="move", category="park", lang="en",
                                           lon=c.x, lat=c.y, moving=park["facility_id"])
    assert msg == ""
    view = state.cache.view(edits)
    assert park["facility_id"] not in set(view.facilities["facility_id"])
    moved = view.facilities.iloc[-1]
    assert moved["lon"] == pytest.approx(c.x)
    assert moved["name"] == (park["name"] if isinstance(park["name"], str) else "")
    edits, msg = callbacks.edit_from_click([], action="capacity", category="park", lang="en",
                                           x_m=park.geometry.x, y_m=park.geometry.y,
                                           capacity=120)
    assert msg == ""
    assert state.cache.view(edits).facilities.iloc[-1]["capacity"] == 120


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


def test_saved_scenarios_persist_and_compare(state: DashboardState) -> None:
    msg = callbacks.save_scenario("  ", [], lang="en")
    assert "scenario 1" in msg
    edits = [{"action": "add", "category": "park", "lon": 104.08, "lat": 30.69}]
    callbacks.save_scenario("park", edits, lang="en")
    names = [o["value"] for o in callbacks.saved_options()]
    assert names == ["scenario 1", "park"]
    assert state.store.get("park").author == "local"
    assert callbacks.load_saved("park") == edits
    table = callbacks.compare_table(["scenario 1", "park", "missing"], lang="en")
    assert [c["id"] for c in table.columns] == ["Target", "Threshold", "current",
                                                "scenario 1", "park"]
    assert isinstance(callbacks.compare_table([], lang="en"), html.Div)
    # a new server on the same folder sees them
    again = DashboardState(state.result, out_dir=state.out_dir)
    assert [s.name for s in again.store.list()] == ["scenario 1", "park"]


def test_scenario_export_import_round_trip(state: DashboardState) -> None:
    edits = [{"action": "add", "category": "park", "lon": 104.08, "lat": 30.69,
              "name": "=HYPERLINK(\"http://x\",\"区\")"},
             {"action": "remove", "facility_id": str(state.result.facilities["facility_id"]
                                                     .iloc[0])}]
    for fmt in ("geojson", "xlsx"):
        dl = callbacks.export_scenario(fmt, "新公园", edits)
        raw = base64.b64decode(dl["content"])
        url = "data:application/octet-stream;base64," + base64.b64encode(raw).decode()
        got, name, msg = callbacks.import_scenario(url, f"x.{fmt}", lang="en")
        assert name == "新公园", fmt
        assert got == edits, fmt
        assert "2 edits" in msg
        if fmt == "xlsx":
            wb = load_workbook(io.BytesIO(raw))
            assert all(c.data_type != "f" for row in wb.active.iter_rows() for c in row)


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
