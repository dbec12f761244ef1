"""The ARCO-ERA5 Zarr input: mapping, units, box and years selected before any read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from zarr.storage import LocalStore

from climate_data.cube import Cube, build_cube
from climate_data.era5 import is_zarr_input, open_arco, parse_bbox, parse_years
from climate_data.errors import ClimateDataError, MissingVariableError, TimeAxisError
from climate_data.readers import open_weather
from tests.climate_data.arco_store import CHUNKS, LATS, LONS, arco_values, write_arco_store


@pytest.fixture(scope="module")
def arco(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_arco_store(tmp_path_factory.mktemp("arco") / "era5.zarr")


class CountingStore(LocalStore):
    """A local Zarr store that records the key of every read (a real store, instrumented)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, read_only=True)
        self.reads: list[str] = []

    async def get(self, key: str, *args: Any, **kwargs: Any) -> Any:
        self.reads.append(key)
        return await super().get(key, *args, **kwargs)

    async def get_partial_values(self, prototype: Any, key_ranges: Any) -> Any:
        keys = list(key_ranges)
        self.reads.extend(k for k, _ in keys)
        return await super().get_partial_values(prototype, keys)

    def data_reads(self, name: str) -> set[tuple[int, ...]]:
        """Chunk indices of ``name`` read so far."""
        prefix = f"{name}/c/"
        return {
            tuple(int(x) for x in k[len(prefix) :].split("/"))
            for k in self.reads
            if k.startswith(prefix)
        }


def _times() -> pd.DatetimeIndex:
    return pd.date_range("2020-11-01", "2021-02-28T23:00", freq="h")


def test_selection_and_units_against_numpy(arco: Path) -> None:
    """Box across Greenwich (0-360 columns from both ends), years, units, hypot: numpy oracle."""
    ds = open_arco(arco, bbox=parse_bbox("-25,35,25,50"), years=(2021, 2021))
    times = _times()
    raw = arco_values(times)
    t_sel = np.flatnonzero(times.year == 2021)
    lat_rows = [i for i, v in enumerate(LATS) if 35 <= v <= 50][::-1]  # ascending latitude
    lon_cols = [34, 35, 0, 1, 2]  # 340, 350, 0, 10, 20 degrees east
    np.testing.assert_array_equal(ds["lon"].values, [-20.0, -10.0, 0.0, 10.0, 20.0])
    np.testing.assert_array_equal(ds["lat"].values, [35.0, 40.0, 45.0, 50.0])
    np.testing.assert_array_equal(ds["time"].values, times[t_sel].values)

    def pick(name: str) -> np.ndarray[Any, Any]:
        return raw[name][t_sel][:, lat_rows][:, :, lon_cols].astype(np.float64)

    ws100 = np.hypot(pick("100m_u_component_of_wind"), pick("100m_v_component_of_wind"))
    got = ds["wind_speed"].sel(height=100.0).values.astype(np.float64)
    np.testing.assert_allclose(got, ws100, rtol=1e-6)  # float32 arithmetic
    assert list(ds["height"].values) == [10.0, 100.0]
    # J m-2 accumulated over the hour -> mean W m-2
    np.testing.assert_allclose(
        ds["ghi"].values, pick("surface_solar_radiation_downwards") / 3600.0, rtol=1e-6
    )
    np.testing.assert_array_equal(ds["air_temperature"].values, pick("2m_temperature"))
    assert ds["ghi"].attrs["units"] == "W m-2"
    assert ds.attrs["source_format"] == "era5-arco"
    ds.close()


