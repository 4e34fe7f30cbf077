"""The served app over HTTP: Host check, login, roles, and 4xx for malformed requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

import app as app_module
from dashboards.server import UserFile, allowed_hosts, install_guards
from dashboards.state import get_state
from lifecircle.pipeline import RunResult

HOST = "127.0.0.1:8050"


@pytest.fixture(scope="module")
def served(sample_result: RunResult, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[Any, Path]:
    """The app with login on (as on an intranet address), and its results folder."""
    out = tmp_path_factory.mktemp("run")
    users = UserFile(out.parent / "users.json")
    users.add("wang", "editor-pass-1", role="editor")
    users.add("li", "viewer-pass-1", role="viewer")
    app = app_module.create_app(sample_result, out_dir=out)
    install_guards(app.server, hosts=allowed_hosts("127.0.0.1", 8050), users=users)
    return app, out


def _client(served: tuple[Any, Path], user: str | None = None,
            password: str = "") -> FlaskClient:
    c = served[0].server.test_client()
    if user is not None:
        r = c.post("/login", data={"user": user, "password": password},
                   headers={"Host": HOST})
        assert r.status_code == 303, r.data
    return c


def _call(c: FlaskClient, served: tuple[Any, Path], output: str, values: dict[str, Any],
          changed: str | None = None) -> Any:
    """POST one callback (found by its output) with ``values`` by ``id.prop``."""
    deps = c.get("/_dash-dependencies", headers={"Host": HOST}).get_json()
    dep = next(d for d in deps if d["output"] == output)

    def fill(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"id": i["id"], "property": i["property"],
                 "value": values.get(f"{i['id']}.{i['property']}")} for i in items]

    outs = [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True))
            for o in output.strip(".").split("...")] if output.startswith("..") else \
        dict(zip(("id", "property"), output.split("@")[0].rsplit(".", 1), strict=True))
    body = {"output": output, "outputs": outs, "inputs": fill(dep["inputs"]),
            "state": fill(dep["state"]),
            "changedPropIds": [changed or f"{dep['inputs'][0]['id']}."
                               f"{dep['inputs'][0]['property']}"]}
    return c.post("/_dash-update-component", data=json.dumps(body),
                  headers={"Host": HOST, "Content-Type": "application/json"})


OV = "ov-body.children"
WI = "..wi-scorecard-box.children...wi-coverage.children...wi-completeness-box.children" \
     "...wi-edits.children...wi-status.children.."


def _ov_values(profile: Any = "", edits: Any = None) -> dict[str, Any]:
    return {"ov-profile.value": profile, "app-lang.value": "zh", "app-edits.data": edits,
            "app-scenario-name.data": None}


def test_foreign_host_is_refused(served: tuple[Any, Path]) -> None:
    c = _client(served)
    for host in ("evil.example:8050", "127.0.0.1:9999", "attacker.com"):
        r = c.get("/", headers={"Host": host})
        assert r.status_code == 400
        assert b"Host" in r.data


def test_unauthenticated_requests_get_401(served: tuple[Any, Path]) -> None:
    c = _client(served)
    for path in ("/", "/map", "/whatif", "/_dash-layout", "/_dash-dependencies",
                 "/assets/style.css"):
        r = c.get(path, headers={"Host": HOST, "Accept": "text/html"})
        assert r.status_code == 401, path
    r = c.post("/_dash-update-component", data="{}",
               headers={"Host": HOST, "Content-Type": "application/json"})
    assert r.status_code == 401
    bad = c.post("/login", data={"user": "wang", "password": "wrong"}, headers={"Host": HOST})
    assert bad.status_code == 401
    assert _client(served, "wang", "editor-pass-1").get(
        "/", headers={"Host": HOST}).status_code == 200


def test_out_of_catalogue_profiles_are_refused(served: tuple[Any, Path]) -> None:
    c = _client(served, "li", "viewer-pass-1")
    assert _call(c, served, OV, _ov_values("kaifeng")).status_code == 200
    secret = Path(served[1]).parent / "secret.toml"
    secret.write_text("[x]\n", encoding="utf-8")
    for bad in (str(secret), "../../secret.toml", "/etc/passwd", "nope", 42,
                str(Path.home() / "missing.toml")):
        r = _call(c, served, OV, _ov_values(bad))
        assert r.status_code == 400, bad
        assert b"unknown plan profile" in r.data
        assert b"exist" not in r.data


@pytest.mark.parametrize("edits", [
    "not a list",
    {"action": "add"},
    [{"action": "add", "category": "park", "lon": None, "lat": 30.69}],
    [{"action": "add", "category": "park", "lon": "104.08", "lat": 30.69}],
    [{"action": "add", "category": "no_such_category", "lon": 104.08, "lat": 30.69}],
    [{"action": "explode"}],
    [17],
])
def test_malformed_edits_get_400(served: tuple[Any, Path], edits: Any) -> None:
    c = _client(served, "li", "viewer-pass-1")
    r = _call(c, served, OV, _ov_values("", edits))
    assert r.status_code == 400
    assert r.data
    assert b"Traceback" not in r.data
    r = _call(c, served, WI, {"app-edits.data": edits, "wi-category.value": "park",
                              "app-lang.value": "en", "app-scenario-name.data": None})
    assert r.status_code == 400


def test_malformed_map_requests_get_400(served: tuple[Any, Path]) -> None:
    c = _client(served, "li", "viewer-pass-1")
    deps = c.get("/_dash-dependencies", headers={"Host": HOST}).get_json()
    out = next(d["output"] for d in deps if d["output"].startswith("..map-graph.figure"))
    good = {"map-category.value": "park", "map-layer.value": "time",
            "map-group.value": "total", "map-highlight.value": "time15",
            "app-lang.value": "zh", "app-edits.data": [],
            "map-view.data": {"w": 1200, "h": 640, "whole": True}}
    assert _call(c, served, out, good).status_code == 200
    # before the browser has said the graph's size, nothing is drawn (no content)
    assert _call(c, served, out, {**good, "map-view.data": None}).status_code == 204
    for key, value in (("map-view.data", {"x": [1, "a"], "y": [0, 1], "w": 5, "h": 5}),
                       ("map-view.data", "text"), ("map-layer.value", "../../x"),
                       ("map-category.value", "nope"), ("app-lang.value", "fr")):
        r = _call(c, served, out, {**good, key: value})
        assert r.status_code == 400, (key, value)
    info = next(d["output"] for d in deps if d["output"] == "map-info.children")
    r = _call(c, served, info, {"map-graph.hoverData": {"points": [{"x": None, "y": "a"}]},
                                "map-category.value": "park", "map-group.value": "total",
                                "app-lang.value": "zh"}, changed="map-graph.hoverData")
    assert r.status_code == 400


def _save_output(c: FlaskClient) -> str:
    deps = c.get("/_dash-dependencies", headers={"Host": HOST}).get_json()
    return next(d["output"] for d in deps if "wi-saved-rev.data" in d["output"])


def test_viewer_cannot_save_editor_can(served: tuple[Any, Path]) -> None:
    edits = [{"action": "add", "category": "park", "lon": 104.08, "lat": 30.69}]
    values = {"wi-save.n_clicks": 1, "wi-delete.n_clicks": 0, "wi-name.value": "新公园",
              "wi-saved.value": None, "app-edits.data": edits, "app-lang.value": "zh",
              "wi-saved-rev.data": 0}
    viewer = _client(served, "li", "viewer-pass-1")
    r = _call(viewer, served, _save_output(viewer), values, changed="wi-save.n_clicks")
    assert r.status_code == 403
    assert get_state().store.get("新公园") is None
    editor = _client(served, "wang", "editor-pass-1")
    r = _call(editor, served, _save_output(editor), values, changed="wi-save.n_clicks")
    assert r.status_code == 200, r.data
    saved = get_state().store.get("新公园")
    assert saved is not None
    assert saved.author == "wang"
    assert saved.edits == edits


def test_refuses_to_start_beyond_loopback_without_users(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = app_module.serve(host="0.0.0.0", users=tmp_path / "none.json", progress=False)
    err = capsys.readouterr().err
    assert code == 2
    assert "lifecircle users add" in err
    assert "Traceback" not in err


def test_users_file_keeps_only_hashes(tmp_path: Path) -> None:
    uf = UserFile(tmp_path / "u.json")
    uf.add("zhao", "a-long-password", role="viewer")
    text = (tmp_path / "u.json").read_text(encoding="utf-8")
    assert "a-long-password" not in text
    assert uf.check("zhao", "a-long-password").role == "viewer"
    assert uf.check("zhao", "wrong") is None
    assert (tmp_path / "u.json").stat().st_mode & 0o077 == 0
