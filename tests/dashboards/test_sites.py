"""The Sites page's callback functions on the bundled sample."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
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
    pc = sites.run_sites("p_center", "kindergarten", 2, None, None, None, "en")
    assert pc["ok"], pc["message"]
    assert len(pc["sites"]) == 2  # it used to answer with no site
    box = str(sites.sites_status(pc, "en"))
    assert "Worst trip among residents a site can help: 450 → 450 m" in box
    assert "cannot shorten the worst trip" in box
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


def _data_url(path) -> str:
    import base64

    return "data:application/geo+json;base64," + base64.b64encode(path.read_bytes()).decode()


def test_names_not_keys(state: DashboardState) -> None:
    labels = [o["label"] for o in sites.target_options("zh")]
    assert "幼儿园300米服务半径覆盖率" in labels or any("幼儿园" in x for x in labels)
    assert not any("kindergarten_300" in x or "_" in x for x in labels)
    en = [o["label"] for o in sites.target_options("en")]
    assert not any("kindergarten_300" in x for x in en)
    data = sites.run_sites("mclp", "kindergarten", 1, None, None, None, "zh")
    box = str(sites.sites_status(data, "zh"))
    assert "kindergarten_300" not in box
    assert sites.target_name("kindergarten_300", "zh") in box


def test_capacity_budget_inputs(state: DashboardState) -> None:
    cap = sites.run_sites("capacitated", "kindergarten", 2, None, None, None, "en",
                          capacity=120, existing_capacity=90)
    assert cap["ok"], cap["message"]
    s = cap["summary"]
    assert s["placed_share_after"] > s["placed_share_before"] > 0
    assert "with a place within reach" in str(sites.sites_status(cap, "en"))
    assert all(e["capacity"] == 120 for e in cap["edits"])
    need = sites.run_sites("capacitated", "kindergarten", 2, None, None, None, "en")
    assert not need["ok"]
    assert "capacity" in need["message"]
    bad = sites.run_sites("capacitated", "kindergarten", 2, None, None, None, "en",
                          capacity=-3)
    assert not bad["ok"]
    assert "Places per new site" in bad["message"]
    # a budget of 250 at 100 per site: two sites, without N
    bud = sites.run_sites("mclp", "kindergarten", None, None, None, None, "en", budget=250,
                          cost_per_site=100)
    assert bud["ok"], bud["message"]
    assert len(bud["sites"]) == 2
    two = sites.run_sites("mclp", "kindergarten", 2, None, None, None, "en")
    assert bud["summary"]["objective"] == pytest.approx(two["summary"]["objective"])
    nocost = sites.run_sites("mclp", "kindergarten", None, None, None, None, "en", budget=250)
    assert not nocost["ok"]
    assert "cost per site" in nocost["message"]


def test_candidate_file_upload_and_path(state: DashboardState, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import geopandas as gpd
    import shapely

    cells = state.result.cells
    sel = cells[(cells["pop_age_3_5"] > 0)
                & ~cells["covered__kindergarten_300"].fillna(True).astype(bool)]
    pick = sel.sample(8, random_state=1)
    gdf = gpd.GeoDataFrame({"name": [f"地块{i}" for i in range(8)],
                            "cost": [1.0] * 8},
                           geometry=shapely.points(pick["x"], pick["y"]),
                           crs=state.result.crs).to_crs("EPSG:4326")
    path = tmp_path / "idle parcels.geojson"
    gdf.to_file(path, driver="GeoJSON")
    before = set(Path(tempfile.gettempdir()).glob("lifecircle-candidates-*"))
    up = sites.run_sites("mclp", "kindergarten", 2, None, None, None, "zh",
                         upload=_data_url(path), upload_name=path.name)
    assert up["ok"], up["message"]
    assert {s["name"] for s in up["sites"]} <= set(gdf["name"])
    assert len(up["candidates"]["lon"]) == 8
    assert set(Path(tempfile.gettempdir()).glob("lifecircle-candidates-*")) == before
    # a file outside the area: the message names the uploaded file, not a temporary one
    far = gdf.copy()
    far["geometry"] = shapely.points(np.full(8, 116.4), np.full(8, 39.9))
    far_path = tmp_path / "far.geojson"
    far.to_file(far_path, driver="GeoJSON")
    out = sites.run_sites("mclp", "kindergarten", 1, None, None, None, "en",
                          upload=_data_url(far_path), upload_name="far.geojson")
    assert not out["ok"]
    assert "outside the study area" in out["message"]
    assert "far.geojson" in out["message"]
    assert "lifecircle-candidates" not in out["message"]
    wrong = sites.run_sites("mclp", "kindergarten", 1, None, None, None, "en",
                            upload="data:text/plain;base64,aGVsbG8=", upload_name="x.txt")
    assert not wrong["ok"]
    assert "x.txt" in wrong["message"]
    # a path inside the study-area folder: the file is found and read there (the
    # sample's district polygons, whose inner points fall outside the clipped area)
    districts = sites.run_sites("mclp", "kindergarten", 1, None, None, None, "en",
                                candidates_path="districts.geojson")
    assert "districts.geojson: all 5 candidates lie outside the study area" in \
        districts["message"]
    # and with the study-area folder holding the parcels file
    monkeypatch.setattr(type(state.result.area), "base_dir", property(lambda _s: tmp_path))
    inside = sites.run_sites("mclp", "kindergarten", 2, None, None, None, "en",
                             candidates_path="idle parcels.geojson")
    assert inside["ok"], inside["message"]
    assert [s["name"] for s in inside["sites"]] == [s["name"] for s in up["sites"]]
    outside = sites.run_sites("mclp", "kindergarten", 1, None, None, None, "en",
                              candidates_path="../../access/siting.py")
    assert not outside["ok"]
    assert "not inside the study-area folder" in outside["message"]
    missing = sites.run_sites("mclp", "kindergarten", 1, None, None, None, "en",
                              candidates_path="nope.geojson")
    assert "no candidate file nope.geojson" in missing["message"]
    with pytest.raises(BadRequest):
        sites.run_sites("mclp", "kindergarten", 1, None, None, None, "en", upload=5,
                        upload_name="x.geojson")


COMPLEX = ["kindergarten", "nursery", "community_health_station", "eldercare_daycare",
           "community_service_station", "fitness_site"]


def test_colocated_complexes_accepted_as_a_scenario(state: DashboardState) -> None:
    """Service complexes asked from the page: each site becomes one facility of every
    hosted category, and the saved scenario keeps the promised completeness."""
    data = sites.run_sites("colocated", "kindergarten", 2, None, None, None, "zh",
                           complex_categories=COMPLEX)
    json.dumps(data)
    assert data["ok"], data["message"]
    assert data["target"] == "life_circle_5"
    assert len(data["sites"]) == 2
    assert len(data["edits"]) == 2 * len(COMPLEX)
    assert {e["category"] for e in data["edits"]} == set(COMPLEX)
    assert "life_circle_5" not in str(sites.sites_status(data, "zh"))
    msg = sites.accept_sites(data, "综合服务中心 2 处", "zh")
    assert "综合服务中心 2 处" in msg
    view = state.cache.view(callbacks.load_saved("综合服务中心 2 处"), profile=None,
                            name="综合服务中心 2 处")
    row = next(t for t in data["targets"] if t["id"] == "life_circle_5")
    value = view.targets.targets.set_index("id").loc["life_circle_5", "value"]
    assert value == pytest.approx(row["promised"], abs=1e-12)
    assert value > 0  # before: no data (the sample has none of several hosted types)
    one = sites.run_sites("colocated", "kindergarten", 1, None, None, None, "en",
                          complex_categories=["kindergarten"])
    assert not one["ok"]
    assert "two or more" in one["message"]
    with pytest.raises(BadRequest):
        sites.run_sites("colocated", "kindergarten", 1, None, None, None, "en",
                        complex_categories="kindergarten")
    with pytest.raises(BadRequest):
        sites.run_sites("colocated", "kindergarten", 1, None, None, None, "en",
                        complex_categories=["no_such_category"])
