"""Shared fixtures: a small synthetic sample and its cube, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from climate_data.cube import build_cube
from climate_data.sample import SampleSpec, write_sample

DATA = Path(__file__).resolve().parents[1] / "data"
MERRA2 = DATA / "merra2_ireland_2x2_hourly_2000_2017_subset.nc"

#: 3 x 3 cells around Changji, 4 years: small enough to build in seconds.
SMALL_SPEC = SampleSpec(
    lats=(44.5, 44.0, 43.5),
    lons=(86.8, 87.3, 87.8),
    years=(2019, 2020, 2021, 2022),
    seed=7,
)


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_sample(tmp_path_factory.mktemp("sample"), SMALL_SPEC)


@pytest.fixture(scope="session")
def small_cube(small_sample: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_cube(small_sample, tmp_path_factory.mktemp("cube") / "small.nc", progress=False)


@pytest.fixture(scope="session")
def merra2_cube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_cube(
        MERRA2,
        tmp_path_factory.mktemp("merra") / "merra2.nc",
        reference_height_m=50.0,
        progress=False,
    )
