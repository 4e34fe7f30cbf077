"""The whole app in a real headless Chromium: pages, map, a what-if edit, screenshots.

The test starts ``python app.py`` on a free 127.0.0.1 port and stops it. Without
Chromium (``/usr/bin/chromium``) or Playwright it is skipped, except under CI
(environment variable ``CI`` set), where that is a failure.

Screenshots go to a temporary folder; with ``LIFECIRCLE_SCREENSHOTS=1`` they refresh
``docs/screenshots/`` (the pictures the README shows).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from access.crs import metric_to_lonlat
from lifecircle.pipeline import RunResult

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DOC_SHOTS = REPO / "docs" / "screenshots"
VIEWPORTS = [(1366, 768), (1920, 1080)]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run under CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the dashboard on the bundled sample, served by a child process."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    out_dir = tmp_path_factory.mktemp("no_run")  # no run.json: the bundled sample
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "app.py"), "--port", str(port), "--out", str(out_dir),
             "--quiet"], cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log.read_text(), log.read_text()


@contextmanager
def _browser(tmp_path: Path, width: int, height: int) -> Iterator[tuple[Any, list[str]]]:
    """A page of headless Chromium at ``width`` x ``height`` and the list its console
    errors and uncaught page errors go into."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), headless=True,
            args=ARGS, viewport={"width": width, "height": height})
        try:
            page = ctx.new_page()
            page.on("console",
                    lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield page, errors
        finally:
            ctx.close()


def _scenario_value(page: Any, target_name: str) -> str:
    names = page.locator('#wi-scorecard td[data-dash-column="target"]').all_inner_texts()
    i = [s.strip() for s in names].index(target_name)
    return page.locator('#wi-scorecard td[data-dash-column="scenario_value"]').nth(
        i).inner_text().strip()


def _svg_texts(page: Any, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent)")


def _no_overflow(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert width <= inner, f"page is {width} px wide in a {inner} px window"


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: f"{v[0]}x{v[1]}")
def test_dashboard_in_browser(server: str, sample_result: RunResult, tmp_path: Path,
                              viewport: tuple[int, int]) -> None:
    from playwright.sync_api import expect

    w, h = viewport
    cells = sample_result.cells
    gap = cells[cells["reachable"] & (cells["time_min__primary_school"] > 15)
                & (cells["pop_total"] > 0)].sort_values("pop_total").iloc[-1]
    lon, lat = metric_to_lonlat([gap["x"]], [gap["y"]], sample_result.crs)
    shots = DOC_SHOTS if os.environ.get("LIFECIRCLE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    tag = f"{w}x{h}"
    scenario = f"新学校 {tag}"
    # scorecards show target names, not ids
    school = str(sample_result.targets.targets.set_index("id").loc["primary_school_500",
                                                                   "name_zh"])
    unit_names = set(sample_result.units["district"]["name"])
    with _browser(tmp_path, w, h) as (page, errors):

        page.goto(server + "/")
        expect(page.locator("#ov-scorecard")).to_be_visible(timeout=30_000)
        expect(page.locator("#ov-counts")).to_contain_text("达标")
        n_rows = page.locator('#ov-scorecard td[data-dash-column="target"]').count()
        assert n_rows == len(sample_result.targets.targets)
        # the plan clause is one click away
        page.locator('#ov-scorecard td[data-dash-column="target"]').first.click()
        expect(page.locator("#ov-clause .lc-clause")).to_be_visible(timeout=10_000)
        for english in ("filter data", "Select All", "Search"):
            assert english not in page.content(), english
        page.screenshot(path=str(shots / f"overview_{tag}.png"), full_page=True)

        page.locator("#app-nav-map").click()
        expect(page.locator("#map-graph .imagelayer image")).to_have_count(
            1, timeout=30_000)
        expect(page.locator("#map-summary")).to_contain_text("%")
        ticks = _svg_texts(page, "#map-graph .xtick text")
        assert any(t.endswith("°E") for t in ticks), ticks
        yt = _svg_texts(page, "#map-graph .ytick text")
        assert any(t.endswith("°N") for t in yt), yt
        shown = set(_svg_texts(page, "#map-graph .textpoint text"))
        assert shown & unit_names, shown
        # the cell under the pointer, answered by the server
        box = page.locator("#map-graph .nsewdrag").first.bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        expect(page.locator("#map-info")).to_contain_text("°E", timeout=15_000)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1000)
        page.screenshot(path=str(shots / f"map_{tag}.png"), full_page=True)

        page.locator("#app-nav-units").click()
        expect(page.locator("#un-table")).to_be_visible(timeout=30_000)
        expect(page.locator('#un-table td[data-dash-column="名称"]')).to_have_count(
            len(sample_result.units["district"]))
        page.screenshot(path=str(shots / f"units_{tag}.png"), full_page=True)

        # best 3 kindergarten sites, on the map and in the ranked table
        page.locator("#app-nav-sites").click()
        page.locator("#site-run").click()
        expect(page.locator('#site-table td[data-dash-column="rank"]')).to_have_count(
            3, timeout=60_000)
        expect(page.locator("#site-graph .imagelayer image")).to_have_count(
            1, timeout=30_000)
        expect(page.locator("#site-summary")).to_contain_text("已证明最优")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1000)
        page.screenshot(path=str(shots / f"sites_{tag}.png"), full_page=True)

        page.locator("#app-nav-whatif").click()
        expect(page.locator("#wi-scorecard")).to_be_visible(timeout=30_000)
        before = _scenario_value(page, school)
        page.locator("#wi-lon").fill(f"{lon[0]:.6f}")
        page.locator("#wi-lat").fill(f"{lat[0]:.6f}")
        page.locator("#wi-apply").click()
        expect(page.locator("#wi-edits li")).to_have_count(1, timeout=30_000)
        deadline = time.monotonic() + 30
        while _scenario_value(page, school) == before:
            assert time.monotonic() < deadline, "scorecard did not change"
            page.wait_for_timeout(200)
        after = _scenario_value(page, school)
        # a click on the map adds a second facility
        box = page.locator("#wi-graph .nsewdrag").first.bounding_box()
        assert box is not None
        px, py = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.55
        for _attempt in range(3):  # a click while the map is being redrawn is lost
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(500)
            page.mouse.move(px - 5, py - 5)
            page.wait_for_timeout(300)
            page.mouse.move(px, py)
            page.wait_for_timeout(300)
            page.mouse.click(px, py)
            try:
                expect(page.locator("#wi-edits li")).to_have_count(2, timeout=15_000)
                break
            except AssertionError:
                continue
        expect(page.locator("#wi-edits li")).to_have_count(2, timeout=5_000)
        page.locator("#wi-undo").click()
        expect(page.locator("#wi-edits li")).to_have_count(1, timeout=30_000)
        # save on the server, reload: the scenario is still there
        page.locator("#wi-name").fill(scenario)
        page.locator("#wi-name").press("Enter")
        page.locator("#wi-save").click()
        expect(page.locator("#wi-message")).to_contain_text(scenario, timeout=30_000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(shots / f"whatif_{tag}.png"), full_page=True)
        page.reload()
        expect(page.locator("#wi-scorecard")).to_be_visible(timeout=30_000)
        expect(page.locator("#wi-compare")).to_contain_text(scenario, timeout=30_000)
        page.locator("#wi-reset").click()
        expect(page.locator("#wi-edits li")).to_have_count(0, timeout=30_000)
        page.locator("#wi-saved").click()
        page.locator(f"[role=option]:has-text('{scenario}')").first.click()
        page.locator("#wi-load").click()
        expect(page.locator("#wi-edits li")).to_have_count(1, timeout=30_000)
        deadline = time.monotonic() + 30
        while _scenario_value(page, school) != after:
            assert time.monotonic() < deadline, "the saved scenario did not come back"
            page.wait_for_timeout(200)

        page.locator("label:has-text('English')").click()
        expect(page.locator("#app-nav-whatif")).to_have_text("What-if")
        expect(page.locator("#wi-apply")).to_have_text("Apply")
        page.wait_for_timeout(500)
        _no_overflow(page)
        page.screenshot(path=str(shots / f"whatif_en_{tag}.png"), full_page=True)
        for nav in ("overview", "map", "units", "sites"):
            page.locator(f"#app-nav-{nav}").click()
            page.wait_for_timeout(1500)
            _no_overflow(page)
        page.screenshot(path=str(shots / f"units_en_{tag}.png"), full_page=True)
    assert errors == []
    for name in ("overview", "map", "units", "sites", "whatif"):
        assert (shots / f"{name}_{tag}.png").stat().st_size > 10_000, name


