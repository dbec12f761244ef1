"""A small Zarr store in the ARCO-ERA5 layout, written by the tests.

Long CDS variable names, dims ``(time, latitude, longitude)``, ``latitude`` descending,
``longitude`` 0 to 360 (every 10 degrees, so a box across Greenwich takes columns from both
ends), ``time`` in hours since 1900-01-01, float32 values with ECMWF unit strings, chunked
``(time 240, latitude 3, longitude 6)`` so that a test can tell which chunks a read touched.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

LATS = np.arange(60.0, 29.0, -5.0)  # 60 .. 30, descending: 7 rows
LONS = np.arange(0.0, 360.0, 10.0)  # 0 .. 350: 36 columns
CHUNKS = {"time": 240, "latitude": 3, "longitude": 6}
UNITS = {
    "10m_u_component_of_wind": "m s**-1",
    "10m_v_component_of_wind": "m s**-1",
    "100m_u_component_of_wind": "m s**-1",
    "100m_v_component_of_wind": "m s**-1",
    "2m_temperature": "K",
    "surface_pressure": "Pa",
    "surface_solar_radiation_downwards": "J m**-2",
}


def arco_values(times: pd.DatetimeIndex, seed: int = 3) -> dict[str, np.ndarray[Any, Any]]:
    """Deterministic float32 fields of shape (time, lat, lon) with a daily cycle."""
    rng = np.random.default_rng(seed)
    shape = (times.size, LATS.size, LONS.size)
    hour = times.hour.to_numpy()[:, None, None]
    out: dict[str, np.ndarray[Any, Any]] = {}
    for name in UNITS:
        if "wind" in name:
            base = 4.0 if name.startswith("10m") else 6.0
            out[name] = (base + 3.0 * rng.standard_normal(shape)).astype(np.float32)
    out["2m_temperature"] = (280.0 + 8.0 * rng.standard_normal(shape)).astype(np.float32)
    out["surface_pressure"] = (95000.0 + 500.0 * rng.standard_normal(shape)).astype(np.float32)
    sun = np.clip(np.sin((hour - 6) / 12 * np.pi), 0.0, None)
    ssrd = 3600.0 * 600.0 * sun * (0.6 + 0.4 * rng.random(shape))
    out["surface_solar_radiation_downwards"] = ssrd.astype(np.float32)
    return out


def write_arco_store(
    path: Path,
    start: str = "2020-11-01",
    end: str = "2021-02-28T23:00",
    *,
    variables: Iterable[str] | None = None,
    attrs: dict[str, str] | None = None,
) -> Path:
    """Write the store and return its path."""
    times = pd.date_range(start, end, freq="h")
    values = arco_values(times)
    names = list(variables) if variables is not None else list(UNITS)
    hours = ((times - pd.Timestamp("1900-01-01")) // pd.Timedelta(hours=1)).to_numpy(np.int64)
    ds = xr.Dataset(
        {
            name: (
                ("time", "latitude", "longitude"),
                values[name],
                {"units": UNITS[name], "long_name": name.replace("_", " ")},
            )
            for name in names
        },
        coords={
            "time": ("time", hours, {"units": "hours since 1900-01-01", "calendar": "gregorian"}),
            "latitude": ("latitude", LATS.astype(np.float32), {"units": "degrees_north"}),
            "longitude": ("longitude", LONS.astype(np.float32), {"units": "degrees_east"}),
        },
        attrs=attrs or {},
    )
    encoding = {
        name: {"chunks": (CHUNKS["time"], CHUNKS["latitude"], CHUNKS["longitude"])}
        for name in names
    }
    with warnings.catch_warnings():  # zarr's notice that consolidation is not in the v3 spec
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        ds.to_zarr(path, mode="w", encoding=encoding, zarr_format=3, consolidated=True)
    return path
