"""Bounded loopback load test of the dashboard's what-if evaluation (not a test).

Starts ``python app.py`` on the bundled sample (or ``--out DIR``) on a free loopback
port, then ``--users`` concurrent clients each send ``--requests`` what-if
evaluations (each a distinct edit, so every request really reroutes), and stops.
Prints latency p50/p95/max per request, throughput, and the server's resident
memory before and after. The baseline measured in the same process is one user
sending the same kind of request alone (the single-user latency).

    python bench/bench_load.py --users 10 --requests 5
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WI = ("..wi-scorecard-box.children...wi-coverage.children...wi-completeness-box.children"
      "...wi-edits.children...wi-status.children..")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux)."""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def _body(lon: float, lat: float) -> bytes:
    edits = [{"action": "add", "category": "primary_school", "lon": lon, "lat": lat}]
    outs = [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True))
            for o in WI.strip(".").split("...")]
    body = {"output": WI, "outputs": outs,
            "inputs": [{"id": "app-edits", "property": "data", "value": edits},
                       {"id": "wi-category", "property": "value", "value": "primary_school"},
                       {"id": "app-lang", "property": "value", "value": "zh"},
                       {"id": "app-scenario-name", "property": "data", "value": None}],
            "changedPropIds": ["app-edits.data"]}
    return json.dumps(body).encode()


def _post(url: str, data: bytes) -> tuple[float, int, int]:
    req = urllib.request.Request(url + "/_dash-update-component", data=data,
                                 headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as resp:
        n = len(resp.read())
        code = resp.status
    return time.perf_counter() - t, code, n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--requests", type=int, default=5, help="requests per user")
    ap.add_argument("--out", default=None, help="results folder (default: the sample)")
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="lc-bench-")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(Path(tempfile.gettempdir()) / f"lc-bench-load-{port}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port),
                             "--results", out, "--quiet"], cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        t0 = time.perf_counter()
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t0 > 600:
                    print("server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.5)
        print(f"server ready after {time.perf_counter() - t0:.1f} s")
        # warm-up (numba compile, caches) and the single-user baseline
        base_lon, base_lat = 104.075, 30.685
        _post(url, _body(base_lon, base_lat))
        single = [_post(url, _body(base_lon + 0.001 * k, base_lat))[0] for k in range(1, 6)]
        rss0 = _rss_mb(proc.pid)
        lat: list[float] = []
        codes: list[int] = []
        sizes: list[int] = []
        lock = threading.Lock()

        def user(u: int) -> None:
            for r in range(args.requests):
                lon = base_lon + 0.0007 * (u + 1) - 0.0003 * r
                lt = base_lat + 0.0005 * (r + 1) - 0.0002 * u
                s, code, n = _post(url, _body(lon, lt))
                with lock:
                    lat.append(s)
                    codes.append(code)
                    sizes.append(n)

        t = time.perf_counter()
        cpu0, load0 = _cpu_s(proc.pid), os.getloadavg()[0]
        threads = [threading.Thread(target=user, args=(u,)) for u in range(args.users)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t
        cpu1, load1 = _cpu_s(proc.pid), os.getloadavg()[0]
        rss1 = _rss_mb(proc.pid)
        lat.sort()
        p50 = statistics.median(lat)
        p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
        s50 = statistics.median(single)
        print(f"single user: median {s50:.2f} s per what-if (5 requests)")
        print(f"{args.users} users x {args.requests} requests: p50 {p50:.2f} s, "
              f"p95 {p95:.2f} s, max {lat[-1]:.2f} s; {len(lat) / wall:.1f} req/s; "
              f"p95 / single = {p95 / s50:.1f}x")
        print(f"HTTP codes: {sorted(set(codes))}; response {statistics.median(sizes) / 1024:.0f} "
              f"KB median")
        print(f"server RSS: {rss0:.0f} MB before, {rss1:.0f} MB after")
        print(f"concurrent phase: {wall:.1f} s wall, server CPU {cpu1 - cpu0:.1f} s "
              f"({(cpu1 - cpu0) / len(lat):.2f} s per request); load average "
              f"{load0:.1f} -> {load1:.1f}")
        print("before (same command, sample, loaded machine): p50 11.6 s, p95 13.2 s, "
              "single user 3.4 s, RSS 576 -> 659 MB")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
