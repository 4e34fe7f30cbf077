"""Benchmark: site selection at city scale (run by hand; not a test).

::

    python bench/bench_site.py --muni /work/bench-data/muni   # the synthetic municipality
    python bench/bench_site.py --side 300      # a quick small synthetic grid instead
    python bench/bench_site.py --no-spopt      # skip the spopt comparison

The instance: the synthetic municipality written by ``synthetic_municipality.py``
(its ``streets.osm.pbf``, about 1M street nodes, loaded through the product's
loader, and its 100 m ``population.tif``, about 640,000 populated cells; the
folder is only read), or with ``--side`` the perturbed street grid of
``synthetic_city.py`` (``side``² nodes about 80 m apart) with lognormal residents.
Existing facilities and candidates sit at random street nodes (seeded). Coverage
is a 15-minute walk (1000 m at 4 km/h). Every time includes building the coverage structure from
network distances (one bounded search per candidate). Goals (2 cores): MCLP N=50
and N=500 within 0.1 % in < 15 s; LSCP to 95 % of coverable residents within 1 %
in < 120 s; p-median N=50 within 1 % in < 120 s; greedy < 5 s. spopt (PuLP + CBC)
is run on the largest dense instance it holds, beside ours on the same instance.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synthetic_city import SPACING_M, write_city  # noqa: E402

from access import siting  # noqa: E402
from access.crs import utm_crs_for_lonlat  # noqa: E402
from access.network import load_network, snap  # noqa: E402
from access.travel import catchment_pairs, nearest_facilities  # noqa: E402

REACH_M = 1000.0

#: Figures of the previous run (1M-node grid city, 638,401 cells, 5,000 candidates), seconds.
EARLIER_S = {"greedy MCLP N=50": 2.9, "greedy MCLP N=500": 3.0, "MCLP N=50": 4.5,
             "MCLP N=500": 6.3, "LSCP 95%": 14.6, "p-median N=50": 95.0}
GOAL_S = {"greedy MCLP N=50": 5.0, "greedy MCLP N=500": 5.0, "MCLP N=50": 15.0,
          "MCLP N=500": 15.0, "LSCP 95%": 120.0, "p-median N=50": 120.0}


def peak_gb() -> float:
    """Peak resident memory of this process so far, GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def cpu_s() -> float:
    """CPU seconds of this process and its finished children (user + system)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def load() -> str:
    """The 1-minute load average and the number of cores."""
    return f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def line(label: str, seconds: float, sol: siting.Solution | None = None, extra: str = "",
         cpu: float | None = None, key: str | None = None) -> None:
    s = f"{label:<46} {seconds:8.2f} s wall"
    if cpu is not None:
        s += f" {cpu:7.2f} s cpu"
    if key is not None:
        s += (f"  [goal < {GOAL_S[key]:g} s: {'met' if seconds < GOAL_S[key] else 'NOT met'};"
              f" earlier {EARLIER_S[key]:g} s, ratio {seconds / EARLIER_S[key]:.2f}]")
    if sol is not None:
        s += (f"  obj {sol.objective:,.1f}  bound {sol.bound:,.1f}  gap {sol.gap:.4%}  "
              f"{sol.status}/{sol.method}  sites {len(sol.sites)}")
    print(s + ("  " + extra if extra else ""), flush=True)


def _muni(folder: Path):
    """Network and populated 100 m cells of the synthetic municipality (read only)."""
    import tomllib

    import rasterio
    from pyproj import CRS

    area = tomllib.loads((folder / "area.toml").read_text(encoding="utf-8"))
    crs = CRS.from_user_input(area["metric_crs"])
    net = load_network(folder / area["network"]["path"], "walk", crs=crs)
    pop_path = next(folder / p["paths"][0] for p in area["population"]
                    if p.get("group", "total") == "total")
    with rasterio.open(pop_path) as src:
        if CRS.from_user_input(src.crs) != crs:
            raise SystemExit(f"{pop_path}: raster CRS {src.crs} is not {crs}")
        band = src.read(1, masked=True).filled(0).astype(float)
        rows, cols = np.nonzero(band > 0)
        xs, ys = rasterio.transform.xy(src.transform, rows, cols, offset="center")
    return net, np.asarray(xs, float), np.asarray(ys, float), band[rows, cols]


def _grid(args: argparse.Namespace, rng: np.random.Generator):
    """The perturbed street grid of synthetic_city.py with lognormal residents."""
    pbf = args.cache / f"city_{args.side}.osm.pbf"
    if not pbf.exists():
        t = time.perf_counter()
        info = write_city(pbf, args.side, seed=0)
        line(f"write synthetic city ({info['nodes']:,} nodes)", time.perf_counter() - t)
    crs = utm_crs_for_lonlat(113.4 + 0.3, 34.55 + 0.3)
    net = load_network(pbf, "walk", crs=crs)
    x0, y0 = net.x.min(), net.y.min()
    n = int((args.side - 1) * SPACING_M // 100)
    gx, gy = np.meshgrid(x0 + 50 + 100 * np.arange(n), y0 + 50 + 100 * np.arange(n))
    cx, cy = gx.ravel(), gy.ravel()
    return net, cx, cy, rng.lognormal(2.0, 1.0, len(cx))


def timed(fn, *a, **k):
    """Run ``fn``: its result, wall seconds and CPU seconds."""
    t, c = time.perf_counter(), cpu_s()
    out = fn(*a, **k)
    wall, cpu = time.perf_counter() - t, cpu_s() - c
    return out, wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--muni", type=Path, default=Path("/work/bench-data/muni"),
                    help="folder of the synthetic municipality (read only)")
    ap.add_argument("--side", type=int, default=None,
                    help="use a synthetic grid city of side² nodes instead (1000 = 1M)")
    ap.add_argument("--candidates", type=int, default=5000)
    ap.add_argument("--existing", type=int, default=2000)
    ap.add_argument("--no-spopt", action="store_true")
    ap.add_argument("--spopt-sizes", default="20000x1000",
                    help="larger dense spopt instances, demand x candidates, comma-separated")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/lifecircle_bench"))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"start: {load()}", flush=True)

    t = time.perf_counter()
    net, cx, cy, pop = _grid(args, rng) if args.side else _muni(args.muni)
    line(f"load network ({net.n_nodes:,} nodes) and {len(cx):,} populated cells",
         time.perf_counter() - t)
    t = time.perf_counter()
    c_node, c_leg = snap(net, cx, cy, max_dist_m=500)
    line(f"snap {len(cx):,} cells", time.perf_counter() - t)

    ex_node = rng.choice(net.n_nodes, args.existing, replace=False)
    t = time.perf_counter()
    near = nearest_facilities(net, c_node, c_leg, ex_node, np.zeros(args.existing),
                              np.array(["k"] * args.existing, dtype=object),
                              max_cost=3000.0)
    base = near.cost[0]
    covered = base <= REACH_M
    line("existing coverage (one multi-source search)", time.perf_counter() - t,
         extra=f"covered {pop[covered].sum() / pop.sum():.1%} of residents")

    cand_node = rng.choice(net.n_nodes, args.candidates, replace=False)
    t_build, c_build = time.perf_counter(), cpu_s()
    fi, ci, d = catchment_pairs(net, cand_node, np.zeros(len(cand_node)), c_node, c_leg,
                                max_dist_m=REACH_M)
    a = siting.coverage_matrix(ci, fi, len(cx), len(cand_node))
    build_s, build_cpu = time.perf_counter() - t_build, cpu_s() - c_build
    w = np.where(covered, 0.0, pop)
    line(f"coverage structure ({len(fi):,} pairs)", build_s, cpu=build_cpu)
    live = (np.diff(a.indptr) > 0) & (w > 0)
    agg = siting.aggregate_rows(a[np.flatnonzero(live)], w[live])[0]
    print(f"  demand rows uncovered & coverable: {int(live.sum()):,}"
          f"  distinct coverage sets: {agg.shape[0]:,}", flush=True)
    print("  (times below include building the coverage structure; "
          f"{load()})", flush=True)

    for n_sites in (50, 500):
        g, wall, cpu = timed(siting.greedy_mclp, a, w, n_sites)
        line(f"greedy MCLP N={n_sites}", wall + build_s, g, cpu=cpu + build_cpu,
             key=f"greedy MCLP N={n_sites}")
        sol, wall, cpu = timed(siting.mclp, a, w, n_sites, time_limit_s=60,
                               mip_rel_gap=1e-3)
        line(f"MCLP N={n_sites}", wall + build_s, sol, cpu=cpu + build_cpu,
             key=f"MCLP N={n_sites}",
             extra=f"groups {sol.stats.get('demand_groups', 0):,.0f} "
                   f"cands {sol.stats.get('candidates_kept', 0):,.0f}")
        print(f"    {load()}", flush=True)

    reach = float(w[np.diff(a.indptr) > 0].sum())
    sol, wall, cpu = timed(siting.lscp, a, w, 0.95 * reach, time_limit_s=120,
                           mip_rel_gap=1e-2)
    line("LSCP 95% of coverable", wall + build_s, sol, cpu=cpu + build_cpu, key="LSCP 95%")
    print(f"    {load()}", flush=True)

    pm, wall, cpu = timed(siting.p_median, ci, fi, d, pop, base, 50,
                          n_candidates=len(cand_node), unreached_dist=REACH_M,
                          time_limit_s=120, mip_rel_gap=1e-2)
    line("p-median N=50, trips capped at 1000 m", wall + build_s, pm, cpu=cpu + build_cpu,
         key="p-median N=50",
         extra=("" if "formulation_radius" not in pm.stats else
                f"formulation {'radius' if pm.stats['formulation_radius'] else 'assign'}"))
    print(f"    {load()}", flush=True)
    print(f"peak memory {peak_gb():.2f} GB", flush=True)

    if args.no_spopt:
        return
    # dense instances spopt builds (its cost matrix is dense): the earlier 5,000 x 300,
    # and larger ones up to --spopt-max
    import pulp
    from spopt.locate import MCLP

    sizes = [(5_000, 300)] + [tuple(int(v) for v in x.split("x"))
                              for x in args.spopt_sizes.split(",") if x]
    for n_dem, n_cand in sizes:
        sub_d = rng.choice(np.flatnonzero(w > 0), min(n_dem, int((w > 0).sum())),
                           replace=False)
        sub_c = np.arange(min(n_cand, len(cand_node)))
        dense = np.full((len(sub_d), len(sub_c)), 1e9)
        a_sub = a[sub_d][:, sub_c].tocoo()
        dense[a_sub.row, a_sub.col] = 0.0
        label = f"{len(sub_d):,} x {len(sub_c):,}"
        ours, ours_s, ours_cpu = timed(siting.mclp, a[sub_d][:, sub_c], w[sub_d], 20,
                                       mip_rel_gap=0.0)
        line(f"ours MCLP N=20 on {label} (dense)", ours_s, ours, cpu=ours_cpu)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t, c = time.perf_counter(), cpu_s()
            model = MCLP.from_cost_matrix(dense, w[sub_d], 1.0, p_facilities=20)
            model.solve(pulp.PULP_CBC_CMD(msg=False))
            sp_s, sp_cpu = time.perf_counter() - t, cpu_s() - c
        sp_obj = float(pulp.value(model.problem.objective))
        earlier = " (earlier 35.3 s vs 0.03 s)" if (n_dem, n_cand) == (5_000, 300) else ""
        line(f"spopt MCLP N=20 on {label} (PuLP + CBC)", sp_s, cpu=sp_cpu,
             extra=f"obj {sp_obj:,.1f}  same objective: "
                   f"{abs(sp_obj - ours.objective) <= 1e-6 * max(1.0, sp_obj)}  "
                   f"spopt/ours {sp_s / max(ours_s, 1e-9):.0f}x{earlier}")
        del dense
        print(f"    peak memory {peak_gb():.2f} GB; {load()}", flush=True)

if __name__ == "__main__":
    main()
