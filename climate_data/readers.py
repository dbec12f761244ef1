"""Read gridded or single-point weather files into the canonical weather schema.

One entry point, :func:`open_weather`, accepts ERA5 NetCDF as the Copernicus Climate Data
Store delivers it today (``valid_time``, ZIP of instant/accum files) and as it delivered it
before 2024 (``time`` in hours since 1900, int16 packing, ``expver`` dimension), CF-compliant
files such as MERRA-2 extracts (identified by ``standard_name`` and names), and single-point
series. Whatever the source, the result has the layout of :mod:`climate_data.schema`:

* dims ``time`` (``datetime64[ns]``, UTC), ``lat`` (ascending, degrees_north) and ``lon``
  (ascending, in [-180, 180)); a single point becomes a 1 x 1 grid;
* ``wind_speed`` with dims ``(time, height, lat, lon)``, one ``height`` [m] per height the
  source provides, from a speed variable or as ``hypot(u, v)`` of the components;
* every other variable with dims ``(time, lat, lon)``, in canonical units, with CF ``units``
  and ``standard_name`` attributes; accumulations (ERA5 ``ssrd``, ``fdir`` in J m-2 over the
  hour ending at the timestamp) become the mean flux over that hour [W m-2].

Everything stays lazy (dask, chunked along time, full lat/lon per chunk) so that the cube
builder can stream inputs of any size; only the coordinates are read here. Units are checked
and converted once, here (:mod:`climate_data.units`); nothing is ever guessed or silently
filled: a problem raises one of the errors of :mod:`climate_data.errors`, naming the file and
the variable.

References
----------
.. [1] Hersbach, H. et al. (2020). The ERA5 global reanalysis. Quarterly Journal of the Royal
   Meteorological Society 146, 1999-2049. https://doi.org/10.1002/qj.3803
.. [2] ECMWF. ERA5: data documentation, section "Accumulations" (hourly reanalysis fields are
   accumulated over the hour ending at the validity time).
   https://confluence.ecmwf.int/display/CKB/ERA5%3A+data+documentation
.. [3] Gelaro, R. et al. (2017). The Modern-Era Retrospective Analysis for Research and
   Applications, Version 2 (MERRA-2). Journal of Climate 30, 5419-5454.
   https://doi.org/10.1175/JCLI-D-16-0758.1
.. [4] NetCDF Climate and Forecast (CF) Metadata Conventions, version 1.11.
   https://doi.org/10.5281/zenodo.14275599
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from dask.base import tokenize
from numpy.typing import NDArray
from scipy.io import netcdf_file

from climate_data import units as cfunits
from climate_data.errors import (
    ClimateDataError,
    CorruptFileError,
    MissingVariableError,
    TimeAxisError,
    UnitsError,
)
from climate_data.schema import CANONICAL

if TYPE_CHECKING:
    from climate_data.era5 import BBox

__all__ = [
    "DEFAULT_TIME_CHUNK",
    "ERA5_ACCUMULATION_PERIOD_S",
    "NoWeatherFilesError",
    "canonical_field",
    "open_weather",
]

PathInput = str | os.PathLike[str]

#: Default number of time steps per dask chunk (about one month of hourly data).
DEFAULT_TIME_CHUNK = 24 * 31
#: Accumulation period of ERA5 hourly fields [s] (reference [2] of the module docstring).
ERA5_ACCUMULATION_PERIOD_S = 3600.0

#: ERA5 short names that are accumulations over the hour ending at the validity time.
_ERA5_ACCUMULATED = frozenset({"ssrd", "fdir", "sund"})
#: Short names ECMWF uses; their presence (with ECMWF metadata) marks an ERA5 file.
_ERA5_NAMES = frozenset({"u10", "v10", "u100", "v100", "t2m", "sp", "fsr", "ssrd", "fdir", "sund"})

#: Extra CF standard names (not the canonical ones) that map onto a canonical variable.
_EXTRA_STANDARD_NAMES = {
    "integral_wrt_time_of_surface_downwelling_shortwave_flux_in_air": "ghi",
    "integral_wrt_time_of_surface_direct_downwelling_shortwave_flux_in_air": (
        "direct_horizontal_irradiance"
    ),
}
_WIND_STANDARD_NAMES = {"wind_speed": "speed", "eastward_wind": "u", "northward_wind": "v"}

#: Wind names with the height in the name: u10, v100, U50M, ws50m, si10, WS100M, wind_speed_100m.
_HEIGHT = r"(\d+(?:\.\d+)?)[mM]?"
_WIND_NAME_PATTERNS = (
    (re.compile(rf"^[uU]{_HEIGHT}$"), "u"),
    (re.compile(rf"^[vV]{_HEIGHT}$"), "v"),
    (re.compile(rf"^(?:ws|WS|wspd|WSPD|si|SI|wind_speed_?|windspeed_?){_HEIGHT}$"), "speed"),
)

_LAT_NAMES = ("latitude", "lat", "Latitude", "LATITUDE", "LAT", "nav_lat")
_LON_NAMES = ("longitude", "lon", "Longitude", "LONGITUDE", "LON", "nav_lon")
_HEIGHT_COORD_NAMES = ("height", "heightAboveGround", "level_height")

#: Global attributes that declare the resolution of a single-point series.
_RESOLUTION_KM_ATTRS = ("point_resolution_km", "resolution_km", "spatial_resolution_km")
_RESOLUTION_TEXT_ATTRS = ("spatial_resolution", "resolution", "geospatial_lat_resolution")
#: Length of one degree of latitude on a sphere of the IUGG mean Earth radius 6371.0088 km [km].
_KM_PER_DEGREE = 2.0 * np.pi * 6371.0088 / 360.0
_DEGREES = re.compile(
    r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?:deg|degrees?|degrees_north|°)\s*$"
)

_NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".cdf", ".h5")


class NoWeatherFilesError(ClimateDataError, FileNotFoundError):
    """No file matches a glob pattern, or a named weather file does not exist.

    It is both a :class:`~climate_data.errors.ClimateDataError` (one place to catch input
    problems) and a :class:`FileNotFoundError` (what Python code expects for a missing file).
    """


@dataclass(frozen=True)
class _Role:
    """What a source variable is in the canonical schema."""

    kind: str  # "scalar", "speed", "u" or "v"
    canonical: str
    name_height_m: float | None = None


@dataclass(frozen=True)
class _Field:
    """One canonical variable (at one height for wind) from one file, dims (time, lat, lon)."""

    name: str
    height_m: float | None
    data: xr.DataArray
    label: str
    first: np.datetime64
    last: np.datetime64


@dataclass
class _FileResult:
    fields: list[_Field]
    source_format: str
    resolution_km: float | None
    raw_names: list[str]
    notes: list[str]
    dataset: xr.Dataset


def open_weather(
    paths: PathInput | Sequence[PathInput],
    variables: Sequence[str] | None = None,
    *,
    chunks: Mapping[str, int] | None = None,
    zip_cache_dir: PathInput | None = None,
    bbox: BBox | None = None,
    years: tuple[int, int] | None = None,
) -> xr.Dataset:
    r"""Open weather files lazily as one dataset in the canonical weather schema.

    Parameters
    ----------
    paths : path, glob pattern or sequence of them
        One NetCDF file, a ZIP of NetCDF files (the CDS delivery of instant and accumulated
        fields), a glob pattern (a string containing ``*``, ``?`` or ``[``), or a list of
        these. Files may split the data by time (e.g. one per year), by variable (instant /
        accum), or both.
    variables : sequence of str, optional
        Canonical names the caller needs (``"wind_speed"``, ``"air_temperature"``,
        ``"surface_air_pressure"``, ``"ghi"``, ``"direct_horizontal_irradiance"``,
        ``"sunshine_duration"``, ``"surface_roughness"``); each must be in the inputs. The
        result holds every variable that maps onto the schema either way (select with
        ``ds[variables]``, which stays lazy).
    chunks : mapping of str to int, optional
        Dask chunk sizes by canonical dimension (``time``, ``lat``, ``lon``); ``-1`` means the
        whole axis. Default ``{"time": 744, "lat": -1, "lon": -1}``. Each size is rounded up to
        a whole number of the file's stored (HDF5) chunks so that no stored chunk is read twice.
    zip_cache_dir : path, optional
        Folder where members of ZIP inputs are extracted (once per archive version; reused on
        later calls). Default: ``climate-loan-zip`` in the system temporary folder. On a
        dask.distributed cluster, pick a folder every worker can read.
    bbox : climate_data.era5.BBox, optional
        Only the cells whose centre lies in this box (inclusive).
    years : (int, int), optional
        Only the time steps of these calendar years (inclusive).

    Returns
    -------
    xarray.Dataset
        Dask-backed dataset with dims ``time`` (UTC, ``datetime64[ns]``), ``lat`` (ascending
        [degrees_north]), ``lon`` (ascending, [-180, 180) [degrees_east]) and, for
        ``wind_speed``, ``height`` [m]. Variables carry CF ``units`` and ``standard_name``.
        Attributes: ``source_files`` (list of absolute paths of the inputs, ZIPs as given),
        ``source_format`` (``"era5-cds"``, ``"era5-legacy"``, ``"cf"`` or ``"point"``; several
        joined with ``"+"`` when inputs mix them) and, for a point series that declares one,
        ``point_resolution_km``. Call ``close()`` on it to release the files.

    Raises
    ------
    NoWeatherFilesError
        A named file does not exist or a glob matches nothing (also a FileNotFoundError).
    CorruptFileError
        A file is not NetCDF, is truncated, or is a bad ZIP.
    TimeAxisError
        No time axis, undecodable time units, missing, duplicated or decreasing times, or two
        files covering the same time for the same variable.
    UnitsError
        Missing, unknown or incompatible units on a variable that is read.
    MissingVariableError
        A requested variable is not in the inputs (or no variable maps onto the schema).
    ClimateDataError
        No latitude/longitude, grids that differ between files, or a wind speed without a
        height.
    ValueError
        ``variables`` names an unknown canonical variable, or ``chunks`` an unknown dimension.

    Notes
    -----
    A single Zarr store in the ARCO-ERA5 layout (a ``.zarr`` folder, or a URL such as
    ``gs://...``) is read by :func:`climate_data.era5.open_arco`, which selects the box and
    the years before reading any data; NetCDF inputs are opened lazily and then subset.

    Wind speed from components, at each height :math:`z`:

    .. math:: U(z) = \sqrt{u(z)^2 + v(z)^2}

    When a file holds both a speed variable and components at the same height, the speed
    variable is used. ERA5 accumulations :math:`E` [J m-2] over the hour ending at ``time``
    become the hour's mean flux :math:`E / 3600\,\text{s}` [W m-2]; accumulations in other
    CF files are divided by the file's (constant) time step. An ``expver`` dimension (ERA5
    mixed with ERA5T) is collapsed by taking, at each point, the first non-missing value in
    ascending ``expver`` order (final ERA5 ``1`` before preliminary ERA5T ``5``). Time labels
    are kept as written: MERRA-2 time-averaged fields stay labelled at the centre of their
    hour [3].

    References
    ----------
    .. [1] Hersbach, H. et al. (2020). The ERA5 global reanalysis. Q. J. R. Meteorol. Soc.
       146, 1999-2049. https://doi.org/10.1002/qj.3803
    """
    from climate_data import era5

    if era5.is_zarr_input(paths):
        return era5.open_arco(paths, variables, bbox=bbox, years=years, chunks=chunks)
    wanted = _check_requested(variables)
    chunk_spec = _check_chunks(chunks)
    inputs = _resolve_paths(paths)
    cache_root = (
        Path(zip_cache_dir)
        if zip_cache_dir is not None
        else Path(tempfile.gettempdir()) / "climate-loan-zip"
    )
    members: list[tuple[Path, str]] = []
    for path in inputs:
        members.extend(_expand_zip(path, cache_root))

    results, combined = _read_members(members, chunk_spec, wanted)
    ds = _assemble(combined)
    formats = sorted({r.source_format for r in results if r.fields})
    ds.attrs["source_format"] = "+".join(formats)
    ds.attrs["source_files"] = [str(p) for p in inputs]
    resolutions = [r.resolution_km for r in results if r.resolution_km is not None]
    if resolutions:
        ds.attrs["point_resolution_km"] = float(max(resolutions))
    opened = [r.dataset for r in results]

    def close_all() -> None:
        for d in opened:
            d.close()

    ds.set_close(close_all)
    if bbox is not None or years is not None:
        try:
            ds = era5.subset(ds, bbox, years)
        except BaseException:
            close_all()
            raise
        ds.set_close(close_all)
    return ds


def _read_members(
    members: Sequence[tuple[Path, str]],
    chunk_spec: Mapping[str, int],
    wanted: frozenset[str] | None,
) -> tuple[list[_FileResult], dict[tuple[str, float | None], xr.DataArray]]:
    """Read every NetCDF file and combine their fields; on any error, close what was opened.

    Returns
    -------
    results : list of _FileResult
        One per file, in order.
    combined : dict
        The fields joined over the files, by canonical name and height.
    """
    results: list[_FileResult] = []
    try:
        for nc_path, label in members:
            results.append(_read_file(nc_path, label, chunk_spec))
        labels = [label for _, label in members]
        fields = [f for r in results for f in r.fields]
        _check_found(fields, wanted, labels, results)
        combined = _combine(fields)
    except BaseException:
        for r in results:
            r.dataset.close()
        raise
    return results, combined


# --------------------------------------------------------------------------------------------
# Arguments and paths


def _check_requested(variables: Sequence[str] | None) -> frozenset[str] | None:
    """Validate requested canonical names; None means "all"."""
    if variables is None:
        return None
    if isinstance(variables, str):
        variables = [variables]
    wanted = frozenset(variables)
    if not wanted:
        raise ValueError("variables is empty; pass None to read every variable")
    unknown = sorted(wanted - set(CANONICAL))
    if unknown:
        raise ValueError(f"unknown canonical variable(s) {unknown}; known: {sorted(CANONICAL)}")
    return wanted


def _check_chunks(chunks: Mapping[str, int] | None) -> dict[str, int]:
    """Merge user chunks with the defaults; reject unknown dims and bad sizes."""
    spec = {"time": DEFAULT_TIME_CHUNK, "lat": -1, "lon": -1}
    for dim, size in (chunks or {}).items():
        if dim not in spec:
            raise ValueError(f"chunks: unknown dimension {dim!r}; use 'time', 'lat' or 'lon'")
        if not isinstance(size, int | np.integer) or (size < 1 and size != -1):
            raise ValueError(f"chunks[{dim!r}] must be a positive integer or -1, got {size!r}")
        spec[dim] = int(size)
    return spec


def _resolve_paths(paths: PathInput | Sequence[PathInput]) -> list[Path]:
    """Expand globs and check that every input exists; return absolute paths, in order."""
    items: list[PathInput] = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise NoWeatherFilesError("no weather files given")
    out: list[Path] = []
    for item in items:
        text = os.path.expanduser(os.fspath(item))
        if isinstance(item, str) and any(c in text for c in "*?["):
            matches = sorted(m for m in glob.glob(text, recursive=True) if os.path.isfile(m))
            if not matches:
                raise NoWeatherFilesError(f"no file matches the pattern {text!r}")
            out.extend(Path(m).resolve() for m in matches)
            continue
        path = Path(text).resolve()
        if path.is_dir():
            raise NoWeatherFilesError(
                f"{path} is a folder; pass the files or a pattern such as '{path}/*.nc'"
            )
        if not path.is_file():
            raise NoWeatherFilesError(f"{path}: no such weather file")
        out.append(path)
    return list(dict.fromkeys(out))


def _expand_zip(path: Path, cache_root: Path) -> list[tuple[Path, str]]:
    """Return ``[(netcdf_path, label)]``: the file itself, or the NetCDF members of a ZIP.

    ZIP members are extracted once per archive version (path, size, mtime) into a folder of
    ``cache_root``; the folder appears atomically (extract to a temporary folder, rename).
    """
    with path.open("rb") as fh:
        magic = fh.read(4)
    if not magic.startswith(b"PK"):
        if path.suffix.lower() == ".zip":
            raise CorruptFileError(f"{path}: not a ZIP archive (no ZIP signature); re-download it")
        return [(path, str(path))]
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [
                i
                for i in zf.infolist()
                if not i.is_dir() and i.filename.lower().endswith(_NETCDF_SUFFIXES)
            ]
            if not infos:
                names = [i.filename for i in zf.infolist()]
                raise CorruptFileError(
                    f"{path}: the ZIP archive holds no NetCDF member (members: {names})"
                )
            stat = path.stat()
            key = hashlib.sha256(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
            target = cache_root / f"{path.stem}-{key[:16]}"
            names = _member_names(infos)
            if not target.is_dir():
                cache_root.mkdir(parents=True, exist_ok=True)
                tmp = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache_root))
                try:
                    for info, name in zip(infos, names, strict=True):
                        with zf.open(info) as src, (tmp / name).open("wb") as dst:
                            shutil.copyfileobj(src, dst, length=1 << 20)
                    try:
                        tmp.rename(target)
                    except OSError:
                        if not target.is_dir():  # not a concurrent extraction: a real failure
                            raise
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    # zipfile raises NotImplementedError for a compression method it cannot read.
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise CorruptFileError(f"{path}: bad ZIP archive ({exc}); re-download it") from exc
    return [
        (target / name, f"{path}!{info.filename}") for info, name in zip(infos, names, strict=True)
    ]


def _member_names(infos: list[zipfile.ZipInfo]) -> list[str]:
    """Safe, unique file names for ZIP members (no folders, so no path traversal)."""
    names: list[str] = []
    for i, info in enumerate(infos):
        base = Path(info.filename).name or f"member-{i}.nc"
        names.append(base if base not in names else f"{i}-{base}")
    return names


# --------------------------------------------------------------------------------------------
# One file


def _read_file(path: Path, label: str, chunk_spec: Mapping[str, int]) -> _FileResult:
    """Open one NetCDF file lazily and return its canonical fields."""
    _check_netcdf3_complete(path, label)
    try:
        ds = xr.open_dataset(path, decode_times=False, decode_timedelta=False, cache=False)
    except FileNotFoundError as exc:
        raise NoWeatherFilesError(f"{label}: no such weather file") from exc
    except (OSError, ValueError, RuntimeError, KeyError, IndexError, TypeError) as exc:
        raise CorruptFileError(
            f"{label}: cannot be read as NetCDF ({type(exc).__name__}: {exc}); "
            "the file may be truncated or in another format"
        ) from exc
    try:
        return _fields_of(ds, path, label, chunk_spec)
    except BaseException:
        ds.close()
        raise


def _check_netcdf3_complete(path: Path, label: str) -> None:
    """Refuse a truncated NetCDF-3 file (the legacy CDS format).

    The netCDF C library opens a NetCDF-3 file whose data section is cut short and returns
    zeros for the missing records, which would surface later as bogus times or values.
    scipy's reader maps every variable onto the file when it parses the header (no data are
    read) and fails when the file is shorter than the header says.
    """
    with path.open("rb") as fh:  # we own the handle: scipy leaks it when parsing fails
        if fh.read(4) not in (b"CDF\x01", b"CDF\x02"):
            return
        fh.seek(0)
        try:
            with netcdf_file(fh, "r", mmap=True):
                pass
        except (ValueError, TypeError, OSError, IndexError, EOFError) as exc:
            raise CorruptFileError(
                f"{label}: truncated or damaged NetCDF-3 file ({exc}); re-download it"
            ) from exc


_Pieces = dict[tuple[str, float | None], tuple[str, xr.DataArray]]
_Components = dict[tuple[str, float], tuple[str, xr.DataArray]]
#: Per wind variable read from a height dimension: that dimension and its heights [m].
_HeightDims = dict[str, tuple[str, list[float]]]


def _fields_of(
    ds: xr.Dataset,
    path: Path,
    label: str,
    chunk_spec: Mapping[str, int],
) -> _FileResult:
    """The canonical fields of one opened file, with its format, resolution and notes."""
    raw_names = [str(n) for n in ds.data_vars]
    roles = {name: role for name in raw_names if (role := _classify(name, ds[name].attrs))}
    time_dim = _time_dim(ds, label)
    lat = _axis(ds, label, "latitude", _LAT_NAMES, ("degrees_north", "degree_north", "degN"))
    lon = _axis(ds, label, "longitude", _LON_NAMES, ("degrees_east", "degree_east", "degE"))
    is_point = not isinstance(lat, str) and not isinstance(lon, str)
    fmt = "point" if is_point else _era5_format(ds, time_dim, roles) or "cf"
    result = _FileResult([], fmt, None, raw_names, [], ds)
    if is_point:
        result.resolution_km = _point_resolution_km(ds.attrs, label)

    times = _decode_time(ds, time_dim, label)
    selected = dict(roles)
    if not selected:
        return result

    # heights and extra dims are worked out on the metadata, before any dask graph exists
    grid_dims = {d for d in (time_dim, lat, lon) if isinstance(d, str)}
    height_dims, scalar_heights = _heights(ds, selected, time_dim, grid_dims, label)

    sub = ds[list(selected)].reset_coords(drop=True)
    squeeze = [d for d in sub.dims if d not in grid_dims and d != "expver"]
    squeeze = [d for d in squeeze if d not in {hd for hd, _ in height_dims.values()}]
    sub = sub.isel({d: 0 for d in squeeze}, drop=True)
    sub = sub.chunk(
        _chunk_map(sub, time_dim, lat, lon, chunk_spec),
        token=tokenize(str(path), path.stat().st_mtime_ns, path.stat().st_size, chunk_spec),
    )
    sub = _collapse_expver(sub)
    sub = _to_canonical_grid(sub, time_dim, times, lat, lon, label)
    step_s = _constant_step_s(times)

    pieces: _Pieces = {}
    components: _Components = {}
    for name, role in selected.items():
        da = sub[name]
        if role.kind == "scalar":
            out = _to_units(da, name, CANONICAL[role.canonical].units, label, fmt, step_s)
            _put(pieces, (role.canonical, None), name, out, label)
            continue
        if name in height_dims:
            hdim, heights = height_dims[name]
            per_height = [(h, da.isel({hdim: i}, drop=True)) for i, h in enumerate(heights)]
        else:
            per_height = [(scalar_heights[name], da)]
        for h, dah in per_height:
            _add_wind(pieces, components, name, role, h, dah, label, fmt, step_s)
    _speed_from_components(pieces, components, label, result.notes)
    _append_fields(result, pieces, label, times[0], times[-1])
    return result


def _heights(
    ds: xr.Dataset,
    selected: Mapping[str, _Role],
    time_dim: str,
    grid_dims: set[str],
    label: str,
) -> tuple[_HeightDims, dict[str, float]]:
    """The heights of the wind variables read, each variable's dimensions checked first.

    Returns
    -------
    height_dims : dict
        Per variable with a height dimension: that dimension and its heights [m].
    scalar_heights : dict of str to float
        Per other wind variable: its one height [m].

    Raises
    ------
    TimeAxisError
        A variable without the time dimension.
    ClimateDataError
        A variable without a grid dimension, or with another dimension of size above one.
    """
    height_dims: _HeightDims = {}
    scalar_heights: dict[str, float] = {}
    for name, role in selected.items():
        _check_grid_dims(ds[name], name, time_dim, grid_dims, label)
        if role.kind != "scalar":
            found = _height_of(ds, name, role, label, grid_dims)
            if isinstance(found, tuple):
                height_dims[name] = found
            else:
                scalar_heights[name] = found
        _check_extra_dims(ds, name, grid_dims, height_dims.get(name, ("",))[0], label)
    return height_dims, scalar_heights


def _check_grid_dims(
    var: xr.DataArray, name: str, time_dim: str, grid_dims: set[str], label: str
) -> None:
    """Check that variable ``name`` has the time dimension and every grid dimension.

    Raises
    ------
    TimeAxisError
        No time dimension.
    ClimateDataError
        A latitude or longitude dimension missing.
    """
    if time_dim not in var.dims:
        raise TimeAxisError(
            f"{label}, variable {name!r}: no time dimension {time_dim!r} "
            f"(dims {var.dims}); a weather variable must vary in time"
        )
    for grid_dim in grid_dims - {time_dim}:
        if grid_dim not in var.dims:
            raise ClimateDataError(
                f"{label}, variable {name!r}: missing grid dimension {grid_dim!r} (dims {var.dims})"
            )


def _check_extra_dims(
    ds: xr.Dataset, name: str, grid_dims: set[str], height_dim: str, label: str
) -> None:
    """Check that variable ``name``'s dims besides grid, expver and height have size one.

    Raises
    ------
    ClimateDataError
        Another dimension of size above one.
    """
    extra = [d for d in ds[name].dims if d not in grid_dims and d != "expver" and d != height_dim]
    for d in extra:
        if ds.sizes[d] != 1:
            raise ClimateDataError(
                f"{label}, variable {name!r}: unexpected dimension {d!r} of size "
                f"{ds.sizes[d]}; expected only time, latitude, longitude (and height)"
            )


def _add_wind(
    pieces: _Pieces,
    components: _Components,
    name: str,
    role: _Role,
    h: float,
    da: xr.DataArray,
    label: str,
    fmt: str,
    step_s: float | None,
) -> None:
    """Add wind variable ``name`` at height ``h``: a speed to ``pieces``, else a component.

    Raises
    ------
    ClimateDataError
        Two variables for the same component at one height.
    """
    target = CANONICAL[role.canonical].units
    if role.kind == "speed":
        out = _to_units(da, name, target, label, fmt, step_s)
        _put(pieces, ("wind_speed", h), name, out, label)
        return
    out = cfunits.convert(da, target, file=label, variable=name)
    if (role.kind, h) in components:
        other = components[(role.kind, h)][0]
        raise ClimateDataError(
            f"{label}: variables {other!r} and {name!r} are both the "
            f"{role.kind}-component of the wind at {h:g} m; keep one"
        )
    components[(role.kind, h)] = (name, out)


def _speed_from_components(
    pieces: _Pieces, components: _Components, label: str, notes: list[str]
) -> None:
    """Add the wind speed of each height with both components and no speed variable.

    A component without its partner is left out with a note.
    """
    for (kind, h), (u_name, u) in sorted(components.items()):
        if kind != "u":
            continue
        if ("v", h) not in components:
            notes.append(f"{label}: {u_name!r} has no matching v-component at {h:g} m")
            continue
        if ("wind_speed", h) in pieces:
            continue  # a speed variable at this height wins over components
        v_name, v = components[("v", h)]
        speed: xr.DataArray = xr.apply_ufunc(np.hypot, u, v, dask="allowed")
        speed.attrs = {"units": CANONICAL["wind_speed"].units}
        pieces[("wind_speed", h)] = (f"hypot({u_name}, {v_name})", speed)
    for (kind, h), (v_name, _) in components.items():
        if kind == "v" and ("u", h) not in components:
            notes.append(f"{label}: {v_name!r} has no matching u-component at {h:g} m")


def canonical_field(da: xr.DataArray, canonical: str, source: str) -> xr.DataArray:
    """``da`` as the canonical field ``canonical``: ``(time, lat, lon)``, its units and names.

    ``source`` is the input's own variable (or the expression it was computed from), kept as
    ``source_variable``; the input's encoding is dropped. Used by every reader (NetCDF, Zarr).
    """
    da = da.transpose("time", "lat", "lon")
    spec = CANONICAL[canonical]
    da.attrs = {
        "units": spec.units,
        "standard_name": spec.standard_name,
        "long_name": spec.description,
        "source_variable": source,
    }
    da.encoding = {}
    da.name = canonical
    return da


def _append_fields(
    result: _FileResult,
    pieces: _Pieces,
    label: str,
    first: np.datetime64,
    last: np.datetime64,
) -> None:
    """Append each piece to ``result.fields`` as a canonical ``(time, lat, lon)`` field."""
    for (canonical, height), (source, da) in pieces.items():
        da = canonical_field(da, canonical, source)
        result.fields.append(_Field(canonical, height, da, label, first, last))


def _put(
    pieces: _Pieces,
    key: tuple[str, float | None],
    name: str,
    da: xr.DataArray,
    label: str,
) -> None:
    """Store a converted variable, refusing two source variables for the same quantity."""
    if key in pieces:
        other = pieces[key][0]
        where = f" at {key[1]:g} m" if key[1] is not None else ""
        raise ClimateDataError(
            f"{label}: variables {other!r} and {name!r} both map to {key[0]!r}{where}; "
            "remove one of them from the input"
        )
    pieces[key] = (name, da)


def _classify(name: str, attrs: Mapping[Hashable, Any]) -> _Role | None:
    """Map a source variable onto the schema by name first, then by CF standard_name."""
    role = _role_by_name(name)
    if role is not None:
        return role
    standard_name = attrs.get("standard_name")
    if not isinstance(standard_name, str) or standard_name in ("", "unknown"):
        return None
    return _role_by_standard_name(standard_name)


def _role_by_name(name: str) -> _Role | None:
    """The role of a variable named as a source or wind variable, or None."""
    for canonical, spec in CANONICAL.items():
        if canonical == "wind_speed":
            continue
        if name == canonical or name in spec.source_names:
            return _Role("scalar", canonical)
    for pattern, kind in _WIND_NAME_PATTERNS:
        match = pattern.match(name)
        if match:
            return _Role(kind, "wind_speed", float(match.group(1)))
    if name in _WIND_STANDARD_NAMES:
        return _Role(_WIND_STANDARD_NAMES[name], "wind_speed")
    return None


def _role_by_standard_name(standard_name: str) -> _Role | None:
    """The role of a variable by its CF ``standard_name``, or None."""
    if standard_name in _WIND_STANDARD_NAMES:
        return _Role(_WIND_STANDARD_NAMES[standard_name], "wind_speed")
    if standard_name in _EXTRA_STANDARD_NAMES:
        return _Role("scalar", _EXTRA_STANDARD_NAMES[standard_name])
    for canonical, spec in CANONICAL.items():
        if canonical != "wind_speed" and standard_name == spec.standard_name:
            return _Role("scalar", canonical)
    return None


def _era5_format(ds: xr.Dataset, time_dim: str, roles: Mapping[str, _Role]) -> str | None:
    """Return "era5-cds" or "era5-legacy" when the file is an ECMWF/CDS product."""
    if time_dim == "valid_time":
        return "era5-cds"
    if not set(roles) & _ERA5_NAMES:
        return None
    history = str(ds.attrs.get("history", "")) + str(ds.attrs.get("institution", ""))
    ecmwf_units = any("**" in str(ds[n].attrs.get("units", "")) for n in roles)
    grib_attrs = any(str(k).startswith("GRIB_") for n in roles for k in ds[n].attrs)
    markers = ("grib_to_netcdf", "mars", "ECMWF", "European Centre", "cfgrib")
    if ecmwf_units or grib_attrs or any(m in history for m in markers):
        return "era5-legacy"
    return None


# --------------------------------------------------------------------------------------------
# Axes


def _time_dim(ds: xr.Dataset, label: str) -> str:
    """Return the name of the time dimension."""
    dims = [str(d) for d in ds.dims]
    named = [d for d in ("valid_time", "time") if d in dims]
    if len(named) == 2:
        raise TimeAxisError(
            f"{label}: both 'valid_time' and 'time' are dimensions; cannot tell which is time"
        )
    if named:
        return named[0]
    for d in dims:
        if d in ds.variables:
            attrs = ds[d].attrs
            if attrs.get("standard_name") == "time" or attrs.get("axis") == "T":
                return d
    raise TimeAxisError(
        f"{label}: no time axis (looked for a 'time' or 'valid_time' dimension, or a "
        f"dimension coordinate with standard_name 'time'); dimensions are {dims}"
    )


def _decode_time(ds: xr.Dataset, time_dim: str, label: str) -> NDArray[np.datetime64]:
    """Decode the CF time coordinate to UTC ``datetime64[ns]`` and check it is increasing."""
    if time_dim not in ds.variables:
        raise TimeAxisError(f"{label}: time dimension {time_dim!r} has no coordinate values")
    var = ds.variables[time_dim]
    units = var.attrs.get("units")
    if not isinstance(units, str) or " since " not in f" {units} ":
        raise TimeAxisError(
            f"{label}, variable {time_dim!r}: time has no CF units such as "
            f"'hours since 1900-01-01' (found {units!r})"
        )
    try:
        decoded = xr.coders.CFDatetimeCoder(time_unit="ns").decode(var, name=time_dim)
        values = np.asarray(decoded.values)
    except (ValueError, OverflowError, TypeError) as exc:
        raise TimeAxisError(
            f"{label}, variable {time_dim!r}: cannot decode time units {units!r} ({exc})"
        ) from exc
    if values.dtype.kind != "M":
        calendar = var.attrs.get("calendar")
        raise TimeAxisError(
            f"{label}, variable {time_dim!r}: calendar {calendar!r} is not supported; "
            "use a standard (Gregorian) calendar"
        )
    values = values.astype("datetime64[ns]")
    if values.size == 0:
        raise TimeAxisError(f"{label}, variable {time_dim!r}: the time axis is empty")
    nat = np.flatnonzero(np.isnat(values))
    if nat.size:
        raise TimeAxisError(
            f"{label}, variable {time_dim!r}: missing time value at index {int(nat[0])}"
        )
    steps = np.diff(values)
    zero = np.flatnonzero(steps == np.timedelta64(0, "ns"))
    if zero.size:
        i = int(zero[0])
        raise TimeAxisError(
            f"{label}, variable {time_dim!r}: duplicated time step {values[i]} "
            f"(indices {i} and {i + 1})"
        )
    back = np.flatnonzero(steps < np.timedelta64(0, "ns"))
    if back.size:
        i = int(back[0])
        raise TimeAxisError(
            f"{label}, variable {time_dim!r}: times are not increasing: {values[i]} "
            f"is followed by {values[i + 1]} (index {i + 1})"
        )
    return values


def _constant_step_s(times: NDArray[np.datetime64]) -> float | None:
    """Return the time step [s] when it is constant, else None."""
    if times.size < 2:
        return None
    steps = np.unique(np.diff(times))
    if steps.size != 1:
        return None
    return float(steps[0] / np.timedelta64(1, "s"))


def _axis(
    ds: xr.Dataset,
    label: str,
    standard_name: str,
    names: Sequence[str],
    unit_names: Sequence[str],
) -> str | float:
    """Return the dimension name of a lat/lon axis, or its value for a single point."""
    candidates = [n for n in names if n in ds.variables]
    candidates += [
        str(n)
        for n, v in ds.variables.items()
        if str(n) not in candidates
        and (v.attrs.get("standard_name") == standard_name or v.attrs.get("units") in unit_names)
    ]
    for name in candidates:
        var = ds.variables[name]
        if var.ndim == 1 and var.dims[0] == name:
            return name
    for name in candidates:
        var = ds.variables[name]
        if var.ndim == 0 or var.size == 1:
            return _coordinate_value(var.values.ravel()[0], label, name)
        if var.ndim == 2:
            raise ClimateDataError(
                f"{label}, variable {name!r}: 2-D {standard_name} (curvilinear grid) is not "
                "supported; regrid to a regular latitude-longitude grid"
            )
    for key in names[:2]:  # global attributes "latitude"/"lat", "longitude"/"lon"
        if key in ds.attrs:
            return _coordinate_value(ds.attrs[key], label, f"global attribute {key!r}")
    raise ClimateDataError(
        f"{label}: no {standard_name} (looked for coordinates {list(names)}, "
        f"standard_name {standard_name!r}, and global attributes {list(names[:2])})"
    )


def _coordinate_value(value: Any, label: str, what: str) -> float:
    """Read a single latitude or longitude value."""
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise ClimateDataError(f"{label}, {what}: {value!r} is not a number of degrees") from exc
    if not np.isfinite(out):
        raise ClimateDataError(f"{label}, {what}: coordinate value is missing ({value!r})")
    return out


def _clean_degrees(values: Any) -> NDArray[np.float64]:
    """Return coordinate values as float64; float32 values keep their intended decimals.

    ``float(np.float32(53.1))`` is 53.09999847..., so float32 values are converted through
    their shortest round-trip decimal representation (53.1) instead.
    """
    arr = np.asarray(values)
    if arr.dtype == np.float32:
        return np.array([float(str(v)) for v in arr.ravel()], dtype=np.float64).reshape(arr.shape)
    return arr.astype(np.float64)


def _height_of(
    ds: xr.Dataset, name: str, role: _Role, label: str, grid_dims: set[str]
) -> float | tuple[str, list[float]]:
    """Return the height [m] of a wind variable, or its height dimension and values.

    Sources, in order: a height dimension, a scalar height coordinate, the ``height``
    attribute, the variable name. All that are present must agree.
    """
    var = ds[name]
    dim = _height_dim(ds, var, label, grid_dims)
    if dim is not None:
        return dim
    found = _declared_heights(ds, var, name, role, label)
    if not found:
        raise ClimateDataError(
            f"{label}, variable {name!r}: wind without a height; add a 'height' attribute "
            "such as '100 m' or a scalar height coordinate"
        )
    for what, h in found[1:]:
        if abs(h - found[0][1]) > 1e-6:
            raise ClimateDataError(
                f"{label}, variable {name!r}: height {found[0][1]:g} m from the "
                f"{found[0][0]} disagrees with {h:g} m from the {what}"
            )
    return found[0][1]


def _height_dim(
    ds: xr.Dataset, var: xr.DataArray, label: str, grid_dims: set[str]
) -> tuple[str, list[float]] | None:
    """The height dimension of ``var`` and its heights [m], or None without one."""
    for d in var.dims:
        if d in grid_dims or d == "expver" or d not in ds.variables:
            continue
        coord = ds.variables[d]
        if d in _HEIGHT_COORD_NAMES or coord.attrs.get("standard_name") == "height":
            scale, offset = cfunits.conversion(
                coord.attrs.get("units"), "m", file=label, variable=str(d)
            )
            heights = [float(scale * h + offset) for h in np.asarray(coord.values).ravel()]
            return str(d), heights
    return None


def _declared_heights(
    ds: xr.Dataset, var: xr.DataArray, name: str, role: _Role, label: str
) -> list[tuple[str, float]]:
    """The heights [m] declared for ``var``, each with where it comes from, in source order.

    Sources: scalar height coordinates, the ``height`` attribute, the variable name.
    """
    found: list[tuple[str, float]] = []
    # scalar coordinates of this variable: the ones its CF ``coordinates`` attribute lists
    # (xarray attaches every scalar coordinate of the file to every variable)
    listed = str(var.encoding.get("coordinates", var.attrs.get("coordinates", ""))).split()
    for cname in listed:
        if cname not in ds.variables:
            continue
        coord = ds.variables[cname]
        if coord.ndim == 0 and (
            cname in _HEIGHT_COORD_NAMES or coord.attrs.get("standard_name") == "height"
        ):
            scale, offset = cfunits.conversion(
                coord.attrs.get("units"), "m", file=label, variable=str(cname)
            )
            found.append((f"coordinate {cname!r}", float(scale * coord.values + offset)))
    if "height" in var.attrs:
        found.append(
            (
                "attribute 'height'",
                cfunits.parse_quantity(var.attrs["height"], "m", file=label, variable=name),
            )
        )
    if role.name_height_m is not None:
        found.append(("variable name", role.name_height_m))
    return found


def _point_resolution_km(attrs: Mapping[Hashable, Any], label: str) -> float | None:
    """Return the declared resolution of a point series [km], or None without one."""
    for key in _RESOLUTION_KM_ATTRS:
        if key in attrs:
            try:
                value = float(attrs[key])
            except (TypeError, ValueError) as exc:
                raise UnitsError(
                    f"{label}, global attribute {key!r}: {attrs[key]!r} is not a number [km]"
                ) from exc
            if not value > 0:
                raise UnitsError(f"{label}, global attribute {key!r}: must be positive")
            return value
    for key in _RESOLUTION_TEXT_ATTRS:
        if key in attrs:
            text = str(attrs[key])
            match = _DEGREES.match(text)
            if match:
                return float(match.group(1)) * _KM_PER_DEGREE
            return cfunits.parse_quantity(
                text, "km", file=label, variable=f"global attribute {key!r}"
            )
    return None


# --------------------------------------------------------------------------------------------
# Lazy transformations


def _chunk_map(
    sub: xr.Dataset,
    time_dim: str,
    lat: str | float,
    lon: str | float,
    chunk_spec: Mapping[str, int],
) -> dict[Hashable, int]:
    """Chunk sizes by the file's dimension names, aligned on the stored chunks."""
    wanted: dict[Hashable, int] = {d: -1 for d in sub.dims}
    wanted[time_dim] = chunk_spec["time"]
    if isinstance(lat, str):
        wanted[lat] = chunk_spec["lat"]
    if isinstance(lon, str):
        wanted[lon] = chunk_spec["lon"]
    for dim, size in list(wanted.items()):
        if size == -1:
            continue
        stored = 1
        for var in sub.data_vars.values():
            sizes = var.encoding.get("chunksizes")
            if sizes and dim in var.dims:
                stored = max(stored, int(sizes[var.dims.index(dim)]))
        wanted[dim] = -(-size // stored) * stored
    return wanted


def _collapse_expver(sub: xr.Dataset) -> xr.Dataset:
    """Merge ERA5 and ERA5T along an ``expver`` dimension: first non-missing value wins."""
    if "expver" not in sub.dims:
        return sub
    if "expver" in sub.coords:
        order = np.argsort(np.asarray(sub["expver"].values), kind="stable")
    else:
        order = np.arange(sub.sizes["expver"])
    out = {}
    for name, da in sub.data_vars.items():
        if "expver" not in da.dims:
            out[name] = da
            continue
        merged = da.isel(expver=int(order[0]), drop=True)
        for i in order[1:]:
            merged = merged.fillna(da.isel(expver=int(i), drop=True))
        merged.attrs = da.attrs
        out[name] = merged
    return xr.Dataset(out, attrs=sub.attrs).drop_vars("expver", errors="ignore")


def _to_canonical_grid(
    sub: xr.Dataset,
    time_dim: str,
    times: NDArray[np.datetime64],
    lat: str | float,
    lon: str | float,
    label: str,
) -> xr.Dataset:
    """Rename to time/lat/lon, normalise longitudes, sort ascending, expand points."""
    rename = {d: c for d, c in ((time_dim, "time"), (lat, "lat"), (lon, "lon")) if d != c}
    rename = {d: c for d, c in rename.items() if isinstance(d, str)}
    sub = sub.rename(rename)
    sub = sub.assign_coords(time=times)
    for axis, source in (("lat", lat), ("lon", lon)):
        if isinstance(source, str):
            values = _clean_degrees(sub[axis].values)
        else:
            values = np.array([source], dtype=np.float64)
            sub = sub.expand_dims({axis: 1})
        if axis == "lon":
            # shift by whole turns only where needed, so that in-range values stay exact
            values = values - 360.0 * np.floor((values + 180.0) / 360.0)
        elif np.any(np.abs(values) > 90.0):
            raise ClimateDataError(
                f"{label}: latitude outside [-90, 90] (range {values.min()}..{values.max()})"
            )
        if not np.all(np.isfinite(values)):
            raise ClimateDataError(f"{label}: {axis} coordinate has missing values")
        sub = sub.assign_coords({axis: values})
        if values.size > 1:
            if np.unique(values).size != values.size:
                raise ClimateDataError(
                    f"{label}: duplicated {axis} values after normalising longitudes to "
                    "[-180, 180); drop the repeated column"
                )
            if np.all(np.diff(values) < 0):
                sub = sub.isel({axis: slice(None, None, -1)})
            elif not np.all(np.diff(values) > 0):
                sub = sub.isel({axis: np.argsort(values, kind="stable")})
    return sub


def _to_units(
    da: xr.DataArray, name: str, target: str, label: str, fmt: str, step_s: float | None
) -> xr.DataArray:
    """Convert to canonical units; accumulations become mean fluxes over their period."""
    source = da.attrs.get("units")
    if cfunits.is_accumulation_of(source, target, file=label, variable=name):
        if fmt.startswith("era5") or name in _ERA5_ACCUMULATED:
            period = ERA5_ACCUMULATION_PERIOD_S
        elif step_s is not None:
            period = step_s
        else:
            raise UnitsError(
                f"{label}, variable {name!r}: units {source!r} are an accumulation but the "
                "accumulation period is unknown (irregular or single time step)"
            )
        return cfunits.accumulated_to_rate(da, period, target, file=label, variable=name)
    return cfunits.convert(da, target, file=label, variable=name)


# --------------------------------------------------------------------------------------------
# Across files


def _describe(labels: Sequence[str]) -> str:
    """Name the files in a message, shortening long lists."""
    if len(labels) <= 3:
        return ", ".join(labels)
    return f"{labels[0]}, {labels[1]}, ... {labels[-1]} ({len(labels)} files)"


def _check_found(
    fields: Sequence[_Field],
    wanted: frozenset[str] | None,
    labels: Sequence[str],
    results: Sequence[_FileResult],
) -> None:
    """Raise MissingVariableError for requested (or, without a request, any) variables."""
    found = {f.name for f in fields}
    missing = sorted((wanted or frozenset()) - found)
    if not missing and found:
        return
    raw = sorted({n for r in results for n in r.raw_names})
    notes = [n for r in results for n in r.notes]
    extra = f"; {'; '.join(notes)}" if notes else ""
    if not found and wanted is None:
        raise MissingVariableError(
            f"{_describe(labels)}: no variable maps onto the canonical schema "
            f"(variables in the file(s): {raw}){extra}"
        )
    what = ", ".join(
        f"{m!r} (source names {list(CANONICAL[m].source_names)} or standard_name "
        f"{CANONICAL[m].standard_name!r})"
        for m in missing
    )
    raise MissingVariableError(
        f"{_describe(labels)}: variable {what} not found; the file(s) hold {raw}{extra}"
    )


def _combine(fields: Sequence[_Field]) -> dict[tuple[str, float | None], xr.DataArray]:
    """Concatenate each variable's pieces along time and put all on one time axis."""
    ref = fields[0]
    ref_lat = ref.data["lat"].values
    ref_lon = ref.data["lon"].values
    for f in fields[1:]:
        lat, lon = f.data["lat"].values, f.data["lon"].values
        same = (
            lat.shape == ref_lat.shape
            and lon.shape == ref_lon.shape
            and np.allclose(lat, ref_lat, rtol=0.0, atol=1e-4)
            and np.allclose(lon, ref_lon, rtol=0.0, atol=1e-4)
        )
        if not same:
            raise ClimateDataError(
                f"{f.label} and {ref.label} have different grids "
                f"({lat.size}x{lon.size} cells from {lat[0]:g},{lon[0]:g} vs "
                f"{ref_lat.size}x{ref_lon.size} from {ref_lat[0]:g},{ref_lon[0]:g}); "
                "open them separately"
            )
    groups: dict[tuple[str, float | None], list[_Field]] = defaultdict(list)
    for f in fields:
        groups[(f.name, f.height_m)].append(f)
    combined: dict[tuple[str, float | None], xr.DataArray] = {}
    for key, group in groups.items():
        group.sort(key=lambda f: f.first)
        for a, b in pairwise(group):
            if b.first <= a.last:
                what = key[0] + (f" at {key[1]:g} m" if key[1] is not None else "")
                raise TimeAxisError(
                    f"{a.label} ({a.first}..{a.last}) and {b.label} ({b.first}..{b.last}) "
                    f"overlap in time for variable {what!r}; pass each period once"
                )
        arrays = [
            f.data
            if np.array_equal(f.data["lat"].values, ref_lat)
            and np.array_equal(f.data["lon"].values, ref_lon)
            else f.data.assign_coords(lat=ref_lat, lon=ref_lon)
            for f in group
        ]
        if len(arrays) == 1:
            combined[key] = arrays[0]
        else:
            combined[key] = xr.concat(
                arrays, dim="time", coords="minimal", compat="override", join="override"
            )
    indexes = [da.indexes["time"] for da in combined.values()]
    if any(not idx.equals(indexes[0]) for idx in indexes[1:]):
        keys = list(combined)
        aligned = xr.align(*combined.values(), join="outer")
        combined = dict(zip(keys, aligned, strict=True))
    return combined


def _assemble(combined: Mapping[tuple[str, float | None], xr.DataArray]) -> xr.Dataset:
    """Build the canonical Dataset: wind stacked along height, CF attributes on coords."""
    data: dict[str, xr.DataArray] = {}
    winds = sorted((h, da) for (name, h), da in combined.items() if name == "wind_speed")
    for (name, _), da in combined.items():
        if name != "wind_speed":
            data[name] = da
    if winds:
        heights = np.array([h for h, _ in winds], dtype=np.float64)
        first = winds[0][1]
        attrs = {k: v for k, v in first.attrs.items() if k != "source_variable"}
        attrs["source_variable"] = ", ".join(
            f"{da.attrs.get('source_variable')} at {h:g} m" for h, da in winds
        )
        stacked = xr.concat(
            [da for _, da in winds],
            dim="height",
            coords="minimal",
            compat="override",
            join="override",
        )
        stacked = stacked.assign_coords(height=heights).transpose("time", "height", "lat", "lon")
        stacked.attrs = attrs
        stacked.name = "wind_speed"
        data["wind_speed"] = stacked
    order = [v.name for v in CANONICAL.values() if v.name in data]
    ds = xr.Dataset({name: data[name] for name in order})
    ds["time"].attrs = {"standard_name": "time", "axis": "T"}
    ds["lat"].attrs = {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"}
    ds["lon"].attrs = {"standard_name": "longitude", "units": "degrees_east", "axis": "X"}
    if "height" in ds.coords:
        ds["height"].attrs = {
            "standard_name": "height",
            "units": "m",
            "positive": "up",
            "long_name": "height above ground",
        }
    ds.attrs["Conventions"] = "CF-1.8"
    return ds
