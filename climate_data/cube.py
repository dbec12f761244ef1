"""The indicator cube: years of hourly weather condensed once, queried in memory.

:func:`build_cube` streams canonical hourly weather (:func:`climate_data.readers.open_weather`)
month by month and latitude band by latitude band, so that peak memory depends on the size of
one task, not on the input. Each task reduces its block to sums, counts and histograms; the
per-year figures are then derived from the per-month ones. Tasks run on dask (threads by
default, or a ``dask.distributed`` cluster when a scheduler address is given).

:class:`Cube` loads a version-1 cube file completely into memory and answers :meth:`Cube.site`
in microseconds with a :class:`~climate_data.site.SiteClimate`. The same figures in a tiled,
lazily read Zarr store (version 2, for national grids) are in :mod:`climate_data.store`;
``build_cube(..., out="X.zarr")`` writes one and :meth:`Cube.open` reads either.

Cube version 1 (README, "Indicator cube"), dims ``year``, ``month`` (first day of each
month), ``lat``, ``lon``, ``wind_bin`` and ``bin_edge``:

=============================  ==========================  ===========
variable                       dims                        units
=============================  ==========================  ===========
``wind_speed_mean``            year, lat, lon              m s-1
``wind_speed_hist``            year, lat, lon, wind_bin    h
``coverage``                   year, lat, lon              1
``shear_exponent_annual``      year, lat, lon              1
``air_density``                year, lat, lon              kg m-3
``sunshine_hours``             year, lat, lon              h
``ghi_kwh_m2``                 year, lat, lon              kWh m-2
``pv_yield_kwh_kwp``           year, lat, lon              kWh kWp-1
``solar_coverage``             year, lat, lon              1
``monthly_*``                  month, lat, lon (, bin)     as above
``shear_exponent``             lat, lon                    1
``weibull_k``, ``weibull_c``   lat, lon                    1, m s-1
``wind_bin_edges``             bin_edge                    m s-1
=============================  ==========================  ===========

Wind figures are at the reference height (global attribute ``reference_height_m``). With
radiation in the input, global attributes ``sunshine_method`` (:func:`sunshine_method`:
``"era5_sund"``, ``"dni_fraction"`` or ``"ghi_erbs_fraction"``) and ``pv_transposition``
(the reference PV system's transposition model, ``"perez"``) say how sunshine and PV yield
were computed; version-1 cubes written before them lack both and still open (read as
unrecorded and ``"haydavies"``). Per-year
values of incomplete years are kept, with their coverage, so a reader can show them; the
site summary and every model exclude them (docs/conventions.rst, "Missing data is explicit, never
filled").
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import sys
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
from dask.base import compute as dask_compute
from numpy.typing import NDArray

from climate_data import solar, sunshine, wind
from climate_data.errors import ClimateDataError, CubeFormatError, SiteOutsideCoverage
from climate_data.readers import open_weather
from climate_data.site import YEAR_COVERAGE_MIN, DatasetInfo, SiteClimate
from climate_data.version import code_version

if TYPE_CHECKING:
    from climate_data.era5 import BBox

CUBE_SCHEMA_VERSION = 1
DEFAULT_REFERENCE_HEIGHT_M = 100.0
#: A site farther than this many grid spacings from the nearest cell is outside the data.
TOLERANCE_GRID_SPACINGS = 1.5
#: Tolerance for single-point sources that declare no resolution [km].
DEFAULT_POINT_TOLERANCE_KM = 25.0
#: Largest number of cell-hours one task reads at once (bounds peak memory of a build).
TASK_CELL_HOURS = 1_500_000
EARTH_RADIUS_KM = 6371.0088
#: Fewest time steps in one task; smaller input chunks are combined.
TASK_MIN_HOURS = 24 * 28
#: HDF5 chunk cache per variable of an input file during a build [bytes].
READ_CHUNK_CACHE_BYTES = 4 * 1024 * 1024
#: Air temperature assumed for the PV model when the source has none [K] (25 degC, STC).
REFERENCE_AIR_TEMPERATURE_K = 298.15


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Build


@dataclass(frozen=True)
class _Task:
    """One block of the build: a run of time steps (whole dask chunks) and a latitude band."""

    time_slice: slice
    lat_slice: slice


#: Partial sums of one task: per calendar month (first day, datetime64[M]) the reduced arrays.
_Partial = dict[np.datetime64, dict[str, NDArray[np.float64]]]


def build_cube(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    reference_height_m: float = DEFAULT_REFERENCE_HEIGHT_M,
    scheduler: str | None = None,
    progress: bool | None = None,
    task_cell_hours: int = TASK_CELL_HOURS,
    format: str | None = None,
    tile_cells: int | None = None,
    bbox: BBox | None = None,
    years: tuple[int, int] | None = None,
) -> Path:
    """Build an indicator cube from hourly weather and write it atomically.

    Parameters
    ----------
    inputs : path, glob or list of paths
        Hourly weather files in any format :func:`~climate_data.readers.open_weather` reads,
        or one Zarr store in the ARCO-ERA5 layout (:func:`climate_data.era5.open_arco`).
    out : path
        Cube to write. A path ending in ``.zarr`` or ``.zarr.zip`` gets a version-2 store
        (:func:`climate_data.store.build_store`: tiled, lazily read, resumable), anything else
        a version-1 NetCDF4 file (written to a temporary file, then renamed).
    reference_height_m : float
        Height of every wind figure in the cube [m].
    scheduler : str, optional
        Address of a ``dask.distributed`` scheduler; threads on this machine when omitted.
    progress : bool, optional
        Show a progress bar; by default only when stderr is a terminal.
    task_cell_hours : int
        Upper bound of cell-hours per task; smaller means less memory and more tasks.
    format : {"v1", "v2"}, optional
        Overrides the choice by the name of ``out``.
    tile_cells : int, optional
        Version 2 only: cells along each side of a tile
        (:data:`climate_data.store.DEFAULT_TILE_CELLS`).
    bbox : climate_data.era5.BBox, optional
        Only the cells in this box (selected before any data is read).
    years : (int, int), optional
        Only these calendar years, inclusive.

    Returns
    -------
    Path
        The cube file or store.
    """
    from climate_data import store

    if format not in (None, "v1", "v2"):
        raise ValueError(f"format must be 'v1' or 'v2', got {format!r}")
    if format == "v2" or (format is None and store.is_store_path(out)):
        return store.build_store(
            inputs,
            out,
            reference_height_m=reference_height_m,
            scheduler=scheduler,
            progress=progress,
            task_cell_hours=task_cell_hours,
            tile_cells=store.DEFAULT_TILE_CELLS if tile_cells is None else tile_cells,
            bbox=bbox,
            years=years,
        )
    with _small_chunk_cache():
        ds = open_weather(inputs, variables=["wind_speed"], bbox=bbox, years=years)
        heights = [float(h) for h in ds["height"].values]
        months = _months(ds)
        tasks = _tasks(ds, task_cell_hours)
        ctx = _Context(
            reference_height_m=reference_height_m,
            heights=tuple(heights),
            edges=np.asarray(wind.DEFAULT_BIN_EDGES_MS, dtype=float),
        )
        source = InputSpec.of(inputs, ds, bbox=bbox, years=years)
        results = _run_tasks(ds, tasks, ctx, scheduler=scheduler, progress=progress, source=source)
        cube = _assemble(ds, months, tasks, results, ctx)
        cube.attrs.update(_provenance(ds, ctx))
        ds.close()
    return _write_atomic(cube, Path(out))


@contextmanager
def _small_chunk_cache() -> Iterator[None]:
    """Open input files with a small HDF5 chunk cache per variable.

    netCDF-C gives every variable of every open file a 64 MB chunk cache, so a build that keeps
    years of files open would hold each file's decompressed data until the end, and its memory
    would grow with the input. The build reads each stored chunk about once, so a cache of
    :data:`READ_CHUNK_CACHE_BYTES` costs little.
    """
    import netCDF4

    size, nelems, preemption = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(READ_CHUNK_CACHE_BYTES, nelems, preemption)
    try:
        yield
    finally:
        netCDF4.set_chunk_cache(size, nelems, preemption)


@dataclass(frozen=True)
class _Context:
    reference_height_m: float
    heights: tuple[float, ...]
    edges: NDArray[np.float64]

    @property
    def shear_heights(self) -> tuple[float, float] | None:
        """The lowest and highest wind heights, when the source has two or more."""
        if len(self.heights) < 2:
            return None
        hs = sorted(self.heights)
        return hs[0], hs[-1]


def _months(ds: xr.Dataset) -> list[pd.Timestamp]:
    t = pd.DatetimeIndex(ds["time"].values)
    return list(pd.date_range(t[0].to_period("M").to_timestamp(), t[-1], freq="MS"))


def _tasks(ds: xr.Dataset, budget: int) -> list[_Task]:
    """Split the input along its time chunks (each read once) and into latitude bands.

    A task spans one dask time chunk of the input (the reader aligns those with the stored
    chunks), or several when they are small; the latitude band keeps it under ``budget``
    cell-hours. Months need not align with tasks: each task returns partial sums per month.
    """
    chunks = ds["wind_speed"].chunks
    sizes = list(chunks[0]) if chunks is not None else [ds.sizes["time"]]
    cells_per_row = max(1, ds.sizes["lon"])
    spans: list[slice] = []
    start = 0
    for size in sizes:
        if spans and spans[-1].stop - spans[-1].start + size <= TASK_MIN_HOURS:
            spans[-1] = slice(spans[-1].start, start + size)
        else:
            spans.append(slice(start, start + size))
        start += size
    tasks = []
    for span in spans:
        rows = max(1, budget // max(1, (span.stop - span.start) * cells_per_row))
        for i in range(0, ds.sizes["lat"], rows):
            tasks.append(_Task(span, slice(i, min(i + rows, ds.sizes["lat"]))))
    return tasks


def _run_tasks(
    ds: xr.Dataset,
    tasks: list[_Task],
    ctx: _Context,
    *,
    scheduler: str | None,
    progress: bool | None,
    source: InputSpec | None = None,
    lat: slice = slice(None),
) -> list[_Partial]:
    """Reduce every task; only as many blocks as there are workers are in memory at once.

    ``ds`` is ``source.open().isel(lat=lat)``: on a ``dask.distributed`` cluster each worker
    opens the input itself from ``source`` and reads its blocks there.
    """
    show = sys.stderr.isatty() if progress is None else progress
    bar = _progress_bar(len(tasks), show)
    try:
        if scheduler:
            if source is None:
                raise ClimateDataError(
                    "a distributed build needs its inputs as paths or URLs the workers can read"
                )
            return _run_distributed(source, lat, tasks, ctx, scheduler, bar)
        workers = max(1, min(len(tasks), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = []
            for res in pool.map(lambda t: _load_and_reduce(ds, t, ctx), tasks):
                results.append(res)
                bar(1)
            return results
    finally:
        bar(0, close=True)


def _load_and_reduce(ds: xr.Dataset, task: _Task, ctx: _Context) -> _Partial:
    """Read one block (dask, in this thread) and reduce it."""
    inst, flux = dask_compute(*_task_block(ds, task), scheduler="synchronous")  # type: ignore[no-untyped-call]
    return _reduce_task(inst, flux, ctx)


@dataclass(frozen=True)
class InputSpec:
    """What a build reads, as a dask.distributed worker can open it: paths, never data.

    ``stamp`` (path, size, modification time of each local input file) makes a worker that
    kept an earlier build's input open reopen it when the files changed.
    """

    inputs: tuple[str, ...]
    bbox: BBox | None = None
    years: tuple[int, int] | None = None
    after: str | None = None
    stamp: tuple[tuple[str, int, int], ...] = ()

    @classmethod
    def of(
        cls,
        inputs: object,
        ds: xr.Dataset,
        *,
        bbox: BBox | None = None,
        years: tuple[int, int] | None = None,
        after: str | None = None,
    ) -> InputSpec | None:
        """The spec of ``inputs`` (opened as ``ds``); None when they are not paths or URLs."""
        items = [inputs] if isinstance(inputs, str | os.PathLike) else inputs
        if not isinstance(items, list | tuple) or not all(
            isinstance(i, str | os.PathLike) for i in items
        ):
            return None
        stamp = []
        for f in ds.attrs.get("source_files", []):
            try:
                st = os.stat(f)
            except (OSError, TypeError):
                continue
            stamp.append((str(f), int(st.st_size), int(st.st_mtime_ns)))
        return cls(tuple(os.fspath(i) for i in items), bbox, years, after, tuple(stamp))

    def open(self) -> xr.Dataset:
        """Open the input as the build did."""
        from climate_data.era5 import is_zarr_input, open_arco

        if is_zarr_input(list(self.inputs)):
            after = None if self.after is None else np.datetime64(self.after, "ns")
            return open_arco(
                self.inputs[0], ["wind_speed"], bbox=self.bbox, years=self.years, after=after
            )
        return open_weather(
            list(self.inputs), variables=["wind_speed"], bbox=self.bbox, years=self.years
        )


#: Inputs a dask.distributed worker process has open (most recently used last).
_WORKER_INPUTS: OrderedDict[InputSpec, xr.Dataset] = OrderedDict()
_WORKER_LOCK = threading.Lock()
#: Inputs each worker keeps open between tasks.
_WORKER_KEEP = 2


#: glibc ``mallopt`` parameters and the values a build worker sets (see :func:`_tune_malloc`).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_WORKER_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's largest allowed value on 64-bit
_WORKER_TRIM_THRESHOLD = 256 * 1024 * 1024


def _tune_malloc() -> None:
    """Let this worker process reuse freed heap memory for the next block's arrays.

    dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which turns off glibc's
    adaptive mmap threshold: every temporary array above 128 KB is then mapped fresh and
    faulted in page by page, and unmapped when freed. On a block of the build that was 7x the
    page faults and 1.6x the CPU time of the same block in a plain process (0.59 s against
    0.37 s). A fixed mmap threshold of 32 MB and a trim threshold of 256 MB keep those arrays
    on the heap; memory stays bounded by one task's block. No-op where glibc is absent.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(_M_MMAP_THRESHOLD, _WORKER_MMAP_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _WORKER_TRIM_THRESHOLD)
    except (OSError, AttributeError):  # not glibc
        return


