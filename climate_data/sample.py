"""Deterministic synthetic weather in today's ERA5 NetCDF conventions (the embedded default).

The sample stands in for an ERA5 download over the region around Changji, Xinjiang, where a
wind farm received a climate loan for a 3-year mean wind speed of at least 6.5 m/s. It is
**synthetic**: every file says so in its global attributes (``synthetic = "true"``), and so does
every cube built from it. It is meant for demos and tests, never for a lending decision.

What it imitates, per hourly step and grid cell:

* wind at 10 m and 100 m as (u, v) components. Speeds follow a Weibull distribution
  (shape about 2) through a Gaussian copula of an AR(1) process (hourly persistence), with a
  regional component shared by all cells, a seasonal cycle (spring maximum), a diurnal cycle,
  a per-year factor (inter-annual variability of a few percent) and a west-east / north-south
  gradient of the long-term mean so that some cells pass 6.5 m/s at 100 m and some fail;
* 2 m temperature with seasonal and diurnal cycles, surface pressure from a terrain height that
  rises towards the Tian Shan in the south;
* surface solar radiation downwards (``ssrd``) and its direct horizontal part (``fdir``) from
  the Ineichen-Perez clear-sky model (pvlib) attenuated by a day-to-day cloud process, as
  accumulations in J m-2 over the hour ending at each timestamp, and sunshine duration
  (``sund``, seconds in the hour: the share of the hour the clouds leave the sun free,
  while the clear-sky beam reaches 120 W m-2), giving roughly 2,600-3,000 sunshine hours a year.

Files follow the CDS NetCDF layout of 2024 onwards (``valid_time`` in seconds since 1970,
descending ``latitude``, ``longitude``, an ``expver`` coordinate, a scalar ``number``,
compressed float32, ``standard_name`` "unknown" on fields), one file per calendar year.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pvlib
import xarray as xr
from numpy.typing import NDArray
from scipy import signal, special, stats

from climate_data.solar import solar_zenith

#: Region of the default sample: about 43-46 N, 85.5-89.5 E, around Changji (44.0 N, 87.3 E).
DEFAULT_LATS = np.arange(46.0, 42.99, -0.5)  # descending, as the CDS delivers
DEFAULT_LONS = np.arange(85.5, 89.51, 0.5)
DEFAULT_YEARS = (2019, 2020, 2021, 2022, 2023, 2024)
WEIBULL_SHAPE = 2.0


@dataclass(frozen=True)
class SampleSpec:
    """What to generate.

    Attributes
    ----------
    lats, lons : tuple of float
        Grid [degrees]; latitudes are written descending.
    years : tuple of int
        Calendar years, one file each.
    seed : int
        Seed of every random draw (the output is a pure function of the spec).
    """

    lats: tuple[float, ...] = tuple(float(x) for x in DEFAULT_LATS)
    lons: tuple[float, ...] = tuple(float(x) for x in DEFAULT_LONS)
    years: tuple[int, ...] = DEFAULT_YEARS
    seed: int = 20190101


def write_sample(out_dir: str | os.PathLike[str], spec: SampleSpec | None = None) -> list[Path]:
    """Write the synthetic sample, one NetCDF file per year, and return their paths.

    Parameters
    ----------
    out_dir : path
        Folder to write into (created when absent). Existing sample files are replaced.
    spec : SampleSpec, optional
        Grid, years and seed; the Changji default when omitted.

    Returns
    -------
    list of Path
        ``era5_sample_<year>.nc`` files, in year order.
    """
    spec = spec or SampleSpec()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for year in spec.years:
        path = out / f"era5_sample_{year}.nc"
        _write_cds_file(_generate(spec, year), path, spec)
        paths.append(path)
    return paths


def _terrain_height_m(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Terrain height [m]: the Junggar basin (about 400 m) rising to the Tian Shan in the south."""
    return 400.0 + 900.0 * np.clip(44.0 - lat, 0.0, None) + 40.0 * np.abs(lon - 87.3)


def _mean_wind_100m(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float64]:
    """Long-term mean wind at 100 m [m s-1]: about 5.8 (south-west) to 7.8 (north-east)."""
    return 5.8 + 1.35 * (lon - 85.5) / 4.0 + 0.65 * (lat - 43.0) / 3.0


def _ar1(
    rng: np.random.Generator, n: int, shape: tuple[int, ...], phi: float
) -> NDArray[np.float64]:
    """Stationary unit-variance AR(1) series along axis 0 with lag-1 correlation ``phi``."""
    eps = rng.standard_normal((n, *shape)) * np.sqrt(1.0 - phi**2)
    eps[0] = rng.standard_normal(shape)
    return np.asarray(signal.lfilter([1.0], [1.0, -phi], eps, axis=0))


