"""Latency of ``Cube.site`` over 10,000 random sites, against a point read of the raw hourly file.

The baseline is what the cube avoids: reading one cell's hourly wind for all years from the
NetCDF input with xarray (measured on 50 sites in the same run). Prints median and p99
microseconds, the ratio, and peak memory. Goal (issue 2): median under 200 microseconds.

Usage: python -m benchmarks.bench_site [--workdir DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from climate_data.cube import Cube, build_cube
from climate_data.sample import write_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_site_"))
    try:
        files = sorted(work.glob("era5_sample_*.nc")) or write_sample(work)
        cube_path = work / "cube.nc"
        if not cube_path.exists():
            build_cube(files, cube_path, progress=False)
        cube = Cube.open(cube_path)
        rng = np.random.default_rng(1)
        lats = rng.uniform(cube.lats.min(), cube.lats.max(), 10_000)
        lons = rng.uniform(cube.lons.min(), cube.lons.max(), 10_000)
        site_us = np.empty(lats.size)
        for k, (la, lo) in enumerate(zip(lats, lons, strict=True)):
            t0 = time.perf_counter_ns()
            cube.site(float(la), float(lo))
            site_us[k] = (time.perf_counter_ns() - t0) / 1000
        summary_us = np.empty(1000)
        for k in range(1000):
            t0 = time.perf_counter_ns()
            cube.site(float(lats[k]), float(lons[k])).summary(100.0)
            summary_us[k] = (time.perf_counter_ns() - t0) / 1000
        raw_us = np.empty(50)
        with xr.open_mfdataset(files, combine="by_coords") as raw:
            for k in range(50):
                t0 = time.perf_counter_ns()
                cell = raw.sel(latitude=lats[k], longitude=lons[k], method="nearest")
                np.hypot(cell.u100.values, cell.v100.values).mean()
                raw_us[k] = (time.perf_counter_ns() - t0) / 1000
        base = float(np.median(raw_us))
        print(f"{'step':<34} {'median us':>10} {'p99 us':>10} {'ratio to raw read':>18}")
        for name, arr in (
            ("Cube.site (10,000 sites)", site_us),
            ("Cube.site + summary (1,000)", summary_us),
            ("raw NetCDF point read (50)", raw_us),
        ):
            print(
                f"{name:<34} {np.median(arr):10.1f} {np.percentile(arr, 99):10.1f} "
                f"{np.median(arr) / base:18.5f}"
            )
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
