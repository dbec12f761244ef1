"""Benchmark of the HTTP API: `climate-loan serve` with 2 sync workers, load from this process.

Builds a synthetic cube, creates an officer key, starts the real server (gunicorn) on a free
loopback port, then measures, for an empty health request, the site-climate endpoint and a full
assessment (stored in the audit database), at concurrency 1, 8 and 32: requests per second,
latency p50/p99 and errors. Ratios are to the health request of the same run and concurrency,
so the figures say how much work each endpoint adds to the bare HTTP + Flask round trip.

Goals (issue 4): site climate p99 < 20 ms; assessment p50 < 30 ms and p99 < 100 ms at
concurrency 8; no errors. This script prints, it does not assert.

Usage::

    python benchmarks/bench_api.py [--requests N] [--database-url URL] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

WIND_REQUEST: dict[str, Any] = {
    "site": {"lat": 44.1, "lon": 87.3, "name": "Changji bench"},
    "project": {
        "technology": "wind",
        "capacity_mw": 49.5,
        "turbine_type": "E-126/4200",
        "hub_height_m": 100,
    },
    "finance": {
        "loan_amount": 5_530_000,
        "currency": "CNY",
        "tenor_years": 10,
        "interest_rate_pct": 4.5,
        "repayment": "annuity",
        "tariff_per_mwh": 300,
        "opex_per_year": 2_000_000,
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_cube(folder: Path) -> Path:
    from climate_data.cube import build_cube as build
    from climate_data.sample import SampleSpec, write_sample

    spec = SampleSpec(
        lats=(44.5, 44.0, 43.5),
        lons=(86.75, 87.25, 87.75),
        years=(2019, 2020, 2021, 2022, 2023, 2024),
    )
    return build(write_sample(folder / "sample", spec), folder / "cube.nc", progress=False)


def one(
    port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[float, int]:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        status = resp.status
    except OSError:
        status = 0
    finally:
        conn.close()
    return time.perf_counter() - t0, status


def load(
    port: int,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
    concurrency: int,
    total: int,
) -> dict[str, float]:
    data = None if body is None else json.dumps(body).encode()
    hdrs = dict(headers)
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    for _ in range(min(concurrency, 4)):  # warm up connections and worker caches
        one(port, method, path, data, hdrs)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    remaining = [total]

    def worker() -> None:
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            dt, status = one(port, method, path, data, hdrs)
            with lock:
                latencies.append(dt)
                if not 200 <= status < 300:
                    errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = np.asarray(latencies) * 1000
    return {
        "rps": len(lat) / wall,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "errors": float(errors[0]),
        "n": float(len(lat)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=400, help="requests per endpoint and concurrency"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--database-url", default=None, help="audit database (SQLite in a temp folder if omitted)"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_api_"))
    t0 = time.perf_counter()
    cube = build_cube(tmp)
    print(f"cube built in {time.perf_counter() - t0:.1f} s: {cube}")
    env = server_env(cube, tmp, args.database_url)
    cli = [sys.executable, "-m", "service.cli"]
    made = subprocess.run(
        [*cli, "keys", "create", "--role", "officer", "--name", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.splitlines()[-1]
    port = free_port()
    log = (tmp / "server.log").open("w")
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        if not wait_for_health(server, port, timeout_s=120):
            print(f"server did not start; see {log.name}")
            return 1
        database = "PostgreSQL" if args.database_url else "SQLite (WAL)"
        print(
            f"\nserver: {args.workers} sync workers on 127.0.0.1:{port}; "
            f"{args.requests} requests per cell; database {database}; "
            f"cores {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}"
        )
        print_goals(measure(port, {"X-API-Key": key}, args.requests))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    return 0


def server_env(cube: Path, tmp: Path, database_url: str | None) -> dict[str, str]:
    """Environment of the server: the cube, an instance folder in ``tmp``, no rate limit."""
    env = {
        **os.environ,
        "CLIMATE_LOAN_CUBE": str(cube),
        "CLIMATE_LOAN_INSTANCE_PATH": str(tmp / "instance"),
        "CLIMATE_LOAN_RATE_LIMIT_PER_MINUTE": "0",
        "CLIMATE_LOAN_LOG_LEVEL": "WARNING",
    }
    if database_url:
        env["CLIMATE_LOAN_DATABASE_URL"] = database_url
    else:
        env.pop("CLIMATE_LOAN_DATABASE_URL", None)
    return env


def wait_for_health(server: subprocess.Popen[Any], port: int, timeout_s: float) -> bool:
    """Wait until the server answers its health check; False if it exits or times out."""
    deadline = time.monotonic() + timeout_s
    while one(port, "GET", "/api/v1/health", None, {})[1] != 200:
        if server.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def measure(
    port: int, headers: dict[str, str], requests: int
) -> dict[tuple[str, int], dict[str, float]]:
    """Load each endpoint at concurrency 1, 8 and 32; print and return the table."""
    endpoints = [
        ("health", "GET", "/api/v1/health", None),
        (
            "site climate",
            "GET",
            "/api/v1/sites/climate?lat=44.1&lon=87.3&hub_height_m=100",
            None,
        ),
        ("assessment", "POST", "/api/v1/assessments", WIND_REQUEST),
    ]
    columns = ("conc", "req/s", "p50 ms", "p99 ms", "errors", "p50/health", "rps/health")
    widths = (5, 9, 9, 9, 8, 12, 12)
    print(f"{'endpoint':<14}" + "".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    results: dict[tuple[str, int], dict[str, float]] = {}
    for concurrency in (1, 8, 32):
        for name, method, path, body in endpoints:
            r = load(port, method, path, body, headers, concurrency, requests)
            results[(name, concurrency)] = r
            h = results[("health", concurrency)]
            print(
                f"{name:<14}{concurrency:>5}{r['rps']:>9.1f}{r['p50_ms']:>9.2f}"
                f"{r['p99_ms']:>9.2f}{int(r['errors']):>8}"
                f"{r['p50_ms'] / h['p50_ms']:>12.2f}{r['rps'] / h['rps']:>12.2f}"
            )
    return results


def print_goals(results: dict[tuple[str, int], dict[str, float]]) -> None:
    """Compare the figures at concurrency 8 with the latency goals."""
    site8, ass8 = results[("site climate", 8)], results[("assessment", 8)]
    errors = sum(r["errors"] for r in results.values())

    def verdict(value: float, goal: float) -> str:
        return "met" if value < goal else "NOT met"

    print("\ngoals at concurrency 8:")
    print(
        f"  site climate p99 {site8['p99_ms']:.1f} ms (goal < 20): {verdict(site8['p99_ms'], 20)}"
    )
    print(f"  assessment p50 {ass8['p50_ms']:.1f} ms (goal < 30): {verdict(ass8['p50_ms'], 30)}")
    print(f"  assessment p99 {ass8['p99_ms']:.1f} ms (goal < 100): {verdict(ass8['p99_ms'], 100)}")
    print(f"  errors {int(errors)} (goal 0): {'met' if errors == 0 else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
