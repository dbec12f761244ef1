"""Cube build throughput and peak memory against a plain read of the same input.

For two input sizes (about 1 GB and 2 GB of uncompressed float32 fields, synthetic ERA5 layout
at 0.1 degrees), each step runs in its own process:

* baseline: ``xarray.open_mfdataset`` + sum of every variable (one full read);
* cube build: ``climate_data.cube.build_cube`` on the same files.

Prints seconds, MB/s of uncompressed input, the ratio build/read and each process's peak RSS.
Also times the embedded default (sample generation + cube build), whose goal is under 2 minutes.
Goals (issue 2): build within 3x of the read alone; peak RSS under 2 GB whatever the input size.

Usage: python -m benchmarks.bench_cube [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._util import run_measured
from climate_data.sample import SampleSpec, write_sample

FINE = SampleSpec(
    lats=tuple(float(x) for x in np.round(np.arange(46.0, 42.95, -0.1), 2)),
    lons=tuple(float(x) for x in np.round(np.arange(85.5, 89.55, 0.1), 2)),
    years=(2019, 2020, 2021, 2022, 2023, 2024),
)
N_VARS = 8


def uncompressed_mb(spec: SampleSpec, n_years: int) -> float:
    hours = 8766 * n_years
    return len(spec.lats) * len(spec.lons) * hours * N_VARS * 4 / 1e6


READ = """
import xarray as xr
ds = xr.open_mfdataset(FILES, combine="by_coords", chunks={"valid_time": 744})
total = 0.0
for name in ds.data_vars:
    if ds[name].dtype.kind == "f":
        total += float(ds[name].sum())
result["checksum"] = total
"""

BUILD = """
from climate_data.cube import build_cube
build_cube(FILES, OUT, progress=False)
"""

DEFAULT = """
from climate_data.sample import write_sample
from climate_data.cube import build_cube
paths = write_sample(DIR)
build_cube(paths, DIR + "/cube.nc", progress=False)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_cube_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(
            f"generating {len(FINE.lats)}x{len(FINE.lons)} cells x {len(FINE.years)} years "
            f"in {work} ..."
        )
        files = sorted(work.glob("era5_sample_*.nc")) or write_sample(work, FINE)
        print(
            f"{'input':>10} {'step':>6} {'seconds':>8} {'MB/s':>8} {'ratio':>6} {'peak RSS MB':>12}"
        )
        for n_years in (3, 6):
            chosen = [str(p) for p in files[:n_years]]
            mb = uncompressed_mb(FINE, n_years)
            read = run_measured(READ.replace("FILES", repr(chosen)))
            out = str(work / f"cube_{n_years}y.nc")
            build = run_measured(BUILD.replace("FILES", repr(chosen)).replace("OUT", repr(out)))
            for step, r in (("read", read), ("build", build)):
                ratio = r["seconds"] / read["seconds"]
                print(
                    f"{mb / 1000:8.2f}GB {step:>6} {r['seconds']:8.1f} {mb / r['seconds']:8.1f} "
                    f"{ratio:6.2f} {r['peak_rss_mb']:12.0f}"
                )
        default_dir = work / "default"
        default_dir.mkdir(exist_ok=True)
        d = run_measured(DEFAULT.replace("DIR", repr(str(default_dir))))
        print(
            f"embedded default (sample + cube, 63 cells x 6 years): {d['seconds']:.1f} s "
            f"(goal < 120 s), peak RSS {d['peak_rss_mb']:.0f} MB"
        )
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
