"""Builds and updates on a dask.distributed cluster of several worker processes equal the
local (threaded) ones exactly: version 1, version 2 in several bands, an update, and an
ARCO-ERA5 Zarr input cut to a box."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from climate_data.cube import Cube, build_cube
from climate_data.era5 import parse_bbox
from climate_data.store import build_store, update_store
from tests.climate_data.arco_store import write_arco_store
from tests.climate_data.test_store import assert_stores_equal

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """Two single-thread worker processes (no shared memory with this process).

    The dashboard on a free port (":0"): with None distributed still takes 8787 and fails when
    another cluster on the machine holds it.
    """
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as c:
        yield c.scheduler_address


def test_version1_build_equals_local(
    cluster: str, small_sample: list[Path], small_cube: Path, tmp_path: Path
) -> None:
    out = build_cube(small_sample, tmp_path / "dist.nc", scheduler=cluster, progress=False)
    with xr.open_dataset(out) as a, xr.open_dataset(small_cube) as b:
        assert set(a.data_vars) == set(b.data_vars)
        for name in b.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=str(name))


def test_store_build_and_update_equal_local(
    cluster: str, small_sample: list[Path], tmp_path: Path
) -> None:
    # tiles of 1 cell, bands of 1 row: three bands, each its own set of tasks on the cluster
    kw = {"reference_height_m": 100.0, "progress": False, "tile_cells": 1, "band_rows": 1}
    local = build_store(small_sample, tmp_path / "local.zarr", **kw)  # type: ignore[arg-type]
    dist = build_store(  # type: ignore[arg-type]
        small_sample, tmp_path / "dist.zarr", scheduler=cluster, **kw
    )
    assert_stores_equal(dist, local)
    # the last year added by an update on the cluster equals the local build of all years
    first = build_store(small_sample[:-1], tmp_path / "upd.zarr", **kw)  # type: ignore[arg-type]
    update_store(first, small_sample[-1:], scheduler=cluster)
    assert_stores_equal(first, local)


def test_arco_zarr_input_on_the_cluster(cluster: str, tmp_path: Path) -> None:
    arco = write_arco_store(tmp_path / "era5.zarr")
    box = parse_bbox("-25,35,25,50")
    local = build_cube(arco, tmp_path / "local.nc", bbox=box, progress=False)
    dist = build_cube(arco, tmp_path / "dist.nc", bbox=box, scheduler=cluster, progress=False)
    with xr.open_dataset(local) as a, xr.open_dataset(dist) as b:
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=str(name))
    # a store updated from the Zarr input on the cluster equals the local build of it all
    part = build_store(
        arco, tmp_path / "p.zarr", reference_height_m=100.0, bbox=box, years=(2020, 2020)
    )
    update_store(part, arco, scheduler=cluster)
    whole = build_store(arco, tmp_path / "w.zarr", reference_height_m=100.0, bbox=box)
    a, b = Cube.open(part), Cube.open(whole)
    # every stored value (the digest covers them all); the provenance lists two selections
    assert a.attrs["content_sha256"] == b.attrs["content_sha256"]
    assert a.attrs["time_end"] == b.attrs["time_end"] == "2021-02-28"
    assert len(json.loads(a.attrs["source_files"])) == 2
