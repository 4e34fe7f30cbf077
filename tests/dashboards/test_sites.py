"""The Sites page's callback functions on the bundled sample."""

from __future__ import annotations

import json

import pytest
from dash import html
from werkzeug.exceptions import BadRequest

from dashboards import callbacks, sites
from dashboards.state import DashboardState


def test_best_three_kindergartens_accepted_as_a_scenario(state: DashboardState) -> None:
    data = sites.run_sites("mclp", "kindergarten", 3, None, None, None, "zh")
    json.dumps(data)  # kept in the browser
    assert data["ok"], data["message"]
    assert len(data["sites"]) == 3
    assert [s["rank"] for s in data["sites"]] == [1, 2, 3]
    s = data["summary"]
    assert s["status"] == "optimal"
    assert s["gap"] <= 1e-4
    assert s["objective"] == pytest.approx(sum(x["pop"] for x in data["sites"]))
    assert sum(data["candidates"]["chosen"]) == 3
    assert data["edits"] == [{"action": "add", "category": "kindergarten", "lon": x["lon"],
                              "lat": x["lat"], "name": x["name"]} for x in data["sites"]]
    status = sites.sites_status(data, "zh")
    assert "已证明最优" in str(status)
    table = sites.sites_table(data, "en")
    assert [c["name"] for c in table.columns][-1] == "Residents added"
    assert len(table.data) == 3
    fig, _legend = sites.sites_map(data, "kindergarten", "zh", None)
    chosen = [t for t in fig.data if t.name == "选址"]
    assert len(chosen) == 1
    assert len(chosen[0].x) == 3

    msg = sites.accept_sites(data, "幼儿园 3 处", "zh")
    assert "幼儿园 3 处" in msg
    assert "幼儿园 3 处" in [o["value"] for o in callbacks.saved_options()]
    edits = callbacks.load_saved("幼儿园 3 处")
    assert edits == data["edits"]
    view = state.cache.view(edits, profile=None, name="幼儿园 3 处")
    value = view.targets.targets.set_index("id").loc[data["target"], "value"]
    assert value == pytest.approx(s["share_promised"], abs=1e-12)
    assert value > s["share_before"]


def test_other_models_and_library_messages(state: DashboardState) -> None:
    close = sites.run_sites("least_important", "kindergarten", 1, None, None, None, "en")
    assert close["ok"], close["message"]
    assert close["edits"] == [{"action": "remove",
                               "facility_id": close["sites"][0]["facility_id"]}]
    assert "Residents lost" in str(sites.sites_table(close, "en").columns)
    pm = sites.run_sites("p_median", "kindergarten", 2, None, 300, None, "en")
    assert pm["ok"]
    assert len(pm["sites"]) == 2
    # the library's one-line reasons, shown on the page, never an HTTP error
    big = sites.run_sites("mclp", "kindergarten", 100_000, None, None, None, "en")
    assert not big["ok"]
    assert "larger than the number of candidates" in big["message"]
    unreachable = sites.run_sites("lscp", "kindergarten", None, 100, None, None, "en")
    assert not unreachable["ok"]
    assert "best reachable" in unreachable["message"]
    box = sites.sites_status(unreachable, "zh")
    assert "best reachable" in str(box)
    assert "错误" in str(box)
    assert isinstance(sites.sites_table(unreachable, "zh"), html.Div)
    assert sites.accept_sites(unreachable, "x", "en") == "Find sites first"
    assert not sites.run_sites("mclp", "kindergarten", None, None, None, None, "en")["ok"]
    assert not sites.run_sites("mclp", "kindergarten", 2.5, None, None, None, "en")["ok"]
    assert not sites.run_sites("lscp", "kindergarten", None, 120, None, None, "en")["ok"]
    assert not sites.run_sites("mclp", "kindergarten", 2, None, -5, None, "en")["ok"]
    for bad in (("nope", "kindergarten"), ("mclp", "nope"), ("mclp", 3)):
        with pytest.raises(BadRequest):
            sites.run_sites(*bad, 2, None, None, None, "en")
    with pytest.raises(BadRequest):
        sites.run_sites("mclp", "kindergarten", 2, None, None, None, "fr")
    with pytest.raises(BadRequest):  # edits of the wrong shape from the browser
        sites.accept_sites({"ok": True, "edits": [{"action": "add", "lon": "x"}]}, "x", "en")
