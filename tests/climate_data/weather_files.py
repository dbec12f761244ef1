"""Write imitation weather files for the reader tests.

Each writer copies the structure of one real convention where it matters to a reader: names,
dimension order, dtypes, packing, compression, coordinate kinds and attributes. They write with
netCDF4 directly (not xarray) so that nothing is normalised on the way out.

Sources of the layouts (the CDS documentation of each file format):

* new CDS ERA5 NetCDF (2024 onwards): ``ncdump -h`` of files from the CDS
  (``reanalysis-era5-single-levels``, format "netcdf"): int64 ``valid_time`` "seconds since
  1970-01-01", double ``latitude`` (descending, ``stored_direction = "decreasing"``) and
  ``longitude``, vlen-string ``expver(valid_time)``, int64 scalar ``number``, float32 fields with
  NaN ``_FillValue``, ``GRIB_*`` attributes, ``standard_name = "unknown"``, zlib level 1 with
  shuffle, Conventions CF-1.7; a request mixing instant and accumulated fields arrives as a ZIP of
  ``data_stream-oper_stepType-instant.nc`` and ``data_stream-oper_stepType-accum.nc``;
* legacy CDS ERA5 NetCDF (grib_to_netcdf, before 2024): 64-bit-offset NetCDF-3, dims
  ``(time, latitude, longitude)`` or ``(time, expver, latitude, longitude)`` when ERA5 and ERA5T
  are mixed, int32 ``time`` "hours since 1900-01-01 00:00:00.0", float32 coordinates, int16
  fields packed with ``scale_factor``/``add_offset`` and fill -32767, Conventions CF-1.6.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import netCDF4
import numpy as np
from numpy.typing import ArrayLike, NDArray

#: ERA5 metadata per short name: (long name, GRIB shortName, paramId, units, stepType).
ERA5_PARAMS: dict[str, tuple[str, str, int, str, str]] = {
    "u10": ("10 metre U wind component", "10u", 165, "m s**-1", "instant"),
    "v10": ("10 metre V wind component", "10v", 166, "m s**-1", "instant"),
    "u100": ("100 metre U wind component", "100u", 228246, "m s**-1", "instant"),
    "v100": ("100 metre V wind component", "100v", 228247, "m s**-1", "instant"),
    "t2m": ("2 metre temperature", "2t", 167, "K", "instant"),
    "sp": ("Surface pressure", "sp", 134, "Pa", "instant"),
    "fsr": ("Forecast surface roughness", "fsr", 244, "m", "instant"),
    "tcc": ("Total cloud cover", "tcc", 164, "(0 - 1)", "instant"),
    "ssrd": ("Surface short-wave (solar) radiation downwards", "ssrd", 169, "J m**-2", "accum"),
    "fdir": ("Total sky direct solar radiation at surface", "fdir", 228021, "J m**-2", "accum"),
}

#: The ZIP members of a mixed instant/accum CDS request.
CDS_INSTANT_MEMBER = "data_stream-oper_stepType-instant.nc"
CDS_ACCUM_MEMBER = "data_stream-oper_stepType-accum.nc"


def hourly(start: str, hours: int) -> NDArray[np.datetime64]:
    """Hourly UTC timestamps from ``start``."""
    return np.datetime64(start, "ns") + np.arange(hours) * np.timedelta64(1, "h")


def era5_cds_file(
    path: Path,
    *,
    valid_time: NDArray[np.datetime64],
    latitude: ArrayLike,
    longitude: ArrayLike,
    fields: Mapping[str, NDArray[Any]],
    expver: Sequence[str] | None = None,
    units: Mapping[str, str | None] | None = None,
) -> Path:
    """Write a new-CDS ERA5 NetCDF file.

    ``fields`` maps short names to float arrays shaped (valid_time, latitude, longitude) in
    the order given (write descending latitudes to imitate the CDS). ``units`` overrides the
    units of some fields (None drops the attribute).
    """
    latitude, longitude = np.asarray(latitude), np.asarray(longitude)
    nt, ny, nx = len(valid_time), latitude.size, longitude.size
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.createDimension("valid_time", nt)
        nc.createDimension("latitude", ny)
        nc.createDimension("longitude", nx)
        number = nc.createVariable("number", "i8", ())
        number.setncatts(
            {
                "long_name": "ensemble member numerical id",
                "units": "1",
                "standard_name": "realization",
            }
        )
        number.assignValue(0)
        vt = nc.createVariable("valid_time", "i8", ("valid_time",))
        vt.setncatts(
            {
                "long_name": "time",
                "standard_name": "time",
                "units": "seconds since 1970-01-01",
                "calendar": "proleptic_gregorian",
            }
        )
        vt[:] = (np.asarray(valid_time, "datetime64[s]").astype(np.int64)).tolist()
        lat = nc.createVariable("latitude", "f8", ("latitude",), fill_value=np.nan)
        lat.setncatts(
            {
                "units": "degrees_north",
                "standard_name": "latitude",
                "long_name": "latitude",
                "stored_direction": "decreasing",
            }
        )
        lat[:] = np.asarray(latitude, dtype=np.float64)
        lon = nc.createVariable("longitude", "f8", ("longitude",), fill_value=np.nan)
        lon.setncatts(
            {"units": "degrees_east", "standard_name": "longitude", "long_name": "longitude"}
        )
        lon[:] = np.asarray(longitude, dtype=np.float64)
        ev = nc.createVariable("expver", str, ("valid_time",))
        ev.long_name = "experiment version"
        ev[:] = np.array(list(expver) if expver is not None else ["0001"] * nt, dtype=object)
        step_types = set()
        for name, values in fields.items():
            long_name, short, param, unit, step_type = ERA5_PARAMS[name]
            step_types.add(step_type)
            var = nc.createVariable(
                name,
                "f4",
                ("valid_time", "latitude", "longitude"),
                fill_value=np.float32(np.nan),
                zlib=True,
                complevel=1,
                shuffle=True,
                chunksizes=(min(nt, 12), ny, nx),
            )
            var.setncatts(
                {
                    "GRIB_paramId": np.int64(param),
                    "GRIB_dataType": "fc" if step_type == "accum" else "an",
                    "GRIB_numberOfPoints": np.int64(ny * nx),
                    "GRIB_typeOfLevel": "surface",
                    "GRIB_stepUnits": np.int64(1),
                    "GRIB_stepType": step_type,
                    "GRIB_gridType": "regular_ll",
                    "GRIB_Nx": np.int64(nx),
                    "GRIB_Ny": np.int64(ny),
                    "GRIB_name": long_name,
                    "GRIB_shortName": short,
                    "GRIB_units": unit,
                    "long_name": long_name,
                }
            )
            u = units.get(name, unit) if units is not None else unit
            if u is not None:
                var.units = u
            var.setncatts(
                {
                    "standard_name": "unknown",
                    "GRIB_surface": 0.0,
                    "coordinates": "number valid_time latitude longitude expver",
                }
            )
            var[:] = np.asarray(values, dtype=np.float32)
        nc.setncatts(
            {
                "GRIB_centre": "ecmf",
                "GRIB_centreDescription": "European Centre for Medium-Range Weather Forecasts",
                "GRIB_subCentre": np.int64(0),
                "Conventions": "CF-1.7",
                "institution": "European Centre for Medium-Range Weather Forecasts",
            }
        )
        kind = "/".join(sorted(step_types))
        nc.history = (
            "2024-09-01T00:00 GRIB to CDM+CF via cfgrib-0.9.14.0/ecCodes-2.36.0 with "
            f'{{"source": "data.grib", "filter_by_keys": {{"stepType": ["{kind}"]}}}}'
        )
    return path


def era5_cds_zip(
    path: Path,
    *,
    valid_time: NDArray[np.datetime64],
    latitude: ArrayLike,
    longitude: ArrayLike,
    instant: Mapping[str, NDArray[Any]],
    accum: Mapping[str, NDArray[Any]],
) -> Path:
    """Write the ZIP the CDS delivers for a request mixing instant and accumulated fields."""
    work = path.parent / f".{path.stem}-members"
    work.mkdir(exist_ok=True)
    members = []
    for member, fields in ((CDS_INSTANT_MEMBER, instant), (CDS_ACCUM_MEMBER, accum)):
        members.append(
            era5_cds_file(
                work / member,
                valid_time=valid_time,
                latitude=latitude,
                longitude=longitude,
                fields=fields,
            )
        )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member_path in members:
            zf.write(member_path, arcname=member_path.name)
            member_path.unlink()
    work.rmdir()
    return path


def pack_int16(values: NDArray[Any]) -> tuple[NDArray[np.int16], float, float]:
    """Pack like grib_to_netcdf: 16-bit integers spanning the data range, fill -32767.

    Returns the packed array, ``scale_factor`` and ``add_offset`` (float64). NaN becomes the
    fill value. The unpacking error of a finite value is at most ``scale_factor / 2``.
    """
    finite = np.asarray(values, dtype=np.float64)
    vmin, vmax = float(np.nanmin(finite)), float(np.nanmax(finite))
    scale = (vmax - vmin) / (2**16 - 2) if vmax > vmin else 1.0
    offset = vmax - 32766 * scale
    unpacked = np.round((finite - offset) / scale)
    packed = np.where(np.isnan(unpacked), -32767, unpacked).astype(np.int16)
    return packed, scale, offset


def era5_legacy_file(
    path: Path,
    *,
    time: NDArray[np.datetime64],
    latitude: ArrayLike,
    longitude: ArrayLike,
    fields: Mapping[str, NDArray[Any]],
    expver_split: int | None = None,
) -> dict[str, float]:
    """Write a legacy-CDS ERA5 file (NetCDF-3, int16 packing); return each field's scale.

    With ``expver_split`` the file has an ``expver`` dimension [1, 5]: steps before the
    split hold final ERA5 (expver 1) and fill in expver 5, later steps the reverse (ERA5T).
    """
    latitude, longitude = np.asarray(latitude), np.asarray(longitude)
    nt, ny, nx = len(time), latitude.size, longitude.size
    scales: dict[str, float] = {}
    with netCDF4.Dataset(path, "w", format="NETCDF3_64BIT_OFFSET") as nc:
        nc.createDimension("longitude", nx)
        nc.createDimension("latitude", ny)
        if expver_split is not None:
            nc.createDimension("expver", 2)
        nc.createDimension("time", None)
        lon = nc.createVariable("longitude", "f4", ("longitude",))
        lon.units = "degrees_east"
        lon.long_name = "longitude"
        lon[:] = np.asarray(longitude, dtype=np.float32)
        lat = nc.createVariable("latitude", "f4", ("latitude",))
        lat.units = "degrees_north"
        lat.long_name = "latitude"
        lat[:] = np.asarray(latitude, dtype=np.float32)
        dims: tuple[str, ...] = ("time", "latitude", "longitude")
        if expver_split is not None:
            ev = nc.createVariable("expver", "i4", ("expver",))
            ev.long_name = "expver"
            ev[:] = np.array([1, 5], dtype=np.int32)
            dims = ("time", "expver", "latitude", "longitude")
        t = nc.createVariable("time", "i4", ("time",))
        t.setncatts(
            {
                "units": "hours since 1900-01-01 00:00:00.0",
                "long_name": "time",
                "calendar": "gregorian",
            }
        )
        hours = (np.asarray(time, "datetime64[h]") - np.datetime64("1900-01-01T00", "h")).astype(
            np.int64
        )
        t[:] = hours.astype(np.int32)
        for name, values in fields.items():
            long_name, _, _, unit, _ = ERA5_PARAMS[name]
            data = np.asarray(values, dtype=np.float64)
            if expver_split is not None:
                both = np.full((nt, 2, ny, nx), np.nan)
                both[:expver_split, 0] = data[:expver_split]
                both[expver_split:, 1] = data[expver_split:]
                data = both
            packed, scale, offset = pack_int16(data)
            scales[name] = scale
            var = nc.createVariable(name, "i2", dims, fill_value=np.int16(-32767))
            var.setncatts(
                {
                    "scale_factor": scale,
                    "add_offset": offset,
                    "missing_value": np.int16(-32767),
                    "units": unit,
                    "long_name": long_name,
                }
            )
            if name == "ssrd":  # grib_to_netcdf wrote the flux name on the accumulation
                var.standard_name = "surface_downwelling_shortwave_flux_in_air"
            var.set_auto_maskandscale(False)
            var[:] = packed
        nc.Conventions = "CF-1.6"
        nc.history = (
            "2023-05-01 00:00:00 GMT by grib_to_netcdf-2.25.1: /opt/ecmwf/mars-client/bin/"
            "grib_to_netcdf.bin -S param -o /cache/data0/adaptor.mars.internal-1.nc "
            "/cache/tmp/adaptor.mars.internal-1.grib"
        )
    return scales


def _write_time(
    nc: netCDF4.Dataset, time: NDArray[np.datetime64], name: str, units: str | None
) -> None:
    """The time variable of :func:`cf_file`: in ``units`` ("<unit> since ..."), or 0, 1, 2, ..."""
    t = nc.createVariable(name, "f8", (name,))
    if units is not None:
        t.units = units
        unit, since = units.split(" since ")
        origin = np.datetime64(since.strip(), "ns")
        step = {"days": np.timedelta64(1, "D"), "hours": np.timedelta64(1, "h")}[unit]
        t[:] = (np.asarray(time, "datetime64[ns]") - origin) / step
    else:
        t[:] = np.arange(len(time), dtype=np.float64)
    t.standard_name = "time"


def cf_file(
    path: Path,
    *,
    time: NDArray[np.datetime64] | None,
    variables: Mapping[str, tuple[tuple[str, ...], NDArray[Any], Mapping[str, Any]]],
    coords: Mapping[str, tuple[tuple[str, ...], NDArray[Any], Mapping[str, Any]]] = {},
    global_attrs: Mapping[str, Any] = {},
    time_units: str | None = "hours since 2000-01-01 00:00:00",
    time_name: str = "time",
    fmt: Literal["NETCDF4", "NETCDF4_CLASSIC", "NETCDF3_64BIT_OFFSET"] = "NETCDF4",
) -> Path:
    """Write a generic CF file: ``variables``/``coords`` map names to (dims, values, attrs).

    ``time`` (when given) is written as ``time_name`` in ``time_units`` (None: no units).
    Coordinates with no dims are scalar coordinates.
    """
    with netCDF4.Dataset(path, "w", format=fmt) as nc:
        sizes: dict[str, int] = {}
        if time is not None:
            sizes[time_name] = len(time)
        for dims, values, _ in [*coords.values(), *variables.values()]:
            for d, n in zip(dims, np.shape(values), strict=True):
                sizes.setdefault(d, n)
        for d, n in sizes.items():
            nc.createDimension(d, n)
        if time is not None:
            _write_time(nc, time, time_name, time_units)
        for name, (dims, values, attrs) in [*coords.items(), *variables.items()]:
            arr = np.asarray(values)
            var = nc.createVariable(name, arr.dtype, dims)
            for key, value in attrs.items():
                var.setncattr(key, value)
            if dims:
                var[:] = arr
            else:
                var.assignValue(arr)
        for key, value in global_attrs.items():
            nc.setncattr(key, value)
    return path
