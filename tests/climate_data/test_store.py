"""Cube store version 2: same figures as version 1, lazy reads, migration, update, resume.

Every comparison between stores here is *exact* (``np.array_equal``, NaN equal to NaN): the
version-2 store keeps the version-1 values bit for bit (histograms as whole-number uint16),
and an update or a resumed build adds the same sums in the same order as one build.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numcodecs import Blosc, blosc

from climate_data import store as store_mod
from climate_data.cube import SITE_VARIABLES, Cube, build_cube
from climate_data.errors import ClimateDataError, CubeFormatError
from climate_data.sample import SampleSpec, write_sample
from climate_data.site import DEFERRABLE, Deferred, SiteClimate
from climate_data.store import StoreCube, build_store, update_store

TILE = 2  # a 3 x 3 grid in tiles of 2 x 2: full, edge and corner tiles, two bands


def assert_sites_equal(a: SiteClimate, b: SiteClimate) -> None:
    """Every field equal (arrays by value and dtype, NaN = NaN), except the dataset identity."""
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "dataset":
            assert (x.synthetic, x.start, x.end) == (y.synthetic, y.start, y.end)
        elif isinstance(x, np.ndarray):
            assert isinstance(y, np.ndarray) and x.dtype == y.dtype, f.name
            np.testing.assert_array_equal(x, y, err_msg=f.name, strict=True)
        elif isinstance(x, float) and np.isnan(x):
            assert isinstance(y, float) and np.isnan(y), f.name
        else:
            assert x == y, f.name


def assert_summaries_equal(a: SiteClimate, b: SiteClimate, hub: float) -> None:
    sa, sb = a.summary(hub), b.summary(hub)
    for s in (sa, sb):  # the dataset's identity differs by construction (file vs store digest)
        del s["dataset"]["id"], s["dataset"]["sha256"]
    assert sa == sb


def loaded(cell: dict[str, Any]) -> dict[str, Any]:
    """A store cell with its deferred histograms decoded."""
    return {k: v.load() if isinstance(v, Deferred) else v for k, v in cell.items()}


def every_cell(cube: Cube) -> list[tuple[float, float]]:
    return [(float(la), float(lo)) for la in cube.lats for lo in cube.lons]


@pytest.fixture(scope="module")
def v2_store(small_sample: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("v2") / "small.zarr"
    return build_store(
        small_sample, out, reference_height_m=100.0, progress=False, tile_cells=TILE, band_rows=2
    )


def test_v2_sites_equal_v1_exactly(small_cube: Path, v2_store: Path) -> None:
    v1, v2 = Cube.open(small_cube), Cube.open(v2_store)
    assert isinstance(v2, StoreCube) and not isinstance(v1, StoreCube)
    for lat, lon in [*every_cell(v1), (44.02, 87.31), (43.7, 87.75)]:
        assert_sites_equal(v1.site(lat, lon), v2.site(lat, lon))
        assert_summaries_equal(v1.site(lat, lon), v2.site(lat, lon), 120.0)
    for layer in ("trailing_3y_wind_ms", "iav", "sunshine_hours"):
        np.testing.assert_array_equal(v1.layer(layer).values, v2.layer(layer).values)
    i1, i2 = v1.info(), v2.info()
    for key in ("grid", "years", "complete_years_share", "has_solar", "source_files"):
        assert i1[key] == i2[key], key
    assert i2["schema_version"] == 2 and i2["synthetic"] is True


def test_summary_leaves_the_histograms_undecoded(small_cube: Path, v2_store: Path) -> None:
    """A site-climate summary never decodes a store cell's wind histograms, monthly air
    density or monthly solar figures; reading them later gives the version-1 values, once
    decoded and then kept."""
    v1, v2 = Cube.open(small_cube), Cube.open(v2_store)
    site, reference = v2.site(44.02, 87.31), v1.site(44.02, 87.31)
    site.summary(100.0)
    assert "monthly_sunshine_hours" in DEFERRABLE and "monthly_air_density_kg_m3" in DEFERRABLE
    for name in sorted(DEFERRABLE):
        assert isinstance(site.__dict__[name], Deferred), name
        first = getattr(site, name)
        np.testing.assert_array_equal(first, getattr(reference, name), strict=True)
        assert getattr(site, name) is first and site.__dict__[name] is first
    other = v2.site(44.02, 87.31)  # a new site of the same cached cell: its own arrays
    assert other.wind_hist_hours is not site.wind_hist_hours
    np.testing.assert_array_equal(other.wind_hist_hours, site.wind_hist_hours, strict=True)


def test_v2_merra2_single_height_equals_v1(merra2_cube: Path, tmp_path: Path) -> None:
    # Real data, one wind height (default shear), an incomplete last year, a 2 x 2 grid.
    from tests.climate_data.conftest import MERRA2

    v2 = build_cube(MERRA2, tmp_path / "m.zarr.zip", reference_height_m=50.0, progress=False)
    a, b = Cube.open(merra2_cube), Cube.open(v2)
    for lat, lon in every_cell(a):
        assert_sites_equal(a.site(lat, lon), b.site(lat, lon))
        assert_summaries_equal(a.site(lat, lon), b.site(lat, lon), 80.0)


def test_v2_layout_dtypes_and_provenance(v2_store: Path, small_sample: list[Path]) -> None:
    g = zarr.open_group(str(v2_store), mode="r")
    hist = g["monthly_wind_speed_hist"]
    assert hist.dtype == np.uint16
    assert hist.shape == (3, 3, 48, 160) and hist.chunks == (TILE, TILE, 48, 160)
    assert g["wind_speed_mean"].chunks == (TILE, TILE, 4)
    assert "wind_speed_hist" not in g  # annual hours: the sum of the months, on reading
    assert g["sums/n_hours"].dtype == np.uint16 and g["sums/ws_sum"].dtype == np.float64
    attrs = dict(g.attrs)
    assert attrs["cube_schema_version"] == 2 and attrs["synthetic"] == "true"
    assert attrs["has_update_sums"] is True and attrs["tile_cells"] == TILE
    sources = json.loads(attrs["source_files"])
    assert [s["path"] for s in sources] == [p.name for p in small_sample]
    assert all(len(s["sha256"]) == 64 for s in sources)
    # the histogram counts are whole hours and every valid hour is in one bin
    counts = hist[...].astype(float).sum(axis=-1)
    np.testing.assert_array_equal(counts, g["sums/n_hours"][...].astype(float))
    assert not list(v2_store.parent.glob(".*"))  # no temporary folders left


def test_open_reads_metadata_only_and_tile_cache_is_bounded(v2_store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.zarr"
    shutil.copytree(v2_store, copy)
    chunk_dirs = [p for p in copy.rglob("c") if p.is_dir() and p.parent.name not in ("lat",)]
    data_dirs = [p for p in chunk_dirs if p.parent.name not in ("lon", "year", "month")]
    data_dirs = [p for p in data_dirs if p.parent.name != "wind_bin_edges"]
    for d in data_dirs:  # remove every data chunk: opening must not need any
        shutil.rmtree(d)
    cube = Cube.open(copy)
    assert cube.info()["years"] == [2019, 2020, 2021, 2022]
    # the tile read now finds no chunks (zarr reads absent chunks as the fill value, NaN)
    assert np.isnan(cube.site(44.0, 87.3).coverage).all()
    lazy = Cube.open(v2_store, tile_cache=1)
    assert isinstance(lazy, StoreCube)
    for lat, lon in every_cell(lazy):
        lazy.site(lat, lon)
        assert len(lazy._tiles) == 1
    with pytest.raises(ValueError, match="tile_cache"):
        Cube.open(v2_store, tile_cache=0)


@pytest.mark.parametrize(
    ("cname", "shuffle", "split"),
    [
        ("zstd", Blosc.SHUFFLE, "NEVER"),  # as the store writes its chunks
        ("zstd", Blosc.SHUFFLE, "ALWAYS"),  # one stream per byte of a value
        ("zstd", Blosc.NOSHUFFLE, "NEVER"),
        ("zstd", Blosc.BITSHUFFLE, "NEVER"),  # decoded whole
        ("lz4", Blosc.SHUFFLE, "ALWAYS"),  # decoded whole
    ],
)
def test_blosc_range_equals_full_decode(
    cname: str, shuffle: int, split: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any range of whole values, of any buffer, equals the same bytes of a full decode."""
    # c-blosc reads the split mode from the environment on every compression through its
    # global context (which numcodecs uses only with threads allowed) and keeps it for later
    # compressions: the default, FORWARD_COMPAT, is set again at the end.
    monkeypatch.setattr(blosc, "use_threads", True)
    monkeypatch.setenv("BLOSC_SPLITMODE", split)
    try:
        _check_blosc_ranges(cname, shuffle, split)
    finally:
        monkeypatch.setenv("BLOSC_SPLITMODE", "FORWARD_COMPAT")
        Blosc().encode(np.zeros(1))


