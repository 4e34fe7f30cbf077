"""The dashboard in a real browser: start, page ready, pan/zoom/layer/what-if (not a test).

Starts ``python app.py`` on a results folder (``--out``; default the bundled sample),
drives headless Chromium (``/usr/bin/chromium``) through Playwright and prints, from
the user's side (click to updated page):

- start: process launch to the first page served;
- page ready: overview scorecard, map image, what-if scorecard;
- pan, zoom, layer change and a what-if edit: click to updated page;
- bytes the server sent for each interaction (callback responses).

The issue's figures measured before this design (sample, busy 2-core machine) are
printed beside: map page 16-20 s, layer switch 6-12 s, what-if edit 5-9 s, 2.9 MB per
map update; at 637,287 cells 329 MB per map page.

    python bench/bench_dashboard.py [--out DIR] [--width 1366 --height 768]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
BEFORE = {"map page": "16-20 s", "layer change": "6-12 s", "what-if edit": "5-9 s",
          "bytes per map update": "2.9 MB"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bytes:
    """Sum of callback response bodies since the last :meth:`take`."""

    def __init__(self) -> None:
        self.n = 0

    def on_response(self, resp: Any) -> None:
        if "_dash-update-component" in resp.url:
            with contextlib.suppress(Exception):  # the page navigated away from it
                self.n += len(resp.body())

    def take(self) -> int:
        n, self.n = self.n, 0
        return n


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux)."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> float:
    return os.getloadavg()[0]


def _image_src(page: Any, graph: str) -> str:
    return page.eval_on_selector(f"#{graph} .imagelayer image",
                                 "e => e.getAttribute('href') || ''")


def _wait_new_image(page: Any, graph: str, old: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if _image_src(page, graph) != old:
                return
        except Exception:  # image not drawn yet
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{graph}: image did not change")
        page.wait_for_timeout(20)


def _settle(page: Any, ms: int = 400) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(ms)


def _whatif_text(page: Any) -> str:
    """The what-if outputs one edit updates together: the status line (which may read
    the same after two edits, e.g. "Recomputed Clinic in 0.05 s") and the edit list."""
    return page.locator("#wi-status").inner_text() + "\n" + \
        page.locator("#wi-edits").inner_text()


def _edit_at(page: Any, box: dict[str, float], fx: float, fy: float) -> float:
    """Click the what-if map at fractions ``fx, fy`` of its box (adding a facility);
    seconds from the click until the status and edit list show the edit."""
    x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
    status = _whatif_text(page)
    page.mouse.move(x - 4, y - 4)
    page.mouse.move(x, y)
    page.wait_for_timeout(100)
    t = time.perf_counter()
    page.mouse.click(x, y)
    deadline = time.monotonic() + 120
    while _whatif_text(page) == status:
        if time.monotonic() > deadline:
            raise TimeoutError("a what-if edit did not update the page")
        page.wait_for_timeout(20)
    return time.perf_counter() - t


def main() -> int:
    from playwright.sync_api import expect, sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="results folder (default: bundled sample)")
    ap.add_argument("--width", type=int, default=1366)
    ap.add_argument("--height", type=int, default=768)
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="lc-bench-")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(Path(tempfile.gettempdir()) / f"lc-bench-dash-{port}.log", "w")  # noqa: SIM115
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port),
                             "--results", out, "--quiet"], cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    rows: list[tuple[str, float, int | None]] = []
    cpu: dict[int, tuple[float, float]] = {}  # row -> (server CPU s, load average)
    mark = [0.0]

    def note() -> None:
        """Server CPU seconds and load since the previous row, for the row just added."""
        now = _cpu_s(proc.pid)
        cpu[len(rows) - 1] = (now - mark[0], _load())
        mark[0] = now
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t0 > 900:
                    print("server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        rows.append(("start (launch to first page)", time.perf_counter() - t0, None))
        note()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            nbytes = Bytes()
            page.on("response", nbytes.on_response)

            t = time.perf_counter()
            page.goto(url + "/")
            expect(page.locator("#ov-scorecard")).to_be_visible(timeout=120_000)
            rows.append(("overview page ready", time.perf_counter() - t, nbytes.take()))
            note()

            t = time.perf_counter()
            page.locator("#app-nav-map").click()
            expect(page.locator("#map-graph .imagelayer image")).to_have_count(
                1, timeout=120_000)
            rows.append(("map page ready", time.perf_counter() - t, None))
            note()
            _settle(page)
            nbytes.take()
            box = page.locator("#map-graph .nsewdrag").first.bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

            old = _image_src(page, "map-graph")
            t = time.perf_counter()
            page.mouse.move(cx, cy)
            page.mouse.down()
            page.mouse.move(cx + 150, cy + 60, steps=5)
            page.mouse.up()
            _wait_new_image(page, "map-graph", old)
            rows.append(("pan", time.perf_counter() - t, None))
            note()
            _settle(page)
            rows[-1] = (rows[-1][0], rows[-1][1], nbytes.take())

            old = _image_src(page, "map-graph")
            t = time.perf_counter()
            page.mouse.move(cx, cy)
            page.mouse.wheel(0, -400)
            _wait_new_image(page, "map-graph", old)
            rows.append(("zoom", time.perf_counter() - t, None))
            note()
            _settle(page)
            rows[-1] = (rows[-1][0], rows[-1][1], nbytes.take())

            old = _image_src(page, "map-graph")
            t = time.perf_counter()
            page.locator("#map-layer input[value=population]").click()
            _wait_new_image(page, "map-graph", old)
            rows.append(("layer change", time.perf_counter() - t, None))
            note()
            _settle(page)
            rows[-1] = (rows[-1][0], rows[-1][1], nbytes.take())

            t = time.perf_counter()
            page.locator("#app-nav-whatif").click()
            expect(page.locator("#wi-scorecard")).to_be_visible(timeout=120_000)
            expect(page.locator("#wi-graph .imagelayer image")).to_have_count(
                1, timeout=120_000)
            rows.append(("what-if page ready", time.perf_counter() - t, None))
            note()
            _settle(page)
            nbytes.take()

            box = page.locator("#wi-graph .nsewdrag").first.bounding_box()
            rows.append(("what-if edit (click to new scorecard)",
                         _edit_at(page, box, 0.45, 0.5), None))
            note()
            _settle(page)
            rows[-1] = (rows[-1][0], rows[-1][1], nbytes.take())

            rows.append(("second what-if edit", _edit_at(page, box, 0.6, 0.4), None))
            note()
            _settle(page)
            rows[-1] = (rows[-1][0], rows[-1][1], nbytes.take())
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    print(f"viewport {args.width}x{args.height}, results {args.out or 'bundled sample'}")
    print(f"{'':40s} {'wall':>9s} {'KB':>9s} {'server CPU':>11s} {'load':>5s}")
    for i, (name, s, b) in enumerate(rows):
        size = f"{'':9s}" if b is None else f"{b / 1024:9.0f}"
        c, ld = cpu.get(i, (float("nan"), float("nan")))
        print(f"{name:40s} {s:7.2f} s {size} {c:9.2f} s {ld:5.1f}")
    print("before this design (issue 13, sample):",
          ", ".join(f"{k} {v}" for k, v in BEFORE.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