def test_sites_page_inputs_in_browser(server: str, sample_result: RunResult,
                                      tmp_path: Path) -> None:
    """The Sites page in Chromium: target names (not ids) in the dropdown, a capacitated
    question with places typed in, then candidates uploaded as a file."""
    import geopandas as gpd
    import shapely
    from playwright.sync_api import expect

    cells = sample_result.cells
    sel = cells[(cells["pop_age_3_5"] > 0)
                & ~cells["covered__kindergarten_300"].fillna(True).astype(bool)]
    pick = sel.sample(6, random_state=3)
    names = [f"闲置地块{i}" for i in range(6)]
    gdf = gpd.GeoDataFrame({"name": names}, geometry=shapely.points(pick["x"], pick["y"]),
                           crs=sample_result.crs).to_crs("EPSG:4326")
    upload = tmp_path / "parcels.geojson"
    gdf.to_file(upload, driver="GeoJSON")
    with _browser(tmp_path, 1366, 768) as (page, errors):
        page.goto(server + "/sites")
        expect(page.locator("#site-run")).to_be_visible(timeout=30_000)
        page.locator("#site-target").click()
        page.wait_for_timeout(1000)
        options = page.locator("[role=option]").all_inner_texts()
        assert options, "no target options"
        assert not any("kindergarten_300" in o for o in options), options
        assert any("幼儿园" in o for o in options), options
        page.keyboard.press("Escape")

        page.locator("#site-model").click()
        page.get_by_text("学位/床位有保障的最佳 N 处（容量）").click()
        page.locator("#site-n").fill("2")
        page.locator("#site-capacity").fill("120")
        page.locator("#site-existing-capacity").fill("90")
        page.locator("#site-run").click()
        expect(page.locator("#site-summary")).to_contain_text(
            "获得学位/床位的比例", timeout=60_000)
        expect(page.locator('#site-table td[data-dash-column="rank"]')).to_have_count(2)
        assert "kindergarten_300" not in page.locator("#site-summary").inner_text()

        page.locator("#site-model").click()
        page.get_by_text("最佳 N 处新址（覆盖最多居民）").click()
        page.locator("#site-upload input[type=file]").set_input_files(str(upload))
        expect(page.locator("#site-upload-name")).to_contain_text("parcels.geojson")
        page.locator("#site-run").click()
        # the answer on the six uploaded candidates
        expect(page.locator("#site-summary")).to_contain_text("候选点 6", timeout=60_000)
        expect(page.locator("#site-summary")).to_contain_text("已证明最优")
        shown = page.locator('#site-table td[data-dash-column="name"]').all_inner_texts()
        assert len(shown) == 2
        assert {s.strip() for s in shown} <= set(names), shown
        _no_overflow(page)
    assert not errors, errors