def _worker_dataset(spec: InputSpec) -> xr.Dataset:
    """The input on this worker, opened once and kept for the build's next tasks."""
    with _WORKER_LOCK:
        ds = _WORKER_INPUTS.get(spec)
        if ds is not None:
            _WORKER_INPUTS.move_to_end(spec)
            return ds
        if not _WORKER_INPUTS:
            _tune_malloc()
        import netCDF4

        # as _small_chunk_cache, for the whole life of the worker process
        _, nelems, preemption = netCDF4.get_chunk_cache()
        netCDF4.set_chunk_cache(READ_CHUNK_CACHE_BYTES, nelems, preemption)
        ds = spec.open()
        _WORKER_INPUTS[spec] = ds
        while len(_WORKER_INPUTS) > _WORKER_KEEP:
            _WORKER_INPUTS.popitem(last=False)[1].close()
        return ds


def _remote_reduce(spec: InputSpec, lat: slice, task: _Task, ctx: _Context) -> _Partial:
    """One task on a worker: open the input there (once), read the block, reduce it."""
    return _load_and_reduce(_worker_dataset(spec).isel(lat=lat), task, ctx)


def _run_distributed(
    spec: InputSpec,
    lat: slice,
    tasks: list[_Task],
    ctx: _Context,
    scheduler: str,
    bar: Callable[..., None],
) -> list[_Partial]:
    """The same reduction on a ``dask.distributed`` cluster, one small task per block.

    Each task carries the input's paths and the block's indices, not a graph of the block: the
    worker opens the input itself (once per process) and reads and reduces the block where it
    runs, so no raw data moves between processes; only the block's monthly partial sums come
    back. At most twice as many tasks as the cluster has threads are in flight, so the client
    holds few results at a time, and a finished task frees a slot at once (no batches waiting
    for their slowest task).
    """
    from distributed import Client, as_completed

    with Client(scheduler) as client:  # type: ignore[no-untyped-call]
        window = max(2, 2 * sum(client.nthreads().values()))
        prefix = f"cube-task-{uuid.uuid4().hex[:12]}"
        results: list[_Partial | None] = [None] * len(tasks)
        index: dict[Any, int] = {}
        pending = as_completed()  # type: ignore[no-untyped-call]
        todo = iter(range(len(tasks)))

        def submit(i: int) -> None:
            fut = client.submit(
                _remote_reduce, spec, lat, tasks[i], ctx, key=f"{prefix}-{i}", pure=False
            )
            index[fut.key] = i
            pending.add(fut)  # type: ignore[no-untyped-call]

        for i in itertools.islice(todo, window):
            submit(i)
        for fut in pending:
            results[index.pop(fut.key)] = fut.result()
            fut.release()
            bar(1)
            nxt = next(todo, None)
            if nxt is not None:
                submit(nxt)
        done = [r for r in results if r is not None]
        if len(done) != len(tasks):
            raise RuntimeError(f"{len(tasks) - len(done)} of {len(tasks)} tasks returned nothing")
        return done


