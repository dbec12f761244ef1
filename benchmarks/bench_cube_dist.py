"""Distributed cube build against the threaded build of the same input, same machine, same run.

Input: the synthetic ERA5-layout sample at 0.1 degrees of ``bench_cube`` (31 x 41 cells), three
years (1.07 GB of uncompressed float32 fields). Each build runs in its own process:

* threaded: ``build_cube(files, out)`` (a thread per core);
* distributed: a ``dask.distributed.LocalCluster`` of ``--workers`` single-thread worker
  processes started in that process (each imports the package, as a long-running cluster's
  workers have), then ``build_cube(files, out, scheduler=address)``; the time of the build
  alone is compared (the cluster's start-up is printed apart). ``--profiler off`` turns off
  dask's statistical profiler in the workers (it samples every thread's stack 100 times a
  second).

Both cubes must be identical (every variable compared); the ratio distributed / threaded is
the figure (goal: within 1.3x). ``--rounds`` interleaves the two several times and reports
medians, because the machine is shared; the CPU seconds of every process involved (client,
scheduler, workers) are printed too, a figure that depends less on the machine's other load.

Usage: python -m benchmarks.bench_cube_dist [--workdir DIR] [--years 3] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from benchmarks._util import run_measured
from benchmarks.bench_cube import FINE, uncompressed_mb
from climate_data.sample import write_sample

THREADED = """
import resource
from climate_data.cube import build_cube
r0 = resource.getrusage(resource.RUSAGE_SELF)
build_cube(FILES, OUT, progress=False)
r1 = resource.getrusage(resource.RUSAGE_SELF)
result["cpu"] = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
"""

DISTRIBUTED = """
import resource, time
import dask
from distributed import Client, LocalCluster
from climate_data.cube import build_cube

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

def warm():
    import climate_data.cube, pvlib  # what a worker imports for its first task
    return 0

t0 = time.perf_counter()
with dask.config.set({"distributed.worker.profile.enabled": PROFILE}), LocalCluster(
    n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None
) as cluster, Client(cluster) as client:
    client.run(warm)
    result["startup"] = time.perf_counter() - t0
    before = sum(client.run(cpu).values()) + client.run_on_scheduler(cpu) + cpu()
    t1 = time.perf_counter()
    build_cube(FILES, OUT, progress=False, scheduler=cluster.scheduler_address)
    result["build"] = time.perf_counter() - t1
    after = sum(client.run(cpu).values()) + client.run_on_scheduler(cpu) + cpu()
    result["cpu"] = after - before
"""

COMPARE = """
import numpy as np, xarray as xr
with xr.open_dataset(A) as a, xr.open_dataset(B) as b:
    result["equal"] = float(all(np.array_equal(a[n].values, b[n].values, equal_nan=True)
                                for n in b.data_vars) and set(a.data_vars) == set(b.data_vars))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--profiler",
        choices=("on", "off"),
        default="on",
        help="dask's statistical profiler in the workers (on by default in dask)",
    )
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_cube_dist_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        files = sorted(work.glob("era5_sample_*.nc")) or write_sample(work, FINE)
        chosen = [str(p) for p in files[: args.years]]
        mb = uncompressed_mb(FINE, args.years)
        print(
            f"input {mb / 1000:.2f} GB uncompressed ({len(chosen)} yearly files), "
            f"{args.workers} single-thread workers (dask profiler {args.profiler}), "
            f"{args.rounds} round(s)"
        )
        local_out, dist_out = str(work / "local.nc"), str(work / "dist.nc")
        local, dist, startup, rss_l, rss_d, cpu_l, cpu_d = [], [], [], [], [], [], []
        for _ in range(args.rounds):
            r = run_measured(
                THREADED.replace("FILES", repr(chosen)).replace("OUT", repr(local_out))
            )
            local.append(r["seconds"])
            rss_l.append(r["peak_rss_mb"])
            cpu_l.append(r["cpu"])
            code = (
                DISTRIBUTED.replace("FILES", repr(chosen))
                .replace("OUT", repr(dist_out))
                .replace("WORKERS", str(args.workers))
                .replace("PROFILE", str(args.profiler == "on"))
            )
            d = run_measured(code)
            dist.append(d["build"])
            startup.append(d["startup"])
            rss_d.append(d["peak_rss_mb"])
            cpu_d.append(d["cpu"])
            print(
                f"  threaded {r['seconds']:6.1f} s ({r['cpu']:.1f} s CPU)   distributed "
                f"{d['build']:6.1f} s ({d['cpu']:.1f} s CPU, +{d['startup']:.1f} s cluster "
                f"start)   ratio {d['build'] / r['seconds']:.2f} (CPU {d['cpu'] / r['cpu']:.2f})"
            )
        same = run_measured(COMPARE.replace("A", repr(local_out)).replace("B", repr(dist_out)))
        tl, td = statistics.median(local), statistics.median(dist)
        print(
            f"median threaded {tl:.1f} s ({mb / tl:.0f} MB/s), distributed {td:.1f} s "
            f"({mb / td:.0f} MB/s): ratio {td / tl:.2f} (goal <= 1.3); cluster start "
            f"{statistics.median(startup):.1f} s"
        )
        cl, cd = statistics.median(cpu_l), statistics.median(cpu_d)
        print(
            f"CPU seconds (client, scheduler and workers): threaded {cl:.1f}, distributed "
            f"{cd:.1f}: ratio {cd / cl:.2f}; load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores (wall times on a shared machine vary with its load)"
        )
        print(
            f"peak RSS of the client process: threaded {max(rss_l):.0f} MB, "
            f"distributed {max(rss_d):.0f} MB (workers not included)"
        )
        print(f"cubes identical: {'yes' if same['equal'] else 'NO'}")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
