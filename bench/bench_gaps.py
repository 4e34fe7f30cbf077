"""Gap areas at municipality scale: 640,000 cells, three reaches.

Prints wall and CPU seconds per reach and, as the baseline, the connected-component
clusters the gap list used before (``access.coverage.uncovered_clusters``), with the
ratio. Run: ``python bench/bench_gaps.py [--side 800] [--share 0.8]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from access import coverage
from access.targets.gaps import grid_areas


def _timed(fn):  # type: ignore[no-untyped-def]
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--side", type=int, default=800, help="grid side in cells (100 m)")
    ap.add_argument("--share", type=float, default=0.8, help="share of cells uncovered")
    args = ap.parse_args()
    rng = np.random.default_rng(20261201)
    n = args.side
    row, col = np.divmod(np.arange(n * n), n)
    pop = rng.gamma(1.5, 30.0, row.size)
    keep = rng.random(row.size) < args.share
    r, c, w, key = row[keep], col[keep], pop[keep], np.arange(row.size)[keep]
    grid_areas(r[:10], c[:10], w[:10], key[:10], 300.0, 100.0)  # compile outside the clock
    _, bw, bc = _timed(lambda: coverage.uncovered_clusters(row, col, keep, pop))
    print(f"cells {row.size:,}, uncovered populated {keep.sum():,}; load {os.getloadavg()}")
    print(f"baseline connected clusters: wall {bw:.2f} s, cpu {bc:.2f} s")
    for radius in (300.0, 1000.0, 3750.0):
        (_, centres), ww, cc = _timed(
            lambda radius=radius: grid_areas(r, c, w, key, radius, 100.0))
        print(f"gap areas, reach {radius:>6.0f} m: {centres.size:>6,} areas, wall {ww:.2f} s, "
              f"cpu {cc:.2f} s ({cc / max(bc, 1e-9):.1f}x baseline cpu)")


if __name__ == "__main__":
    main()
