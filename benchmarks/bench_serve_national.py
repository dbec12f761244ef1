"""Serving a national-size cube: ``climate-loan serve`` with 4 workers on a version-2 store.

Steps:

1. *Generate* (once; ``--workdir`` keeps it) a national-size store at the version-2 layout,
   145 x 249 cells x 30 years (ERA5 0.25 degrees over China), with the generator of
   ``bench_cube_v2`` (synthetic monthly sums, figures derived by the build's own code; no
   hourly input).
2. *Cube.site* in its own process: cold (first read of a tile) and warm (tile cached) median
   and p99 over random sites; baseline: a version-1 cube in memory, same process.
3. *Serve*: ``climate-loan serve --workers 4`` (real gunicorn, loopback, SQLite audit
   database). Start-up: seconds from launching the command until the health endpoint answers
   and until each of the 4 workers has answered a request. A *separate load process* then
   sends, at concurrency 8, site-climate requests and full wind assessments at random sites of
   the grid (so most requests read a tile the worker has not decoded yet, then fewer as the
   caches fill), each after a warm-up of the same length. Reported: p50/p99 latency, requests
   a second, errors, the CPU the workers and the load process spent per request, and each
   worker's RSS (and PSS, which counts shared pages once) after the load and its peak (VmHWM).

``--mc-paths N`` serves with N Monte Carlo paths per assessment instead of the model's 10,000
(what the PD's precision costs in latency); ``--serve-only`` skips step 2.

Goals (issue 13): worker RSS < 400 MB, start-up < 5 s, site-climate p99 < 20 ms and assessment
p50 < 30 ms at concurrency 8. Prints, does not assert. Not part of ``make test``.

Usage: python -m benchmarks.bench_serve_national [--workdir DIR] [--requests N]
    [--lat 145 --lon 249 --years 30] [--workers 4] [--concurrency 8] [--mc-paths N]
    [--serve-only]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_api import WIND_REQUEST, free_port, one
from benchmarks.bench_cube_v2 import bench_sites, generate_national

GOALS = {"rss_mb": 400.0, "start_s": 5.0, "site_p99_ms": 20.0, "assess_p50_ms": 30.0}


def run_load(
    port: int,
    key: str,
    kind: str,
    n: int,
    concurrency: int,
    seed: int,
    box: tuple[float, float, float, float],
) -> dict[str, Any]:
    """Send ``n`` requests of one kind at random sites of ``box`` (S, N, W, E), ``concurrency``
    at a time."""
    rng = np.random.default_rng(seed)
    lats = rng.uniform(box[0], box[1], n)
    lons = rng.uniform(box[2], box[3], n)
    headers = {"X-API-Key": key}
    jobs: list[tuple[str, str, bytes | None]] = []
    for la, lo in zip(lats, lons, strict=True):
        if kind == "site":
            path = f"/api/v1/sites/climate?lat={la:.3f}&lon={lo:.3f}&hub_height_m=100"
            jobs.append(("GET", path, None))
        else:
            body = json.loads(json.dumps(WIND_REQUEST))
            body["site"] = {"lat": round(float(la), 3), "lon": round(float(lo), 3), "name": "b"}
            jobs.append(("POST", "/api/v1/assessments", json.dumps(body).encode()))
    hdrs = dict(headers, **({"Content-Type": "application/json"} if kind != "site" else {}))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    it = iter(jobs)

    def worker() -> None:
        while True:
            with lock:
                job = next(it, None)
            if job is None:
                return
            dt, status = one(port, job[0], job[1], job[2], hdrs)
            with lock:
                latencies.append(dt * 1000)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = np.asarray(latencies)
    errors = sum(c for s, c in statuses.items() if not 200 <= s < 300)
    return {
        "n": len(lat),
        "rps": len(lat) / wall,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "errors": errors,
        "statuses": {str(k): v for k, v in statuses.items()},
    }


def _load_main(argv: list[str]) -> None:
    """Entry of the separate load process: print one JSON line of results."""
    port, key, kind, n, concurrency = int(argv[0]), argv[1], argv[2], int(argv[3]), int(argv[4])
    s, n_, w, e = (float(x) for x in argv[5].split(","))
    box = (s, n_, w, e)
    warm = run_load(port, key, kind, n, concurrency, seed=11, box=box)  # tiles, connections
    measured = run_load(port, key, kind, n, concurrency, seed=12, box=box)
    print("LOAD " + json.dumps({"warmup": warm, "measured": measured}))


def _proc_kb(pid: int, field: str, name: str = "status") -> float:
    text = Path(f"/proc/{pid}/{name}").read_text().splitlines()
    line = next(ln for ln in text if ln.startswith(field))
    return float(line.split()[1])


def _workers(master: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def serve(
    store: Path, work: Path, n_workers: int, concurrency: int, n: int, mc_paths: int | None = None
) -> dict[str, Any]:
    from climate_data.cube import Cube

    cube = Cube.open(store)
    box = ",".join(
        f"{v:.4f}" for v in (cube.lats.min(), cube.lats.max(), cube.lons.min(), cube.lons.max())
    )
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "CLIMATE_LOAN_CUBE": str(store),
            "CLIMATE_LOAN_INSTANCE_PATH": str(work / "instance"),
            "CLIMATE_LOAN_RATE_LIMIT_PER_MINUTE": "0",
            "CLIMATE_LOAN_LOG_LEVEL": "WARNING",
        }
    )
    env.pop("CLIMATE_LOAN_DATABASE_URL", None)
    env.pop("CLIMATE_LOAN_MC_PATHS", None)
    if mc_paths is not None:
        env["CLIMATE_LOAN_MC_PATHS"] = str(mc_paths)
    exe = Path(sys.executable).parent / "climate-loan"
    made = subprocess.run(
        [str(exe), "keys", "create", "--role", "officer", "--name", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip().splitlines()[-1]
    log = (work / "server.log").open("w")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--workers", str(n_workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    out: dict[str, Any] = {}
    try:
        while one(port, "GET", "/api/v1/health", None, {})[1] != 200:
            if proc.poll() is not None or time.perf_counter() - t0 > 300:
                raise RuntimeError(f"server did not start; see {log.name}")
            time.sleep(0.05)
        out["first_answer_s"] = time.perf_counter() - t0
        # every worker up: each builds its app after the fork (no preload_app); a worker is
        # taken as ready once it sits idle (no CPU tick for 0.3 s) with the app in memory
        out["all_workers_s"] = _all_ready(proc.pid, n_workers, t0)
        idle = {pid: _proc_kb(pid, "VmRSS:") / 1024 for pid in _workers(proc.pid)}
        out["idle_rss_mb"] = max(idle.values())
        for kind in ("site", "assessment"):
            ticks0 = sum(_cpu_ticks(p) for p in _workers(proc.pid))
            client0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            load = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.bench_serve_national",
                    "--load",
                    str(port),
                    key,
                    kind,
                    str(n),
                    str(concurrency),
                    box,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            line = next(ln for ln in load.stdout.splitlines() if ln.startswith("LOAD "))
            out[kind] = json.loads(line[5:])
            # CPU the workers spent per request (both passes): a figure the machine's other
            # load does not change, unlike the latencies
            ticks = sum(_cpu_ticks(p) for p in _workers(proc.pid)) - ticks0
            out[kind]["cpu_ms"] = 1000 * ticks / os.sysconf("SC_CLK_TCK") / (2 * n)
            # and the load process's own, which shares the same cores
            client = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = client.ru_utime + client.ru_stime - client0.ru_utime - client0.ru_stime
            out[kind]["client_cpu_ms"] = 1000 * used / (2 * n)
        pids = _workers(proc.pid)
        out["rss_mb"] = [_proc_kb(p, "VmRSS:") / 1024 for p in pids]
        out["hwm_mb"] = [_proc_kb(p, "VmHWM:") / 1024 for p in pids]
        out["pss_mb"] = [_proc_kb(p, "Pss:", "smaps_rollup") / 1024 for p in pids]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    return out


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _all_ready(master: int, n_workers: int, t0: float) -> float:
    """Seconds from ``t0`` until every worker has been idle for 0.3 s with over 80 MB resident.

    While a worker imports the service and opens the cube it uses CPU without pause; idle,
    a sync worker waits for a connection and uses none.
    """
    idle: dict[int, int] = {}
    last: dict[int, int] = {}
    while time.perf_counter() - t0 < 300:
        pids = _workers(master)
        for pid in pids:
            try:
                ticks, rss = _cpu_ticks(pid), _proc_kb(pid, "VmRSS:")
            except (OSError, StopIteration):
                continue
            quiet = last.get(pid) == ticks and rss > 80 * 1024
            idle[pid] = idle.get(pid, 0) + 1 if quiet else 0
            last[pid] = ticks
        if len(pids) >= n_workers and all(idle.get(p, 0) >= 3 for p in pids):
            return time.perf_counter() - t0 - 0.3  # the quiet spell itself does not count
        time.sleep(0.1)
    return float("nan")


def report_sites(work: Path, store: Path, n_sites: int) -> None:
    """Print ``Cube.site`` cold and warm on the store, against a version-1 cube in memory."""
    sites = bench_sites(store, 32, n_sites, n_sites)
    v1 = work / "sample_v1.nc"
    if not v1.exists():
        from climate_data.cube import build_cube
        from climate_data.sample import write_sample

        build_cube(write_sample(work / "sample"), v1, progress=False)
    base = bench_sites(v1, 32, n_sites, 0)
    print(
        f"Cube.site, {n_sites} random sites, cache 32 tiles: cold (tile read and decoded) "
        f"median {sites['cold_median_us'] / 1000:.2f} ms, p99 "
        f"{sites['cold_p99_us'] / 1000:.2f} ms; warm (tile cached) median "
        f"{sites['warm_median_us']:.0f} µs, p99 {sites['warm_p99_us']:.0f} µs; "
        f"cold / warm median {sites['cold_median_us'] / sites['warm_median_us']:.0f}x; "
        f"version 1 in memory (default sample) median {base['warm_median_us']:.0f} µs, "
        f"p99 {base['warm_p99_us']:.0f} µs (warm v2 / v1 "
        f"{sites['warm_median_us'] / base['warm_median_us']:.1f}x); peak RSS "
        f"{sites['peak_rss_mb']:.0f} MB"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        _load_main(sys.argv[2:])
        return
    # here, not at the top: the load process, which runs this module too, need not import it
    from models.assessment import DEFAULT_N_PATHS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="keep the store here")
    parser.add_argument("--lat", type=int, default=145)
    parser.add_argument("--lon", type=int, default=249)
    parser.add_argument("--years", type=int, default=30)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--requests", type=int, default=800, help="per endpoint (and warm-up)")
    parser.add_argument("--sites", type=int, default=2000, help="Cube.site calls")
    parser.add_argument(
        "--mc-paths",
        type=int,
        default=None,
        help="Monte Carlo paths per assessment (the service's CLIMATE_LOAN_MC_PATHS); "
        f"default: the model's {DEFAULT_N_PATHS:,}",
    )
    parser.add_argument("--serve-only", action="store_true", help="skip the Cube.site measurement")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_serve_national_"))
    work.mkdir(parents=True, exist_ok=True)
    store = work / f"national_{args.lat}x{args.lon}x{args.years}.zarr"
    try:
        if not store.exists():
            print(f"generating {args.lat} x {args.lon} cells x {args.years} years in {store} ...")
            t0 = time.perf_counter()
            generate_national(store, args.lat, args.lon, args.years)
            print(f"  {time.perf_counter() - t0:.0f} s")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        if not args.serve_only:
            report_sites(work, store, args.sites)
        r = serve(store, work, args.workers, args.concurrency, args.requests, args.mc_paths)
        paths = args.mc_paths or DEFAULT_N_PATHS
        print(f"Monte Carlo paths per assessment: {paths:,}")
        print(
            f"serve --workers {args.workers}: health answers after {r['first_answer_s']:.1f} s, "
            f"all workers up after {r['all_workers_s']:.1f} s (goal < {GOALS['start_s']:g} s); "
            f"idle worker RSS {r['idle_rss_mb']:.0f} MB"
        )
        for kind, goal in (("site", "site_p99_ms"), ("assessment", "assess_p50_ms")):
            m, w = r[kind]["measured"], r[kind]["warmup"]
            print(
                f"{kind:<10} c={args.concurrency}: p50 {m['p50_ms']:.1f} ms, p99 {m['p99_ms']:.1f} "
                f"ms, {m['rps']:.0f}/s, errors {m['errors']} (warm-up pass: p50 "
                f"{w['p50_ms']:.1f}, p99 {w['p99_ms']:.1f} ms, errors {w['errors']}); workers' "
                f"CPU {r[kind]['cpu_ms']:.1f} ms a request, load process's "
                f"{r[kind]['client_cpu_ms']:.1f} ms; goal {goal} < {GOALS[goal]:g}"
            )
        print(
            "worker RSS after load: "
            + ", ".join(f"{x:.0f}" for x in r["rss_mb"])
            + f" MB (goal < {GOALS['rss_mb']:g}); peak "
            + ", ".join(f"{x:.0f}" for x in r["hwm_mb"])
            + " MB; PSS "
            + ", ".join(f"{x:.0f}" for x in r["pss_mb"])
            + " MB"
        )
        print(
            f"ratios to goal: RSS {max(r['rss_mb']) / GOALS['rss_mb']:.2f}, start-up "
            f"{r['all_workers_s'] / GOALS['start_s']:.2f}, site p99 "
            f"{r['site']['measured']['p99_ms'] / GOALS['site_p99_ms']:.2f}, assessment p50 "
            f"{r['assessment']['measured']['p50_ms'] / GOALS['assess_p50_ms']:.2f}"
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