def _check_blosc_ranges(cname: str, shuffle: int, split: str) -> None:
    rng = np.random.default_rng(4)
    probe = bytes(Blosc(cname=cname, shuffle=shuffle).encode(np.zeros(5000)))
    assert bool(probe[2] & 0x10) == (split == "NEVER")  # the "don't split" flag
    for dtype in ("<u2", "<f8", "i1", "<i4"):
        item = np.dtype(dtype).itemsize
        for n in (1, 7, 15, 200, 5000, 40_000):
            values = rng.integers(0, 50, n).astype(dtype)  # compressible: runs and few values
            values[rng.random(n) < 0.3] = 0
            for blocksize in (0, 256, 4096):
                codec = Blosc(cname=cname, clevel=5, shuffle=shuffle, blocksize=blocksize)
                raw = bytes(codec.encode(values))
                full = bytes(blosc.decompress(raw))
                assert full == values.tobytes()
                ranges = [(0, n), (n - 1, n), (0, 1)]
                ranges += [tuple(sorted(rng.integers(0, n + 1, 2))) for _ in range(12)]
                for lo, hi in ranges:
                    if hi > lo:
                        got = store_mod._blosc_range(raw, lo * item, hi * item)
                        assert got == full[lo * item : hi * item], (dtype, n, blocksize, lo, hi)


