"""Benchmark: writing the coverage report (maps, workbook, GeoPackage, HTML, PDF).

Run by hand (it is not a test)::

    python bench/bench_report.py                    # the bundled sample, then 640k cells
    python bench/bench_report.py --only sample
    python bench/bench_report.py --run out/         # an existing run folder instead
    python bench/bench_report.py --only municipality --muni-run /path/to/muni-run
                                                    # a real 640k-cell run folder

Goals on a 2-core machine: the sample's report in under 10 s, a 640,000-cell
municipality's in under 60 s (PDF included). Each report is timed step by step and
printed beside a baseline measured in the same process: writing the run's own outputs
(``write_run``) for the sample, and writing the 640k cells to a GeoPackage with
geopandas for the municipality.

The municipality is a run folder of ``bench/synthetic_municipality.py``'s inputs when
given (``--muni-run``: the whole report as ``lifecircle report`` writes it, best new
sites and the streets of its OSM file included); otherwise a synthetic run of the same
size in memory: an 80 x 80 km grid of 100 m cells (640,000), 400 township squares, a
street lattice of ~330,000 segments, nine failing circle targets (no study area, so no
new sites).

Timings on a shared machine are noisy: each figure is given as wall and CPU seconds
(this process and its children, i.e. the browser printing the PDF) with the load
average before and after, beside the figures measured before the report was sped up
(:data:`EARLIER`).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from lifecircle.pipeline import run  # noqa: E402
from lifecircle.report import write_report  # noqa: E402
from lifecircle.report_data import ReportData  # noqa: E402
from lifecircle.results import write_run  # noqa: E402
from lifecircle.study_area import default_area_path, load_study_area  # noqa: E402

#: Figures before the report was sped up (same machine, under load).
EARLIER = {"sample": "29.7 s wall / 11 s CPU at load 9",
           "municipality": "91 s wall (synthetic 640k cells)"}


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (the PDF browser)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def load() -> str:
    """The 1-minute load average (as ``uptime`` shows it)."""
    return f"{os.getloadavg()[0]:.1f}"


def peak_gb() -> float:
    """Peak resident memory of this process so far, GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def timed_report(data: ReportData, out: Path, streets: np.ndarray | None = None,
                 ) -> tuple[float, float, dict[str, float]]:
    """Wall and CPU seconds for the whole report, and wall seconds per step.

    The step ``pdf`` starts the browser; the workbook and GeoPackage steps run while it
    prints, and the last step includes waiting for it.
    """
    steps: dict[str, float] = {}
    t0, c0 = time.perf_counter(), cpu_s()
    last = [t0, "start"]

    def step(name: str) -> None:
        now = time.perf_counter()
        steps[last[1]] = now - last[0]
        last[:] = [now, name]

    write_report(data, out, force=True, progress=step, streets=streets)
    now = time.perf_counter()
    steps[last[1]] = now - last[0]
    return now - t0, cpu_s() - c0, steps


def show(label: str, total: float, cpu: float, steps: dict[str, float], base: float,
         base_label: str, goal_s: float, load_before: str, earlier: str) -> None:
    parts = ", ".join(f"{k} {v:.1f}" for k, v in steps.items())
    print(f"{label}: report {total:.1f} s wall, {cpu:.1f} s CPU (goal < {goal_s:.0f} s: "
          f"{'met' if total < goal_s else 'NOT met'}); load {load_before} -> {load()}; "
          f"earlier {earlier}; {base_label} {base:.1f} s, ratio {total / base:.2f}; "
          f"steps [{parts}]; peak {peak_gb():.2f} GB")


def bench_sample(run_dir: Path | None, work: Path) -> None:
    if run_dir is None:
        result = run(load_study_area(default_area_path()))
        t = time.perf_counter()
        write_run(result, work / "run")
        base = time.perf_counter() - t
        run_dir = work / "run"
    else:
        t = time.perf_counter()
        base_data = ReportData.from_folder(run_dir)
        base = time.perf_counter() - t
        del base_data
    before = load()
    t, c = time.perf_counter(), cpu_s()
    data = ReportData.from_folder(run_dir)
    read_s, read_cpu = time.perf_counter() - t, cpu_s() - c
    total, cpu, steps = timed_report(data, work / "report_sample")
    steps = {"read": read_s, **steps}
    show("sample", total + read_s, cpu + read_cpu, steps, base,
         "write_run" if run_dir == work / "run" else "read folder", 10, before,
         EARLIER["sample"])


