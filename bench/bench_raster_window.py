"""Memory and time of loading a 10,000 x 10,000 population raster onto the analysis grid.

Writes a synthetic persons-per-pixel GeoTIFF (float32, tiled, 400 MB of pixels), then
loads it in a fresh process with :func:`gridded_pop.build_population` and prints the
peak resident memory of that process, the time taken and the accounting. Two cases:

* ``utm``: pixels in the grid's own CRS (10 m pixels onto 100 m cells, exact overlap);
* ``geo``: the same raster in EPSG:4326 (reprojected by sub-pixel sampling).

Usage: ``python bench/bench_raster_window.py [--size 10000] [--case utm|geo|both]``.
Figures only: this is not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WORK = Path(__file__).resolve().parent / "_work"


def write_raster(path: Path, size: int, *, geographic: bool) -> float:
    """Write the raster strip by strip (never whole in memory); return its total."""
    import rasterio
    from affine import Affine

    if geographic:
        crs, transform = "EPSG:4326", Affine(0.0001, 0, 114.0, 0, -0.0001, 30.9)
    else:
        crs, transform = "EPSG:32650", Affine(10.0, 0, 200_000.0, 0, -10.0, 3_450_000.0)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1,
               "dtype": "float32", "crs": crs, "transform": transform, "nodata": -1.0,
               "tiled": True, "blockxsize": 512, "blockysize": 512, "BIGTIFF": "YES"}
    rng = np.random.default_rng(0)
    total = 0.0
    cols = np.arange(size)
    with rasterio.open(path, "w", **profile) as ds:
        for r0 in range(0, size, 512):
            rows = np.arange(r0, min(size, r0 + 512))[:, None]
            v = (0.5 + 0.4 * np.sin(rows / 700.0) * np.cos(cols[None, :] / 900.0)
                 + 0.1 * rng.random((rows.size, size))).astype(np.float32)
            v[:, :16] = -1.0  # a no-data margin
            total += float(v[v >= 0].sum(dtype=np.float64))
            ds.write(v, 1, window=rasterio.windows.Window(0, r0, size, rows.size))
    return total


def measure(path: str, geographic: bool) -> None:
    """Child process: load the raster onto a grid over most of it and report."""
    import shapely
    from pyproj import CRS

    from access.crs import lonlat_to_metric
    from access.rejects import RejectLog
    from gridded_pop import GridSpec, build_population
    from gridded_pop.sources import RasterSource

    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    crs = CRS.from_epsg(32650)
    if geographic:
        x, y = lonlat_to_metric(np.array([114.02, 114.98, 114.98, 114.02]),
                                np.array([29.92, 29.92, 30.88, 30.88]), crs)
        boundary = shapely.Polygon(list(zip(x, y, strict=True)))
    else:
        boundary = shapely.box(200_200.0, 3_350_200.0, 299_800.0, 3_449_800.0)
    spec = GridSpec.from_bounds(boundary.bounds, 100.0, crs)
    src = RasterSource(group="total", label=Path(path).name, paths=(Path(path),))
    t0 = time.perf_counter()
    pg = build_population([src], spec, boundary=boundary, rejects=RejectLog())
    dt = time.perf_counter() - t0
    acc = pg.accounting.iloc[0]
    print(json.dumps({
        "seconds": dt, "grid_cells": spec.n_cells,
        "baseline_rss_mb": base_kb / 1024,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "population_in": acc.population_in, "on_grid": acc.on_grid,
        "outside_area": acc.outside_area, "notes": pg.notes[0][1]}))


def main() -> None:
    """Parse arguments, write the rasters, measure each case in a fresh process."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--case", choices=["utm", "geo", "both"], default="both")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        measure(args.child[0], args.child[1] == "geo")
        return
    WORK.mkdir(exist_ok=True)
    cases = ["utm", "geo"] if args.case == "both" else [args.case]
    for case in cases:
        path = WORK / f"pop_{case}_{args.size}.tif"
        t0 = time.perf_counter()
        total = write_raster(path, args.size, geographic=case == "geo")
        print(f"[{case}] wrote {path.name}: {args.size}x{args.size} float32, "
              f"{path.stat().st_size / 2**20:.0f} MiB on disk, {total:,.0f} persons, "
              f"{time.perf_counter() - t0:.1f} s")
        out = subprocess.run([sys.executable, __file__, "--child", str(path), case],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        full_mb = args.size * args.size * 8 / 2**20
        print(f"[{case}] load: {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB "
              f"(baseline after imports {r['baseline_rss_mb']:.0f} MB; reading the whole "
              f"raster as float64 would take {full_mb:.0f} MB alone)")
        gap = r["population_in"] - r["on_grid"] - r["outside_area"]
        print(f"[{case}] persons read {r['population_in']:,.1f}, on grid {r['on_grid']:,.1f}, "
              f"outside {r['outside_area']:,.1f}, unaccounted {gap:.3g}; {r['notes']}")
        path.unlink()


if __name__ == "__main__":
    main()