def _progress_bar(total: int, show: bool) -> Callable[..., None]:
    if not show:
        return lambda n, close=False: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc="cube build", unit="task", file=sys.stderr)

    def update(n: int, close: bool = False) -> None:
        bar.update(n)
        if close:
            bar.close()

    return update


_FLUXES = ("ghi", "direct_horizontal_irradiance", "sunshine_duration")


def _task_block(ds: xr.Dataset, task: _Task) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The lazy slices one task reduces: instantaneous variables, and fluxes when present.

    Both cover the same time steps. The flux slice carries temperature and wind at the same
    timestamps for the PV model.
    """
    block = ds.isel(time=task.time_slice, lat=task.lat_slice)
    fluxes = [v for v in _FLUXES if v in ds]
    inst = block.drop_vars(fluxes)
    if not fluxes:
        return inst, None
    extra = [v for v in ("air_temperature", "wind_speed") if v in ds]
    return inst, block[fluxes + extra]


def _reduce_task(inst: xr.Dataset, flux: xr.Dataset | None, ctx: _Context) -> _Partial:
    """Reduce one block to sums, counts and histograms per calendar month and cell.

    Wind (instantaneous) belongs to the month of its timestamp. A flux belongs to the month of
    the middle of the hour it averages, ``time - 30 min``: the flux stamped at 00:00 on the
    first of a month belongs to the month before.
    """
    out: _Partial = {}
    inst_month = inst["time"].values.astype("datetime64[M]")
    for month in np.unique(inst_month):
        out[month] = _reduce_inst(inst.isel(time=np.flatnonzero(inst_month == month)), ctx)
    if flux is not None:
        flux_month = (flux["time"].values - np.timedelta64(30, "m")).astype("datetime64[M]")
        for month in np.unique(flux_month):
            part = _reduce_solar(flux.isel(time=np.flatnonzero(flux_month == month)))
            out.setdefault(month, {}).update(part)
    return out


def _reduce_inst(inst: xr.Dataset, ctx: _Context) -> dict[str, NDArray[np.float64]]:
    """Wind sums, counts and histogram, and air density, of one month's instantaneous data."""
    ref = ctx.reference_height_m
    out: dict[str, NDArray[np.float64]] = {}
    ws_all = inst["wind_speed"]
    ws_ref = _at_reference_height(ws_all, ctx).transpose("time", "lat", "lon")
    ws = _cells(ws_ref)
    valid = np.isfinite(ws)
    out["n_hours"] = valid.sum(axis=0).astype(np.float64)
    out["ws_sum"] = np.where(valid, ws, 0.0).sum(axis=0)
    out["hist"] = np.asarray(wind.wind_histogram(ws_ref, ctx.edges).values, dtype=np.float64)
    if ctx.shear_heights is not None:
        lo, hi = ctx.shear_heights
        lo_v, hi_v = _cells(ws_all.sel(height=lo)), _cells(ws_all.sel(height=hi))
        both = np.isfinite(lo_v) & np.isfinite(hi_v)
        out["ws_lo_sum"] = np.where(both, lo_v, 0.0).sum(axis=0)
        out["ws_hi_sum"] = np.where(both, hi_v, 0.0).sum(axis=0)
    if "air_temperature" in inst and "surface_air_pressure" in inst:
        t_ref = wind.temperature_at_height(inst["air_temperature"], 2.0, ref)
        rho = _cells(wind.air_density_barometric(inst["surface_air_pressure"], t_ref, 0.0, ref))
        ok = np.isfinite(rho)
        out["rho_sum"] = np.where(ok, rho, 0.0).sum(axis=0)
        out["rho_n"] = ok.sum(axis=0).astype(np.float64)
    return out


