"""Benchmark: site selection at city scale (run by hand; not a test).

::

    python bench/bench_site.py                 # 1M street nodes, 640,000 cells, 5,000 candidates
    python bench/bench_site.py --side 300      # a quick small run
    python bench/bench_site.py --no-spopt      # skip the spopt comparison

A synthetic municipality: the perturbed street grid of ``synthetic_city.py``
(``side``² nodes about 80 m apart, written as a real PBF and loaded through the
product's loader), 100 m population cells over it (lognormal residents, seeded),
existing facilities and candidates at random street nodes. Coverage is a 15-minute
walk (1000 m at 4 km/h). Every time includes building the coverage structure from
network distances (one bounded search per candidate). Goals (2 cores): MCLP N=50
and N=500 within 0.1 % in < 15 s; LSCP to 95 % of coverable residents within 1 %
in < 120 s; p-median N=50 within 1 % in < 120 s; greedy < 5 s. spopt (PuLP + CBC)
is run on the largest dense instance it holds, beside ours on the same instance.
"""

from __future__ import annotations

import argparse
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


def peak_gb() -> float:
    """Peak resident memory of this process so far, GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def line(label: str, seconds: float, sol: siting.Solution | None = None, extra: str = "") -> None:
    s = f"{label:<46} {seconds:8.2f} s"
    if sol is not None:
        s += (f"  obj {sol.objective:,.1f}  bound {sol.bound:,.1f}  gap {sol.gap:.4%}  "
              f"{sol.status}/{sol.method}  sites {len(sol.sites)}")
    print(s + ("  " + extra if extra else ""), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=1000, help="nodes per grid side (1000 = 1M)")
    ap.add_argument("--candidates", type=int, default=5000)
    ap.add_argument("--existing", type=int, default=2000)
    ap.add_argument("--no-spopt", action="store_true")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/lifecircle_bench"))
    args = ap.parse_args()
    rng = np.random.default_rng(0)

    pbf = args.cache / f"city_{args.side}.osm.pbf"
    if not pbf.exists():
        t = time.perf_counter()
        info = write_city(pbf, args.side, seed=0)
        line(f"write synthetic city ({info['nodes']:,} nodes)", time.perf_counter() - t)
    crs = utm_crs_for_lonlat(113.4 + 0.3, 34.55 + 0.3)
    t = time.perf_counter()
    net = load_network(pbf, "walk", crs=crs)
    line(f"load network ({net.n_nodes:,} nodes)", time.perf_counter() - t)

    # 100 m cells over the city, all populated
    x0, y0 = net.x.min(), net.y.min()
    ext = (args.side - 1) * SPACING_M
    n = int(ext // 100)
    gx, gy = np.meshgrid(x0 + 50 + 100 * np.arange(n), y0 + 50 + 100 * np.arange(n))
    cx, cy = gx.ravel(), gy.ravel()
    pop = rng.lognormal(2.0, 1.0, len(cx))
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
    t_build = time.perf_counter()
    fi, ci, d = catchment_pairs(net, cand_node, np.zeros(len(cand_node)), c_node, c_leg,
                                max_dist_m=REACH_M)
    a = siting.coverage_matrix(ci, fi, len(cx), len(cand_node))
    build_s = time.perf_counter() - t_build
    w = np.where(covered, 0.0, pop)
    line(f"coverage structure ({len(fi):,} pairs)", build_s)
    live = (np.diff(a.indptr) > 0) & (w > 0)
    agg = siting.aggregate_rows(a[np.flatnonzero(live)], w[live])[0]
    print(f"  demand rows uncovered & coverable: {int(live.sum()):,}"
          f"  distinct coverage sets: {agg.shape[0]:,}", flush=True)

    for n_sites in (50, 500):
        t = time.perf_counter()
        g = siting.greedy_mclp(a, w, n_sites)
        line(f"greedy MCLP N={n_sites} (+build {build_s:.1f} s)",
             time.perf_counter() - t + build_s, g)
        t = time.perf_counter()
        sol = siting.mclp(a, w, n_sites, time_limit_s=60, mip_rel_gap=1e-3)
        line(f"MCLP N={n_sites} (+build)", time.perf_counter() - t + build_s, sol,
             extra=f"groups {sol.stats.get('demand_groups', 0):,.0f} "
                   f"cands {sol.stats.get('candidates_kept', 0):,.0f}")

    reach = float(w[np.diff(a.indptr) > 0].sum())
    t = time.perf_counter()
    sol = siting.lscp(a, w, 0.95 * reach, time_limit_s=120, mip_rel_gap=1e-2)
    line("LSCP 95% of coverable (+build)", time.perf_counter() - t + build_s, sol)

    t = time.perf_counter()
    pm = siting.p_median(ci, fi, d, pop, base, 50, n_candidates=len(cand_node),
                         unreached_dist=REACH_M, time_limit_s=120, mip_rel_gap=1e-2)
    line("p-median N=50, trips capped at 1000 m (+build)", time.perf_counter() - t + build_s,
         pm, extra=f"formulation {'radius' if pm.stats.get('formulation_radius') else 'assign'}")
    print(f"peak memory {peak_gb():.2f} GB", flush=True)

    if args.no_spopt:
        return
    # a dense instance spopt builds in reasonable time: 5,000 demand x 300 candidates
    import pulp
    from spopt.locate import MCLP

    sub_d = rng.choice(np.flatnonzero(w > 0), min(5_000, int((w > 0).sum())), replace=False)
    sub_c = np.arange(min(300, len(cand_node)))
    dense = np.full((len(sub_d), len(sub_c)), 1e9)
    a_sub = a[sub_d][:, sub_c].tocoo()
    dense[a_sub.row, a_sub.col] = 0.0
    t = time.perf_counter()
    ours = siting.mclp(a[sub_d][:, sub_c], w[sub_d], 20, mip_rel_gap=0.0)
    ours_s = time.perf_counter() - t
    line("ours MCLP N=20 on 5,000 x 300 (dense-size instance)", ours_s, ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        model = MCLP.from_cost_matrix(dense, w[sub_d], 1.0, p_facilities=20)
        model.solve(pulp.PULP_CBC_CMD(msg=False))
        sp_s = time.perf_counter() - t
    sp_obj = float(pulp.value(model.problem.objective))
    line("spopt MCLP N=20 on the same (PuLP + CBC)", sp_s,
         extra=f"obj {sp_obj:,.1f}  same objective: {abs(sp_obj - ours.objective) < 1e-6}  "
               f"spopt/ours {sp_s / max(ours_s, 1e-9):.1f}x")
    print(f"peak memory {peak_gb():.2f} GB", flush=True)


if __name__ == "__main__":
    main()