def synthetic_municipality(seed: int = 7) -> ReportData:
    """A 640,000-cell run: cells, targets, units, gaps, facilities, streets."""
    rng = np.random.default_rng(seed)
    crs = CRS.from_epsg(32650)
    n, cs = 800, 100.0
    x0, y0 = 500_000.0, 3_800_000.0
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    x = x0 + (jj.ravel() + 0.5) * cs
    y = y0 + (ii.ravel() + 0.5) * cs
    pop = rng.gamma(0.6, 40, size=n * n)
    cells = pd.DataFrame({"cell_id": np.arange(n * n), "x": x, "y": y, "pop_total": pop})
    tid = [f"circle_{k}" for k in range(9)]
    for k, t in enumerate(tid):
        cells[f"covered__{t}"] = rng.random(n * n) < 0.4 + 0.05 * k
        cells[f"time_min__c{k}"] = rng.gamma(2, 6, size=n * n)
    side = 20
    step_m = n * cs / side
    boxes = [shapely.box(x0 + a * step_m, y0 + b * step_m, x0 + (a + 1) * step_m,
                         y0 + (b + 1) * step_m) for a in range(side) for b in range(side)]
    units = gpd.GeoDataFrame({"unit_id": [f"41{k:04d}" for k in range(len(boxes))],
                              "name": [f"第{k + 1}镇" for k in range(len(boxes))]},
                             geometry=boxes, crs=crs)
    cells["unit__township"] = units["unit_id"].to_numpy()[
        (((x - x0) // step_m).astype(int) * side + ((y - y0) // step_m).astype(int))]
    targets = pd.DataFrame({
        "id": tid, "name_zh": [f"目标{k}：15分钟服务圈" for k in range(9)],
        "name_en": [f"target {k}" for k in range(9)], "kind": "circle",
        "value": rng.random(9) * 0.8, "value_area": np.nan, "area_base": "",
        "threshold": 1.0, "unit": "share", "comparison": ">=", "met": False,
        "status": "not_met", "population_base": float(pop.sum()), "n_units": np.nan,
        "scope": "urban", "source": "bench", "clause": "", "confidence": "S",
        "reason_zh": "", "reason_en": "", "warning_zh": "", "warning_en": ""})
    urows = [{"target_id": t, "level": "township", "unit_id": u, "name": nm,
              "value": float(v), "threshold": 1.0, "met": bool(v >= 1.0),
              "detail": ""}
             for t in tid for u, nm, v in zip(units["unit_id"], units["name"],
                                              rng.random(len(units)), strict=True)]
    gaps = pd.DataFrame([{"target_id": t, "rank": c, "group": "total", "n_cells": 100,
                          "residents": float(1e4 / c), "radius_m": 1000.0,
                          "x": float(x0 + rng.random() * n * cs),
                          "y": float(y0 + rng.random() * n * cs)}
                         for t in tid for c in range(1, 21)])
    nf = 6000
    fx, fy = x0 + rng.random(nf) * n * cs, y0 + rng.random(nf) * n * cs
    fac = gpd.GeoDataFrame({"facility_id": [f"f{k}" for k in range(nf)],
                            "category": rng.choice(["clinic", "kindergarten", "park"], nf),
                            "name": [f"设施{k}" for k in range(nf)]},
                           geometry=gpd.points_from_xy(fx, fy), crs=crs)
    return ReportData(
        name="bench_municipality", title_zh="基准测试市域", title_en="Benchmark municipality",
        area=None, area_path=Path("bench.toml"), crs=crs, cell_size_m=cs, cells=cells,
        facilities=fac, targets=targets, units=pd.DataFrame(urows), gaps=gaps,
        rejects=pd.DataFrame({"kind": ["facility"], "reason": ["outside_study_area"]}),
        completeness=pd.DataFrame(), accounting=pd.DataFrame(
            {"source": ["synthetic"], "persons_read": [float(pop.sum())]}),
        unit_polygons={"township": units},
        meta={"crs": "EPSG:32650", "crs_name": crs.name, "walk_speed_kmh": {"total": 4.0},
              "networks": {"walk": {"nodes": 1_000_000, "arcs": 3_900_000,
                                    "source": "synthetic"}}})


def street_lattice(n_lines: int = 400) -> np.ndarray:
    """Street segments of a lattice over the synthetic municipality (~330k segments)."""
    x0, y0, size = 500_000.0, 3_800_000.0, 80_000.0
    ticks = np.linspace(0, size, n_lines + 1)
    segs = []
    for t in ticks:
        a = np.linspace(0, size, n_lines + 1)
        segs.append(np.stack([np.column_stack([x0 + a[:-1], y0 + np.full(n_lines, t)]),
                              np.column_stack([x0 + a[1:], y0 + np.full(n_lines, t)])], 1))
        segs.append(np.stack([np.column_stack([x0 + np.full(n_lines, t), y0 + a[:-1]]),
                              np.column_stack([x0 + np.full(n_lines, t), y0 + a[1:]])], 1))
    return np.concatenate(segs)


def bench_municipality(work: Path, run_dir: Path | None = None) -> None:
    before = load()
    if run_dir is not None:
        t, c = time.perf_counter(), cpu_s()
        data = ReportData.from_folder(run_dir)
        read_s, read_cpu = time.perf_counter() - t, cpu_s() - c
        total, cpu, steps = timed_report(data, work / "report_municipality")
        n = len(data.cells)
        show(f"municipality run folder ({n:,} cells)", total + read_s, cpu + read_cpu,
             {"read": read_s, **steps}, read_s, "read folder", 60, before,
             EARLIER["municipality"])
        return
    data = synthetic_municipality()
    segs = street_lattice()  # the synthetic run has no OSM file: a street lattice
    t = time.perf_counter()
    n = len(data.cells)
    cs = data.cell_size_m / 2
    xx, yy = data.cells["x"].to_numpy(), data.cells["y"].to_numpy()
    gpd.GeoDataFrame(data.cells[["cell_id", "pop_total"]],
                     geometry=shapely.box(xx - cs, yy - cs, xx + cs, yy + cs),
                     crs=data.crs).to_file(work / "base.gpkg", engine="pyogrio")
    base = time.perf_counter() - t
    total, cpu, steps = timed_report(data, work / "report_municipality", streets=segs)
    show(f"municipality ({n:,} cells, {len(segs):,} street segments)", total, cpu, steps,
         base, "cells to GeoPackage", 60, before, EARLIER["municipality"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["sample", "municipality"])
    ap.add_argument("--run", type=Path, help="an existing run folder for the sample figure")
    ap.add_argument("--muni-run", type=Path,
                    help="a 640k-cell run folder (bench/synthetic_municipality.py inputs) "
                         "instead of the in-memory synthetic run")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lifecircle-bench-report-"))
    try:
        if args.only in (None, "sample"):
            bench_sample(args.run, work)
        if args.only in (None, "municipality"):
            bench_municipality(work, args.muni_run)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
