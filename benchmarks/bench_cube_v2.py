"""Cube store version 2 at national scale: size, open, site reads, update against rebuild.

Steps (each measuring step in its own process, so that its peak RSS is its own):

1. *Generate* a national-size store: ERA5 0.25 degrees over China (18-54 N, 73-135 E),
   145 x 249 cells x 30 years, written band by band at the version-2 layout with the build's
   own derivation (:func:`climate_data.cube.derive_figures`) from synthetic monthly sums
   (Weibull wind hours per bin with a random dither, density, shear, radiation). Not a build
   from hourly data: that would need about 9 TB of input.
2. *Size*: bytes per cell-year on disk (sum of the chunk and metadata files; the same store
   zipped as ``.zarr.zip``), files.
3. *Open*: ``Cube.open`` time and the process's RSS after it (against a process that only
   imports the package).
4. *Site*: ``Cube.site`` cold (first read of a tile; the files are in the OS page cache, so
   this is decode time, not disk time) and warm (tile cached), median and p99 over random
   sites; baseline: ``Cube.site`` on the version-1 cube of the default sample, in memory,
   measured in the same run (and its version-2 migration, for a like-for-like figure).
5. *Update*: ``cube update`` of one month onto a store of the default sample (63 cells,
   6 years, one file per month) against a full rebuild of the same 72 months; goal < 5 %.
6. *Serve* (``--serve``): RSS of one gunicorn worker serving the national store after 500
   site requests (goal < 400 MB), and the time until the worker answers.

Usage: python -m benchmarks.bench_cube_v2 [--workdir DIR] [--serve] [--lat N --lon N --years N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._util import run_measured

NATIONAL = {"lat": (18.0, 54.0), "lon": (73.0, 135.0), "step": 0.25, "first_year": 1995}


def generate_national(out: Path, n_lat: int, n_lon: int, n_years: int, seed: int = 1) -> None:
    """Write a synthetic national store at the version-2 layout (see the module docstring)."""
    from climate_data import wind
    from climate_data.cube import _Context, derive_figures
    from climate_data.store import (
        DEFAULT_TILE_CELLS,
        _bands,
        _coverage_counts,
        _publish,
        _store_attrs,
        _StoreWriter,
    )

    rng = np.random.default_rng(seed)
    step = NATIONAL["step"]
    lats = NATIONAL["lat"][0] + step * np.arange(n_lat)
    lons = NATIONAL["lon"][0] + step * np.arange(n_lon)
    first = int(NATIONAL["first_year"])
    months = list(pd.date_range(f"{first}-01-01", f"{first + n_years - 1}-12-01", freq="MS"))
    hours = (pd.DatetimeIndex(months).days_in_month * 24).to_numpy(dtype=float)
    edges = np.asarray(wind.DEFAULT_BIN_EDGES_MS, dtype=float)
    ctx = _Context(reference_height_m=100.0, heights=(10.0, 100.0), edges=edges)
    work = out.parent / f".{out.name}.gen"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tile = DEFAULT_TILE_CELLS
    writer = _StoreWriter(
        work / "store.zarr",
        tile_cells=tile,
        lats=lats,
        lons=lons,
        months=months,
        edges=edges,
        fresh=True,
    )
    nm = len(months)
    season = 1.0 + 0.15 * np.cos(2 * np.pi * (np.arange(nm) % 12 - 3) / 12)
    digests, complete, total = [], 0, 0
    for band in _bands(n_lat, tile):
        ny = band.stop - band.start
        scale = 5.0 + 4.0 * rng.random((ny, n_lon))  # Weibull c [m/s] per cell
        year_factor = 1.0 + 0.04 * rng.standard_normal((nm // 12 + 1, ny, n_lon))
        c = scale[None] * season[:, None, None] * np.repeat(year_factor, 12, axis=0)[:nm]
        k = 2.0
        cdf = 1.0 - np.exp(-((edges[None, None, None, :] / c[..., None]) ** k))
        expected = np.diff(cdf, axis=-1) * hours[:, None, None, None]
        hist = np.floor(expected + rng.random(expected.shape))  # whole hours, unbiased
        n = hist.sum(axis=-1)
        centres = 0.5 * (edges[:-1] + edges[1:])
        ws_sum = (hist * centres).sum(axis=-1)
        lo_sum = ws_sum / (10.0 ** (0.12 + 0.04 * rng.random((ny, n_lon))))[None]
        rho_n = n.copy()
        rho_sum = rho_n * (1.2 + 0.05 * rng.standard_normal((nm, ny, n_lon)))
        sun = hours[:, None, None] * 0.4 * (1 + 0.1 * rng.standard_normal((nm, ny, n_lon)))
        ghi = sun * 0.55 * (1 + 0.05 * rng.standard_normal((nm, ny, n_lon)))
        acc = {
            "n_hours": n,
            "ws_sum": ws_sum,
            "hist": hist,
            "ws_lo_sum": lo_sum,
            "ws_hi_sum": ws_sum.copy(),
            "rho_sum": rho_sum,
            "rho_n": rho_n,
            "sun_sum": sun,
            "ghi_sum": ghi,
            "pv_sum": ghi * 0.82,
            "flux_n": np.broadcast_to(hours[:, None, None], n.shape).copy(),
        }
        figures = derive_figures(acc, months, ctx, lats[band], lons)
        digests += writer.write_band(band.start, figures, acc)
        cc, nn = _coverage_counts(figures)
        complete, total = complete + cc, total + nn
    base = {
        "Conventions": "CF-1.8",
        "title": "Climate Loan Risk indicator cube (SYNTHETIC data, benchmark)",
        "reference_height_m": 100.0,
        "wind_heights_m": "[10.0, 100.0]",
        "shear_source": "data",
        "source_format": "benchmark generator",
        "source_files": "[]",
        "code_version": "benchmark",
        "created_at": pd.Timestamp.now("UTC").isoformat(),
        "synthetic": "true",
        "time_start": f"{first}-01-01",
        "time_end": f"{first + n_years - 1}-12-31",
    }
    writer.finish(
        _store_attrs(
            base,
            writer=writer,
            band_digests=digests,
            complete=complete,
            total=total,
            time_last=f"{first + n_years - 1}-12-31T23:00:00",
            has_sums=True,
        )
    )
    _publish(writer.root, out)
    shutil.rmtree(work, ignore_errors=True)


def store_bytes(path: Path) -> tuple[int, int]:
    """Sum of file sizes and number of files below ``path`` (or of the one file)."""
    if path.is_file():
        return path.stat().st_size, 1
    sizes = [p.stat().st_size for p in path.rglob("*") if p.is_file()]
    return sum(sizes), len(sizes)


IMPORT_ONLY = """
from climate_data.cube import Cube
import climate_data.store, zarr
"""

OPEN = """
from climate_data.cube import Cube
import climate_data.store, zarr
import time
t0 = time.perf_counter()
cube = Cube.open(PATH)
result["open_s"] = time.perf_counter() - t0
"""

SITES = """
import time, numpy as np
from climate_data.cube import Cube
cube = Cube.open(__PATH__, tile_cache=__CACHE__)
rng = np.random.default_rng(2)
n = __N__
lats = rng.uniform(cube.lats.min(), cube.lats.max(), n)
lons = rng.uniform(cube.lons.min(), cube.lons.max(), n)
tiles = getattr(cube, "_tiles", None)
t = getattr(cube, "tile_cells", 1)
cold, warm = [], []
for la, lo in zip(lats, lons):
    i, j, _ = cube.nearest(float(la), float(lo))
    hit = tiles is None or (i // t, j // t) in tiles
    s0 = time.perf_counter_ns()
    cube.site(float(la), float(lo))
    (warm if hit else cold).append((time.perf_counter_ns() - s0) / 1000)
# warm: sites in the tiles the cache holds now (every query a cache hit)
if tiles is not None:
    held = list(tiles)
    picks = rng.integers(0, len(held), __WARM__)
    for k in picks:
        ti, tj = held[k]
        i = min(ti * t + int(rng.integers(0, t)), cube.lats.size - 1)
        j = min(tj * t + int(rng.integers(0, t)), cube.lons.size - 1)
        la, lo = float(cube.lats[i]), float(cube.lons[j])
        s0 = time.perf_counter_ns()
        cube.site(la, lo)
        warm.append((time.perf_counter_ns() - s0) / 1000)
for name, a in (("cold", cold), ("warm", warm)):
    if a:
        result[name + "_median_us"] = float(np.median(a))
        result[name + "_p99_us"] = float(np.percentile(a, 99))
        result[name + "_n"] = len(a)
"""


def bench_sites(path: Path, cache: int, n: int, warm: int) -> dict[str, float]:
    code = SITES.replace("__PATH__", repr(str(path))).replace("__CACHE__", str(cache))
    return run_measured(code.replace("__WARM__", str(warm)).replace("__N__", str(n)))


def split_monthly(paths: list[Path], folder: Path) -> list[Path]:
    import xarray as xr

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for path in paths:
        with xr.open_dataset(path) as ds:
            ds.load()
        months = ds["valid_time"].values.astype("datetime64[M]")
        for m in np.unique(months):
            target = folder / f"era5_{str(m).replace('-', '')}.nc"
            if not target.exists():
                ds.isel(valid_time=np.flatnonzero(months == m)).to_netcdf(target)
            out.append(target)
    return out


# Timed without the interpreter's imports (about 2 s here), which would swamp the update: both
# steps first import what the package imports lazily - zarr, the NetCDF backend and xarray's
# array-type checks (by opening one input file), and dask.distributed, which xarray imports on
# the first read of a dask array to ask which scheduler runs it (0.17 s of CPU, a third of an
# update) - outside the timed part. CPU seconds are reported besides wall time (the machine is
# shared; the update runs one task, the rebuild two at a time).
WARM = """
import resource, time
import dask.distributed
import zarr
from climate_data.readers import open_weather
open_weather(FILES[:1]).close()

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
"""

BUILD = (
    WARM
    + """
from climate_data.cube import build_cube
s0, c0 = time.perf_counter(), cpu()
build_cube(FILES, OUT, progress=False)
result["work_s"] = time.perf_counter() - s0
result["cpu_s"] = cpu() - c0
"""
)

UPDATE = (
    WARM
    + """
from climate_data.store import update_store
s0, c0 = time.perf_counter(), cpu()
update_store(OUT, FILES)
result["work_s"] = time.perf_counter() - s0
result["cpu_s"] = cpu() - c0
"""
)


def serve_rss(store: Path, work: Path, requests: int) -> dict[str, float]:
    """Start ``climate-loan serve --workers 1`` on the store and measure its worker."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ)
    env.update(
        {
            "CLIMATE_LOAN_CUBE": str(store),
            "CLIMATE_LOAN_INSTANCE_PATH": str(work / "instance"),
            "CLIMATE_LOAN_RATE_LIMIT_PER_MINUTE": "0",
            "CLIMATE_LOAN_LOG_LEVEL": "WARNING",
        }
    )
    exe = Path(sys.executable).parent / "climate-loan"
    key = (
        subprocess.run(
            [str(exe), "keys", "create", "--role", "officer", "--name", "bench"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.perf_counter() - t0 > 300:
                    raise
                time.sleep(0.1)
        started = time.perf_counter() - t0
        rng = np.random.default_rng(3)
        lat0, lon0 = NATIONAL["lat"][0], NATIONAL["lon"][0]
        lats = rng.uniform(lat0, lat0 + 36.0, requests)
        lons = rng.uniform(lon0, lon0 + 62.0, requests)
        latency = []
        for la, lo in zip(lats, lons, strict=True):
            req = urllib.request.Request(
                f"{base}/sites/climate?lat={la:.3f}&lon={lo:.3f}", headers={"X-API-Key": key}
            )
            t1 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=30) as r:
                json.loads(r.read())
            latency.append((time.perf_counter() - t1) * 1000)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        rss = []
        for pid in children:
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            line = next(ln for ln in status if ln.startswith("VmRSS:"))
            rss.append(int(line.split()[1]) / 1024)
        return {
            "start_s": started,
            "worker_rss_mb": max(rss) if rss else float("nan"),
            "request_median_ms": float(np.median(latency)),
            "request_p99_ms": float(np.percentile(latency, 99)),
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--lat", type=int, default=145, help="grid rows (145)")
    parser.add_argument("--lon", type=int, default=249, help="grid columns (249)")
    parser.add_argument("--years", type=int, default=30)
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--serve", action="store_true", help="also measure a gunicorn worker")
    parser.add_argument("--only-update", action="store_true", help="only the update step")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_cube_v2_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        run(work, args)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def run(work: Path, args: argparse.Namespace) -> None:
    from climate_data.sample import write_sample

    national = work / f"national_{args.lat}x{args.lon}x{args.years}.zarr"
    sample = work / "sample"
    yearly = sorted(sample.glob("era5_sample_*.nc")) or write_sample(sample)
    if not args.only_update:
        run_national(work, args, national, yearly)
    run_update(work, yearly)
    if args.serve and not args.only_update:
        r = serve_rss(national, work, 500)
        print("\n## gunicorn, 1 worker, national store, 500 random site requests")
        print(
            f"ready in {r['start_s']:.1f} s; "
            f"worker RSS {r['worker_rss_mb']:.0f} MB (goal < 400 MB); "
            f"request median {r['request_median_ms']:.1f} ms, p99 {r['request_p99_ms']:.1f} ms"
        )


def run_national(work: Path, args: argparse.Namespace, national: Path, yearly: list[Path]) -> None:
    """Size, open and site reads of the national store, against the sample's v1 cube."""
    from climate_data.cube import build_cube
    from climate_data.store import _zip_directory, migrate_cube

    if not national.exists():
        t0 = time.perf_counter()
        generate_national(national, args.lat, args.lon, args.years)
        print(f"generated {national.name} in {time.perf_counter() - t0:.0f} s")
    cell_years = args.lat * args.lon * args.years
    nbytes, nfiles = store_bytes(national)
    zipped = work / (national.name + ".zip")
    if not zipped.exists():
        _zip_directory(national, zipped)
    zbytes, _ = store_bytes(zipped)
    print(
        f"\n## size: {args.lat} x {args.lon} cells x {args.years} years = {cell_years:,} cell-years"
    )
    print(
        f"directory store  {nbytes / 1e6:9.1f} MB in {nfiles:,} files  "
        f"{nbytes / cell_years:7.0f} B per cell-year (goal < 5,000)"
    )
    print(
        f".zarr.zip        {zbytes / 1e6:9.1f} MB in 1 file  "
        f"{zbytes / cell_years:7.0f} B per cell-year (goal < 5,000)"
    )
    v1_equiv = cell_years * (13 * 160 + 20 * 13) * 8
    print(f"version 1 in memory (float64, annual + monthly) ~ {v1_equiv / 1e9:.1f} GB per process")

    base = run_measured(IMPORT_ONLY)
    opened = run_measured(OPEN.replace("PATH", repr(str(national))))
    print("\n## open")
    print(
        f"Cube.open (directory)  {opened['open_s'] * 1000:8.1f} ms   "
        f"RSS {opened['peak_rss_mb']:.0f} MB (imports alone {base['peak_rss_mb']:.0f} MB)"
    )
    opened_zip = run_measured(OPEN.replace("PATH", repr(str(zipped))))
    print(
        f"Cube.open (.zarr.zip)  {opened_zip['open_s'] * 1000:8.1f} ms   "
        f"RSS {opened_zip['peak_rss_mb']:.0f} MB"
    )

    # baseline: the version-1 cube of the default sample, in memory
    v1 = work / "sample_cube.nc"
    if not v1.exists():
        build_cube(yearly, v1, progress=False)
    v2_small = work / "sample_cube_migrated.zarr"
    if not v2_small.exists():
        migrate_cube(v1, v2_small)
    n = args.sites
    rows = [
        ("v1 sample, in memory (baseline)", bench_sites(v1, 32, n, n)),
        ("v2 sample (migrated), cache 32", bench_sites(v2_small, 32, n, n)),
        ("v2 national, cache 32", bench_sites(national, 32, n, n)),
        ("v2 national .zip, cache 32", bench_sites(zipped, 32, n, n)),
    ]
    ref = rows[0][1]["warm_median_us"]
    print(f"\n## Cube.site over {n:,} random sites, then {n:,} sites in cached tiles")
    print(
        f"{'cube':<34} {'cold med us':>11} {'cold p99':>9} {'warm med us':>11} {'warm p99':>9} "
        f"{'warm/base':>9} {'peak RSS MB':>11}"
    )
    for name, r in rows:
        cold = (r.get("cold_median_us", float("nan")), r.get("cold_p99_us", float("nan")))
        print(
            f"{name:<34} {cold[0]:11.0f} {cold[1]:9.0f} {r['warm_median_us']:11.1f} "
            f"{r['warm_p99_us']:9.1f} {r['warm_median_us'] / ref:9.2f} {r['peak_rss_mb']:11.0f}"
        )


def run_update(work: Path, yearly: list[Path]) -> None:
    """``cube update`` of one month against a full rebuild (default sample, monthly files)."""
    from climate_data.cube import Cube, build_cube

    monthly = split_monthly(yearly, work / "monthly")
    full = work / "full.zarr"
    shutil.rmtree(full, ignore_errors=True)
    rebuild = run_measured(
        BUILD.replace("FILES", repr([str(p) for p in monthly])).replace("OUT", repr(str(full)))
    )
    before = work / "before.zarr"
    if not before.exists():
        build_cube(monthly[:-1], before, progress=False)
    target = work / "updated.zarr"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(before, target)
    upd = run_measured(
        UPDATE.replace("FILES", repr([str(monthly[-1])])).replace("OUT", repr(str(target)))
    )
    rebuild_v1 = run_measured(
        BUILD.replace("FILES", repr([str(p) for p in monthly])).replace(
            "OUT", repr(str(work / "full_v1.nc"))
        )
    )
    same = Cube.open(target).sha256 == Cube.open(full).sha256
    print(f"\n## update: {len(monthly)} monthly files, 63 cells")
    print(
        f"full rebuild v2      {rebuild['work_s']:7.1f} s  ({rebuild['cpu_s']:.1f} s CPU)  "
        f"peak RSS {rebuild['peak_rss_mb']:.0f} MB"
    )
    print(
        f"full rebuild v1      {rebuild_v1['work_s']:7.1f} s  "
        f"peak RSS {rebuild_v1['peak_rss_mb']:.0f} MB"
    )
    print(
        f"update one month     {upd['work_s']:7.2f} s  ({upd['cpu_s']:.2f} s CPU)  "
        f"peak RSS {upd['peak_rss_mb']:.0f} MB  = {100 * upd['work_s'] / rebuild['work_s']:.1f} % "
        f"of the v2 rebuild (goal < 5 %), {100 * upd['cpu_s'] / rebuild['cpu_s']:.1f} % of its "
        f"CPU; equal to the rebuild: {same}"
    )


if __name__ == "__main__":
    main()