def _generate(spec: SampleSpec, year: int) -> xr.Dataset:
    """One calendar year of fields; each year has its own random stream (seed, year)."""
    rng = np.random.default_rng([spec.seed, year])
    lat = np.asarray(spec.lats, dtype=float)
    lon = np.asarray(spec.lons, dtype=float)
    time = pd.date_range(f"{year}-01-01", f"{year}-12-31 23:00", freq="h")
    nt, ny, nx = time.size, lat.size, lon.size
    glat, glon = np.meshgrid(lat, lon, indexing="ij")
    hours = time.hour.to_numpy()[:, None, None]
    doy = time.day_of_year.to_numpy()[:, None, None]
    local_solar_hour = (hours + glon[None] / 15.0) % 24.0

    # --- wind speed at 100 m: Weibull margins through a Gaussian copula of AR(1) processes
    regional = _ar1(rng, nt, (1, 1), 0.985)
    local = _ar1(rng, nt, (ny, nx), 0.95)
    z = np.sqrt(0.7) * regional + np.sqrt(0.3) * local
    u = np.clip(stats.norm.cdf(z), 1e-12, 1.0 - 1e-12)
    weibull_unit = (-np.log1p(-u)) ** (1.0 / WEIBULL_SHAPE) / special.gamma(
        1.0 + 1.0 / WEIBULL_SHAPE
    )
    seasonal = 1.0 + 0.12 * np.cos(2.0 * np.pi * (doy - 110) / 365.25)
    diurnal = 1.0 + 0.06 * np.cos(2.0 * np.pi * (local_solar_hour - 2.0) / 24.0)
    # inter-annual variability: a regional factor of the year and a small local one
    year_factor = (1.0 + 0.03 * rng.standard_normal()) * (
        1.0 + 0.01 * rng.standard_normal((ny, nx))
    )
    norm = seasonal.mean() * diurnal.mean(axis=0)
    ws100 = (
        _mean_wind_100m(glat, glon)[None] * weibull_unit * seasonal * diurnal / norm * year_factor
    )
    alpha = (0.14 + 0.04 * (46.0 - glat) / 3.0)[None] * (
        1.0 + 0.3 * np.cos(2.0 * np.pi * (local_solar_hour - 3.0) / 24.0)
    )
    ws10 = ws100 * (10.0 / 100.0) ** alpha
    direction = np.deg2rad(250.0 + 60.0 * _ar1(rng, nt, (1, 1), 0.995))  # prevailing westerly
    u100, v100 = -ws100 * np.sin(direction), -ws100 * np.cos(direction)
    u10, v10 = -ws10 * np.sin(direction), -ws10 * np.cos(direction)

    # --- temperature and pressure
    elevation = _terrain_height_m(glat, glon)
    t_mean = 278.0 - 0.0065 * (elevation - 500.0) - 0.8 * (glat - 44.0)
    t2m = (
        t_mean[None]
        - 20.0 * np.cos(2.0 * np.pi * (doy - 15) / 365.25)
        + 6.0 * np.cos(2.0 * np.pi * (local_solar_hour - 15.0) / 24.0)
        + 2.5 * _ar1(rng, nt, (1, 1), 0.99)
    )
    sp = (
        101325.0 * np.exp(-elevation / 8400.0)[None]
        + 900.0 * np.cos(2.0 * np.pi * (doy - 15) / 365.25)
        + 300.0 * _ar1(rng, nt, (1, 1), 0.995)
    )

    # --- solar: clear sky at mid-interval, attenuated by clouds that persist for days
    zen = (
        solar_zenith(
            xr.DataArray(time.values, dims="time"),
            xr.DataArray(lat, dims="lat"),
            xr.DataArray(lon, dims="lon"),
            mid_interval=True,
        )
        .transpose("time", "lat", "lon")
        .values
    )
    am_rel = pvlib.atmosphere.get_relative_airmass(np.where(zen < 90.0, zen, np.nan))
    am_abs = pvlib.atmosphere.get_absolute_airmass(am_rel, sp)
    dni_extra = pvlib.irradiance.get_extra_radiation(time.day_of_year.to_numpy())[:, None, None]
    with np.errstate(divide="ignore", invalid="ignore"):  # night: airmass is NaN
        clear = pvlib.clearsky.ineichen(
            zen, am_abs, linke_turbidity=3.0, altitude=elevation[None], dni_extra=dni_extra
        )
    day_index = ((time - time[0]).days.to_numpy())[:, None, None]
    n_days = int(day_index.max()) + 1
    daily = 0.8 * _ar1(rng, n_days, (1, 1), 0.6) + 0.6 * _ar1(rng, n_days, (ny, nx), 0.5)
    winter = (
        0.35 * np.cos(2.0 * np.pi * (np.arange(n_days) % 365.25 - 15.0) / 365.25)[:, None, None]
    )
    cloudy_day = stats.norm.cdf(daily - 0.1 + winter)
    cloud = np.clip(
        np.take_along_axis(cloudy_day, np.broadcast_to(day_index, (nt, ny, nx)), axis=0)
        + 0.15 * _ar1(rng, nt, (ny, nx), 0.8),
        0.0,
        1.0,
    )
    dni = np.nan_to_num(clear["dni"]) * (1.0 - cloud) ** 1.6
    cosz = np.clip(np.cos(np.deg2rad(zen)), 0.0, None)
    ghi = np.nan_to_num(clear["ghi"]) * (1.0 - 0.72 * cloud**2.2)
    bhi = np.minimum(dni * cosz, ghi)
    # Sunshine duration as ERA5's ``sund``, while the clear-sky beam reaches the WMO
    # threshold: the sun is hidden for a share (cloud - 0.25) / 0.75 of the hour (a sky a
    # quarter cloudy seldom hides it). No new random draw, so the other fields stay as they were.
    sunny_share = np.clip((1.0 - cloud) / 0.75, 0.0, 1.0)
    sund = np.where(np.nan_to_num(clear["dni"]) >= 120.0, sunny_share, 0.0) * 3600.0

    coords = {"time": time.values, "lat": lat, "lon": lon}
    dims = ("time", "lat", "lon")
    return xr.Dataset(
        {
            "u10": (dims, u10.astype(np.float32)),
            "v10": (dims, v10.astype(np.float32)),
            "u100": (dims, u100.astype(np.float32)),
            "v100": (dims, v100.astype(np.float32)),
            "t2m": (dims, t2m.astype(np.float32)),
            "sp": (dims, sp.astype(np.float32)),
            "ssrd": (dims, (ghi * 3600.0).astype(np.float32)),
            "fdir": (dims, (bhi * 3600.0).astype(np.float32)),
            "sund": (dims, sund.astype(np.float32)),
        },
        coords=coords,
    )


