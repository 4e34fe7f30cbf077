"""Partitioned run of a 4-county region on 2 local Dask workers against the plain run.

Writes (once) the ``medium`` synthetic region (4 counties of 15 km: 90,000 cells,
~140,000 street nodes) with ``bench/synthetic_municipality.py``, then times the
whole ``lifecircle run`` in a subprocess:

* plain, network cached;
* ``--partition county --workers 2``, the network cached but no finished partition
  kept (each partition routed again).

Each is run ``--repeat`` times (default 3), the two alternating so that a busy
spell of a shared machine falls on both; the figures are the medians. CPU seconds
are those of the whole process tree (the command, Dask's forkserver and the workers
it forks), sampled every 50 ms.

Prints both (wall and CPU seconds, the load average), the ratio of each partitioned
run to the plain run just before it and their median, the ratio of the medians
(goal: at most 1.3x, the cost of the buffers) and every run's own figures, beside
the earlier figures (plain 85.8 s, partitioned 156.7 s: 1.83x, at load ~13, before
the speed work; plain 5.21 s, partitioned 9.71 s: 1.86x, at load 1.1-1.5, before the
start-up work; plain 4.78-5.61 s, partitioned 7.42-8.13 s: 1.32-1.69x at load
1.6-1.9, before the workers started ahead of the library), and the per-partition
figures that feed the cost model of ``docs/scale.md``: cells, nodes, seconds and
worker peak memory per partition.

Usage::

    python bench/bench_partitioned.py [--scale medium|small] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench_run import timed_run
from synthetic_municipality import write_region

WORK = Path(__file__).resolve().parent / "_work"
#: wall seconds before the speed work (load ~13 on 2 cores)
EARLIER = {"plain": 85.8, "partitioned": 156.7}
#: before the start-up work (main at ad08ba4, load 1.1-1.5): wall and CPU seconds
BEFORE_STARTUP = {"plain": (5.21, 5.69), "partitioned": (9.71, 13.77)}
#: before the workers were started ahead of the library (main at 17afa74, three runs at
#: load 1.6-1.9): wall seconds, lowest and highest
BEFORE_EARLY_WORKERS = {"plain": (4.78, 5.61), "partitioned": (7.42, 8.13)}
#: The figures of each run, medians printed: wall and CPU seconds, peak memory, the
#: seconds of every stage of the run (``run.json``), the rest of the wall time
#: (``writing``: start-up, writing the outputs, summary and exit) and the load average.
FIGURES = ("wall_s", "cpu_s", "peak_gb", "boundary", "network", "population", "facilities",
           "snapping", "routing", "units", "targets", "writing", "load")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", default="medium", choices=["medium", "small"])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3, help="runs of each, alternating")
    a = p.parse_args(argv)
    region = WORK / f"{a.scale}_4counties"
    if not (region / "area.toml").exists():
        print(write_region(region, counties=4, scale=a.scale, seed=0))
    area = region / "area.toml"
    tmp = Path(tempfile.mkdtemp(prefix="lc_bench_part_"))
    cache = tmp / "cache"
    part = ["--partition", "county", "--workers", str(a.workers)]
    try:
        timed_run(area, tmp / "warm_plain", cache, [])  # builds the network cache
        timed_run(area, tmp / "warm_part", cache, part)  # loads the kernels' cache
        runs: dict[str, list[dict[str, float]]] = {"plain": [], "partitioned": []}
        for i in range(a.repeat):
            runs["plain"].append(timed_run(area, tmp / f"plain{i}", cache, []))
            shutil.rmtree(cache / "partitions", ignore_errors=True)
            runs["partitioned"].append(timed_run(area, tmp / f"part{i}", cache, part))
        plain, parted = ({k: statistics.median(r[k] for r in rs) for k in FIGURES}
                         for rs in (runs["plain"], runs["partitioned"]))
        meta = json.loads((tmp / f"part{a.repeat - 1}" / "run.json").read_text(
            encoding="utf-8"))
        print(f"\nmedians of {a.repeat} runs each")
        print(f"{'':<24}{'plain':>10}{'partitioned':>13}")
        for key in FIGURES:
            print(f"{key:<24}{plain[key]:>10.2f}{parted[key]:>13.2f}")
        ratio = parted["wall_s"] / plain["wall_s"]
        for name, rs in runs.items():
            print(f"{name} runs: " + "; ".join(
                f"{r['wall_s']:.2f} s wall / {r['cpu_s']:.2f} s CPU at load {r['load']:.1f}"
                for r in rs))
        # each partitioned run against the plain run just before it: a machine whose
        # speed drifts during the set moves both runs of a pair alike
        pairs = [q["wall_s"] / r["wall_s"] for r, q in zip(runs["plain"], runs["partitioned"],
                                                           strict=True)]
        print("\npartitioned / plain wall time, run by run: "
              + ", ".join(f"{x:.2f}x" for x in pairs)
              + f"; median {statistics.median(pairs):.2f}x")
        print(f"partitioned / plain wall time (medians): {ratio:.2f}x (goal <= 1.3x; before: "
              f"{EARLIER['partitioned'] / EARLIER['plain']:.2f}x = "
              f"{EARLIER['partitioned']:g} / {EARLIER['plain']:g} s)")
        print(f"partitioned / plain CPU time (driver and workers): "
              f"{parted['cpu_s'] / plain['cpu_s']:.2f}x")
        (bpw, bpc), (bqw, bqc) = BEFORE_STARTUP["plain"], BEFORE_STARTUP["partitioned"]
        print(f"before the start-up work (load 1.1-1.5): plain {bpw:g} s wall / {bpc:g} s "
              f"CPU, partitioned {bqw:g} s / {bqc:g} s: {bqw / bpw:.2f}x wall, "
              f"{bqc / bpc:.2f}x CPU")
        (pl, ph), (ql, qh) = BEFORE_EARLY_WORKERS["plain"], BEFORE_EARLY_WORKERS["partitioned"]
        print(f"before the workers started ahead of the library (load 1.6-1.9): plain "
              f"{pl:g}-{ph:g} s, partitioned {ql:g}-{qh:g} s wall: 1.32-1.69x")
        print("\npartitions (worker figures):")
        rows = meta.get("partitions", [])
        for r in rows:
            print("  " + ", ".join(f"{k}={v}" for k, v in r.items()))
        if rows:
            # every cell once: the tasks routing walking (groups route other modes again)
            cells = sum(r["cells"] for r in rows if "walk" in r.get("modes", "walk").split("+"))
            nodes = sum(r.get("walk_nodes", 0) + r.get("ebike_nodes", 0)
                        + r.get("drive_nodes", 0) for r in rows)
            secs = sum(r["seconds"] for r in rows)
            peak = max(r["peak_rss_mb"] for r in rows)
            print(f"per million cells: {secs / cells * 1e6:.1f} s; per million nodes "
                  f"(all modes): {secs / nodes * 1e6:.1f} s; worker peak {peak:.0f} MB "
                  f"for {max(r['cells'] for r in rows):,} cells")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
