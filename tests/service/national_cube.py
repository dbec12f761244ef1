"""A national-size version-2 store for the map tests, written directly (no hourly input).

ERA5's 0.25-degree grid over China's bounding box (18-54 N, 73-135 E): 145 x 249 cells. The
store has the layout of :mod:`climate_data.store` (written by its own writer) with the variables
the map layers read — ``wind_speed_mean``, ``coverage`` and ``shear_exponent`` per cell and
year — the other figures of a cell that :meth:`climate_data.cube.Cube.site` reads (the site page
opens the cell a map link names; Weibull c is the mean over Gamma(1.5) = 0.886), and an empty
``monthly_wind_speed_hist`` (its chunks are never written, so it costs no disk). The wind field
is a smooth function of position (:func:`wind_field`) so that a test knows each cell's value,
and a block of cells has incomplete years (no data).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray

LATS = np.round(np.arange(18.0, 54.0 + 1e-9, 0.25), 2)
LONS = np.round(np.arange(73.0, 135.0 + 1e-9, 0.25), 2)
#: Cells without complete years: this latitude band and longitude band (a block in Tibet).
NODATA_LATS = (30.0, 31.0)
NODATA_LONS = (85.0, 87.0)


def wind_field(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Annual mean wind speed at the reference height [m s-1], the same every year.

    Rises from 4 m/s in the south-east to 9.6 m/s in the north-west, so that the 6.5 m/s rule
    splits the country.
    """
    return 4.0 + 5.6 * ((lat - 18.0) / 36.0 * 0.5 + (135.0 - lon) / 62.0 * 0.5)


def write_national_store(out: Path, years: tuple[int, ...] = (2021, 2022, 2023)) -> Path:
    """Write the store to ``out`` (a ``.zarr`` directory) and return it."""
    from climate_data.store import STORE_SCHEMA_VERSION, _StoreWriter

    lat2, lon2 = np.meshgrid(LATS, LONS, indexing="ij")
    ws = np.broadcast_to(wind_field(lat2, lon2), (len(years), *lat2.shape)).copy()
    cov = np.ones_like(ws)
    block = (
        (lat2 >= NODATA_LATS[0])
        & (lat2 <= NODATA_LATS[1])
        & (lon2 >= NODATA_LONS[0])
        & (lon2 <= NODATA_LONS[1])
    )
    cov[:, block] = 0.5
    months = pd.date_range(f"{years[0]}-01-01", f"{years[-1]}-12-01", freq="MS")
    edges = np.linspace(0.0, 40.0, 161)
    # the monthly figures of a cell: every month its year's mean and coverage
    month_year = np.asarray(months.year) - years[0]
    figures = xr.Dataset(
        {
            "wind_speed_mean": (("year", "lat", "lon"), ws),
            "coverage": (("year", "lat", "lon"), cov),
            "shear_exponent": (("lat", "lon"), np.full(lat2.shape, 1 / 7)),
            # the rest of a cell (Cube.site): the site page opens the cell a map link names
            "shear_from_data": (("lat", "lon"), np.zeros(lat2.shape, dtype=np.int8)),
            "weibull_k": (("lat", "lon"), np.full(lat2.shape, 2.0)),
            "weibull_c": (("lat", "lon"), ws[0] / 0.886),
            "monthly_wind_speed_mean": (("month", "lat", "lon"), ws[month_year]),
            "monthly_coverage": (("month", "lat", "lon"), cov[month_year]),
        },
        coords={"year": list(years), "lat": LATS, "lon": LONS},
    )
    writer = _StoreWriter(
        out, tile_cells=4, lats=LATS, lons=LONS, months=months, edges=edges, fresh=True
    )
    writer.write_band(0, figures, None)
    writer._arrays(
        [
            (
                "monthly_wind_speed_hist",
                (LATS.size, LONS.size, len(months), edges.size - 1),
                np.uint16,
                ("lat", "lon", "month", "wind_bin"),
            )
        ]
    )
    writer.finish(
        {
            "cube_schema_version": STORE_SCHEMA_VERSION,
            "tile_cells": 4,
            "reference_height_m": 100.0,
            "synthetic": "true",
            "title": "national test store (SYNTHETIC data)",
            "time_start": f"{years[0]}-01-01",
            "time_end": f"{years[-1]}-12-31",
            "content_sha256": "n" * 64,
            "generation": "national-test",
            "complete_years_share": float(np.mean(cov >= 0.9)),
            "has_update_sums": False,
        }
    )
    return out
