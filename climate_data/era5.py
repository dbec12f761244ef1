"""ERA5 at national scale: the ARCO-ERA5 Zarr layout as a build input, and subsetting.

The Analysis-Ready, Cloud-Optimised copy of ERA5 [1]_ is one Zarr store per product, with the
CDS "long" variable names (``100m_u_component_of_wind``, ``2m_temperature``,
``surface_solar_radiation_downwards``, ...), dims ``time`` (hours since 1900), ``latitude``
(descending, 90 to -90) and ``longitude`` (0 to 360). :func:`open_arco` opens such a store in
the canonical weather schema of :mod:`climate_data.readers`, selecting a bounding box and a
range of years *before any data is read*: the store is opened without dask, the selection is
made on the lazily indexed arrays (only the coordinates are read), and only then is the
selection wrapped in dask chunks aligned on the stored chunks. A build therefore reads exactly
the stored chunks that intersect the box and the years, each once per band of the build.

Units are checked and converted as for the NetCDF readers (:mod:`climate_data.units`):
accumulations (``J m**-2`` over the hour ending at ``time`` [2]_) become mean fluxes, wind
components are combined into speed per height. A box or years outside the store, a store
without wind, an unknown unit or an unexpected dimension raise a
:class:`~climate_data.errors.ClimateDataError` naming the store and the variable.

:func:`subset` applies the same ``--bbox``/``--years`` selection to a canonical dataset opened
from NetCDF files (lazily, on its dask arrays).

References
----------
.. [1] Carver, R. W. and Merose, A. (2023). ARCO-ERA5: An Analysis-Ready Cloud-Optimized
   Reanalysis Dataset. 22nd Conference on AI for Environmental Science, AMS.
   https://github.com/google-research/arco-era5
.. [2] ECMWF. ERA5: data documentation, section "Accumulations".
   https://confluence.ecmwf.int/display/CKB/ERA5%3A+data+documentation
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from climate_data import units as cfunits
from climate_data.errors import (
    ClimateDataError,
    CorruptFileError,
    MissingVariableError,
    TimeAxisError,
    UnitsError,
)
from climate_data.readers import canonical_field
from climate_data.schema import CANONICAL

__all__ = [
    "ARCO_VARIABLES",
    "BBox",
    "NoNewTimeSteps",
    "is_zarr_input",
    "open_arco",
    "parse_bbox",
    "parse_years",
    "subset",
]

#: Slack when comparing coordinates with the box [degrees]: ERA5 grids are multiples of 0.25,
#: stored as float32 in some copies.
_EPS_DEG = 1e-6


@dataclass(frozen=True)
class ArcoVariable:
    """What an ARCO-ERA5 variable is in the canonical schema."""

    kind: str  # "scalar", "u" or "v"
    canonical: str
    height_m: float | None = None


#: ARCO-ERA5 (and CDS request) names of the single-level variables this product reads.
ARCO_VARIABLES: dict[str, ArcoVariable] = {
    "10m_u_component_of_wind": ArcoVariable("u", "wind_speed", 10.0),
    "10m_v_component_of_wind": ArcoVariable("v", "wind_speed", 10.0),
    "100m_u_component_of_wind": ArcoVariable("u", "wind_speed", 100.0),
    "100m_v_component_of_wind": ArcoVariable("v", "wind_speed", 100.0),
    "2m_temperature": ArcoVariable("scalar", "air_temperature"),
    "surface_pressure": ArcoVariable("scalar", "surface_air_pressure"),
    "surface_solar_radiation_downwards": ArcoVariable("scalar", "ghi"),
    "total_sky_direct_solar_radiation_at_surface": ArcoVariable(
        "scalar", "direct_horizontal_irradiance"
    ),
    "sunshine_duration": ArcoVariable("scalar", "sunshine_duration"),
}

_LAT_NAMES = ("latitude", "lat")
_LON_NAMES = ("longitude", "lon")


class NoNewTimeSteps(TimeAxisError):
    """The store has no time step after the one asked for (an update with nothing to add)."""


@dataclass(frozen=True)
class BBox:
    """A latitude-longitude box [degrees]: west < east in [-180, 180], south < north."""

    west: float
    south: float
    east: float
    north: float

    def as_list(self) -> list[float]:
        """``[W, S, E, N]``."""
        return [self.west, self.south, self.east, self.north]

    def __str__(self) -> str:
        return ",".join(f"{v:g}" for v in self.as_list())


def parse_bbox(text: str | Sequence[float]) -> BBox:
    """Read ``"W,S,E,N"`` [degrees east/north] and check it.

    Longitudes may be given in -180..180 or 0..360 (both ends are moved into -180..180); a box
    that crosses the antimeridian (west > east after that) is refused: split it in two.

    Raises
    ------
    ValueError
        Not four numbers, latitudes outside [-90, 90], south >= north, or west >= east.
    """
    values = _bbox_values(text)
    w, s, e, n = values
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"bbox {text!r}: every value must be a finite number")
    if not (-90.0 <= s < n <= 90.0):
        raise ValueError(f"bbox {text!r}: need -90 <= south < north <= 90")
    if not (-180.0 <= w <= 360.0 and -180.0 <= e <= 360.0):
        raise ValueError(f"bbox {text!r}: longitudes must lie in -180..360")
    if w > 180.0:
        w -= 360.0
    if e > 180.0:
        e -= 360.0
    if not w < e:
        raise ValueError(
            f"bbox {text!r}: west must be less than east (a box across the antimeridian is "
            "not supported; split it in two)"
        )
    return BBox(w, s, e, n)


def _bbox_values(text: str | Sequence[float]) -> list[float]:
    """The four numbers of a box given as ``"W,S,E,N"`` text or as a sequence.

    Raises
    ------
    ValueError
        Not four numbers.
    """
    if not isinstance(text, str):
        values = [float(v) for v in text]
        if len(values) != 4:
            raise ValueError(f"bbox {values!r}: give four numbers W,S,E,N in degrees")
        return values
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise ValueError(f"bbox {text!r}: give four numbers W,S,E,N in degrees")
    try:
        return [float(p) for p in parts]
    except ValueError as exc:
        raise ValueError(f"bbox {text!r}: give four numbers W,S,E,N in degrees") from exc


_YEARS = re.compile(r"^\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?$")


def parse_years(text: str | tuple[int, int]) -> tuple[int, int]:
    """Read ``"A-B"`` (or one year ``"A"``) into ``(A, B)``, A <= B.

    Raises
    ------
    ValueError
        Not a year or a range of years, or A > B.
    """
    if isinstance(text, tuple):
        first, last = int(text[0]), int(text[1])
    else:
        match = _YEARS.match(text)
        if not match:
            raise ValueError(f"years {text!r}: give a year range such as 1995-2024")
        first = int(match.group(1))
        last = int(match.group(2) or match.group(1))
    if first > last:
        raise ValueError(f"years {first}-{last}: the first year is after the last")
    return first, last


def is_zarr_input(paths: object) -> bool:
    """True when ``paths`` is one Zarr store.

    A URL, a ``.zarr``/``.zarr-v3`` path, a folder with Zarr metadata (``zarr.json`` or
    ``.zmetadata``/``.zgroup``), or a zarr store object.
    """
    if isinstance(paths, list | tuple):
        if len(paths) != 1:
            return False
        paths = paths[0]
    if not isinstance(paths, str | os.PathLike):
        return not isinstance(paths, str | bytes) and hasattr(paths, "get_partial_values")
    s = os.fspath(paths).rstrip("/")
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", s):
        return True
    if re.search(r"\.zarr(-v\d+)?$", s):
        return True
    p = Path(s)
    return p.is_dir() and any((p / m).is_file() for m in ("zarr.json", ".zmetadata", ".zgroup"))


# --------------------------------------------------------------------------------------------
# The ARCO-ERA5 reader


def open_arco(
    store: Any,
    variables: Sequence[str] | None = None,
    *,
    bbox: BBox | None = None,
    years: tuple[int, int] | None = None,
    after: np.datetime64 | None = None,
    chunks: Mapping[str, int] | None = None,
) -> xr.Dataset:
    """Open a Zarr store in the ARCO-ERA5 layout as a canonical weather dataset, lazily.

    Parameters
    ----------
    store : path, URL or zarr store
        A local folder, an fsspec URL (``gs://...`` with its fsspec package), or a zarr store
        object.
    variables : sequence of str, optional
        Canonical names the caller needs; each must be in the store.
    bbox : BBox, optional
        Cells whose centre lies in the box (inclusive); the whole grid when omitted.
    years : (int, int), optional
        Calendar years, inclusive; every time step when omitted.
    after : datetime64, optional
        Only time steps strictly after this one (an update of a cube).
    chunks : mapping, optional
        ``{"time": n}``: time steps per dask chunk (rounded up to whole stored chunks);
        :data:`climate_data.readers.DEFAULT_TIME_CHUNK` by default. Latitude and longitude
        are one chunk each (the selection's extent).

    Returns
    -------
    xarray.Dataset
        As :func:`climate_data.readers.open_weather` returns it, with ``source_format`` =
        ``"era5-arco"``, ``source_files`` = ``[store]`` and ``source_records``: a JSON list
        with one record ``{"path", "sha256", "selection"}`` whose digest covers the store's
        metadata of the variables read and the selected coordinates (the identity of the
        selection; a 300 TB store is not hashed).

    Raises
    ------
    NoWeatherFilesError, CorruptFileError
        No store there, or not a readable Zarr store.
    MissingVariableError
        No ARCO-ERA5 variable this product reads, or a requested one is absent.
    TimeAxisError
        Bad time axis, or no time step in ``years`` (:class:`NoNewTimeSteps` when none is
        after ``after``).
    ClimateDataError
        The box holds no grid cell of the store, an unexpected dimension, bad coordinates.
    UnitsError
        Missing or incompatible units.
    """
    label = _label(store)
    ds = _open_zarr(store, label)
    try:
        return _open_selection(ds, label, variables, bbox, years, after, chunks)
    except BaseException:
        ds.close()
        raise


def _label(store: Any) -> str:
    if isinstance(store, list | tuple):
        store = store[0]
    if isinstance(store, str | os.PathLike):
        s = os.fspath(store)
        return s if "://" in s else str(Path(s).expanduser().resolve())
    return f"{type(store).__name__}({getattr(store, 'root', '')})"


def _open_zarr(store: Any, label: str) -> xr.Dataset:
    from climate_data.readers import NoWeatherFilesError

    if isinstance(store, list | tuple):
        store = store[0]
    if isinstance(store, str | os.PathLike) and "://" not in os.fspath(store):
        path = Path(os.fspath(store)).expanduser()
        if not path.exists():
            raise NoWeatherFilesError(f"{label}: no such Zarr store")
        store = str(path)
    try:
        # chunks=None: lazily indexed backend arrays, no dask yet; a selection reads only the
        # chunks it touches. Times are decoded (and checked) by the reader below.
        ds: xr.Dataset = xr.open_zarr(
            store, chunks=None, decode_times=False, decode_timedelta=False
        )
        return ds
    except FileNotFoundError as exc:
        raise NoWeatherFilesError(f"{label}: no such Zarr store ({exc})") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(
            f"{label}: not a readable Zarr store ({type(exc).__name__}: {exc})"
        ) from exc


def _axis_name(ds: xr.Dataset, names: Sequence[str], label: str, what: str) -> str:
    for name in names:
        if name in ds.dims and name in ds.variables:
            return name
    raise ClimateDataError(
        f"{label}: no {what} dimension (looked for {list(names)}; dims are {list(ds.dims)})"
    )


def _open_selection(
    ds: xr.Dataset,
    label: str,
    variables: Sequence[str] | None,
    bbox: BBox | None,
    years: tuple[int, int] | None,
    after: np.datetime64 | None,
    chunks: Mapping[str, int] | None,
) -> xr.Dataset:
    """The ARCO-ERA5 store ``ds`` cut to the box, years and new steps asked, canonical schema."""
    from climate_data import readers

    wanted = readers._check_requested(variables)
    chunk_spec = readers._check_chunks(chunks)
    present = _present_variables(ds, label, wanted)
    time_dim = "time" if "time" in ds.dims else readers._time_dim(ds, label)
    lat_dim = _axis_name(ds, _LAT_NAMES, label, "latitude")
    lon_dim = _axis_name(ds, _LON_NAMES, label, "longitude")
    dims = (time_dim, lat_dim, lon_dim)
    _check_layout(ds, present, dims, label)

    times = readers._decode_time(ds, time_dim, label)
    t_idx = _time_selection(times, years, after, label)
    lat, lon = _grid_degrees(ds, lat_dim, lon_dim, label)
    box = bbox or BBox(-180.0, -90.0, 180.0, 90.0)
    lat_idx, lon_n, runs = _box_cells(lat, lon, box, label)
    sub = _cut(ds[present].reset_coords(drop=True), label, dims, t_idx, lat_idx, runs, chunk_spec)
    sub = sub.rename({time_dim: "time", lat_dim: "lat", lon_dim: "lon"})
    sub = sub.assign_coords(
        time=times[t_idx],
        lat=lat[lat_idx],
        lon=lon_n[np.concatenate(runs)],
    )
    if lat_idx.size > 1 and lat[lat_idx[0]] > lat[lat_idx[-1]]:
        sub = sub.isel(lat=slice(None, None, -1))  # descending as stored: flip (lazily)

    out_ds = readers._assemble(_canonical_fields(sub, present, label, wanted))
    out_ds.attrs["source_format"] = "era5-arco"
    out_ds.attrs["source_files"] = [label]
    selection = {
        "bbox": box.as_list(),
        "years": list(years) if years else None,
        "after": None if after is None else _iso(after),
        "time": [str(times[t_idx[0]]), str(times[t_idx[-1]])],
        "cells": [int(lat_idx.size), int(sum(run.size for run in runs))],
    }
    out_ds.attrs["source_records"] = json.dumps(
        [
            {
                "path": label,
                "sha256": _selection_digest(ds, present, label, selection, lat, lon),
                "selection": json.dumps(selection, sort_keys=True),
            }
        ]
    )
    if str(ds.attrs.get("synthetic", "false")).lower() == "true":
        out_ds.attrs["synthetic"] = "true"
    out_ds.set_close(ds.close)
    return out_ds


def _present_variables(ds: xr.Dataset, label: str, wanted: frozenset[str] | None) -> list[str]:
    """The ARCO-ERA5 variables of ``ds`` (table order); an error if a wanted one is missing.

    Raises
    ------
    MissingVariableError
        The store holds none of :data:`ARCO_VARIABLES`, or none for a wanted canonical name.
    """
    present = [name for name in ARCO_VARIABLES if name in ds.data_vars]
    found = {ARCO_VARIABLES[n].canonical for n in present}
    missing = sorted((wanted or frozenset()) - found)
    if not present or missing:
        need = missing or ["wind_speed"]
        raise MissingVariableError(
            f"{label}: no ARCO-ERA5 variable for {need} (this product reads "
            f"{sorted(ARCO_VARIABLES)}); the store holds {sorted(map(str, ds.data_vars))}"
        )
    return present


def _check_layout(
    ds: xr.Dataset, present: Sequence[str], dims: tuple[str, str, str], label: str
) -> None:
    """Check that every variable read has exactly the ``(time, lat, lon)`` dims and units.

    Raises
    ------
    ClimateDataError
        A variable with other dimensions.
    UnitsError
        A variable without a ``units`` attribute.
    """
    time_dim, lat_dim, lon_dim = dims
    for name in present:
        if set(map(str, ds[name].dims)) != set(dims):
            raise ClimateDataError(
                f"{label}, variable {name!r}: dims {ds[name].dims}; expected only "
                f"({time_dim}, {lat_dim}, {lon_dim})"
            )
        if ds[name].attrs.get("units") is None:
            raise UnitsError(f"{label}, variable {name!r}: no units attribute")


def _grid_degrees(
    ds: xr.Dataset, lat_dim: str, lon_dim: str, label: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The stored latitudes and longitudes [degrees], checked finite and in range.

    Raises
    ------
    ClimateDataError
        A latitude outside [-90, 90] or a missing coordinate value.
    """
    from climate_data import readers

    lat = readers._clean_degrees(ds[lat_dim].values)
    lon = readers._clean_degrees(ds[lon_dim].values)
    if np.any(np.abs(lat) > 90.0) or not np.all(np.isfinite(lat)):
        raise ClimateDataError(f"{label}: latitude outside [-90, 90] or missing")
    if not np.all(np.isfinite(lon)):
        raise ClimateDataError(f"{label}: longitude has missing values")
    return lat, lon


def _box_cells(
    lat: NDArray[np.float64], lon: NDArray[np.float64], box: BBox, label: str
) -> tuple[NDArray[np.intp], NDArray[np.float64], list[NDArray[np.intp]]]:
    """The grid cells of ``box``: latitude indices, longitudes in [-180, 180), column runs.

    Returns
    -------
    lat_idx : ndarray of int
        Stored indices of the latitudes inside the box, contiguous.
    lon_n : ndarray of float
        Every stored longitude moved into [-180, 180).
    runs : list of ndarray of int
        Contiguous runs of stored columns inside the box, in ascending ``lon_n``.

    Raises
    ------
    ClimateDataError
        No cell in the box, a longitude repeated after moving it, or unordered latitudes.
    """
    lat_idx = np.flatnonzero((lat >= box.south - _EPS_DEG) & (lat <= box.north + _EPS_DEG))
    lon_n = lon - 360.0 * np.floor((lon + 180.0) / 360.0)
    lon_sel = np.flatnonzero((lon_n >= box.west - _EPS_DEG) & (lon_n <= box.east + _EPS_DEG))
    if lat_idx.size == 0 or lon_sel.size == 0:
        raise ClimateDataError(
            f"{label}: the box {box} holds no grid cell of the store (latitude "
            f"{lat.min():g}..{lat.max():g}, longitude {lon.min():g}..{lon.max():g} degrees)"
        )
    if np.unique(lon_n[lon_sel]).size != lon_sel.size:
        raise ClimateDataError(
            f"{label}: duplicated longitudes after moving them into [-180, 180) "
            "(the store repeats a column, e.g. both 0 and 360)"
        )
    if np.any(np.diff(lat_idx) != 1):
        raise ClimateDataError(f"{label}: latitudes are not monotonic")
    # contiguous runs of stored columns, in ascending normalised longitude
    lon_sel = lon_sel[np.argsort(lon_n[lon_sel], kind="stable")]
    runs = np.split(lon_sel, np.flatnonzero(np.diff(lon_sel) != 1) + 1)
    return lat_idx, lon_n, runs


def _cut(
    sub: xr.Dataset,
    label: str,
    dims: tuple[str, str, str],
    t_idx: NDArray[np.intp],
    lat_idx: NDArray[np.intp],
    runs: Sequence[NDArray[np.intp]],
    chunk_spec: Mapping[str, int],
) -> xr.Dataset:
    """``sub`` cut to the time steps, latitudes and column runs, chunked lazily, runs joined."""
    time_dim, lat_dim, lon_dim = dims
    sub = sub.isel({time_dim: slice(int(t_idx[0]), int(t_idx[-1]) + 1)})
    sub = sub.isel({lat_dim: slice(int(lat_idx[0]), int(lat_idx[-1]) + 1)})
    time_chunks = _aligned_chunks(int(t_idx[0]), t_idx.size, _stored_time_chunk(sub, chunk_spec))
    pieces = []
    for k, run in enumerate(runs):
        piece = sub.isel({lon_dim: slice(int(run[0]), int(run[-1]) + 1)})
        token = hashlib.sha256(
            f"{label}|{int(t_idx[0])}|{t_idx.size}|{lat_idx[0]}|{lat_idx.size}|{run[0]}|"
            f"{run.size}|{k}".encode()
        ).hexdigest()
        piece = piece.chunk(
            {time_dim: time_chunks, lat_dim: -1, lon_dim: -1},
            token=token,
        )
        pieces.append(piece)
    return pieces[0] if len(pieces) == 1 else xr.concat(pieces, dim=lon_dim)


def _canonical_fields(
    sub: xr.Dataset, present: Sequence[str], label: str, wanted: frozenset[str] | None
) -> dict[tuple[str, float | None], xr.DataArray]:
    """The canonical fields of ``sub``: scalars converted, wind speed from both components.

    Raises
    ------
    MissingVariableError
        Wind speed wanted but no height with both components.
    """
    from climate_data import readers

    fields: dict[tuple[str, float | None], xr.DataArray] = {}
    comps: dict[tuple[str, float], tuple[str, xr.DataArray]] = {}
    for name in present:
        spec = ARCO_VARIABLES[name]
        target = CANONICAL[spec.canonical].units
        da = sub[name]
        if spec.height_m is None:  # a scalar of the table (the components have a height)
            out = readers._to_units(da, name, target, label, "era5-arco", None)
            fields[(spec.canonical, None)] = canonical_field(out, spec.canonical, name)
        else:
            comps[(spec.kind, spec.height_m)] = (
                name,
                cfunits.convert(da, target, file=label, variable=name),
            )
    for (kind, h), (u_name, u) in sorted(comps.items()):
        if kind != "u" or ("v", h) not in comps:
            continue
        v_name, v = comps[("v", h)]
        speed: xr.DataArray = xr.apply_ufunc(np.hypot, u, v, dask="allowed")
        fields[("wind_speed", h)] = canonical_field(
            speed, "wind_speed", f"hypot({u_name}, {v_name})"
        )
    if wanted and "wind_speed" in wanted and not any(k[0] == "wind_speed" for k in fields):
        raise MissingVariableError(
            f"{label}: wind needs both components at one height; the store has {sorted(present)}"
        )
    return fields


def _time_selection(
    times: NDArray[np.datetime64],
    years: tuple[int, int] | None,
    after: np.datetime64 | None,
    label: str,
) -> NDArray[np.intp]:
    keep = np.ones(times.size, dtype=bool)
    if years is not None:
        start = np.datetime64(f"{years[0]:04d}-01-01T00:00", "ns")
        end = np.datetime64(f"{years[1] + 1:04d}-01-01T00:00", "ns")
        keep &= (times >= start) & (times < end)
        if not keep.any():
            raise TimeAxisError(
                f"{label}: no time step in the years {years[0]}-{years[1]} (the store covers "
                f"{str(times[0])[:19]} to {str(times[-1])[:19]})"
            )
    if after is not None:
        keep &= times > np.asarray(after, dtype="datetime64[ns]")
        if not keep.any():
            raise NoNewTimeSteps(
                f"{label}: no time step after {_iso(after)} "
                f"(the store ends at {str(times[-1])[:19]})"
            )
    return np.flatnonzero(keep)


def _iso(t: np.datetime64) -> str:
    return str(np.asarray(t, dtype="datetime64[s]"))


def _stored_time_chunk(sub: xr.Dataset, chunk_spec: Mapping[str, int]) -> int:
    """Time steps per dask chunk: the wanted size rounded up to whole stored chunks."""
    stored = 1
    for var in sub.data_vars.values():
        sizes = var.encoding.get("chunks") or var.encoding.get("preferred_chunks", {}).values()
        sizes = tuple(sizes)
        if sizes:
            stored = max(stored, int(sizes[0]))
    size = chunk_spec["time"]
    return stored if size == -1 else -(-size // stored) * stored


def _aligned_chunks(start: int, count: int, size: int) -> tuple[int, ...]:
    """Chunk sizes of ``count`` steps from index ``start``, cut at multiples of ``size``.

    Boundaries are in store indices, so that no stored chunk is split between two dask chunks.
    """
    out: list[int] = []
    i = start
    stop = start + count
    while i < stop:
        nxt = min(stop, (i // size + 1) * size)
        out.append(nxt - i)
        i = nxt
    return tuple(out)


def _selection_digest(
    ds: xr.Dataset,
    names: Sequence[str],
    label: str,
    selection: Mapping[str, Any],
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
) -> str:
    h = hashlib.sha256()
    h.update(label.encode())
    h.update(json.dumps(selection, sort_keys=True).encode())
    for name in sorted(names):
        var = ds[name]
        meta = {
            "shape": list(var.shape),
            "dtype": str(var.dtype),
            "attrs": {str(k): str(v) for k, v in sorted(var.attrs.items())},
            "chunks": [int(c) for c in var.encoding.get("chunks", ())],
        }
        h.update(name.encode())
        h.update(json.dumps(meta, sort_keys=True).encode())
    h.update(np.ascontiguousarray(lat).tobytes())
    h.update(np.ascontiguousarray(lon).tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# The same selection on a canonical dataset (NetCDF inputs)


def subset(ds: xr.Dataset, bbox: BBox | None, years: tuple[int, int] | None) -> xr.Dataset:
    """Select a box and calendar years of a canonical dataset (lazily; coordinates only).

    Raises
    ------
    ClimateDataError
        The box holds no cell of the dataset.
    TimeAxisError
        No time step in the years.
    """
    label = ", ".join(str(p) for p in ds.attrs.get("source_files", [])) or "input"
    out = ds
    if years is not None:
        times = ds["time"].values
        idx = _time_selection(times, years, None, label)
        out = out.isel(time=slice(int(idx[0]), int(idx[-1]) + 1))
    if bbox is not None:
        lat = ds["lat"].values
        lon = ds["lon"].values
        lat_ok = np.flatnonzero((lat >= bbox.south - _EPS_DEG) & (lat <= bbox.north + _EPS_DEG))
        lon_ok = np.flatnonzero((lon >= bbox.west - _EPS_DEG) & (lon <= bbox.east + _EPS_DEG))
        if lat_ok.size == 0 or lon_ok.size == 0:
            raise ClimateDataError(
                f"{label}: the box {bbox} holds no grid cell of the input (latitude "
                f"{lat.min():g}..{lat.max():g}, longitude {lon.min():g}..{lon.max():g} degrees)"
            )
        out = out.isel(
            lat=slice(int(lat_ok[0]), int(lat_ok[-1]) + 1),
            lon=slice(int(lon_ok[0]), int(lon_ok[-1]) + 1),
        )
    return out
