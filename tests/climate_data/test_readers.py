"""Tests of climate_data.readers.open_weather on imitation files of every convention.

Each test writes a file in one source convention (tests/climate_data/weather_files.py) from
known values on the canonical grid, opens it, and checks that the canonical values come back.
Tolerances: float32 storage is exact for values written as float32 (compared exactly);
derived values computed in float32 (hypot, division by 3600) are within a relative 1e-6
(float32 machine epsilon is 1.2e-7); int16 packing is within half a packing step.
The MERRA-2 subset (tests/data) is compared with its raw values read by netCDF4 directly.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import dask
import dask.array as dsa
import netCDF4
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from climate_data.errors import (
    ClimateDataError,
    CorruptFileError,
    MissingVariableError,
    TimeAxisError,
    UnitsError,
)
from climate_data.readers import NoWeatherFilesError, open_weather
from climate_data.schema import CANONICAL
from tests.climate_data.weather_files import (
    CDS_ACCUM_MEMBER,
    CDS_INSTANT_MEMBER,
    cf_file,
    era5_cds_file,
    era5_cds_zip,
    era5_legacy_file,
    hourly,
)

MERRA2 = Path(__file__).parents[1] / "data" / "merra2_ireland_2x2_hourly_2000_2017_subset.nc"

# Canonical test grid: latitudes ascending; the CDS writes them descending.
LAT = np.array([40.0, 40.25, 40.5])
# Source longitudes in [0, 360) across Greenwich, ascending as the CDS writes them.
LON_0_360 = np.array([0.0, 5.0, 10.0, 350.0, 355.0])
LON_CANON = np.array([-10.0, -5.0, 0.0, 5.0, 10.0])
INTEGRAL_SSRD = "integral_wrt_time_of_surface_downwelling_shortwave_flux_in_air"
INSTANT = ("u10", "v10", "u100", "v100", "t2m", "sp", "fsr")
ACCUM = ("ssrd", "fdir")


def _truth(nt: int, seed: int = 1) -> dict[str, np.ndarray]:
    """Plausible float32 fields on the canonical grid (time, LAT, LON_CANON)."""
    rng = np.random.default_rng(seed)
    shape = (nt, LAT.size, LON_CANON.size)
    ghi = np.clip(rng.normal(300.0, 250.0, shape), 0.0, 1000.0)
    out = {
        "u10": rng.normal(0.0, 5.0, shape),
        "v10": rng.normal(0.0, 5.0, shape),
        "u100": rng.normal(1.0, 7.0, shape),
        "v100": rng.normal(-1.0, 7.0, shape),
        "t2m": rng.uniform(250.0, 310.0, shape),
        "sp": rng.uniform(85000.0, 103000.0, shape),
        "fsr": rng.uniform(0.0002, 1.5, shape),
        "ssrd": ghi * 3600.0,
        "fdir": ghi * rng.uniform(0.0, 0.9, shape) * 3600.0,
    }
    return {k: v.astype(np.float32) for k, v in out.items()}


def _to_cds_layout(a: np.ndarray, src_lon: np.ndarray = LON_0_360) -> np.ndarray:
    """Canonical (time, lat asc, lon sorted) -> CDS layout (lat descending, src_lon order)."""
    normalised = (src_lon + 180.0) % 360.0 - 180.0
    idx = np.searchsorted(np.sort(normalised), normalised)
    return a[:, ::-1, :][:, :, idx]


def _write_cds(path: Path, times: np.ndarray, truth: dict[str, np.ndarray], names: Any) -> Path:
    return era5_cds_file(
        path,
        valid_time=times,
        latitude=LAT[::-1],
        longitude=LON_0_360,
        fields={n: _to_cds_layout(truth[n]) for n in names},
    )


def _canonical_attrs_ok(ds: xr.Dataset) -> None:
    for name, da in ds.data_vars.items():
        spec = CANONICAL[str(name)]
        assert da.attrs["units"] == spec.units
        assert da.attrs["standard_name"] == spec.standard_name
        assert isinstance(da.data, dsa.Array), f"{name} is not lazy"
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    assert np.all(np.diff(ds["lat"].values) > 0)
    assert np.all(np.diff(ds["lon"].values) > 0)
    assert ds["lon"].min() >= -180.0 and ds["lon"].max() < 180.0
    assert set(ds.coords) <= {"time", "lat", "lon", "height"}
    if "wind_speed" in ds:
        assert ds["wind_speed"].dims == ("time", "height", "lat", "lon")
        assert ds["height"].attrs["units"] == "m"


# ------------------------------------------------------------------------------------------
# New CDS ERA5


def test_cds_file_maps_to_canonical(tmp_path: Path) -> None:
    times = hourly("2023-12-31T20", 10)
    truth = _truth(times.size)
    path = era5_cds_file(
        tmp_path / "era5.nc",
        valid_time=times,
        latitude=LAT[::-1],
        longitude=LON_0_360,
        fields={n: _to_cds_layout(truth[n]) for n in INSTANT},
        expver=["0001"] * 4 + ["0005"] * 6,  # ERA5 then ERA5T, as near real time
    )
    ds = open_weather(path)
    _canonical_attrs_ok(ds)
    assert ds.attrs["source_format"] == "era5-cds"
    assert ds.attrs["source_files"] == [str(path.resolve())]
    np.testing.assert_array_equal(ds["time"].values, times)
    np.testing.assert_array_equal(ds["lat"].values, LAT)
    np.testing.assert_array_equal(ds["lon"].values, LON_CANON)
    np.testing.assert_array_equal(ds["height"].values, [10.0, 100.0])
    for h, (u, v) in ((10.0, ("u10", "v10")), (100.0, ("u100", "v100"))):
        expected = np.hypot(truth[u].astype(np.float64), truth[v].astype(np.float64))
        got = ds["wind_speed"].sel(height=h).values
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_array_equal(ds["air_temperature"].values, truth["t2m"])
    np.testing.assert_array_equal(ds["surface_air_pressure"].values, truth["sp"])
    np.testing.assert_array_equal(ds["surface_roughness"].values, truth["fsr"])
    assert "ghi" not in ds


def test_cds_zip_of_instant_and_accum_is_merged(tmp_path: Path) -> None:
    times = hourly("2024-06-01T00", 24)
    truth = _truth(times.size, seed=2)
    path = era5_cds_zip(
        tmp_path / "download.zip",
        valid_time=times,
        latitude=LAT[::-1],
        longitude=LON_0_360,
        instant={n: _to_cds_layout(truth[n]) for n in INSTANT},
        accum={n: _to_cds_layout(truth[n]) for n in ACCUM},
    )
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == sorted([CDS_INSTANT_MEMBER, CDS_ACCUM_MEMBER])
    cache = tmp_path / "cache"
    ds = open_weather(path, ["ghi", "wind_speed"], zip_cache_dir=cache)
    _canonical_attrs_ok(ds)
    assert ds.attrs["source_files"] == [str(path.resolve())]
    assert ds.attrs["source_format"] == "era5-cds"
    # ERA5 accumulations are J m-2 over the hour ending at the timestamp -> / 3600 s
    np.testing.assert_allclose(ds["ghi"].values, truth["ssrd"] / 3600.0, rtol=1e-6)
    np.testing.assert_allclose(
        ds["direct_horizontal_irradiance"].values, truth["fdir"] / 3600.0, rtol=1e-6, atol=1e-6
    )
    np.testing.assert_array_equal(ds["air_temperature"].values, truth["t2m"])
    assert ds.sizes["time"] == times.size  # merged on time, not concatenated
    # the archive is extracted once; a second open reuses the extraction
    extracted = sorted(p.name for p in cache.iterdir())
    open_weather(path, zip_cache_dir=cache).close()
    assert sorted(p.name for p in cache.iterdir()) == extracted
    assert len(extracted) == 1


def test_cds_zip_with_nc_suffix_is_detected_by_content(tmp_path: Path) -> None:
    # the CDS has delivered ZIPs named *.nc; the signature, not the suffix, decides
    times = hourly("2024-06-01T00", 3)
    truth = _truth(times.size)
    zpath = era5_cds_zip(
        tmp_path / "download.zip",
        valid_time=times,
        latitude=LAT[::-1],
        longitude=LON_0_360,
        instant={"t2m": _to_cds_layout(truth["t2m"])},
        accum={"ssrd": _to_cds_layout(truth["ssrd"])},
    )
    renamed = zpath.rename(tmp_path / "download.nc")
    ds = open_weather(renamed, zip_cache_dir=tmp_path / "cache")
    assert set(ds.data_vars) == {"air_temperature", "ghi"}


def test_cds_files_per_year_by_glob_and_list(tmp_path: Path) -> None:
    times = hourly("2019-12-31T18", 36)
    truth = _truth(times.size, seed=3)
    parts = [(0, 6), (6, 30), (30, 36)]  # 2019 | 2020 (cut short) | ...
    paths = []
    for i, (a, b) in enumerate(parts):
        piece = {k: v[a:b] for k, v in truth.items()}
        paths.append(_write_cds(tmp_path / f"era5_{i}.nc", times[a:b], piece, INSTANT + ACCUM))
    by_glob = open_weather(str(tmp_path / "era5_*.nc"))
    by_list = open_weather(list(reversed(paths)))  # order of inputs does not matter
    for ds in (by_glob, by_list):
        _canonical_attrs_ok(ds)
        np.testing.assert_array_equal(ds["time"].values, times)
        np.testing.assert_array_equal(ds["air_temperature"].values, truth["t2m"])
        np.testing.assert_allclose(ds["ghi"].values, truth["ssrd"] / 3600.0, rtol=1e-6)
    assert by_glob.attrs["source_files"] == [str(p.resolve()) for p in paths]
    # one dask chunk per file at most (files are shorter than the default 744 steps)
    assert by_glob.chunksizes["time"] == (6, 24, 6)


def test_chunks_are_rounded_to_stored_chunks(tmp_path: Path) -> None:
    times = hourly("2020-01-01", 100)
    truth = _truth(times.size)
    path = _write_cds(tmp_path / "era5.nc", times, truth, ("t2m",))  # stored chunks: 12 steps
    ds = open_weather(path, chunks={"time": 30})
    assert ds.chunksizes["time"] == (36, 36, 28)
    assert ds.chunksizes["lat"] == (LAT.size,)
    assert ds.chunksizes["lon"] == (LON_CANON.size,)
    with pytest.raises(ValueError, match="unknown dimension 'valid_time'"):
        open_weather(path, chunks={"valid_time": 10})


def test_open_weather_computes_nothing(tmp_path: Path) -> None:
    times = hourly("2020-01-01", 48)
    truth = _truth(times.size)
    paths = [
        _write_cds(tmp_path / "a.nc", times[:24], {k: v[:24] for k, v in truth.items()}, INSTANT),
        _write_cds(tmp_path / "b.nc", times[24:], {k: v[24:] for k, v in truth.items()}, INSTANT),
    ]
    legacy = tmp_path / "legacy.nc"
    era5_legacy_file(
        legacy,
        time=times,
        latitude=LAT[::-1],
        longitude=LON_0_360,
        fields={"ssrd": _to_cds_layout(truth["ssrd"])},
        expver_split=20,
    )

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("open_weather computed a dask graph")

    with dask.config.set(scheduler=refuse):
        ds = open_weather([*paths, legacy])
    assert float(ds["wind_speed"].max()) > 0.0  # computing afterwards works


# ------------------------------------------------------------------------------------------
# Legacy CDS ERA5


def test_legacy_int16_with_expver_dimension(tmp_path: Path) -> None:
    times = hourly("2022-12-31T12", 30)
    truth = _truth(times.size, seed=4)
    lat_f32 = np.array([50.1, 50.2, 50.3])  # not exact in binary: checks float32 coordinates
    path = tmp_path / "adaptor.mars.internal.nc"
    scales = era5_legacy_file(
        path,
        time=times,
        latitude=lat_f32[::-1],
        longitude=LON_0_360,
        fields={n: _to_cds_layout(truth[n]) for n in ("u100", "v100", "t2m", "ssrd")},
        expver_split=18,
    )
    with netCDF4.Dataset(path) as nc:
        assert nc.data_model == "NETCDF3_64BIT_OFFSET"
        assert nc["u100"].dimensions == ("time", "expver", "latitude", "longitude")
        assert nc["u100"].dtype == np.int16
    ds = open_weather(path)
    _canonical_attrs_ok(ds)
    assert ds.attrs["source_format"] == "era5-legacy"
    np.testing.assert_array_equal(ds["time"].values, times)
    np.testing.assert_array_equal(ds["lat"].values, lat_f32)  # 50.1, not 50.099998
    np.testing.assert_array_equal(ds["height"].values, [100.0])
    # int16 packing error is at most half a step per value (scale / 2)
    t_tol = scales["t2m"] / 2 + 1e-9
    np.testing.assert_allclose(ds["air_temperature"].values, truth["t2m"], rtol=0, atol=t_tol)
    ws_tol = (scales["u100"] + scales["v100"]) / 2 + 1e-5
    expected_ws = np.hypot(truth["u100"].astype(float), truth["v100"].astype(float))
    got_ws = ds["wind_speed"].sel(height=100.0).values
    np.testing.assert_allclose(got_ws, expected_ws, rtol=0, atol=ws_tol)
    g_tol = scales["ssrd"] / 2 / 3600.0 + 1e-6
    np.testing.assert_allclose(ds["ghi"].values, truth["ssrd"] / 3600.0, rtol=0, atol=g_tol)
    assert not np.isnan(ds["air_temperature"].values).any()  # both expver halves are used


def test_legacy_without_expver_in_minus180_180(tmp_path: Path) -> None:
    times = hourly("2001-03-01", 5)
    truth = _truth(times.size, seed=5)
    path = tmp_path / "legacy.nc"
    scales = era5_legacy_file(
        path,
        time=times,
        latitude=LAT[::-1],
        longitude=LON_CANON,
        fields={"sp": truth["sp"][:, ::-1, :]},
    )
    ds = open_weather(path, ["surface_air_pressure"])
    np.testing.assert_array_equal(ds["lon"].values, LON_CANON)
    np.testing.assert_allclose(
        ds["surface_air_pressure"].values, truth["sp"], rtol=0, atol=scales["sp"] / 2 + 1e-6
    )


# ------------------------------------------------------------------------------------------
# CF files: MERRA-2 (real), height coordinates, accumulations


def test_merra2_subset_units_and_height() -> None:
    ds = open_weather(MERRA2)
    _canonical_attrs_ok(ds)
    assert ds.attrs["source_format"] == "cf"
    assert set(ds.data_vars) == {"wind_speed", "air_temperature", "surface_air_pressure"}
    np.testing.assert_array_equal(ds["height"].values, [50.0])  # ws50m, height = "50 m"
    np.testing.assert_array_equal(ds["lat"].values, [53.0, 53.5])
    np.testing.assert_array_equal(ds["lon"].values, [-6.25, -5.625])
    assert ds.sizes["time"] == 153384  # 2000-01-01T00 .. 2017-06-30T23, hourly
    assert ds["time"].values[0] == np.datetime64("2000-01-01T00:00", "ns")
    assert ds["time"].values[-1] == np.datetime64("2017-06-30T23:00", "ns")
    with netCDF4.Dataset(MERRA2) as nc:  # independent read of the raw values
        ws = nc["ws50m"][:].filled(np.nan)
        t2m = nc["t2m"][:].filled(np.nan)
        ps = nc["ps"][:].filled(np.nan)
        assert nc["t2m"].units == "degC" and nc["ps"].units == "hPa"
    np.testing.assert_array_equal(ds["wind_speed"].sel(height=50.0).values, ws)
    # degC -> K adds 273.15 exactly; in float32 the sum is within 3e-5 K (eps * 300 K)
    np.testing.assert_allclose(
        ds["air_temperature"].values, t2m.astype(np.float64) + 273.15, rtol=0, atol=3e-5
    )
    np.testing.assert_allclose(
        ds["surface_air_pressure"].values, ps.astype(np.float64) * 100.0, rtol=1e-6
    )


def test_cf_height_dimension_scalar_height_and_name(tmp_path: Path) -> None:
    times = hourly("2010-01-01", 6)
    rng = np.random.default_rng(7)
    ws = rng.uniform(0.0, 20.0, (6, 2, 2, 3)).astype(np.float32)  # (time, height, lat, lon)
    ws10 = rng.uniform(0.0, 10.0, (6, 2, 3)).astype(np.float32)
    u80 = rng.normal(0.0, 5.0, (6, 2, 3)).astype(np.float32)
    v80 = rng.normal(0.0, 5.0, (6, 2, 3)).astype(np.float32)
    path = cf_file(
        tmp_path / "cf.nc",
        time=times,
        coords={
            "lat": (("lat",), np.array([10.0, 11.0]), {"standard_name": "latitude"}),
            "lon": (("lon",), np.array([20.0, 21.0, 22.0]), {"standard_name": "longitude"}),
            "height": (("height",), np.array([0.05, 0.1]), {"units": "km"}),
            "z80": ((), np.array(80.0), {"standard_name": "height", "units": "m"}),
        },
        variables={
            "speed": (
                ("time", "height", "lat", "lon"),
                ws,
                {"standard_name": "wind_speed", "units": "m s-1"},
            ),
            "ws10m": (("time", "lat", "lon"), ws10, {"units": "m/s"}),
            "ua": (
                ("time", "lat", "lon"),
                u80,
                {"standard_name": "eastward_wind", "units": "m s-1", "coordinates": "z80"},
            ),
            "va": (
                ("time", "lat", "lon"),
                v80,
                {"standard_name": "northward_wind", "units": "m s-1", "coordinates": "z80"},
            ),
        },
    )
    ds = open_weather(path, ["wind_speed"])
    _canonical_attrs_ok(ds)
    np.testing.assert_array_equal(ds["height"].values, [10.0, 50.0, 80.0, 100.0])
    np.testing.assert_array_equal(ds["wind_speed"].sel(height=10.0).values, ws10)
    np.testing.assert_array_equal(ds["wind_speed"].sel(height=50.0).values, ws[:, 0])
    np.testing.assert_array_equal(ds["wind_speed"].sel(height=100.0).values, ws[:, 1])
    np.testing.assert_allclose(
        ds["wind_speed"].sel(height=80.0).values,
        np.hypot(u80.astype(float), v80.astype(float)),
        rtol=1e-6,
    )


def test_speed_variable_wins_over_components(tmp_path: Path) -> None:
    times = hourly("2010-01-01", 4)
    dims = ("time", "lat", "lon")
    speed = np.full((4, 1, 2), 7.0, dtype=np.float32)
    comp = np.full((4, 1, 2), 3.0, dtype=np.float32)
    path = cf_file(
        tmp_path / "cf.nc",
        time=times,
        coords={
            "lat": (("lat",), np.array([0.0]), {"units": "degrees_north"}),
            "lon": (("lon",), np.array([0.0, 1.0]), {"units": "degrees_east"}),
        },
        variables={
            "WS50M": (dims, speed, {"units": "m s-1"}),
            "U50M": (dims, comp, {"units": "m s-1"}),
            "V50M": (dims, comp, {"units": "m s-1"}),
        },
    )
    ds = open_weather(path)
    np.testing.assert_array_equal(ds["wind_speed"].values, 7.0)


def test_cf_accumulation_uses_time_step(tmp_path: Path) -> None:
    times = np.datetime64("2015-06-01", "ns") + np.arange(4) * np.timedelta64(3, "h")
    energy = np.array([0.0, 5.4e6, 1.08e7, 2.16e6], dtype=np.float32).reshape(4, 1, 1)
    path = cf_file(
        tmp_path / "flux.nc",
        time=times,
        coords={
            "lat": (("lat",), np.array([30.0]), {"standard_name": "latitude"}),
            "lon": (("lon",), np.array([100.0]), {"standard_name": "longitude"}),
        },
        variables={
            "rsds_acc": (
                ("time", "lat", "lon"),
                energy,
                {
                    "standard_name": INTEGRAL_SSRD,
                    "units": "J m-2",
                },
            ),
        },
    )
    ds = open_weather(path, ["ghi"])
    # 5.4e6 J m-2 over a 3 h step (10800 s) is 500 W m-2
    np.testing.assert_allclose(ds["ghi"].values.ravel(), [0.0, 500.0, 1000.0, 200.0], rtol=1e-6)


# ------------------------------------------------------------------------------------------
# Single-point series


def test_point_series_with_scalar_coordinates(tmp_path: Path) -> None:
    times = hourly("2018-01-01", 24)
    rng = np.random.default_rng(8)
    speed = rng.uniform(0.0, 15.0, 24).astype(np.float32)
    temp_c = rng.uniform(-5.0, 25.0, 24).astype(np.float32)
    path = cf_file(
        tmp_path / "mast.nc",
        time=times,
        coords={
            "lat": ((), np.array(44.1), {"standard_name": "latitude", "units": "degrees_north"}),
            "lon": ((), np.array(200.0), {"standard_name": "longitude", "units": "degrees_east"}),
        },
        variables={
            "speed": (
                ("time",),
                speed,
                {
                    "standard_name": "wind_speed",
                    "units": "m s-1",
                    "height": "80 m",
                    "coordinates": "lat lon",
                },
            ),
            "tas": (
                ("time",),
                temp_c,
                {"standard_name": "air_temperature", "units": "degC", "coordinates": "lat lon"},
            ),
        },
        global_attrs={"spatial_resolution": "0.25 degree"},
    )
    ds = open_weather(path)
    _canonical_attrs_ok(ds)
    assert ds.attrs["source_format"] == "point"
    assert ds["wind_speed"].shape == (24, 1, 1, 1)
    assert ds["air_temperature"].shape == (24, 1, 1)
    np.testing.assert_array_equal(ds["lat"].values, [44.1])
    np.testing.assert_array_equal(ds["lon"].values, [-160.0])  # 200 E -> -160
    np.testing.assert_array_equal(ds["height"].values, [80.0])
    np.testing.assert_array_equal(ds["wind_speed"].values.ravel(), speed)
    np.testing.assert_allclose(
        ds["air_temperature"].values.ravel(), temp_c + 273.15, rtol=0, atol=3e-5
    )
    # 0.25 degree of latitude on a sphere of radius 6371.0088 km (IUGG mean) is 27.80 km
    assert ds.attrs["point_resolution_km"] == pytest.approx(27.7988, abs=1e-3)


def test_point_series_with_global_attributes(tmp_path: Path) -> None:
    times = hourly("2018-01-01", 6)
    u = np.array([3.0, 0.0, -4.0, 1.0, 0.0, 6.0], dtype=np.float32)
    v = np.array([4.0, 2.0, -3.0, 0.0, 0.0, 8.0], dtype=np.float32)
    path = cf_file(
        tmp_path / "point.nc",
        time=times,
        coords={"height": ((), np.array(10.0), {"standard_name": "height", "units": "m"})},
        variables={
            "uas": (
                ("time",),
                u,
                {"standard_name": "eastward_wind", "units": "m s-1", "coordinates": "height"},
            ),
            "vas": (
                ("time",),
                v,
                {"standard_name": "northward_wind", "units": "m s-1", "coordinates": "height"},
            ),
        },
        global_attrs={"latitude": 53.3, "longitude": -6.2, "resolution_km": 31.0},
    )
    ds = open_weather(path, ["wind_speed"])
    np.testing.assert_array_equal(ds["lat"].values, [53.3])
    np.testing.assert_array_equal(ds["lon"].values, [-6.2])
    np.testing.assert_array_equal(ds["height"].values, [10.0])
    np.testing.assert_allclose(ds["wind_speed"].values.ravel(), [5, 2, 5, 1, 0, 10], rtol=1e-6)
    assert ds.attrs["point_resolution_km"] == 31.0


# ------------------------------------------------------------------------------------------
# Longitude normalisation (property)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(min_value=0, max_value=719), min_size=1, max_size=6, unique=True).map(
        lambda xs: np.sort(np.array(xs, dtype=np.float64) * 0.5)
    ),
)
def test_longitudes_normalised_and_sorted(lons: np.ndarray) -> None:
    # any [0, 360) grid, e.g. one spanning the antimeridian (170 .. 190): values follow lons
    import tempfile

    times = hourly("2020-01-01", 2)
    values = np.broadcast_to(lons.astype(np.float32), (2, 2, lons.size)).copy()
    with tempfile.TemporaryDirectory() as tmp:
        path = era5_cds_file(
            Path(tmp) / "lon.nc",
            valid_time=times,
            latitude=[1.0, 0.0],
            longitude=lons,
            fields={"t2m": values},
        )
        ds = open_weather(path)
        out_lon = ds["lon"].values
        got = ds["air_temperature"].values[0, 0]
        ds.close()
    assert np.all(np.diff(out_lon) > 0)
    assert np.all((out_lon >= -180.0) & (out_lon < 180.0))
    # each column still holds its source longitude (the value written is the 0-360 longitude)
    np.testing.assert_array_equal(np.mod(out_lon, 360.0), got)


# ------------------------------------------------------------------------------------------
# Bad input: specific errors that name the file and the variable


def _small_cds(tmp_path: Path, name: str = "era5.nc", **kwargs: Any) -> Path:
    times = hourly("2020-01-01", 4)
    truth = _truth(times.size)
    return era5_cds_file(
        tmp_path / name,
        valid_time=times,
        latitude=LAT[::-1],
        longitude=LON_0_360,
        fields={n: _to_cds_layout(truth[n]) for n in ("u10", "v10", "t2m", "sp")},
        **kwargs,
    )


def _grid_coords() -> dict[str, Any]:
    return {
        "lat": (("lat",), np.array([0.0, 1.0]), {"standard_name": "latitude"}),
        "lon": (("lon",), np.array([0.0, 1.0]), {"standard_name": "longitude"}),
    }


def _t2m(n: int) -> dict[str, Any]:
    return {"t2m": (("time", "lat", "lon"), np.full((n, 2, 2), 280.0, np.float32), {"units": "K"})}


@pytest.mark.parametrize(
    ("units", "error", "fragment"),
    [
        ({"t2m": None}, UnitsError, "no 'units' attribute"),
        ({"sp": "bananas"}, UnitsError, "unknown units"),
        ({"t2m": "Pa"}, UnitsError, "cannot be converted"),
    ],
)
def test_bad_units(
    tmp_path: Path, units: dict[str, str | None], error: type, fragment: str
) -> None:
    path = _small_cds(tmp_path, units=units)
    with pytest.raises(error, match=fragment) as err:
        open_weather(path)
    assert str(path.resolve()) in str(err.value)
    assert f"'{next(iter(units))}'" in str(err.value)


def test_requested_variable_absent(tmp_path: Path) -> None:
    path = _small_cds(tmp_path)
    with pytest.raises(MissingVariableError, match="'ghi'") as err:
        open_weather(path, ["wind_speed", "ghi"])
    assert str(path.resolve()) in str(err.value)
    assert "ssrd" in str(err.value)  # says what would have been accepted


def test_unpaired_component_is_reported(tmp_path: Path) -> None:
    times = hourly("2020-01-01", 4)
    truth = _truth(times.size)
    path = era5_cds_file(
        tmp_path / "u_only.nc",
        valid_time=times,
        latitude=LAT[::-1],
        longitude=LON_0_360,
        fields={"u100": _to_cds_layout(truth["u100"]), "t2m": _to_cds_layout(truth["t2m"])},
    )
    with pytest.raises(MissingVariableError, match="'u100' has no matching v-component"):
        open_weather(path, ["wind_speed"])


def test_unknown_canonical_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown canonical variable"):
        open_weather(_small_cds(tmp_path), ["windspeed"])


def test_no_time_axis(tmp_path: Path) -> None:
    path = cf_file(
        tmp_path / "static.nc",
        time=None,
        coords=_grid_coords(),
        variables={"t2m": (("lat", "lon"), np.zeros((2, 2), np.float32), {"units": "K"})},
    )
    with pytest.raises(TimeAxisError, match="no time axis") as err:
        open_weather(path)
    assert str(path.resolve()) in str(err.value)


def test_time_without_units(tmp_path: Path) -> None:
    path = cf_file(
        tmp_path / "t.nc",
        time=hourly("2020-01-01", 3),
        time_units=None,
        coords=_grid_coords(),
        variables=_t2m(3),
    )
    with pytest.raises(TimeAxisError, match="no CF units") as err:
        open_weather(path)
    assert str(path.resolve()) in str(err.value) and "'time'" in str(err.value)


@pytest.mark.parametrize(
    ("order", "fragment"),
    [([0, 2, 1, 3], "not increasing"), ([0, 1, 1, 2], "duplicated time step")],
)
def test_bad_time_order(tmp_path: Path, order: list[int], fragment: str) -> None:
    times = hourly("2020-01-01", 4)[order]
    path = cf_file(tmp_path / "t.nc", time=times, coords=_grid_coords(), variables=_t2m(4))
    with pytest.raises(TimeAxisError, match=fragment) as err:
        open_weather(path)
    assert str(path.resolve()) in str(err.value) and "'time'" in str(err.value)


def test_overlapping_files(tmp_path: Path) -> None:
    times = hourly("2020-01-01", 10)
    truth = _truth(times.size)
    a = _write_cds(tmp_path / "a.nc", times[:6], {k: v[:6] for k, v in truth.items()}, INSTANT)
    b = _write_cds(tmp_path / "b.nc", times[5:], {k: v[5:] for k, v in truth.items()}, INSTANT)
    with pytest.raises(TimeAxisError, match="overlap in time") as err:
        open_weather([a, b])
    assert str(a.resolve()) in str(err.value) and str(b.resolve()) in str(err.value)


def test_same_file_twice_is_read_once(tmp_path: Path) -> None:
    path = _small_cds(tmp_path)
    ds = open_weather([path, str(path)])
    assert ds.sizes["time"] == 4


@pytest.mark.parametrize("content", [b"", b"this is not NetCDF\n" * 10])
def test_not_netcdf(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.nc"
    path.write_bytes(content)
    with pytest.raises(CorruptFileError, match="cannot be read as NetCDF") as err:
        open_weather(path)
    assert str(path.resolve()) in str(err.value)


def test_truncated_netcdf4(tmp_path: Path) -> None:
    path = _small_cds(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError) as err:
        open_weather(path)
    assert str(path.resolve()) in str(err.value)


def test_truncated_netcdf3_legacy(tmp_path: Path) -> None:
    # netCDF-C reads the missing records of a cut NetCDF-3 file as zeros; it must not pass
    times = hourly("2020-01-01", 200)
    truth = _truth(times.size)
    path = tmp_path / "legacy.nc"
    era5_legacy_file(
        path,
        time=times,
        latitude=LAT[::-1],
        longitude=LON_0_360,
        fields={"t2m": _to_cds_layout(truth["t2m"])},
    )
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.raises(CorruptFileError, match="truncated") as err:
        open_weather(path)
    assert str(path.resolve()) in str(err.value)


def test_bad_zips(tmp_path: Path) -> None:
    times = hourly("2024-06-01T00", 3)
    truth = _truth(times.size)
    good = era5_cds_zip(
        tmp_path / "good.zip",
        valid_time=times,
        latitude=LAT[::-1],
        longitude=LON_0_360,
        instant={"t2m": _to_cds_layout(truth["t2m"])},
        accum={"ssrd": _to_cds_layout(truth["ssrd"])},
    )
    data = good.read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(data[: len(data) // 2])
    damaged = tmp_path / "damaged.zip"
    middle = len(data) // 3
    damaged.write_bytes(
        data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]
    )
    not_zip = tmp_path / "notazip.zip"
    not_zip.write_bytes(b"hello")
    no_nc = tmp_path / "readme.zip"
    with zipfile.ZipFile(no_nc, "w") as zf:
        zf.writestr("README.txt", "no data here")
    cases = [
        (truncated, "bad ZIP"),
        (damaged, "bad ZIP|cannot be read as NetCDF"),
        (not_zip, "not a ZIP"),
        (no_nc, "no NetCDF member"),
    ]
    for path, fragment in cases:
        with pytest.raises(CorruptFileError, match=fragment) as err:
            open_weather(path, zip_cache_dir=tmp_path / "cache")
        assert str(path.resolve()) in str(err.value)


def test_no_files_match_glob(tmp_path: Path) -> None:
    pattern = str(tmp_path / "era5_*.nc")
    with pytest.raises(NoWeatherFilesError, match="no file matches the pattern") as err:
        open_weather(pattern)
    assert pattern in str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert isinstance(err.value, ClimateDataError)
    with pytest.raises(FileNotFoundError, match="no such weather file"):
        open_weather(tmp_path / "missing.nc")


def test_missing_lat_lon(tmp_path: Path) -> None:
    path = cf_file(
        tmp_path / "nogrid.nc",
        time=hourly("2020-01-01", 3),
        variables={"t2m": (("time", "y", "x"), np.zeros((3, 2, 2), np.float32), {"units": "K"})},
    )
    with pytest.raises(ClimateDataError, match="no latitude") as err:
        open_weather(path)
    assert str(path.resolve()) in str(err.value)


def test_different_grids(tmp_path: Path) -> None:
    times = hourly("2020-01-01", 4)
    a = cf_file(tmp_path / "a.nc", time=times[:2], coords=_grid_coords(), variables=_t2m(2))
    coords = _grid_coords()
    coords["lon"] = (("lon",), np.array([5.0, 6.0]), {"standard_name": "longitude"})
    b = cf_file(tmp_path / "b.nc", time=times[2:], coords=coords, variables=_t2m(2))
    with pytest.raises(ClimateDataError, match="different grids") as err:
        open_weather([a, b])
    assert str(a.resolve()) in str(err.value) and str(b.resolve()) in str(err.value)


@pytest.mark.parametrize(
    ("name", "attrs", "fragment"),
    [
        ("wind", {"standard_name": "wind_speed", "units": "m s-1"}, "without a height"),
        ("ws50m", {"units": "m s-1", "height": "100 m"}, "disagrees"),
        ("ws50m", {"units": "m s-1", "height": "50"}, "no units"),
    ],
)
def test_bad_wind_height(tmp_path: Path, name: str, attrs: dict[str, str], fragment: str) -> None:
    path = cf_file(
        tmp_path / "w.nc",
        time=hourly("2020-01-01", 3),
        coords=_grid_coords(),
        variables={name: (("time", "lat", "lon"), np.ones((3, 2, 2), np.float32), attrs)},
    )
    with pytest.raises(ClimateDataError, match=fragment) as err:
        open_weather(path)
    assert str(path.resolve()) in str(err.value) and f"'{name}'" in str(err.value)