def _cells(da: xr.DataArray) -> NDArray[np.float64]:
    """Values as a float64 array of shape (time, lat, lon)."""
    return np.asarray(da.transpose("time", "lat", "lon").values, dtype=np.float64)


def _at_reference_height(ws_all: xr.DataArray, ctx: _Context) -> xr.DataArray:
    """Wind speed at the reference height: as read, or moved there by the power law.

    With two heights in the data, the hourly shear exponent between them moves the nearest
    height's speed; with one height, the default exponent does (and the cube says so).
    """
    ref = ctx.reference_height_m
    if ref in ctx.heights:
        return ws_all.sel(height=ref)
    nearest = min(ctx.heights, key=lambda h: abs(h - ref))
    ws_near = ws_all.sel(height=nearest)
    if ctx.shear_heights is None:
        return wind.power_law(ws_near, nearest, ref, wind.DEFAULT_SHEAR_EXPONENT)
    lo, hi = ctx.shear_heights
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = wind.shear_exponent(ws_all.sel(height=lo), ws_all.sel(height=hi), lo, hi)
    alpha = alpha.where(np.isfinite(alpha), wind.DEFAULT_SHEAR_EXPONENT)
    return wind.power_law(ws_near, nearest, ref, alpha)


def _reduce_solar(flux: xr.Dataset) -> dict[str, NDArray[np.float64]]:
    """Sunshine hours, irradiation and reference PV yield of one block."""
    out: dict[str, NDArray[np.float64]] = {}
    lat, lon = flux["lat"], flux["lon"]
    if "ghi" in flux:
        g = _cells(flux["ghi"])
        ok = np.isfinite(g)
        out["ghi_sum"] = np.where(ok, g, 0.0).sum(axis=0) / 1000.0  # W m-2 over 1 h -> kWh m-2
        out["flux_n"] = ok.sum(axis=0).astype(np.float64)
        # Hours without light anywhere in the block add nothing to sunshine or PV: skip them.
        lit = np.where(ok, g, 0.0).max(axis=(1, 2)) > 0.0
        flux = flux.isel(time=np.flatnonzero(lit))
    if "sunshine_duration" in flux:
        sun = sunshine.sunshine_from_duration(flux["sunshine_duration"])
    elif "direct_horizontal_irradiance" in flux:
        sun = sunshine.sunshine_from_direct_horizontal(
            flux["direct_horizontal_irradiance"], lat, lon, method="clearsky"
        )
    else:
        sun = sunshine.sunshine_from_ghi(flux["ghi"], lat, lon)
    s = _cells(sun)
    out["sun_sum"] = np.where(np.isfinite(s), s, 0.0).sum(axis=0)
    if "ghi" not in flux:
        out["flux_n"] = np.isfinite(s).sum(axis=0).astype(np.float64)
        return out
    temp = (
        flux["air_temperature"]
        if "air_temperature" in flux
        else xr.full_like(flux["ghi"], REFERENCE_AIR_TEMPERATURE_K)
    )
    ws_low = flux["wind_speed"].sel(height=float(flux["height"].min()))
    pv = solar.reference_pv_yield(
        flux["ghi"],
        temp,
        ws_low,
        lat,
        lon,
        direct_horizontal=flux.get("direct_horizontal_irradiance"),
    )
    p = _cells(pv)
    out["pv_sum"] = np.where(np.isfinite(p), p, 0.0).sum(axis=0)
    return out


#: Monthly sums of a block of cells: name -> array (month, lat, lon) or (month, lat, lon, bin).
Sums = dict[str, NDArray[np.float64]]


def _assemble(
    ds: xr.Dataset,
    months: list[pd.Timestamp],
    tasks: list[_Task],
    results: list[_Partial],
    ctx: _Context,
) -> xr.Dataset:
    """Stitch task results into monthly arrays, derive annual ones, and build the Dataset."""
    acc = _accumulate(ds.sizes["lat"], ds.sizes["lon"], months, tasks, results, ctx)
    return derive_figures(acc, months, ctx, ds["lat"].values, ds["lon"].values)


def _accumulate(
    ny: int,
    nx: int,
    months: list[pd.Timestamp],
    tasks: list[_Task],
    results: list[_Partial],
    ctx: _Context,
    acc: Sums | None = None,
) -> Sums:
    """Add the task results, in task (time) order, to the monthly sums ``acc`` (zeros if None).

    The order of the additions is part of the result: a month split over two tasks is the
    sum of its two partial sums, first to last. An update adds the new tasks to the stored
    sums in the same order, which is why it equals a build over all the input exactly.
    """
    nm = len(months)
    nb = ctx.edges.size - 1
    month_index: dict[np.datetime64, int] = {np.datetime64(m, "M"): i for i, m in enumerate(months)}
    keys = {k for res in results for part in res.values() for k in part}
    acc = {} if acc is None else acc
    for k in keys:
        if k not in acc:
            acc[k] = np.zeros((nm, ny, nx, nb) if k == "hist" else (nm, ny, nx))
    for task, res in zip(tasks, results, strict=True):
        for month, part in res.items():
            i = month_index.get(month)
            if i is None:  # a flux hour ending at the very start: it belongs before the data
                continue
            for k, v in part.items():
                acc[k][i, task.lat_slice] += v
    return acc


#: Figures of a block: name -> (dims, values, attributes), as ``xr.Dataset`` takes them.
_Figures = dict[str, tuple[tuple[str, ...], NDArray[Any], dict[str, str]]]
#: Sums per period from monthly sums (by year, or the identity for months).
_Aggregate = Callable[[NDArray[np.float64]], NDArray[np.float64]]