def test_cells_from_compressed_tiles_equal_zarr(
    small_sample: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every cell decoded from a tile's compressed chunks, and every whole array read chunk
    by chunk, equals zarr's read of the arrays.

    Small Blosc blocks (512 bytes) make every chunk several blocks, so that cells start and
    end inside blocks; the 3 x 3 grid in tiles of 2 x 2 has full, edge and corner tiles
    (chunks padded past the grid), and two removed chunks read as the fill value.
    """
    for codec in ("_CODEC_ARGS", "_FIGURE_CODEC_ARGS"):  # zstd (histogram) and LZ4HC (figures)
        monkeypatch.setattr(store_mod, codec, {**getattr(store_mod, codec), "blocksize": 512})
    path = build_store(
        small_sample,
        tmp_path / "b.zarr",
        reference_height_m=100.0,
        progress=False,
        tile_cells=TILE,
        band_rows=2,
    )
    (path / "monthly_wind_speed_hist" / "c" / "1" / "0" / "0" / "0").unlink()  # an edge tile
    (path / "weibull_k" / "c" / "0" / "0").unlink()
    raw = (path / "monthly_wind_speed_hist" / "c" / "0" / "1" / "0" / "0").read_bytes()
    assert int.from_bytes(raw[8:12], "little") == 512 and raw[2] >> 5 == 4  # blocks, zstd
    cube = Cube.open(path, tile_cache=1)
    assert isinstance(cube, StoreCube) and cube._direct is not None
    group = zarr.open_group(str(path), mode="r")
    stored = {name: group[name][...] for name in cube._arrays}
    assert {"shear_exponent_annual", "monthly_shear_exponent"} <= set(stored)
    for i in range(cube.lats.size):
        for j in range(cube.lons.size):
            cell = loaded(cube._cell(i, j))
            assert set(cell) == SITE_VARIABLES & {*stored, "wind_speed_hist"}  # no shear
            for name, values in stored.items():
                if name not in SITE_VARIABLES:
                    continue
                expected = values[i, j].astype(np.float64) if values.ndim == 4 else values[i, j]
                np.testing.assert_array_equal(cell[name], expected, err_msg=name, strict=True)
    assert (loaded(cube._cell(2, 0))["monthly_wind_speed_hist"] == 0).all()
    assert np.isnan(cube._cell(1, 1)["weibull_k"])
    assert len(cube._tiles) == 1
    for name, values in stored.items():  # whole arrays (map layers), chunk by chunk
        whole = np.moveaxis(values, 2, 0) if values.ndim >= 3 else values
        np.testing.assert_array_equal(cube._full(name), whole, err_msg=name, strict=True)


def test_zip_and_url_stores_read_the_same(v2_store: Path, tmp_path: Path) -> None:
    z = tmp_path / "small.zarr.zip"
    store_mod._zip_directory(v2_store, z)
    with zipfile.ZipFile(z) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    ref = Cube.open(v2_store)
    import fsspec

    memory = fsspec.filesystem("memory")
    memory.put(str(v2_store), "/small.zarr", recursive=True)
    remote = Cube.open("memory://small.zarr")  # any fsspec URL: read through zarr itself
    assert isinstance(remote, StoreCube) and remote._direct is None
    for other in (Cube.open(z), Cube.open(f"file://{v2_store}"), remote):
        assert other.sha256 == ref.sha256
        assert_sites_equal(ref.site(44.0, 87.3), other.site(44.0, 87.3))


def test_migrate_v1_to_v2_is_exact(small_cube: Path, tmp_path: Path) -> None:
    from service.cli import main

    out = tmp_path / "migrated.zarr"
    assert main(["cube", "migrate", str(small_cube), "--out", str(out)]) == 0
    v1, v2 = Cube.open(small_cube), Cube.open(out)
    for lat, lon in every_cell(v1):
        assert_sites_equal(v1.site(lat, lon), v2.site(lat, lon))
    assert v2.attrs["migrated_from_sha256"] == v1.sha256
    assert main(["cube", "info", str(out), "--json"]) == 0
    with pytest.raises(ClimateDataError, match="no monthly sums"):
        update_store(out, [])


def test_open_rejects_bad_stores(tmp_path: Path) -> None:
    with pytest.raises(CubeFormatError, match="no such cube store"):
        Cube.open(tmp_path / "missing.zarr")
    with pytest.raises(CubeFormatError, match="no such cube store"):
        Cube.open(tmp_path / "missing.zarr.zip")
    g = zarr.open_group(str(tmp_path / "other.zarr"), mode="w")
    g.attrs["title"] = "not a cube"
    with store_mod._quiet_consolidated():
        zarr.consolidate_metadata(str(tmp_path / "other.zarr"))
    with pytest.raises(CubeFormatError, match="schema version 2"):
        Cube.open(tmp_path / "other.zarr")


# --------------------------------------------------------------------------------------------
# Incremental update and resumable build

#: 2 x 2 cells, two years, split into one file per month (as ERA5 is published).
MONTHLY_SPEC = SampleSpec(lats=(44.5, 44.0), lons=(87.0, 87.5), years=(2019, 2020), seed=11)


@pytest.fixture(scope="module")
def monthly_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("monthly")
    out = []
    for path in write_sample(folder / "yearly", MONTHLY_SPEC):
        with xr.open_dataset(path) as ds:
            ds.load()
        months = ds["valid_time"].values.astype("datetime64[M]")
        for m in np.unique(months):
            part = ds.isel(valid_time=np.flatnonzero(months == m))
            target = folder / f"era5_{str(m).replace('-', '')}.nc"
            part.to_netcdf(target)
            out.append(target)
    return out


def assert_stores_equal(a: Path, b: Path) -> None:
    ga, gb = zarr.open_group(str(a), mode="r"), zarr.open_group(str(b), mode="r")
    names_a = sorted(ga.array_keys()) + [f"sums/{n}" for n in sorted(ga["sums"].array_keys())]
    names_b = sorted(gb.array_keys()) + [f"sums/{n}" for n in sorted(gb["sums"].array_keys())]
    assert names_a == names_b
    for name in names_a:
        np.testing.assert_array_equal(ga[name][...], gb[name][...], err_msg=name, strict=True)
    assert ga.attrs["content_sha256"] == gb.attrs["content_sha256"]
    assert ga.attrs["source_files"] == gb.attrs["source_files"]
    assert ga.attrs["time_end"] == gb.attrs["time_end"]
    ca, cb = Cube.open(a), Cube.open(b)
    for lat, lon in every_cell(ca):
        assert_sites_equal(ca.site(lat, lon), cb.site(lat, lon))


@pytest.fixture(scope="module")
def full_monthly_store(monthly_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build over the first 13 months (January 2019 to January 2020)."""
    out = tmp_path_factory.mktemp("full") / "full.zarr"
    return build_store(
        monthly_files[:13], out, reference_height_m=100.0, progress=False, tile_cells=1
    )


@pytest.fixture(scope="module")
def before_update(monthly_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build over the first 12 months: the store before the update with January 2020."""
    out = tmp_path_factory.mktemp("before") / "cube.zarr"
    return build_store(
        monthly_files[:12], out, reference_height_m=100.0, progress=False, tile_cells=1
    )


def test_update_with_next_month_equals_full_build(
    before_update: Path, full_monthly_store: Path, monthly_files: list[Path], tmp_path: Path
) -> None:
    # January 2020 adds a year, and its first hour completes December's radiation.
    cube = tmp_path / "cube.zarr"
    shutil.copytree(before_update, cube)
    from service.cli import main

    assert main(["cube", "update", str(cube), str(monthly_files[12]), "--no-progress"]) == 0
    assert_stores_equal(cube, full_monthly_store)
    assert Cube.open(cube).dataset.end == "2020-01-31"
    # rerunning the finished update changes nothing; overlapping hours are refused
    update_store(cube, [monthly_files[12]])
    assert_stores_equal(cube, full_monthly_store)
    with xr.open_dataset(monthly_files[5]) as ds:  # June 2019 again, as another file
        ds.load().assign_attrs(note="a second download").to_netcdf(tmp_path / "again.nc")
    with pytest.raises(ClimateDataError, match="not after the store's last hour"):
        update_store(cube, [tmp_path / "again.nc"])
    assert not list(tmp_path.glob(".cube.zarr*"))


def test_update_zip_store_mid_year(monthly_files: list[Path], tmp_path: Path) -> None:
    first = build_store(
        monthly_files[:6], tmp_path / "a.zarr.zip", reference_height_m=100.0, tile_cells=1
    )
    update_store(first, monthly_files[6:8])
    full = build_store(
        monthly_files[:8], tmp_path / "b.zarr.zip", reference_height_m=100.0, tile_cells=1
    )
    a, b = Cube.open(first), Cube.open(full)
    assert a.sha256 == b.sha256
    for lat, lon in every_cell(a):
        assert_sites_equal(a.site(lat, lon), b.site(lat, lon))


def test_open_reader_follows_a_replaced_directory_store(
    before_update: Path, monthly_files: list[Path], tmp_path: Path
) -> None:
    cube = tmp_path / "cube.zarr"
    shutil.copytree(before_update, cube)
    reader = Cube.open(cube, tile_cache=1)
    old = reader.site(44.0, 87.0)
    update_store(cube, [monthly_files[12]])
    new = reader.site(44.5, 87.5)  # another tile: a cache miss notices the new generation
    assert new.months.size == old.months.size + 1
    assert reader.dataset.end == "2020-01-31"


def _run_killed(code: str, kill_after_s: float) -> int:
    """Run ``code`` in a new Python process and SIGKILL it after ``kill_after_s``."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)])
    try:
        proc.wait(timeout=kill_after_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode


@pytest.mark.slow
def test_kill_minus_9_during_update_leaves_previous_cube(
    before_update: Path, full_monthly_store: Path, monthly_files: list[Path], tmp_path: Path
) -> None:
    code = f"""
        from climate_data.store import update_store
        update_store({{cube!r}}, [{str(monthly_files[12])!r}])
    """
    # duration of an uninterrupted update in a subprocess (interpreter start included)
    probe = tmp_path / "probe.zarr"
    shutil.copytree(before_update, probe)
    t0 = time.monotonic()
    assert _run_killed(code.format(cube=str(probe)), 600) == 0
    duration = time.monotonic() - t0
    old_ref = Cube.open(before_update)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    outcomes = []
    for trial in range(3):
        cube = tmp_path / f"cube{trial}.zarr"
        shutil.copytree(before_update, cube)
        when = rng.uniform(0.5, 1.0) * duration  # past the imports: while reading or writing
        rc = _run_killed(code.format(cube=str(cube)), when)
        opened = Cube.open(cube)
        msg = f"seed {seed}, trial {trial}, killed after {when:.2f} s of {duration:.2f} s"
        if opened.sha256 == old_ref.sha256:
            outcomes.append("previous")
            for lat, lon in every_cell(opened):
                assert_sites_equal(opened.site(lat, lon), old_ref.site(lat, lon))
        else:  # the kill came after the atomic swap: the update is complete
            assert rc in (0, -signal.SIGKILL), msg
            outcomes.append("updated")
            assert opened.sha256 == Cube.open(full_monthly_store).sha256, msg
        update_store(cube, [monthly_files[12]])  # rerunning completes (or finds nothing to do)
        assert_stores_equal(cube, full_monthly_store)
    print(f"kill -9 during update (seed {seed}): {outcomes}")


@pytest.mark.slow
def test_kill_minus_9_during_build_resumes(
    monthly_files: list[Path], full_monthly_store: Path, tmp_path: Path, monkeypatch: Any
) -> None:
    out = tmp_path / "resumed.zarr"
    code = f"""
        from climate_data.store import build_store
        files = {[str(p) for p in monthly_files[:13]]!r}
        build_store(
            files, {str(out)!r}, reference_height_m=100.0, progress=False, tile_cells=1,
            band_rows=1,
        )
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)])
    deadline = time.monotonic() + 300
    manifest: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        manifest = list(tmp_path.glob(".resumed.zarr.build-*/manifest.json"))
        if manifest and json.loads(manifest[0].read_text())["bands"]:
            break
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 1.0))  # anywhere in the next band, or while writing it
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert manifest, "the build finished before any band was recorded"
    # (a kill after the final rename leaves the finished store: the rerun then computes nothing)
    done_before = len(json.loads(manifest[0].read_text())["bands"]) if manifest[0].exists() else 2
    computed = []
    real = store_mod._run_tasks

    def counting(*args: Any, **kwargs: Any) -> Any:
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(store_mod, "_run_tasks", counting)
    build_store(
        monthly_files[:13], out, reference_height_m=100.0, progress=False, tile_cells=1, band_rows=1
    )
    if proc.returncode != 0:
        assert len(computed) == 2 - done_before  # 2 bands of one row: only the rest is computed
    assert_stores_equal(out, full_monthly_store)
    assert not list(tmp_path.glob(".resumed.zarr*"))
    rerun = len(computed)
    build_store(
        monthly_files[:13], out, reference_height_m=100.0, progress=False, tile_cells=1, band_rows=1
    )
    assert len(computed) == rerun  # finished with the same inputs: nothing is computed again
    print(
        f"kill -9 during build: exit {proc.returncode}, bands done {done_before}, rerun {computed}"
    )


# --------------------------------------------------------------------------------------------
# Round trip of the layout on random grids and tile sizes


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ny=st.integers(1, 5),
    nx=st.integers(1, 5),
    tile=st.integers(1, 3),
    n_months=st.integers(1, 14),
    seed=st.integers(0, 2**31),
)
def test_store_round_trip_random_grids(
    tmp_path_factory: pytest.TempPathFactory, ny: int, nx: int, tile: int, n_months: int, seed: int
) -> None:
    """Random monthly sums -> derived figures -> store -> every cell read back unchanged."""
    import pandas as pd

    from climate_data.cube import _Context, derive_figures
    from climate_data.wind import DEFAULT_BIN_EDGES_MS

    rng = np.random.default_rng(seed)
    months = list(pd.date_range("2019-11-01", periods=n_months, freq="MS"))
    edges = np.asarray(DEFAULT_BIN_EDGES_MS, dtype=float)
    ctx = _Context(reference_height_m=100.0, heights=(100.0,), edges=edges)
    hist = rng.integers(0, 8, (n_months, ny, nx, edges.size - 1)).astype(float)
    hist[rng.random(hist.shape) < 0.7] = 0.0
    n = hist.sum(axis=-1)
    acc = {
        "hist": hist,
        "n_hours": n,
        "ws_sum": n * rng.uniform(3, 9, n.shape),
        "rho_sum": n * 1.2,
        "rho_n": n.copy(),
    }
    lats = 40.0 + 0.25 * np.arange(ny)
    lons = 80.0 + 0.25 * np.arange(nx)
    figures = derive_figures(acc, months, ctx, lats, lons)
    folder = tmp_path_factory.mktemp("roundtrip")
    writer = store_mod._StoreWriter(
        folder / "s.zarr",
        tile_cells=tile,
        lats=lats,
        lons=lons,
        months=months,
        edges=edges,
        fresh=True,
    )
    digests = [
        d
        for b in store_mod._bands(ny, tile)
        for d in writer.write_band(
            b.start, figures.isel(lat=b), {k: v[:, b] for k, v in acc.items()}
        )
    ]
    attrs = {"reference_height_m": 100.0, "synthetic": "true", "time_start": "", "time_end": ""}
    writer.finish(
        store_mod._store_attrs(
            attrs,
            writer=writer,
            band_digests=digests,
            complete=0,
            total=1,
            time_last="",
            has_sums=True,
        )
    )
    cube = Cube.open(folder / "s.zarr", tile_cache=2)
    for i in range(ny):
        for j in range(nx):
            cell = loaded(cube._cell(i, j))
            for name in figures.data_vars:
                if name not in SITE_VARIABLES:
                    continue
                da = figures[name]
                expected = da.isel(lat=i, lon=j).values
                np.testing.assert_array_equal(cell[name], expected, err_msg=name, strict=False)
                assert np.asarray(cell[name]).shape == expected.shape, name
