"""Synthetic sample: deterministic, labelled synthetic, in the CDS ERA5 layout, realistic."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

from climate_data.cube import Cube, build_cube
from climate_data.sample import SampleSpec, write_sample

from .conftest import SMALL_SPEC


def test_same_spec_gives_identical_values(small_sample: list[Path], tmp_path: Path) -> None:
    again = write_sample(tmp_path, SMALL_SPEC)
    for a, b in zip(small_sample, again, strict=True):
        with xr.open_dataset(a) as x, xr.open_dataset(b) as y:
            xr.testing.assert_identical(x, y)
    other = write_sample(tmp_path / "other", SampleSpec(**{**SMALL_SPEC.__dict__, "seed": 8}))
    with xr.open_dataset(small_sample[0]) as x, xr.open_dataset(other[0]) as y:
        assert not np.array_equal(x.u100.values, y.u100.values)


def test_files_follow_cds_layout(small_sample: list[Path]) -> None:
    # Structure of CDS NetCDF files from 2024 on (ECMWF, "ERA5: data documentation").
    with netCDF4.Dataset(small_sample[0]) as nc:
        assert nc.synthetic == "true"
        assert nc.Conventions == "CF-1.7"
        assert nc["valid_time"].units == "seconds since 1970-01-01"
        assert nc["valid_time"].dtype == np.int64
        lat = nc["latitude"][:]
        assert lat[0] > lat[-1]  # descending
        assert nc["expver"].dimensions == ("valid_time",)
        assert nc["number"].dimensions == ()
        assert nc["ssrd"].units == "J m**-2"
        assert nc["u100"].units == "m s**-1"
        assert nc["u100"].dtype == np.float32
        assert nc["u100"].filters()["zlib"]
        assert nc["u100"].standard_name == "unknown"
        assert len(nc["valid_time"]) == 8760


@pytest.mark.slow
def test_default_sample_region_and_speed(tmp_path: Path) -> None:
    # The embedded default (its build time is measured in benchmarks/bench_cube.py):
    # some cells pass the 6.5 m/s Changji rule at 100 m and some fail,
    # sunshine of roughly 2,600-3,000 hours a year.
    paths = write_sample(tmp_path / "sample")
    cube_path = build_cube(paths, tmp_path / "cube.nc", progress=False)
    cube = Cube.open(cube_path)
    assert cube.lats.min() == 43.0 and cube.lats.max() == 46.0
    assert cube.lons.min() == 85.5 and cube.lons.max() == 89.5
    assert len(cube.years) >= 6
    layer = cube.layer("trailing_3y_wind_ms", 100.0).values
    assert (layer >= 6.5).any() and (layer < 6.5).any()
    sun = cube.layer("sunshine_hours").values
    assert 2600.0 <= np.median(sun) <= 3000.0