_ATTRS = {
    "u10": ("10 metre U wind component", "m s**-1"),
    "v10": ("10 metre V wind component", "m s**-1"),
    "u100": ("100 metre U wind component", "m s**-1"),
    "v100": ("100 metre V wind component", "m s**-1"),
    "t2m": ("2 metre temperature", "K"),
    "sp": ("Surface pressure", "Pa"),
    "ssrd": ("Surface short-wave (solar) radiation downwards", "J m**-2"),
    "fdir": ("Total sky direct solar radiation at surface", "J m**-2"),
    "sund": ("Sunshine duration", "s"),
}


def _write_cds_file(fields: xr.Dataset, path: Path, spec: SampleSpec) -> None:
    """Write one year in the CDS NetCDF layout (2024 onwards), atomically."""
    seconds = fields.time.values.astype("datetime64[s]").astype(np.int64)
    ds = xr.Dataset(
        coords={
            "number": (
                (),
                np.int64(0),
                {"long_name": "ensemble member numerical id", "units": "1"},
            ),
            "valid_time": (
                "valid_time",
                seconds,
                {
                    "long_name": "time",
                    "standard_name": "time",
                    "units": "seconds since 1970-01-01",
                    "calendar": "proleptic_gregorian",
                },
            ),
            "latitude": (
                "latitude",
                np.asarray(spec.lats),
                {"units": "degrees_north", "standard_name": "latitude", "long_name": "latitude"},
            ),
            "longitude": (
                "longitude",
                np.asarray(spec.lons),
                {"units": "degrees_east", "standard_name": "longitude", "long_name": "longitude"},
            ),
            "expver": (
                "valid_time",
                np.full(seconds.size, "0001", dtype="<U4"),
                {"long_name": "Experiment version"},
            ),
        }
    )
    for name, (long_name, units) in _ATTRS.items():
        ds[name] = (
            ("valid_time", "latitude", "longitude"),
            fields[name].values,
            {"long_name": long_name, "units": units, "standard_name": "unknown", "GRIB_paramId": 0},
        )
    ds.attrs = {
        "GRIB_centre": "ecmf",
        "Conventions": "CF-1.7",
        "institution": "Climate Loan Risk (synthetic sample, not ECMWF data)",
        "title": "SYNTHETIC hourly weather in ERA5 CDS NetCDF layout around Changji, Xinjiang",
        "synthetic": "true",
        "history": f"climate_data.sample.write_sample(seed={spec.seed})",
        "comment": (
            "Synthetic data for demos and tests; statistics imitate the Junggar basin, values are "
            "not observations and must not be used for lending decisions."
        ),
    }
    encoding: dict[str, dict[str, object]] = {
        name: {
            "zlib": True,
            "complevel": 1,
            "shuffle": True,
            "dtype": "float32",
            "chunksizes": (min(744, fields.sizes["time"]), len(spec.lats), len(spec.lons)),
        }
        for name in _ATTRS
    }
    encoding["valid_time"] = {"dtype": "int64"}
    tmp = path.with_suffix(".nc.part")
    ds.to_netcdf(tmp, encoding=encoding, format="NETCDF4")
    tmp.replace(path)