def derive_figures(
    acc: Sums,
    months: list[pd.Timestamp],
    ctx: _Context,
    lats: NDArray[np.float64],
    lons: NDArray[np.float64],
) -> xr.Dataset:
    """Monthly, annual and long-term figures of a block of cells from its monthly sums.

    Every figure of a cell depends on that cell's sums only (the Weibull fit runs one grid row
    at a time), so a block of whole rows gives the same numbers as the whole grid: the
    version-2 store derives them band by band.
    """
    month_idx = pd.DatetimeIndex(months)
    expected_m = (month_idx.days_in_month * 24).to_numpy(dtype=float)[:, None, None]
    years = np.array(sorted(set(month_idx.year)))
    year_of_month = month_idx.year.to_numpy()
    expected_y = np.array(
        [366.0 * 24 if pd.Timestamp(f"{y}-12-31").day_of_year == 366 else 365.0 * 24 for y in years]
    )[:, None, None]

    def by_year(a: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.stack([a[year_of_month == y].sum(axis=0) for y in years])

    n_y = by_year(acc["n_hours"])
    data: _Figures = {}
    _period_figures(data, acc, ctx, "", "year", n_y, expected_y, by_year)
    _period_figures(data, acc, ctx, "monthly_", "month", acc["n_hours"], expected_m, lambda a: a)
    complete = (n_y / expected_y) >= YEAR_COVERAGE_MIN  # long-term figures use these only
    _long_term_figures(data, acc, ctx, complete, by_year, (lats.size, lons.size))
    coords = {
        "year": ("year", years.astype(np.int32)),
        "month": ("month", month_idx.values),
        "lat": ("lat", lats, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": ("lon", lons, {"units": "degrees_east", "standard_name": "longitude"}),
    }
    return xr.Dataset(data, coords=coords)


def _put(
    data: _Figures,
    name: str,
    dims: tuple[str, ...],
    values: NDArray[Any],
    units: str,
    long_name: str,
) -> None:
    """Add the figure ``name`` to ``data`` with its units and long name."""
    data[name] = (dims, values, {"units": units, "long_name": long_name})


def _ratio(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    """``num / den`` where ``den > 0``, NaN elsewhere."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _period_figures(
    data: _Figures,
    acc: Sums,
    ctx: _Context,
    prefix: str,
    dim: str,
    n: NDArray[np.float64],
    exp: NDArray[np.float64],
    agg: _Aggregate,
) -> None:
    """Add the wind (and solar) figures per period ``dim`` (year or month) to ``data``.

    ``n`` are the valid wind hours and ``exp`` the hours of each period; ``agg`` sums monthly
    sums into the periods.
    """
    ref = ctx.reference_height_m
    d3 = (dim, "lat", "lon")
    _put(
        data,
        f"{prefix}wind_speed_mean",
        d3,
        _ratio(agg(acc["ws_sum"]), n),
        "m s-1",
        f"mean wind speed at {ref:g} m",
    )
    _put(
        data,
        f"{prefix}coverage",
        d3,
        np.clip(n / exp, 0.0, 1.0),
        "1",
        "fraction of hours with valid wind",
    )
    _put(
        data,
        f"{prefix}wind_speed_hist",
        (dim, "lat", "lon", "wind_bin"),
        agg(acc["hist"]),
        "h",
        f"hours per wind-speed bin at {ref:g} m",
    )
    if "rho_sum" in acc:
        _put(
            data,
            f"{prefix}air_density",
            d3,
            _ratio(agg(acc["rho_sum"]), agg(acc["rho_n"])),
            "kg m-3",
            f"mean air density at {ref:g} m",
        )
    if "ws_lo_sum" in acc and ctx.shear_heights is not None:
        lo, hi = ctx.shear_heights
        _put(
            data,
            "shear_exponent_annual" if dim == "year" else "monthly_shear_exponent",
            d3,
            np.log(_ratio(agg(acc["ws_hi_sum"]), agg(acc["ws_lo_sum"]))) / math.log(hi / lo),
            "1",
            f"power-law shear exponent between {lo:g} m and {hi:g} m",
        )
    if "sun_sum" in acc:
        _solar_figures(data, acc, prefix, dim, exp, agg)


def _solar_figures(
    data: _Figures,
    acc: Sums,
    prefix: str,
    dim: str,
    exp: NDArray[np.float64],
    agg: _Aggregate,
) -> None:
    """Add the radiation coverage, sunshine, GHI and PV figures per period to ``data``."""
    d3 = (dim, "lat", "lon")
    flux_cov = np.clip(agg(acc["flux_n"]) / exp, 0.0, 1.0)
    full = flux_cov > 0
    _put(
        data,
        f"{prefix}solar_coverage",
        d3,
        flux_cov,
        "1",
        "fraction of hours with valid radiation",
    )
    _put(
        data,
        f"{prefix}sunshine_hours",
        d3,
        np.where(full, agg(acc["sun_sum"]), np.nan),
        "h",
        "sunshine duration (WMO, DNI >= 120 W m-2)",
    )
    if "ghi_sum" in acc:
        _put(
            data,
            f"{prefix}ghi_kwh_m2",
            d3,
            np.where(full, agg(acc["ghi_sum"]), np.nan),
            "kWh m-2",
            "global horizontal irradiation",
        )
        _put(
            data,
            f"{prefix}pv_yield_kwh_kwp",
            d3,
            np.where(full, agg(acc["pv_sum"]), np.nan),
            "kWh kWp-1",
            "specific yield of the reference PV system",
        )


def _long_term_figures(
    data: _Figures,
    acc: Sums,
    ctx: _Context,
    complete: NDArray[np.bool_],
    by_year: _Aggregate,
    shape: tuple[int, int],
) -> None:
    """Add the long-term cell figures (Weibull fit, shear) of the ``complete`` years to ``data``.

    ``data`` must hold the annual histograms already.
    """
    ny, nx = shape
    ref = ctx.reference_height_m
    hist_y = data["wind_speed_hist"][1]
    lt_hist = np.where(complete[..., None], hist_y, 0.0).sum(axis=0)
    # One grid row at a time: the Newton iterations stop when every cell of the batch has
    # converged, so a batch must not depend on how the grid is split into bands.
    shape_k = np.empty((ny, nx))
    scale_c = np.empty((ny, nx))
    for row in range(ny):
        shape_k[row], scale_c[row] = wind.weibull_from_histogram(lt_hist[row], ctx.edges)
    _put(
        data,
        "weibull_k",
        ("lat", "lon"),
        np.asarray(shape_k, dtype=float),
        "1",
        "Weibull shape of complete years' hours",
    )
    _put(
        data,
        "weibull_c",
        ("lat", "lon"),
        np.asarray(scale_c, dtype=float),
        "m s-1",
        f"Weibull scale at {ref:g} m",
    )
    if "ws_lo_sum" in acc and ctx.shear_heights is not None:
        lo, hi = ctx.shear_heights
        lo_sum = np.where(complete, by_year(acc["ws_lo_sum"]), 0.0).sum(axis=0)
        hi_sum = np.where(complete, by_year(acc["ws_hi_sum"]), 0.0).sum(axis=0)
        alpha = np.log(_ratio(hi_sum, lo_sum)) / math.log(hi / lo)
        shear_from_data = np.isfinite(alpha)
        alpha = np.where(shear_from_data, alpha, wind.DEFAULT_SHEAR_EXPONENT)
    else:
        alpha = np.full((ny, nx), wind.DEFAULT_SHEAR_EXPONENT)
        shear_from_data = np.zeros((ny, nx), dtype=bool)
    _put(data, "shear_exponent", ("lat", "lon"), alpha, "1", "power-law shear exponent of the cell")
    _put(
        data,
        "shear_from_data",
        ("lat", "lon"),
        shear_from_data.astype(np.int8),
        "1",
        "1 when fitted from two heights, 0 for the default",
    )
    _put(data, "wind_bin_edges", ("bin_edge",), ctx.edges, "m s-1", "edges of the wind-speed bins")


def sunshine_method(variables: Sequence[str]) -> str | None:
    """How a build counts sunshine from these canonical variables (cube ``sunshine_method``).

    ``"era5_sund"``: the source's sunshine duration, passed through (seconds / 3600);
    ``"dni_fraction"``: the clear-sky-ratio fraction of each hour from direct irradiance;
    ``"ghi_erbs_fraction"``: GHI split by Erbs, then the fractional DNI rule
    (:mod:`climate_data.sunshine` gives the measured bias of each); None without radiation.
    """
    if "sunshine_duration" in variables:
        return "era5_sund"
    if "direct_horizontal_irradiance" in variables:
        return "dni_fraction"
    if "ghi" in variables:
        return "ghi_erbs_fraction"
    return None


def source_records(ds: xr.Dataset) -> list[dict[str, str]]:
    """The inputs of a build as recorded in a cube: ``{"path", "sha256"}`` per source.

    Files are hashed; a Zarr store (:func:`climate_data.era5.open_arco`) brings its own record,
    a digest of its metadata and of the selection, with the selection itself.
    """
    recorded = ds.attrs.get("source_records")
    if recorded:
        return [{str(k): str(v) for k, v in r.items()} for r in json.loads(recorded)]
    files = [str(p) for p in ds.attrs["source_files"]]
    return [{"path": os.path.basename(p), "sha256": sha256_file(p)} for p in files]


def input_is_synthetic(ds: xr.Dataset) -> bool:
    """True when the opened input (any of its files, or a Zarr store) says it is synthetic."""
    if str(ds.attrs.get("synthetic", "false")).lower() == "true":
        return True
    return _is_synthetic([str(p) for p in ds.attrs["source_files"]])


def _provenance(
    ds: xr.Dataset, ctx: _Context, sources: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    if sources is None:
        sources = source_records(ds)
    t = pd.DatetimeIndex(ds["time"].values)
    synthetic = input_is_synthetic(ds)
    attrs: dict[str, Any] = {
        "Conventions": "CF-1.8",
        "title": "Climate Loan Risk indicator cube" + (" (SYNTHETIC data)" if synthetic else ""),
        "cube_schema_version": CUBE_SCHEMA_VERSION,
        "reference_height_m": ctx.reference_height_m,
        "wind_heights_m": json.dumps(list(ctx.heights)),
        "shear_source": "data"
        if ctx.shear_heights
        else f"default {wind.DEFAULT_SHEAR_EXPONENT:.4f}",
        "source_format": str(ds.attrs.get("source_format", "unknown")),
        "source_files": json.dumps(sources),
        "code_version": code_version(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "synthetic": "true" if synthetic else "false",
        "time_start": str(t[0].date()),
        "time_end": str(t[-1].date()),
    }
    if "point_resolution_km" in ds.attrs:
        attrs["point_resolution_km"] = float(ds.attrs["point_resolution_km"])
    method = sunshine_method([str(v) for v in ds.data_vars])
    if method is not None:
        attrs["sunshine_method"] = method
        attrs["pv_transposition"] = solar.REFERENCE_PV_SYSTEM.transposition
    return attrs


def _is_synthetic(files: list[str]) -> bool:
    """True when any input file declares ``synthetic = "true"`` in its global attributes."""
    import netCDF4

    for f in files:
        if not os.path.isfile(f):  # a Zarr store or URL: its attributes say it (see above)
            continue
        try:
            with netCDF4.Dataset(f) as nc:
                if str(getattr(nc, "synthetic", "false")).lower() == "true":
                    return True
        except OSError:
            continue
    return False


def _write_atomic(cube: xr.Dataset, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    encoding = {
        name: {"zlib": True, "complevel": 4}
        for name in cube.data_vars
        if cube[name].dtype.kind == "f"
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    try:
        cube.to_netcdf(tmp, encoding=encoding, format="NETCDF4")
        _fsync(tmp)  # the data is on disk before the name points at it
        os.replace(tmp, out)
        _fsync(out.parent, directory=True)  # and so is the rename
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _fsync(path: str | Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    except OSError:
        if not directory:  # some file systems cannot sync a directory; a file must sync
            raise
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# Read


#: Per-cell variables :meth:`Cube.site` reads (the wind histograms, yearly and monthly, are
#: one stored variable, ``monthly_wind_speed_hist``, in a version-2 store). The yearly and
#: monthly shear exponents are part of the cube as a data product but no site figure uses
#: them, so a version-2 store does not read them for a site.
SITE_VARIABLES = frozenset(
    {
        "coverage",
        "wind_speed_mean",
        "wind_speed_hist",
        "shear_exponent",
        "shear_from_data",
        "air_density",
        "weibull_k",
        "weibull_c",
        "monthly_coverage",
        "monthly_wind_speed_mean",
        "monthly_wind_speed_hist",
        "monthly_air_density",
        "sunshine_hours",
        "ghi_kwh_m2",
        "pv_yield_kwh_kwp",
        "monthly_sunshine_hours",
        "monthly_ghi_kwh_m2",
        "monthly_pv_yield_kwh_kwp",
        "solar_coverage",
        "monthly_solar_coverage",
    }
)


class Cube:
    """An indicator cube, ready for site queries.

    Use :meth:`Cube.open`. A version-1 cube (NetCDF) is held completely in memory; a version-2
    store (Zarr, :mod:`climate_data.store`) is read lazily, one spatial tile at a time. Either
    way :meth:`site` returns the same :class:`~climate_data.site.SiteClimate`.
    """

    path: Path
    sha256: str
    attrs: dict[str, Any]
    reference_height_m: float
    synthetic: bool
    lats: NDArray[np.float64]
    lons: NDArray[np.float64]
    years: NDArray[np.int64]
    months: NDArray[np.datetime64]
    edges: NDArray[np.float64]
    dataset: DatasetInfo
    tolerance_km: float

    _v: Mapping[str, NDArray[Any]]

    def __init__(self, ds: xr.Dataset, path: Path, sha256: str) -> None:
        self._v = {str(name): np.asarray(ds[name].values) for name in ds.data_vars}
        self._set_metadata(
            dict(ds.attrs),
            path,
            path.stem,
            sha256,
            lats=ds["lat"].values,
            lons=ds["lon"].values,
            years=ds["year"].values,
            months=ds["month"].values,
            edges=ds["wind_bin_edges"].values,
        )

    def _set_metadata(
        self,
        attrs: dict[str, Any],
        path: Path,
        name: str,
        sha256: str,
        *,
        lats: NDArray[Any],
        lons: NDArray[Any],
        years: NDArray[Any],
        months: NDArray[Any],
        edges: NDArray[Any],
    ) -> None:
        self.path = path
        self.sha256 = sha256
        self.attrs = attrs
        self.reference_height_m = float(attrs["reference_height_m"])
        self.synthetic = str(attrs.get("synthetic", "false")).lower() == "true"
        self.lats = np.asarray(lats).astype(float)
        self.lons = np.asarray(lons).astype(float)
        self.years = np.asarray(years).astype(np.int64)
        self.months = np.asarray(months).astype("datetime64[M]")
        self.edges = np.asarray(edges).astype(float)
        self.dataset = DatasetInfo(
            id=f"{name}-{sha256[:12]}",
            sha256=sha256,
            synthetic=self.synthetic,
            start=str(attrs.get("time_start", "")),
            end=str(attrs.get("time_end", "")),
        )
        self.tolerance_km = self._tolerance_km()

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, tile_cache: int | None = None) -> Cube:
        """Open a cube: load a version-1 file, or read a version-2 store's metadata only.

        Parameters
        ----------
        path : path or URL
            A version-1 NetCDF file, or a version-2 store: a ``.zarr`` directory, a
            ``.zarr.zip`` file or an fsspec URL (see :func:`climate_data.store.is_store_path`).
        tile_cache : int, optional
            Version 2 only: how many spatial tiles each open cube keeps in memory (least
            recently used first out; from a local store the wind histogram stays compressed
            and each cell read decodes only its own part);
            :data:`climate_data.store.DEFAULT_TILE_CACHE` when omitted.

        Raises
        ------
        CubeFormatError
            When the file is missing, unreadable or not an indicator cube.
        """
        from climate_data.store import is_store_path, open_store

        if is_store_path(path):
            return open_store(path, tile_cache=tile_cache)
        p = Path(path)
        if not p.is_file():
            raise CubeFormatError(f"{p}: no such cube file")
        try:
            with xr.open_dataset(p, engine="netcdf4") as ds:
                ds.load()
        except (OSError, ValueError, RuntimeError) as exc:  # RuntimeError: a corrupt block
            raise CubeFormatError(f"{p}: not a readable NetCDF cube ({exc})") from exc
        version = ds.attrs.get("cube_schema_version")
        if version is None or int(version) != CUBE_SCHEMA_VERSION:
            raise CubeFormatError(
                f"{p}: not an indicator cube of schema version {CUBE_SCHEMA_VERSION} "
                f"(cube_schema_version = {version!r})"
            )
        missing = {"wind_speed_mean", "wind_speed_hist", "coverage", "wind_bin_edges"} - set(
            ds.data_vars
        )
        if missing:
            raise CubeFormatError(f"{p}: cube lacks {', '.join(sorted(missing))}")
        return cls(ds, p, sha256_file(p))

    # -- storage-specific access (overridden by the version-2 store) --------------------------

    @property
    def variables(self) -> frozenset[str]:
        """Names of the cube's variables, as in a version-1 cube."""
        return frozenset(self._v)

    @property
    def has_solar(self) -> bool:
        """True when the source carried radiation (the cube has sunshine figures)."""
        return "sunshine_hours" in self.variables

    def _cell(self, i: int, j: int) -> dict[str, NDArray[Any]]:
        """Every per-cell variable of cell (``i``, ``j``), dims as in a version-1 cube."""
        out: dict[str, NDArray[Any]] = {}
        for name, a in self._v.items():
            if a.ndim == 2:
                out[name] = a[i, j]
            elif a.ndim >= 3:
                out[name] = a[:, i, j]
        return out

    def _full(self, name: str) -> NDArray[Any]:
        """One variable over the whole grid, dims as in a version-1 cube."""
        return self._v[name]

    def _complete_years_share(self) -> float:
        return float(np.mean(self._v["coverage"] >= YEAR_COVERAGE_MIN))

    # -- queries -----------------------------------------------------------------------------

    def _tolerance_km(self) -> float:
        if self.lats.size < 2 and self.lons.size < 2:
            return float(self.attrs.get("point_resolution_km", DEFAULT_POINT_TOLERANCE_KM))
        spacings = []
        mid_lat = math.radians(float(np.mean(self.lats)))
        if self.lats.size >= 2:
            spacings.append(float(np.median(np.diff(self.lats))) * math.pi / 180 * EARTH_RADIUS_KM)
        if self.lons.size >= 2:
            spacings.append(
                float(np.median(np.diff(self.lons)))
                * math.pi
                / 180
                * EARTH_RADIUS_KM
                * math.cos(mid_lat)
            )
        return TOLERANCE_GRID_SPACINGS * max(spacings)

    def nearest(self, lat: float, lon: float) -> tuple[int, int, float]:
        """Indices of the nearest cell and its great-circle distance [km]."""
        if not (math.isfinite(lat) and math.isfinite(lon)) or not -90 <= lat <= 90:
            raise ValueError(
                f"latitude/longitude must be finite, latitude within [-90, 90]: ({lat}, {lon})"
            )
        lon = (lon + 180.0) % 360.0 - 180.0
        best = (0, 0, math.inf)
        for i in _neighbours(self.lats, lat):
            for j in _neighbours(self.lons, lon):
                d = haversine_km(lat, lon, float(self.lats[i]), float(self.lons[j]))
                if d < best[2]:
                    best = (i, j, d)
        return best

    def site(self, lat: float, lon: float) -> SiteClimate:
        """Climate years of the cell nearest to (``lat``, ``lon``).

        Raises
        ------
        SiteOutsideCoverage
            When the nearest cell is farther than the cube's tolerance.
        """
        i, j, dist = self.nearest(lat, lon)
        if dist > self.tolerance_km:
            raise SiteOutsideCoverage(
                lat, lon, float(self.lats[i]), float(self.lons[j]), dist, self.tolerance_km
            )
        v = self._cell(i, j)

        def opt(name: str) -> NDArray[np.float64] | None:
            return v.get(name)

        return SiteClimate(
            lat=float(lat),
            lon=float(lon),
            cell_lat=float(self.lats[i]),
            cell_lon=float(self.lons[j]),
            distance_km=dist,
            dataset=self.dataset,
            reference_height_m=self.reference_height_m,
            years=self.years,
            coverage=v["coverage"],
            wind_mean_ms=v["wind_speed_mean"],
            wind_hist_hours=v["wind_speed_hist"],
            wind_bin_edges_ms=self.edges,
            shear_exponent=float(v["shear_exponent"]),
            shear_from_data=bool(v["shear_from_data"]),
            air_density_kg_m3=v["air_density"]
            if "air_density" in v
            else np.full(self.years.size, 1.225),
            weibull_k=float(v["weibull_k"]),
            weibull_c_ms=float(v["weibull_c"]),
            months=self.months,
            monthly_coverage=v["monthly_coverage"],
            monthly_wind_mean_ms=v["monthly_wind_speed_mean"],
            monthly_wind_hist_hours=v["monthly_wind_speed_hist"],
            monthly_air_density_kg_m3=(
                v["monthly_air_density"]
                if "monthly_air_density" in v
                else np.full(self.months.size, 1.225)
            ),
            sunshine_hours=opt("sunshine_hours"),
            ghi_kwh_m2=opt("ghi_kwh_m2"),
            pv_yield_kwh_kwp=opt("pv_yield_kwh_kwp"),
            monthly_sunshine_hours=opt("monthly_sunshine_hours"),
            monthly_ghi_kwh_m2=opt("monthly_ghi_kwh_m2"),
            monthly_pv_yield_kwh_kwp=opt("monthly_pv_yield_kwh_kwp"),
            solar_coverage=opt("solar_coverage"),
            monthly_solar_coverage=opt("monthly_solar_coverage"),
            sunshine_method=_opt_attr(self.attrs, "sunshine_method"),
            # A v1 cube from before the attribute was built with Hay-Davies.
            pv_transposition=(
                _opt_attr(self.attrs, "pv_transposition")
                or (solar.LEGACY_TRANSPOSITION if "pv_yield_kwh_kwp" in v else None)
            ),
        )

    def info(self) -> dict[str, Any]:
        """Summary of the cube for ``climate-loan cube info`` and the health endpoint."""
        return {
            "path": str(self.path),
            "dataset": self.dataset.__dict__,
            "schema_version": int(self.attrs["cube_schema_version"]),
            "reference_height_m": self.reference_height_m,
            "grid": {
                "lat": [float(self.lats.min()), float(self.lats.max()), int(self.lats.size)],
                "lon": [float(self.lons.min()), float(self.lons.max()), int(self.lons.size)],
            },
            "tolerance_km": round(self.tolerance_km, 2),
            "years": [int(y) for y in self.years],
            "complete_years_share": self._complete_years_share(),
            "has_solar": self.has_solar,
            "sunshine_method": self.attrs.get("sunshine_method"),
            "pv_transposition": self.attrs.get("pv_transposition"),
            "shear_source": self.attrs.get("shear_source"),
            "source_files": json.loads(self.attrs.get("source_files", "[]")),
            "code_version": self.attrs.get("code_version"),
            "created_at": self.attrs.get("created_at"),
            "synthetic": self.synthetic,
        }

    def layer(self, name: str, hub_height_m: float | None = None) -> xr.DataArray:
        """A map layer over the grid: ``trailing_3y_wind_ms``, ``sunshine_hours`` or ``iav``.

        Only complete years count; cells with fewer complete years than the figure needs are NaN.
        """
        cov = self._full("coverage") >= YEAR_COVERAGE_MIN
        if name == "trailing_3y_wind_ms":
            h = self.reference_height_m if hub_height_m is None else hub_height_m
            factor = (h / self.reference_height_m) ** self._full("shear_exponent")
            ws = np.where(cov, self._full("wind_speed_mean"), np.nan)
            vals = _trailing_mean(ws, 3) * factor
        elif name == "iav":
            ws = np.where(cov, self._full("wind_speed_mean"), np.nan)
            with np.errstate(invalid="ignore", divide="ignore"):
                vals = np.nanstd(ws, axis=0, ddof=1) / np.nanmean(ws, axis=0)
            vals = np.where(cov.sum(axis=0) >= 2, vals, np.nan)
        elif name == "sunshine_hours" and self.has_solar:
            sun = np.where(cov, self._full("sunshine_hours"), np.nan)
            with np.errstate(invalid="ignore"):
                vals = np.where(
                    cov.sum(axis=0) >= 1, np.nanmean(np.where(cov, sun, np.nan), axis=0), np.nan
                )
        else:
            raise ValueError(f"unknown map layer {name!r}")
        return xr.DataArray(
            vals, dims=("lat", "lon"), coords={"lat": self.lats, "lon": self.lons}, name=name
        )


def _opt_attr(attrs: dict[str, Any], name: str) -> str | None:
    """A text attribute, or None where an older cube lacks it."""
    value = attrs.get(name)
    return None if value is None else str(value)


def _trailing_mean(values: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """Mean of the latest ``n`` finite values along axis 0; NaN where fewer exist."""
    ok = np.isfinite(values)
    rank_from_end = np.cumsum(ok[::-1], axis=0)[::-1]
    take = ok & (rank_from_end <= n)
    with np.errstate(invalid="ignore"):
        mean = np.where(take, values, 0.0).sum(axis=0) / take.sum(axis=0)
    return np.where(take.sum(axis=0) == n, mean, np.nan)


def _neighbours(axis: NDArray[np.float64], x: float) -> range:
    k = int(np.searchsorted(axis, x))
    return range(max(0, k - 1), min(axis.size, k + 1))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance [km] on a sphere of mean Earth radius 6371.0088 km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi = p2 - p1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlmb / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


__all__ = [
    "CUBE_SCHEMA_VERSION",
    "ClimateDataError",
    "Cube",
    "build_cube",
    "code_version",
    "haversine_km",
    "sha256_file",
    "sunshine_method",
]
