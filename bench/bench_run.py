"""Time the whole ``lifecircle run`` on the synthetic municipality, as a planner meets it.

Runs the command in a subprocess twice: with an empty network cache (first build)
and again with the cache filled. Prints, per run, the wall and CPU seconds, the
stages from ``run.json`` (``timings_s``), the peak memory of the process
(``/usr/bin/time``, or ``getrusage`` of children where it is missing), the size of
the outputs and the load average, beside two earlier sets of figures: the code
before the speed work on this box ("before", main at d06b2f1, cached run at load
0.4-1.3, first build at load 0.5) and the figures the work started from ("issue":
259 s, 2.6 GB, 1.15 GB of outputs; network 28 s, routing 83 s, units 23 s, targets
16 s, writing ~100 s).

Usage::

    python bench/synthetic_municipality.py            # once: bench/_work/municipality
    python bench/bench_run.py [--area FILE] [--keep] [-- extra lifecircle run options]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(__file__).resolve().parent / "_work"
TODAY = {"wall_s": 259.0, "cpu_s": float("nan"), "peak_gb": 2.6, "outputs_mb": 1150.0,
         "network": 28.0, "routing": 83.0, "units": 23.0, "targets": 16.0, "writing": 100.0}
#: main at d06b2f1 on this box, same inputs: network cached / first build.
BEFORE = {"wall_s": 47.9, "cpu_s": 42.9, "peak_gb": 3.22, "outputs_mb": 155.0,
          "network": 1.2, "routing": 24.7, "units": 2.4, "targets": 7.0, "writing": 9.2}
BEFORE_COLD = {"wall_s": 49.0, "cpu_s": 53.3, "peak_gb": 3.18, "outputs_mb": 155.0,
               "network": 21.3, "routing": 8.4, "units": 2.0, "targets": 5.5,
               "writing": 8.8}
GOALS = {"wall_s": 30.0, "peak_gb": 2.0, "outputs_mb": 200.0, "first_network_s": 20.0}


def timed_run(area: Path, out: Path, cache: Path, extra: list[str]) -> dict[str, float]:
    """Run ``lifecircle run`` once; wall time, peak memory, stages, output size."""
    env = dict(os.environ, LIFECIRCLE_CACHE_DIR=str(cache),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-c", "import app; app.cli()", "run", "--area", str(area),
           "--out", str(out), "-q", *extra]
    stats = Path(tempfile.mkstemp(prefix="lc_time_")[1])
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists()
                                     else None)
    if timer:
        cmd = [timer, "-f", "%M %e %U %S", "-o", str(stats), *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc, tree_cpu = _run_sampling_cpu(cmd, env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"lifecircle run failed ({proc.returncode})")
    if timer:
        fields = stats.read_text().split()
        kb, cpu = float(fields[0]), float(fields[2]) + float(fields[3])
        # local Dask workers are forked by a forkserver that outlives the run: their
        # CPU is not in /usr/bin/time's figure, the sampled process tree has it
        cpu = max(cpu, tree_cpu)
    else:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        kb, cpu = float(max(before, ru.ru_maxrss)), ru.ru_utime + ru.ru_stime
    stats.unlink(missing_ok=True)
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    timings = meta["timings_s"]
    out_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    res = {"wall_s": wall, "cpu_s": cpu, "peak_gb": kb / 1024 ** 2, "outputs_mb": out_mb,
           "load": os.getloadavg()[0], **timings}
    res["writing"] = wall - sum(timings.values())  # start-up, writing and summary
    res["files_mb"] = {p.name: round(p.stat().st_size / 1e6, 1) for p in sorted(out.iterdir())
                       if p.is_file()}
    return res


def _run_sampling_cpu(cmd: list[str], env: dict[str, str],
                      ) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``cmd``; also the CPU seconds of its whole process tree (the command, Dask's
    forkserver and the workers it forks), sampled every 50 ms: a process's last 50 ms
    can be missed. 0.0 without psutil."""
    try:
        import psutil
    except ImportError:  # psutil comes with dask.distributed; without it: time's figure
        psutil = None
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        popen = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True, cwd=ROOT)
        seen: dict[int, float] = {}
        while popen.poll() is None:
            if psutil is not None:
                try:
                    top = psutil.Process(popen.pid)
                    procs = [top, *top.children(recursive=True)]
                except psutil.Error:
                    procs = []
                for p in procs:
                    try:
                        t = p.cpu_times()
                        seen[p.pid] = t.user + t.system
                    except psutil.Error:
                        pass
            time.sleep(0.05)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(cmd, popen.returncode, out.read(), err.read())
    return done, sum(seen.values())


def report(label: str, r: dict[str, float], before: dict[str, float]) -> None:
    print(f"\n== {label} (load average {r['load']:.1f} on {os.cpu_count()} cores) ==")
    print(f"{'figure':<14}{'now':>10}{'before':>10}{'issue':>10}{'now/before':>12}")
    for key in ("wall_s", "cpu_s", "peak_gb", "outputs_mb", "network", "routing", "units",
                "targets", "writing"):
        now = float(r.get(key, float("nan")))
        print(f"{key:<14}{now:>10.2f}{before[key]:>10.2f}{TODAY[key]:>10.2f}"
              f"{now / before[key]:>12.2f}")
    others = {k: round(v, 2) for k, v in r.items()
              if k not in TODAY and k != "load" and isinstance(v, float)}
    print("other stages:", others)
    print("files (MB):", r["files_mb"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--area", type=Path, default=WORK / "municipality" / "area.toml")
    p.add_argument("--keep", action="store_true", help="keep the output folders")
    p.add_argument("--cached-only", action="store_true",
                   help="skip the cold run (network cache in bench/_work/cache)")
    p.add_argument("extra", nargs="*", help="options passed to lifecircle run")
    a = p.parse_args(argv)
    if not a.area.exists():
        raise SystemExit(f"{a.area} missing: run bench/synthetic_municipality.py first")
    tmp = Path(tempfile.mkdtemp(prefix="lc_bench_"))
    cache = WORK / "cache" if a.cached_only else tmp / "cache"
    try:
        if not a.cached_only:
            cold = timed_run(a.area, tmp / "out_cold", cache, a.extra)
            report("first run (network built)", cold, BEFORE_COLD)
            print(f"first network build: {cold['network']:.1f} s "
                  f"(goal < {GOALS['first_network_s']:g} s)")
        warm = timed_run(a.area, tmp / "out_warm", cache, a.extra)
        report("network cached", warm, BEFORE)
        print(f"\ngoals (cached): wall < {GOALS['wall_s']:g} s: {warm['wall_s']:.1f}; "
              f"peak < {GOALS['peak_gb']:g} GB: {warm['peak_gb']:.2f}; outputs < "
              f"{GOALS['outputs_mb']:g} MB: {warm['outputs_mb']:.0f}")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        if a.keep:
            print(f"outputs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