def test_only_the_chunks_of_the_box_and_years_are_read(arco: Path) -> None:
    store = CountingStore(arco)
    ds = open_arco(store, bbox=parse_bbox("-25,35,25,50"), years=(2021, 2021))
    name = "100m_u_component_of_wind"
    assert store.data_reads(name) == set()  # opening and selecting read coordinates only
    ds["wind_speed"].load()
    times = _times()
    t_idx = np.flatnonzero(times.year == 2021)
    lat_idx = [i for i, v in enumerate(LATS) if 35 <= v <= 50]
    lon_idx = [34, 35, 0, 1, 2]
    expected = {
        (t // CHUNKS["time"], la // CHUNKS["latitude"], lo // CHUNKS["longitude"])
        for t in (t_idx[0], t_idx[-1], *range(t_idx[0], t_idx[-1], CHUNKS["time"]))
        for la in lat_idx
        for lo in lon_idx
    }
    reads = store.data_reads(name)
    assert reads == expected
    n_chunks = (
        -(-times.size // CHUNKS["time"])
        * -(-LATS.size // CHUNKS["latitude"])
        * -(-LONS.size // CHUNKS["longitude"])
    )
    assert len(reads) < n_chunks / 4  # a small part of the store
    # each chunk read once, not once per dask chunk that overlaps it
    per_key = pd.Series(k for k in store.reads if k.startswith(f"{name}/c/")).value_counts()
    assert per_key.max() == 1
    assert store.data_reads("2m_temperature") == set()  # only what was computed is read
    ds.close()


def test_box_or_years_outside_the_store(arco: Path) -> None:
    with pytest.raises(ClimateDataError, match=r"holds no grid cell.*latitude 30\.\.60"):
        open_arco(arco, bbox=parse_bbox("100,-40,120,-10"))
    with pytest.raises(TimeAxisError, match="no time step in the years 1990-1995"):
        open_arco(arco, years=(1990, 1995))


def test_bbox_and_years_parsing() -> None:
    assert parse_bbox("73,18,135,54").as_list() == [73.0, 18.0, 135.0, 54.0]
    assert parse_bbox("350,35,10,50") == parse_bbox("-10,35,10,50")
    for bad in ("1,2,3", "a,b,c,d", "10,50,20,40", "170,0,-170,10", "0,-95,10,10"):
        with pytest.raises(ValueError, match="bbox"):
            parse_bbox(bad)
    assert parse_years("1995-2024") == (1995, 2024)
    assert parse_years("2020") == (2020, 2020)
    with pytest.raises(ValueError, match="first year is after"):
        parse_years("2024-1995")
    with pytest.raises(ValueError, match="year range"):
        parse_years("95-24")


def test_store_without_wind_is_refused(tmp_path: Path) -> None:
    store = write_arco_store(tmp_path / "t.zarr", variables=["2m_temperature"])
    with pytest.raises(MissingVariableError, match="wind_speed"):
        open_arco(store, ["wind_speed"])


def test_unknown_units_are_refused(tmp_path: Path) -> None:
    store = write_arco_store(tmp_path / "u.zarr")
    ds = xr.open_zarr(store)
    attrs = dict(ds["surface_pressure"].attrs, units="furlongs")
    ds.close()
    import json

    meta_path = store / "surface_pressure" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["attributes"] = attrs
    meta_path.write_text(json.dumps(meta))
    root = json.loads((store / "zarr.json").read_text())
    root["consolidated_metadata"]["metadata"]["surface_pressure"]["attributes"] = attrs
    (store / "zarr.json").write_text(json.dumps(root))
    with pytest.raises(ClimateDataError, match="surface_pressure"):
        open_arco(store)


def test_zarr_inputs_are_recognised(arco: Path, tmp_path: Path) -> None:
    assert is_zarr_input(arco) and is_zarr_input([str(arco)])
    assert is_zarr_input("gs://bucket/ar/full_37-1h-0p25deg-chunk-1.zarr-v3")
    assert not is_zarr_input([arco, arco])
    assert not is_zarr_input(tmp_path / "x.nc")


def test_cube_from_arco_equals_cube_from_the_same_netcdf(arco: Path, tmp_path: Path) -> None:
    """End to end: the cube built from the Zarr store equals the one built from a NetCDF file
    holding the same selection under ERA5 short names (the NetCDF reader is the oracle)."""
    box, years = parse_bbox("-25,35,25,50"), (2020, 2021)
    ds = open_arco(arco, bbox=box, years=years)
    times = _times()
    raw = arco_values(times)
    lat_rows = [i for i, v in enumerate(LATS) if 35 <= v <= 50][::-1]
    lon_cols = [34, 35, 0, 1, 2]
    short = {
        "10m_u_component_of_wind": "u10",
        "10m_v_component_of_wind": "v10",
        "100m_u_component_of_wind": "u100",
        "100m_v_component_of_wind": "v100",
        "2m_temperature": "t2m",
        "surface_pressure": "sp",
        "surface_solar_radiation_downwards": "ssrd",
    }
    from tests.climate_data.arco_store import UNITS

    nc = xr.Dataset(
        {
            s: (
                ("time", "latitude", "longitude"),
                raw[n][:, lat_rows][:, :, lon_cols],
                {"units": UNITS[n]},
            )
            for n, s in short.items()
        },
        coords={
            "time": ("time", times.values),
            "latitude": ("latitude", LATS[lat_rows], {"units": "degrees_north"}),
            "longitude": (
                "longitude",
                LONS[lon_cols] - np.where(LONS[lon_cols] >= 180, 360, 0),
                {"units": "degrees_east"},
            ),
        },
        attrs={"institution": "ECMWF (test copy)"},
    )
    nc_path = tmp_path / "same.nc"
    nc.to_netcdf(nc_path, encoding={"time": {"units": "hours since 1900-01-01"}})
    ds.close()
    a = build_cube(arco, tmp_path / "arco.nc", bbox=box, years=years, progress=False)
    b = build_cube(nc_path, tmp_path / "netcdf.nc", progress=False)
    with xr.open_dataset(a) as ca, xr.open_dataset(b) as cb:
        assert set(ca.data_vars) == set(cb.data_vars)
        for name in cb.data_vars:
            # hour counts and histograms exactly; sums to the last bits (the two readers cut
            # time into tasks differently, so partial sums are added in another order)
            np.testing.assert_allclose(
                ca[name].values, cb[name].values, rtol=1e-13, atol=0, err_msg=str(name)
            )
        np.testing.assert_array_equal(ca["wind_speed_hist"].values, cb["wind_speed_hist"].values)
        np.testing.assert_array_equal(ca["coverage"].values, cb["coverage"].values)
        assert ca.attrs["source_format"] == "era5-arco"
    src = Cube.open(a).info()["source_files"]
    assert src[0]["path"] == str(arco) and len(src[0]["sha256"]) == 64


def test_netcdf_inputs_take_the_same_selection(small_sample: list[Path]) -> None:
    full = open_weather(small_sample)
    part = open_weather(small_sample, bbox=parse_bbox("86.5,43.8,87.5,44.6"), years=(2020, 2020))
    assert list(part["lat"].values) == [44.0, 44.5]
    assert list(part["lon"].values) == [86.8, 87.3]
    assert pd.DatetimeIndex(part["time"].values).year.unique().tolist() == [2020]
    sel = full.sel(time="2020", lat=[44.0, 44.5], lon=[86.8, 87.3])
    np.testing.assert_array_equal(part["wind_speed"].values, sel["wind_speed"].values)
    with pytest.raises(ClimateDataError, match="holds no grid cell"):
        open_weather(small_sample, bbox=parse_bbox("0,0,10,10"))
    full.close()
    part.close()


def test_store_update_from_arco_reads_only_new_hours(tmp_path: Path) -> None:
    """A store built from Nov-Dec 2020 and updated from the ARCO store to the end equals a
    build over all months; rerunning the update is a no-op."""
    from climate_data.store import build_store, update_store

    arco_all = write_arco_store(tmp_path / "all.zarr")
    box = parse_bbox("0,40,20,50")
    first = build_store(
        arco_all, tmp_path / "c.zarr", reference_height_m=100.0, bbox=box, years=(2020, 2020)
    )
    update_store(first, arco_all)
    full = build_store(arco_all, tmp_path / "full.zarr", reference_height_m=100.0, bbox=box)
    a, b = Cube.open(first), Cube.open(full)
    sa, sb = a.site(45.0, 10.0), b.site(45.0, 10.0)
    np.testing.assert_array_equal(sa.monthly_wind_hist_hours, sb.monthly_wind_hist_hours)
    np.testing.assert_array_equal(sa.monthly_wind_mean_ms, sb.monthly_wind_mean_ms)
    np.testing.assert_array_equal(sa.monthly_ghi_kwh_m2, sb.monthly_ghi_kwh_m2)
    assert a.attrs["time_last"] == b.attrs["time_last"] == "2021-02-28T23:00:00"
    generation = Cube.open(first).generation
    update_store(first, arco_all)  # nothing after time_last: no-op
    assert Cube.open(first).generation == generation
