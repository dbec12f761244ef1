"""Indicator cube store version 2: chunked, compressed, lazily read Zarr (zarr-python 3).

A version-1 cube (:mod:`climate_data.cube`) is one NetCDF file that every reader loads whole;
at national scale (ERA5 0.25 degrees over China, 145 x 249 cells, 30 years) that is about
16 GB per process. A version-2 store keeps the same figures in a Zarr group, chunked by
*spatial tiles* of ``tile_cells x tile_cells`` cells with all years, months and wind bins of a
tile in one chunk, so that a site query reads one small chunk per variable, and only the
metadata is read when the cube is opened.

Where it lives: a ``.zarr`` directory, a ``.zarr.zip`` file (one file, chunks stored without
further compression) or any fsspec URL that zarr can read (``file://``, ``memory://``,
``s3://`` with its fsspec package installed, ...). :func:`is_store_path` decides; a path
ending in ``.zarr`` or ``.zarr.zip`` (or a URL) is a version-2 store, anything else a
version-1 NetCDF file.

Layout (dims as stored; every array but the coordinates is chunked ``(tile, tile, all, all)``):

==============================  ==========================  ==========  ===================
array                           dims                        dtype       units
==============================  ==========================  ==========  ===================
``lat``, ``lon``                lat / lon                   float64     degrees
``year``                        year                        int32       calendar year
``month``                       month                       int32       months since 1970-01
``wind_bin_edges``              bin_edge                    float64     m s-1
``wind_speed_mean`` etc.        lat, lon, year              float64     as version 1
``monthly_wind_speed_mean``     lat, lon, month             float64     as version 1
etc.
``monthly_wind_speed_hist``     lat, lon, month, wind_bin   uint16      h (whole hours)
``weibull_k``, ``shear_...``    lat, lon                    as v1       as version 1
``sums/<name>``                 lat, lon, month             float64 or  the build's monthly
                                                            uint16      sums and counts
==============================  ==========================  ==========  ===================

Every per-year and per-month variable of version 1 is kept with its dtype and values, except
the two wind histograms: the monthly one is stored as uint16 hour counts (a month has at most
744 hours; the histogram counts valid time steps, so the conversion is exact and checked), and
the annual one is not stored at all: it is the sum of its months, computed when a tile is
read, exactly as the build computes it (whole numbers in float64). A site read from a
version-2 store is therefore *equal* to the same site read from the version-1 cube of the same
input (the tests compare every array).

``sums/`` holds the monthly sums the build accumulates (valid hours, wind-speed sums, density
sums, radiation sums, ...); :func:`update_store` adds new months to them and derives the
figures again, which is why an update equals a build over all months exactly. A store
migrated from version 1 (:func:`migrate_cube`) has no ``sums/`` and cannot be updated.

Root attributes: the provenance of version 1 (source files with sha256, code version,
creation time, ``synthetic``, ...) with ``cube_schema_version = 2``, plus ``tile_cells``,
``time_last`` (the last input time step), ``content_sha256`` (a digest of every stored value,
the dataset's identity: a reader never hashes the whole store), ``generation`` (new on every
write, so that an open reader notices a replaced store), ``complete_years_share`` and
``has_update_sums``. Metadata is consolidated into the root ``zarr.json``: opening reads one
small file.

Writes are atomic: a build, migration or update writes a complete store beside the target and
renames it into place (a directory is swapped with ``renameat2(RENAME_EXCHANGE)`` on Linux, a
``.zarr.zip`` replaced with ``os.replace``). A build that is killed resumes on the next run
with the same inputs and parameters from the bands of tiles it had finished (a manifest keyed
by the inputs' sha256 and the build parameters).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import NDArray

from climate_data import wind
from climate_data.cube import (
    SITE_VARIABLES,
    TASK_CELL_HOURS,
    Cube,
    InputSpec,
    Sums,
    _accumulate,
    _Context,
    _months,
    _progress_bar,
    _provenance,
    _run_tasks,
    _small_chunk_cache,
    _tasks,
    code_version,
    derive_figures,
    input_is_synthetic,
    source_records,
)
from climate_data.era5 import BBox, NoNewTimeSteps, is_zarr_input, open_arco
from climate_data.errors import ClimateDataError, CubeFormatError
from climate_data.readers import open_weather
from climate_data.site import YEAR_COVERAGE_MIN, Deferred

STORE_SCHEMA_VERSION = 2
#: Cells along each side of a spatial tile (one chunk per variable and tile). At ERA5's 0.25
#: degrees a tile of 4 x 4 cells is 1 x 1 degree; its wind histograms for 30 years are 1.8 MB
#: decoded.
DEFAULT_TILE_CELLS = 4
#: Tiles each open store keeps in memory (least recently used first out): from a local
#: store the wind histogram compressed and the other chunks decoded, about 0.55 MB a tile of
#: 4 x 4 cells and 30 years; from a store read through zarr every chunk decoded (2.3 MB).
DEFAULT_TILE_CACHE = 32
#: Decoded cells each open store keeps in memory (least recently used first out); about
#: 0.15 MB per cell of 30 years.
DEFAULT_CELL_CACHE = 256
#: Largest whole number a histogram or count can hold in the store (uint16).
_UINT16_MAX = 65535
#: The wind histogram: the largest array of a cell (115 KB of 30 years).
_HIST = "monthly_wind_speed_hist"
#: Arrays of a cell decoded only when read (:class:`climate_data.site.Deferred`): what a
#: site-climate summary does not need (the histogram, the monthly air density and the monthly
#: solar figures), kept compressed in the tile cache meanwhile.
_DEFERRED = frozenset(
    {
        _HIST,
        "monthly_air_density",
        "monthly_sunshine_hours",
        "monthly_ghi_kwh_m2",
        "monthly_pv_yield_kwh_kwp",
        "monthly_solar_coverage",
    }
)
#: Monthly sums that are counts of time steps: stored as uint16, every other sum as float64.
_COUNT_SUMS = frozenset({"n_hours", "rho_n", "flux_n"})
#: Blosc with zstd and byte shuffle, for the wind histogram and the monthly sums: the largest
#: arrays, compact on disk; a cell decodes only its blocks of the histogram
#: (:func:`_blosc_range`), and the sums are read only by an update.
_CODEC_ARGS = {"cname": "zstd", "clevel": 5, "shuffle": "shuffle"}
#: Blosc with LZ4HC and byte shuffle, for the figures a site reads whole tile by tile: the
#: figure chunks of a tile decode in about 65 µs instead of 355 µs with zstd, for 3 % more
#: bytes (40 random national tiles recompressed both ways).
_FIGURE_CODEC_ARGS = {"cname": "lz4hc", "clevel": 5, "shuffle": "shuffle"}


def _codec_args(name: str) -> dict[str, Any]:
    """Blosc settings of a tile-chunked array of the store."""
    return _CODEC_ARGS if name == _HIST or name.startswith("sums/") else _FIGURE_CODEC_ARGS


def is_store_path(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names a version-2 store rather than a version-1 NetCDF file.

    A URL (``scheme://``), a path ending in ``.zarr`` or ``.zarr.zip``, or an existing directory
    with a ``zarr.json`` is a store.
    """
    s = str(path).rstrip("/")
    if "://" in s or s.endswith((".zarr", ".zarr.zip")):
        return True
    p = Path(s)
    return p.is_dir() and (p / "zarr.json").is_file()


def _is_zip(path: str | os.PathLike[str]) -> bool:
    return str(path).endswith(".zip")


def _store_name(path: str | os.PathLike[str]) -> str:
    name = str(path).rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".zip", ".zarr"):
        name = name.removesuffix(suffix)
    return name


# --------------------------------------------------------------------------------------------
# Writing


class _StoreWriter:
    """Writes bands of whole tile rows into a new store directory (zarr format 3)."""

    def __init__(
        self,
        root: Path,
        *,
        tile_cells: int,
        lats: NDArray[np.float64],
        lons: NDArray[np.float64],
        months: Sequence[pd.Timestamp] | pd.DatetimeIndex,
        edges: NDArray[np.float64],
        fresh: bool,
    ) -> None:
        import zarr

        self.root = root
        self.tile = tile_cells
        self.lats = np.asarray(lats, dtype=float)
        self.lons = np.asarray(lons, dtype=float)
        month_idx = pd.DatetimeIndex(np.asarray(months, dtype="datetime64[ns]"))
        self.months = month_idx
        self.years = np.array(sorted(set(month_idx.year)), dtype=np.int32)
        #: Arrays of the store by name ("sums/x" for the monthly sums), known without asking
        #: zarr (every question is a hand-over to its event-loop thread).
        self._known: dict[str, Any] | None
        if fresh:
            shutil.rmtree(root, ignore_errors=True)
            self.group = zarr.open_group(store=str(root), mode="w", zarr_format=3)
            self._known = {}
            coords = [
                ("lat", self.lats, "lat"),
                ("lon", self.lons, "lon"),
                ("year", self.years, "year"),
                ("month", _months_since_epoch(month_idx), "month"),
                ("wind_bin_edges", np.asarray(edges, dtype=float), "bin_edge"),
            ]
            arrays = self._arrays(
                [(n, v.shape, v.dtype, (d,)) for n, v, d in coords], whole_chunks=True
            )
            _write_all([(a, slice(None), v) for a, (_, v, _) in zip(arrays, coords, strict=True)])
        else:
            self.group = zarr.open_group(store=str(root), mode="r+")
            self._known = None  # listed on first use

    def _arrays(
        self,
        specs: Sequence[tuple[str, tuple[int, ...], Any, tuple[str, ...]]],
        *,
        whole_chunks: bool = False,
    ) -> list[Any]:
        """The arrays ``(name, shape, dtype, dims)``, the missing ones created concurrently.

        Per-cell arrays are chunked by tiles (``tile x tile x`` the rest); ``whole_chunks``
        makes one chunk of each (the coordinates).
        """
        import asyncio

        import zarr
        from zarr.codecs import BloscCodec
        from zarr.core.sync import sync

        if self._known is None:
            self._known = {str(n): a for n, a in self.group.arrays()}
            for name, sub in self.group.groups():
                self._known.update({f"{name}/{n}": a for n, a in sub.arrays()})
        known = self._known
        missing = [spec for spec in specs if spec[0] not in known]
        if missing:
            if any(name.startswith("sums/") for name, *_ in missing):
                self.group.require_group("sums")

            async def create_all() -> list[Any]:
                root = self.group._async_group
                jobs = []
                for name, shape, dtype, dims in missing:
                    dt = np.dtype(dtype)
                    if whole_chunks:
                        extra: dict[str, Any] = {"chunks": shape}
                    else:
                        extra = {
                            "chunks": (self.tile, self.tile, *shape[2:]),
                            "compressors": BloscCodec(**_codec_args(name)),
                            "fill_value": np.nan if dt.kind == "f" else 0,
                        }
                    jobs.append(
                        root.create_array(
                            name, shape=shape, dtype=dt, dimension_names=dims, **extra
                        )
                    )
                return list(await asyncio.gather(*jobs))

            for (name, *_), arr in zip(missing, sync(create_all()), strict=True):
                known[name] = zarr.Array(arr)
        return [known[name] for name, *_ in specs]

    def write_band(self, row0: int, figures: xr.Dataset, sums: Sums | None) -> list[str]:
        """Write one band (rows ``row0`` onwards); return the digest of each tile row in it.

        Digests per tile row (not per band) make the store's ``content_sha256`` independent
        of how the grid was split into bands.
        """
        rows = figures.sizes["lat"]
        hashes = [hashlib.sha256() for _ in range(0, rows, self.tile)]
        band = sorted(_stored_band(figures, sums), key=lambda t: t[0])
        arrays = self._arrays(
            [(n, (self.lats.size, self.lons.size, *v.shape[2:]), v.dtype, d) for n, d, v in band]
        )
        writes = []
        for (name, _, values), arr in zip(band, arrays, strict=True):
            writes.append((arr, slice(row0, row0 + values.shape[0]), values))
            for k, h in enumerate(hashes):
                h.update(name.encode())
                part = values[k * self.tile : (k + 1) * self.tile]
                h.update(np.ascontiguousarray(part).tobytes())

        _write_all(writes)
        return [h.hexdigest() for h in hashes]

    def finish(self, attrs: dict[str, Any]) -> None:
        """Set the root attributes and consolidate the metadata into the root ``zarr.json``."""
        import zarr

        self.group.attrs.update(attrs)
        with _quiet_consolidated():
            zarr.consolidate_metadata(str(self.root))


def _write_all(writes: Sequence[tuple[Any, slice, NDArray[Any]]]) -> None:
    """Write rows of several arrays in one pass of zarr's event loop.

    One hand-over to zarr's event-loop thread instead of one per array; the chunks are encoded
    and written concurrently.
    """
    import asyncio

    from zarr.core.sync import sync

    async def write() -> None:
        await asyncio.gather(*(a.async_array.setitem(rows, v) for a, rows, v in writes))

    sync(write())


@contextmanager
def _quiet_consolidated() -> Iterator[None]:
    """Silence zarr's notice that consolidated metadata is not yet in the Zarr 3 spec.

    Consolidation is what makes opening a store one small read; zarr-python writes it into the
    root ``zarr.json`` and reads it back, and other readers fall back to the per-array files.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part")
        yield


def _months_since_epoch(month_idx: pd.DatetimeIndex) -> NDArray[np.int32]:
    m = month_idx.to_numpy().astype("datetime64[M]").astype(np.int64)
    return np.asarray(m, dtype=np.int32)


def _stored_band(
    figures: xr.Dataset, sums: Sums | None
) -> Iterator[tuple[str, tuple[str, ...], NDArray[Any]]]:
    """The arrays of one band as stored: (name, dims, values with lat and lon first)."""
    for name in figures.data_vars:
        da = figures[name]
        if name in ("wind_speed_hist", "wind_bin_edges"):
            continue  # annual histogram: derived from the months on reading; edges: coordinate
        dims = ("lat", "lon", *[str(d) for d in da.dims if d not in ("lat", "lon")])
        values = np.asarray(da.transpose(*dims).values)
        if name == "monthly_wind_speed_hist":
            values = _to_uint16(values, str(name))
        yield str(name), dims, values
    for key, acc in (sums or {}).items():
        if key == "hist":
            continue  # the same numbers as monthly_wind_speed_hist
        values = np.moveaxis(acc, 0, 2)  # (month, lat, lon) -> (lat, lon, month)
        if key in _COUNT_SUMS:
            values = _to_uint16(values, key)
        yield f"sums/{key}", ("lat", "lon", "month"), np.ascontiguousarray(values)


def _to_uint16(values: NDArray[Any], name: str) -> NDArray[np.uint16]:
    """Whole-number counts as uint16; anything else is an error, never a silent rounding."""
    v = np.asarray(values, dtype=np.float64)
    if not (np.all(np.isfinite(v)) and np.all(v == np.round(v))):
        raise ClimateDataError(f"{name}: counts are not whole numbers; cannot store as uint16")
    if v.size and (v.min() < 0 or v.max() > _UINT16_MAX):
        raise ClimateDataError(
            f"{name}: counts outside 0..{_UINT16_MAX} (largest {v.max():g}); cannot store as uint16"
        )
    return v.astype(np.uint16)


def _bands(ny: int, band_rows: int) -> list[slice]:
    return [slice(r, min(r + band_rows, ny)) for r in range(0, ny, band_rows)]


#: Memory for one band's monthly sums (histograms included) during a build or update [bytes];
#: peak memory is about three times this.
BAND_BYTES = 512 * 1024 * 1024


def _auto_band_rows(tile: int, nx: int, n_months: int, n_bins: int) -> int:
    """Most whole tile rows whose monthly sums fit in :data:`BAND_BYTES`."""
    per_row = max(1, nx * n_months * (n_bins + 12) * 8)
    return max(tile, BAND_BYTES // per_row // tile * tile)


def _coord_digest(writer: _StoreWriter, band_digests: Sequence[str]) -> str:
    h = hashlib.sha256()
    for values in (writer.lats, writer.lons, _months_since_epoch(writer.months)):
        h.update(np.ascontiguousarray(values).tobytes())
    for d in band_digests:
        h.update(d.encode())
    return h.hexdigest()


def _store_attrs(
    base: dict[str, Any],
    *,
    writer: _StoreWriter,
    band_digests: Sequence[str],
    complete: int,
    total: int,
    time_last: str,
    has_sums: bool,
) -> dict[str, Any]:
    attrs = dict(base)
    attrs.update(
        {
            "cube_schema_version": STORE_SCHEMA_VERSION,
            "store_layout": "spatial tiles (lat, lon, time, bin)",
            "tile_cells": writer.tile,
            "time_last": time_last,
            "content_sha256": _coord_digest(writer, band_digests),
            "generation": uuid.uuid4().hex,
            "complete_years_share": complete / total if total else 0.0,
            "has_update_sums": has_sums,
        }
    )
    return attrs


def _coverage_counts(figures: xr.Dataset) -> tuple[int, int]:
    cov = np.asarray(figures["coverage"].values)
    return int(np.count_nonzero(cov >= YEAR_COVERAGE_MIN)), int(cov.size)


def _check_tile(tile_cells: int, band_rows: int | None) -> None:
    if tile_cells < 1:
        raise ValueError(f"tile_cells must be at least 1, got {tile_cells}")
    if band_rows is not None and (band_rows < 1 or band_rows % tile_cells):
        raise ValueError(f"band_rows must be a positive multiple of tile_cells, got {band_rows}")


def build_store(
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    reference_height_m: float,
    scheduler: str | None = None,
    progress: bool | None = None,
    task_cell_hours: int = TASK_CELL_HOURS,
    tile_cells: int = DEFAULT_TILE_CELLS,
    band_rows: int | None = None,
    bbox: BBox | None = None,
    years: tuple[int, int] | None = None,
) -> Path:
    """Build a version-2 store from hourly weather, band by band, resumably and atomically.

    The grid is processed in bands of whole tile rows (as many as fit in :data:`BAND_BYTES`,
    or ``band_rows``): each band's hours are reduced to monthly sums (the tasks of version 1),
    its figures derived, and its tiles written; a manifest then records the band.
    Peak memory is that of one band. A run killed at any point leaves the finished bands in
    ``.<name>.build-<key>/`` beside the target; the next run with the same inputs (by sha256)
    and parameters resumes from them. Only the finished store is renamed to ``out``; a
    finished store at ``out`` from the same inputs and parameters is left as it is.

    Parameters
    ----------
    inputs, reference_height_m, scheduler, progress, task_cell_hours, bbox, years
        As for :func:`climate_data.cube.build_cube`.
    out : path
        ``.zarr`` directory or ``.zarr.zip`` file to write.
    tile_cells : int
        Cells along each side of a spatial tile (chunk).
    band_rows : int, optional
        Latitude rows per band, a multiple of ``tile_cells``; each band reads the input's
        hours of its cells once (default: as many as fit in :data:`BAND_BYTES`).

    Returns
    -------
    Path
        The store.
    """
    _check_tile(tile_cells, band_rows)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    show = False if progress is None else progress
    with _small_chunk_cache():
        ds = open_weather(inputs, variables=["wind_speed"], bbox=bbox, years=years)
        try:
            sources = source_records(ds)
            source = InputSpec.of(inputs, ds, bbox=bbox, years=years)
            ctx = _Context(
                reference_height_m=reference_height_m,
                heights=tuple(float(h) for h in ds["height"].values),
                edges=np.asarray(wind.DEFAULT_BIN_EDGES_MS, dtype=float),
            )
            months = _months(ds)
            rows = band_rows or _auto_band_rows(
                tile_cells, ds.sizes["lon"], len(months), ctx.edges.size - 1
            )
            selection = {
                "bbox": None if bbox is None else bbox.as_list(),
                "years": None if years is None else list(years),
            }
            key = _build_key(sources, ctx, tile_cells, rows, task_cell_hours, selection)
            if _built_with(out, key):
                return out  # the same inputs and parameters: nothing to do
            for stale in out.parent.glob(f".{out.name}.*.part"):
                stale.unlink(missing_ok=True)  # a .zip being written when a run was killed
            work = out.parent / f".{out.name}.build-{key[:16]}"
            manifest_path = work / "manifest.json"
            manifest = _read_manifest(manifest_path, key)
            fresh = not manifest["bands"] or not (work / "store.zarr" / "zarr.json").is_file()
            if fresh:
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir(parents=True)
            writer = _StoreWriter(
                work / "store.zarr",
                tile_cells=tile_cells,
                lats=ds["lat"].values,
                lons=ds["lon"].values,
                months=months,
                edges=ctx.edges,
                fresh=fresh,
            )
            bands = _bands(ds.sizes["lat"], rows)
            bar = _progress_bar(len(bands), show)
            for band in bands:
                if str(band.start) in manifest["bands"]:
                    bar(1)
                    continue
                acc = _band_sums(
                    ds, band, months, ctx, task_cell_hours, scheduler=scheduler, source=source
                )
                figures = derive_figures(acc, months, ctx, ds["lat"].values[band], ds["lon"].values)
                digests = writer.write_band(band.start, figures, acc)
                manifest["bands"][str(band.start)] = {
                    "digests": digests,
                    "coverage": _coverage_counts(figures),
                }
                _write_json_atomic(manifest_path, manifest)
                bar(1)
            bar(0, close=True)
            attrs = _provenance(ds, ctx, sources)
            attrs["build_key"] = key
            t = pd.DatetimeIndex(ds["time"].values)
        finally:
            ds.close()
    done = [manifest["bands"][str(b.start)] for b in bands]
    writer.finish(
        _store_attrs(
            attrs,
            writer=writer,
            band_digests=[x for d in done for x in d["digests"]],
            complete=sum(d["coverage"][0] for d in done),
            total=sum(d["coverage"][1] for d in done),
            time_last=str(np.datetime64(t[-1], "s")),
            has_sums=True,
        )
    )
    _publish(writer.root, out)
    shutil.rmtree(work, ignore_errors=True)
    return out


def _build_key(
    sources: list[dict[str, str]],
    ctx: _Context,
    tile: int,
    rows: int,
    task_cell_hours: int,
    selection: Mapping[str, Any] | None = None,
) -> str:
    spec = {
        "schema": STORE_SCHEMA_VERSION,
        "sources": sources,
        "reference_height_m": ctx.reference_height_m,
        "heights": list(ctx.heights),
        "edges": [float(e) for e in ctx.edges],
        "tile_cells": tile,
        "band_rows": rows,
        "task_cell_hours": task_cell_hours,
        "code_version": code_version(),
    }
    if selection and any(v is not None for v in selection.values()):
        spec["selection"] = dict(selection)
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _built_with(out: Path, key: str) -> bool:
    """True when ``out`` is a finished store built from the same inputs and parameters."""
    if not (out.exists() and is_store_path(out)):
        return False
    try:
        cube = open_store(out, tile_cache=1)
    except CubeFormatError:
        return False
    try:
        return bool(cube.attrs.get("build_key") == key)
    finally:
        cube.close()


def _read_manifest(path: Path, key: str) -> dict[str, Any]:
    """The manifest of an earlier run with the same key, or an empty one."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"key": key, "bands": {}}
    if not isinstance(manifest, dict) or manifest.get("key") != key:
        return {"key": key, "bands": {}}
    return manifest


def _write_json_atomic(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    with open(tmp, "w") as f:
        json.dump(value, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _publish(store_dir: Path, out: Path) -> None:
    """Move a finished store directory to ``out`` atomically (directory or ``.zip``)."""
    if _is_zip(out):
        tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.part")
        try:
            _zip_directory(store_dir, tmp)
            os.replace(tmp, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        shutil.rmtree(store_dir, ignore_errors=True)
        return
    if out.is_file():
        raise ClimateDataError(f"{out}: exists and is a file, not a store directory")
    try:
        os.rename(store_dir, out)  # atomic when out does not exist (or is an empty directory)
        return
    except OSError:
        if not out.exists():
            raise
    if _exchange(store_dir, out):
        shutil.rmtree(store_dir, ignore_errors=True)  # now holds the previous store
        return
    # No atomic exchange on this system: move the old store aside first (a reader opening in
    # between finds no store and says so; it never sees a mixed one).
    aside = out.with_name(f".{out.name}.old-{uuid.uuid4().hex}")
    os.rename(out, aside)
    os.rename(store_dir, out)
    shutil.rmtree(aside, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False if absent."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return bool(rc == 0)


def _zip_directory(folder: Path, target: Path) -> None:
    """Zip a store directory without further compression (its chunks are compressed)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    with open(target, "rb+") as f:
        os.fsync(f.fileno())


# --------------------------------------------------------------------------------------------
# Migration from version 1


def migrate_cube(
    cube: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    tile_cells: int = DEFAULT_TILE_CELLS,
) -> Path:
    """Convert a version-1 cube (NetCDF) into a version-2 store, atomically.

    The values are copied as they are (histograms as uint16, checked to be whole numbers), so
    every site reads the same from both. The version-1 cube holds no monthly sums, so the new
    store cannot be updated with :func:`update_store`; build from the hourly input for that.
    Its ``content_sha256`` is new; ``migrated_from_sha256`` records the version-1 file's.
    """
    from climate_data.cube import CUBE_SCHEMA_VERSION

    src = Path(cube)
    out = Path(out)
    _check_tile(tile_cells, None)
    old = Cube.open(src)  # checks the version-1 format
    if is_store_path(src):
        raise CubeFormatError(f"{src}: already a version-2 store")
    with xr.open_dataset(src, engine="netcdf4") as ds:
        ds.load()
    if int(ds.attrs.get("cube_schema_version", 0)) != CUBE_SCHEMA_VERSION:
        raise CubeFormatError(f"{src}: not a version-1 cube")
    work = out.parent / f".{out.name}.migrate-{uuid.uuid4().hex[:12]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        work.mkdir()
        months = pd.DatetimeIndex(ds["month"].values)
        writer = _StoreWriter(
            work / "store.zarr",
            tile_cells=tile_cells,
            lats=ds["lat"].values,
            lons=ds["lon"].values,
            months=months,
            edges=ds["wind_bin_edges"].values,
            fresh=True,
        )
        digests: list[str] = []
        complete = total = 0
        for band in _bands(ds.sizes["lat"], tile_cells):
            figures = ds.isel(lat=band)
            digests += writer.write_band(band.start, figures, None)
            c, n = _coverage_counts(figures)
            complete, total = complete + c, total + n
        base = dict(ds.attrs)
        base["migrated_from_sha256"] = old.sha256
        base["migrated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        end = str(ds.attrs.get("time_end", ""))
        writer.finish(
            _store_attrs(
                base,
                writer=writer,
                band_digests=digests,
                complete=complete,
                total=total,
                time_last=f"{end}T23:00:00" if end else "",
                has_sums=False,
            )
        )
        _publish(writer.root, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


# --------------------------------------------------------------------------------------------
# Incremental update


def _band_sums(
    ds: xr.Dataset,
    band: slice,
    months: list[pd.Timestamp],
    ctx: _Context,
    task_cell_hours: int,
    *,
    scheduler: str | None,
    source: InputSpec | None,
    acc: Sums | None = None,
) -> Sums:
    """Read the input's hours of one band of rows and add their monthly sums to ``acc``.

    ``acc`` holds the stored sums of the band for an update, None (zeros) for a build; the
    additions are in task (time) order either way (:func:`climate_data.cube._accumulate`).
    """
    part = ds.isel(lat=band)
    tasks = _tasks(part, task_cell_hours)
    results = _run_tasks(
        part, tasks, ctx, scheduler=scheduler, progress=False, source=source, lat=band
    )
    return _accumulate(part.sizes["lat"], part.sizes["lon"], months, tasks, results, ctx, acc=acc)


def update_store(
    path: str | os.PathLike[str],
    inputs: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    scheduler: str | None = None,
    progress: bool | None = None,
    task_cell_hours: int = TASK_CELL_HOURS,
    years: tuple[int, int] | None = None,
) -> Path:
    """Append new months of hourly weather to a version-2 store, atomically.

    Only the new hours are read. Each band's stored monthly sums get the new months' sums
    added (in time order, as a build adds them, so the result equals a build over all the
    input exactly); the figures that depend on them - the touched months and years, their
    coverage, and each cell's long-term Weibull and shear figures - are derived again from the
    sums, which costs no hourly reading. Trailing multi-year figures are computed at query
    time. The new store is written beside the old one and swapped in; a crash leaves the old
    store as it was (and a stale ``.<name>.update-*`` folder that the next update removes).

    Parameters
    ----------
    path : path
        A ``.zarr`` directory or ``.zarr.zip`` built by :func:`build_store`.
    inputs : path, glob or list of paths
        Hourly weather on the same grid and heights, all after the store's last time step
        (``time_last``). The first hour of a month also completes the previous month's
        radiation (a flux stamped 00:00 belongs to the hour before). Input files the store
        already lists (by sha256) make the update a no-op, so rerunning an update that
        finished changes nothing. A Zarr store in the ARCO-ERA5 layout is read over the
        cube's grid (its box) and only after ``time_last``; with nothing new there, the update
        is a no-op.
    years : (int, int), optional
        Only these calendar years of the input.

    Returns
    -------
    Path
        The store.

    Raises
    ------
    ClimateDataError
        The store has no monthly sums (migrated from version 1), or the input does not fit:
        another grid or heights, or hours the store already has.
    """
    target = Path(path)
    for stale in target.parent.glob(f".{target.name}.update-*"):
        shutil.rmtree(stale, ignore_errors=True)
    old = open_store(target, tile_cache=1)
    if not old.attrs.get("has_update_sums"):
        raise ClimateDataError(
            f"{target}: this store has no monthly sums (it was migrated from a version-1 cube); "
            "rebuild it from the hourly input with `climate-loan cube build ... --out "
            f"{target.name}` to be able to update it"
        )
    show = False if progress is None else progress
    with _small_chunk_cache():
        if is_zarr_input(inputs):
            box = BBox(
                float(old.lons.min()),
                float(old.lats.min()),
                float(old.lons.max()),
                float(old.lats.max()),
            )
            after = pd.Timestamp(old.attrs["time_last"]).to_datetime64()
            try:
                ds = open_arco(inputs, ["wind_speed"], bbox=box, years=years, after=after)
            except NoNewTimeSteps:
                old.close()
                return target  # the store has every hour the input has
            source = InputSpec.of(inputs, ds, bbox=box, years=years, after=str(after))
        else:
            ds = open_weather(inputs, variables=["wind_speed"], years=years)
            source = InputSpec.of(inputs, ds, years=years)
        try:
            return _update(old, target, ds, scheduler, show, task_cell_hours, source)
        finally:
            ds.close()


def _update(
    old: StoreCube,
    target: Path,
    ds: xr.Dataset,
    scheduler: str | None,
    show: bool,
    task_cell_hours: int,
    source: InputSpec | None,
) -> Path:
    heights = _check_update_input(old, ds)
    new_sources = source_records(ds)
    known = {s["sha256"] for s in json.loads(old.attrs.get("source_files", "[]"))}
    if all(s["sha256"] in known for s in new_sources):
        return target  # every input is in the store already (a rerun after a finished update)
    t = pd.DatetimeIndex(ds["time"].values)
    last = pd.Timestamp(old.attrs["time_last"])
    if t[0] <= last:
        raise ClimateDataError(
            f"the new input starts at {t[0]}, not after the store's last hour {last}: "
            "an update only adds hours the store does not have"
        )
    ctx = _Context(
        reference_height_m=old.reference_height_m, heights=heights, edges=old.edges.copy()
    )
    old_months = pd.DatetimeIndex(old.months.astype("datetime64[ns]"))
    months = list(pd.date_range(old_months[0], t[-1], freq="MS"))
    n_old = old_months.size
    tile = int(old.attrs["tile_cells"])
    work = target.parent / f".{target.name}.update-{uuid.uuid4().hex[:12]}"
    work.mkdir(parents=True)
    try:
        writer = _StoreWriter(
            work / "store.zarr",
            tile_cells=tile,
            lats=old.lats,
            lons=old.lons,
            months=months,
            edges=ctx.edges,
            fresh=True,
        )
        group = old.group
        sum_arrays = dict(sorted(group["sums"].arrays())) if "sums" in group else {}
        digests: list[str] = []
        complete = total = 0
        bands = _bands(
            old.lats.size,
            _auto_band_rows(tile, old.lons.size, len(months), ctx.edges.size - 1),
        )
        bar = _progress_bar(len(bands), show)
        for band in bands:
            acc = _band_sums(
                ds,
                band,
                months,
                ctx,
                task_cell_hours,
                scheduler=scheduler,
                source=source,
                acc=_stored_sums(old, band, sum_arrays, len(months), n_old),
            )
            figures = derive_figures(acc, months, ctx, old.lats[band], old.lons)
            digests += writer.write_band(band.start, figures, acc)
            c, n = _coverage_counts(figures)
            complete, total = complete + c, total + n
            bar(1)
        bar(0, close=True)
        writer.finish(
            _store_attrs(
                _updated_attrs(old, ds, new_sources, t[-1]),
                writer=writer,
                band_digests=digests,
                complete=complete,
                total=total,
                time_last=str(np.datetime64(t[-1], "s")),
                has_sums=True,
            )
        )
        old.close()
        _publish(writer.root, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _check_update_input(old: StoreCube, ds: xr.Dataset) -> tuple[float, ...]:
    """The wind heights [m] of the new input, checked to match the store's, as is its grid.

    Raises
    ------
    ClimateDataError
        Other wind heights, or another grid, than the store's.
    """
    heights = tuple(float(h) for h in ds["height"].values)
    stored_heights = tuple(float(h) for h in json.loads(old.attrs["wind_heights_m"]))
    if heights != stored_heights:
        raise ClimateDataError(
            f"the new input has wind at {list(heights)} m, the store at {list(stored_heights)} m"
        )
    if not (
        np.array_equal(ds["lat"].values.astype(float), old.lats)
        and np.array_equal(ds["lon"].values.astype(float), old.lons)
    ):
        raise ClimateDataError("the new input's grid differs from the store's grid")
    return heights


def _stored_sums(
    old: StoreCube, band: slice, sum_arrays: Mapping[str, Any], n_months: int, n_old: int
) -> Sums:
    """A band's stored monthly sums and histograms, zero-padded to ``n_months`` months.

    The first ``n_old`` months are the store's; the rest are for the update to add to.
    """
    ny = band.stop - band.start
    nx = old.lons.size
    acc: Sums = {}
    stored = _read_rows([*sum_arrays.values(), old._arrays["monthly_wind_speed_hist"]], band)
    for key, values in zip(list(sum_arrays), stored, strict=False):
        a = np.zeros((n_months, ny, nx))
        a[:n_old] = np.moveaxis(np.asarray(values, dtype=float), 2, 0)
        acc[key] = a
    hist = np.zeros((n_months, ny, nx, old.edges.size - 1))
    hist[:n_old] = np.moveaxis(np.asarray(stored[-1], dtype=float), 2, 0)
    acc["hist"] = hist
    return acc


def _updated_attrs(
    old: StoreCube, ds: xr.Dataset, new_sources: list[dict[str, str]], t_end: pd.Timestamp
) -> dict[str, Any]:
    """The store's attributes after an update with ``ds`` (its new sources, up to ``t_end``)."""
    attrs = dict(old.attrs)
    sources = json.loads(attrs.get("source_files", "[]")) + new_sources
    synthetic = attrs.get("synthetic") == "true" or input_is_synthetic(ds)
    attrs.update(
        {
            "source_files": json.dumps(sources),
            "synthetic": "true" if synthetic else "false",
            "title": "Climate Loan Risk indicator cube"
            + (" (SYNTHETIC data)" if synthetic else ""),
            "time_end": str(t_end.date()),
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "code_version": code_version(),
        }
    )
    return attrs


def _plain_blosc(arr: Any) -> bool:
    """Whether a zarr array is stored as little-endian ``bytes`` + ``blosc``, default keys."""
    meta = arr.metadata.to_dict()
    codecs = [c["name"] for c in meta["codecs"]]
    endian = meta["codecs"][0].get("configuration", {}).get("endian", "little")
    return (
        codecs == ["bytes", "blosc"]
        and endian == "little"
        and meta["chunk_key_encoding"] == {"name": "default", "configuration": {"separator": "/"}}
    )


def _read_rows(arrays: Sequence[Any], rows: slice) -> list[NDArray[Any]]:
    """Rows of several zarr arrays, read in one pass of zarr's event loop."""
    import asyncio

    from zarr.core.sync import sync

    async def read_all() -> list[Any]:
        return list(await asyncio.gather(*(a.async_array.getitem(rows) for a in arrays)))

    return [np.asarray(v) for v in sync(read_all())]


# --------------------------------------------------------------------------------------------
# Reading


class _CellValues:
    """Values of one variable of a cell in the cell cache, decoded once when first asked.

    Until then it holds its tile's compressed chunk (shared by the tile's cells: about 136 KB
    for the wind histogram, 38 KB for a monthly solar figure), afterwards only the cell's
    values (115 KB of wind histogram for 30 years).
    """

    __slots__ = ("_args", "_decode", "_values")

    def __init__(
        self, decode: Callable[..., NDArray[Any]], name: str, chunk: Any, a: int, b: int
    ) -> None:
        self._decode = decode
        self._args: tuple[Any, ...] | None = (name, chunk, a, b)
        self._values: NDArray[Any] | None = None

    def values(self) -> NDArray[Any]:
        """The cell's values, stored dtype, dims after lat and lon."""
        values, args = self._values, self._args
        if values is None:
            if args is None:  # another thread decoded them meanwhile (values are set first)
                return self.values()
            values = self._decode(*args)
            self._values = values
            self._args = None  # the tile's chunk is no longer needed here
        return values


def _float64_copy(values: Callable[[], NDArray[Any]]) -> Callable[[], NDArray[np.float64]]:
    """A function giving ``values()`` as a new float64 array (writable, its own memory)."""

    def make() -> NDArray[np.float64]:
        return values().astype(np.float64)

    return make


def _read_file(path: str) -> bytes | None:
    """The bytes of a file, None when it does not exist.

    ``os.open`` and one ``os.read`` of the file's size: a third less time than ``open()``
    for the small chunk files of a tile, which builds no buffered reader.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(fd).st_size
        data = os.read(fd, size)
        while len(data) < size:  # a short read: a signal, or a file larger than one read
            more = os.read(fd, size - len(data))
            if not more:
                break
            data += more
        return data
    finally:
        os.close(fd)


#: Blosc 1 header flags: bytes shuffled, stored without compression, bits shuffled, blocks
#: not split into one stream per byte of a value; compressor code in the top three bits.
_BLOSC_SHUFFLE, _BLOSC_MEMCPYED, _BLOSC_BITSHUFFLE, _BLOSC_DONT_SPLIT = 0x1, 0x2, 0x4, 0x10
_BLOSC_ZSTD = 4
_BLOSC_HEADER = 16


def _blosc_blocks(raw: bytes) -> int:
    """Number of blocks of a Blosc 1 buffer (1 when stored without compression)."""
    if raw[2] & _BLOSC_MEMCPYED:
        return 1
    nbytes = int.from_bytes(raw[4:8], "little")
    return -(-nbytes // int.from_bytes(raw[8:12], "little"))


def _blosc_range(raw: bytes, start: int, stop: int) -> bytes:
    """Bytes ``start:stop`` of what a Blosc 1 buffer decodes to, decoding only their blocks.

    Blosc cuts the data into blocks (256 KB for a wind-histogram chunk of 1.8 MB) and
    compresses each on its own; a cell of a tile lies in one or two of them. A block is read
    from its offset in the header, each of its streams decompressed with zstd, and the bytes
    of the range taken out of its byte-shuffled layout. A range that needs every block (a
    chunk of one block), buffers with another compressor and with bit shuffle are decoded
    whole (``numcodecs.blosc.decompress``, faster per block).

    Notes
    -----
    Layout of a Blosc 1 buffer (c-blosc 1.x, format version 2): a 16-byte header (version,
    compressor version, flags, type size, then ``nbytes``, ``blocksize`` and ``cbytes`` as
    little-endian int32), then, unless the data were stored uncompressed, the int32 offset
    of each of the ``ceil(nbytes / blocksize)`` blocks. A block holds ``typesize`` streams
    (one per byte of a value) unless the "don't split" flag is set or it is the short last
    block, then one; each stream is an int32 size followed by that many bytes, stored raw
    when the size equals the stream's decoded size. A shuffled block of ``n`` values keeps
    byte ``k`` of value ``i`` at ``k * n + i``; bytes after the last whole value are not
    shuffled.
    """
    from numcodecs import blosc, zstd

    flags, typesize = raw[2], raw[3]
    nbytes = int.from_bytes(raw[4:8], "little")
    blocksize = int.from_bytes(raw[8:12], "little")
    if raw[0] != 2 or flags & _BLOSC_BITSHUFFLE:
        return bytes(blosc.decompress(raw)[start:stop])
    if flags & _BLOSC_MEMCPYED:
        return raw[_BLOSC_HEADER + start : _BLOSC_HEADER + stop]
    nblocks = -(-nbytes // blocksize)
    first_block, last_block = start // blocksize, (stop - 1) // blocksize
    if flags >> 5 != _BLOSC_ZSTD or (first_block == 0 and last_block == nblocks - 1):
        return bytes(blosc.decompress(raw)[start:stop])
    shuffled = bool(flags & _BLOSC_SHUFFLE) and typesize > 1
    parts = []
    for k in range(first_block, last_block + 1):
        first = k * blocksize
        size = min(blocksize, nbytes - first)
        last_short = k == nblocks - 1 and size < blocksize
        splits = 1 if flags & _BLOSC_DONT_SPLIT or last_short else typesize
        per_split = size // splits
        pos = int.from_bytes(raw[_BLOSC_HEADER + 4 * k : _BLOSC_HEADER + 4 * k + 4], "little")
        streams = []
        for _ in range(splits):
            csize = int.from_bytes(raw[pos : pos + 4], "little")
            pos += 4
            stream = raw[pos : pos + csize]
            streams.append(stream if csize == per_split else zstd.decompress(stream))
            pos += csize
        block = np.frombuffer(b"".join(streams), dtype=np.uint8)
        if block.size != size:
            raise CubeFormatError(f"blosc block {k} decodes to {block.size} bytes, not {size}")
        lo, hi = max(start, first) - first, min(stop, first + size) - first
        if shuffled:
            values = size // typesize
            planes = block[: values * typesize].reshape(typesize, values)
            if lo % typesize == 0 and hi % typesize == 0 and hi <= values * typesize:
                parts.append(_unshuffle(planes[:, lo // typesize : hi // typesize]))
                continue
            block = np.frombuffer(
                _unshuffle(planes) + block[values * typesize :].tobytes(), np.uint8
            )
        parts.append(block[lo:hi].tobytes())
    return b"".join(parts)


def _unshuffle(planes: NDArray[np.uint8]) -> bytes:
    """Values from byte planes (``planes[k]``: byte ``k`` of every value), as bytes.

    One strided copy per plane: numpy's copy of the transposed array is about eight times
    slower for two-byte values.
    """
    out = np.empty(planes.shape[::-1], dtype=np.uint8)
    for k, plane in enumerate(planes):
        out[:, k] = plane
    return out.tobytes()


def _open_group(path: str | os.PathLike[str]) -> Any:
    import zarr
    from zarr.storage import FsspecStore, LocalStore, ZipStore

    s = str(path)
    store: Any
    if "://" in s and not s.startswith("file://"):
        store = FsspecStore.from_url(s, read_only=True)
    else:
        local = Path(s.removeprefix("file://"))
        if _is_zip(local):
            if not local.is_file():
                raise CubeFormatError(f"{local}: no such cube store")
            store = ZipStore(local, mode="r")
        else:
            if not (local / "zarr.json").is_file():
                raise CubeFormatError(f"{local}: no such cube store (no zarr.json)")
            store = LocalStore(local, read_only=True)
    try:
        with _quiet_consolidated():
            return zarr.open_group(store=store, mode="r", use_consolidated=True)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise CubeFormatError(f"{s}: not a readable Zarr store ({exc})") from exc


def open_store(path: str | os.PathLike[str], *, tile_cache: int | None = None) -> StoreCube:
    """Open a version-2 store, reading its metadata only (see :meth:`Cube.open`)."""
    return StoreCube(path, tile_cache=DEFAULT_TILE_CACHE if tile_cache is None else tile_cache)


class _LazyVariables(Mapping[str, NDArray[Any]]):
    """``Cube._v`` of a store: names known at once, whole arrays read on first use."""

    def __init__(self, cube: StoreCube) -> None:
        self._cube = cube

    def __getitem__(self, name: str) -> NDArray[Any]:
        return self._cube._full(name)

    def __contains__(self, name: object) -> bool:
        return name in self._cube.variables

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._cube.variables))

    def __len__(self) -> int:
        return len(self._cube.variables)


class StoreCube(Cube):
    """A version-2 store opened lazily: metadata at open, one tile per cache miss.

    :meth:`site` reads the tile holding the nearest cell (one chunk per variable) and keeps
    it in a least-recently-used cache of ``tile_cache`` tiles; from a local store the wind
    histogram is kept compressed and only the blocks of the cell asked for are decoded. The
    cells read are kept in a least-recently-used cache of :data:`DEFAULT_CELL_CACHE` cells.
    When the store on disk is replaced (an update), the next tile-cache miss notices the new
    ``generation`` and reopens it, so a long-running reader never mixes two versions.
    """

    def __init__(self, path: str | os.PathLike[str], *, tile_cache: int) -> None:
        if tile_cache < 1:
            raise ValueError(f"tile_cache must be at least 1, got {tile_cache}")
        self._location = str(path)
        self._tile_cache = tile_cache
        self._cell_cache = DEFAULT_CELL_CACHE
        self._lock = threading.Lock()
        self._v = _LazyVariables(self)
        self._load()

    def _load(self) -> None:
        self._meta_token = self._stat_token()  # before reading: a later swap changes it
        self._zip: zipfile.ZipFile | None = None
        group = _open_group(self._location)
        attrs = dict(group.attrs)
        version = attrs.get("cube_schema_version")
        if version is None or int(version) != STORE_SCHEMA_VERSION:
            raise CubeFormatError(
                f"{self._location}: not an indicator cube store of schema version "
                f"{STORE_SCHEMA_VERSION} (cube_schema_version = {version!r})"
            )
        names = set(group.array_keys())
        missing = {"wind_speed_mean", "monthly_wind_speed_hist", "coverage", "lat"} - names
        if missing:
            raise CubeFormatError(f"{self._location}: store lacks {', '.join(sorted(missing))}")
        self.group = group
        self._arrays = {
            n: group[n]
            for n in names
            if tuple(group[n].metadata.dimension_names or ())[:2] == ("lat", "lon")
        }
        self._names = frozenset(self._arrays) | {"wind_speed_hist", "wind_bin_edges"}
        self._site_arrays = sorted(n for n in self._arrays if n in SITE_VARIABLES)
        months = (group["month"][...].astype(np.int64)).astype("datetime64[M]")
        self._tiles: OrderedDict[tuple[int, int], dict[str, Any]] = OrderedDict()
        self._cells: OrderedDict[tuple[int, int], dict[str, Any]] = OrderedDict()
        self._full_cache: dict[str, NDArray[Any]] = {}
        self.tile_cells = int(attrs["tile_cells"])
        self.generation = str(attrs.get("generation", ""))
        self._direct = self._direct_reader()
        self._layouts: dict[str, tuple[Any, ...]] = {}
        self._set_metadata(
            attrs,
            Path(self._location),
            _store_name(self._location),
            str(attrs["content_sha256"]),
            lats=group["lat"][...],
            lons=group["lon"][...],
            years=group["year"][...],
            months=months,
            edges=group["wind_bin_edges"][...],
        )
        years_of_months = self.months.astype("datetime64[Y]").astype(np.int64) + 1970
        self._year_starts = np.searchsorted(years_of_months, self.years)

    def close(self) -> None:
        """Release the store (a ``.zip`` file handle); the cube cannot be read afterwards."""
        store = self.group.store
        if hasattr(store, "close"):
            store.close()
        if self._zip is not None:
            self._zip.close()

    @property
    def variables(self) -> frozenset[str]:
        """Names of the store's variables, as in a version-1 cube."""
        return self._names

    def _complete_years_share(self) -> float:
        return float(self.attrs.get("complete_years_share", 0.0))

    def _generation_on_disk(self) -> str | None:
        """The generation of the local directory store now on disk (None when not one).

        A replaced store has a new root ``zarr.json`` (another inode), so its ``stat`` tells
        cheaply whether to read the generation at all.
        """
        loc = self._location.removeprefix("file://")
        if "://" in loc or _is_zip(loc):
            return None  # a zip is pinned by its open handle; remote stores are not swapped
        path = Path(loc) / "zarr.json"
        try:
            st = path.stat()
            token = (st.st_ino, st.st_mtime_ns, st.st_size)
            if token == self._meta_token:
                return self.generation
            meta = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        return str(meta.get("attributes", {}).get("generation", ""))

    def _stat_token(self) -> tuple[int, int, int] | None:
        loc = self._location.removeprefix("file://")
        if "://" in loc or _is_zip(loc):
            return None
        try:
            st = (Path(loc) / "zarr.json").stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _tile(self, ti: int, tj: int) -> dict[str, Any]:
        """The stored chunks of tile (``ti``, ``tj``), from the cache or read; lock held."""
        hit = self._tiles.get((ti, tj))
        if hit is not None:
            self._tiles.move_to_end((ti, tj))
            return hit
        swappable = self._meta_token is not None  # a local directory store
        for attempt in range(6):
            before = self._generation_on_disk()
            if swappable and before is None:
                # between the two renames of a replacement without an atomic exchange
                time.sleep(0.05 * (attempt + 1))
                continue
            if before is not None and before != self.generation:
                self._load()  # the store was replaced: reopen, forget the old tiles and cells
                continue
            tile = self._read_tile(ti, tj)
            if self._generation_on_disk() == before:
                break
        else:  # pragma: no cover - replaced again and again during one read
            raise CubeFormatError(f"{self._location}: store keeps changing while read")
        self._tiles[(ti, tj)] = tile
        while len(self._tiles) > self._tile_cache:
            self._tiles.popitem(last=False)
        return tile

    def _read_tile(self, ti: int, tj: int) -> dict[str, Any]:
        """One chunk of every variable a site reads (:data:`climate_data.cube.SITE_VARIABLES`).

        From a local store (:meth:`_stored_chunk`) a chunk of one Blosc block is decoded, a
        larger one kept compressed; any other store gives the decoded chunks, read through
        zarr.
        """
        if self._direct is not None:
            return {n: self._stored_chunk(n, ti, tj) for n in self._site_arrays}
        import asyncio

        from zarr.core.sync import sync

        t = self.tile_cells
        where = (slice(ti * t, (ti + 1) * t), slice(tj * t, (tj + 1) * t))
        names = self._site_arrays

        async def fetch() -> list[Any]:
            return await asyncio.gather(
                *(self._arrays[n].async_array.getitem(where) for n in names)
            )

        return {name: np.asarray(v) for name, v in zip(names, sync(fetch()), strict=True)}

    def _direct_reader(self) -> Any:
        """Return a reader of chunk bytes for a local store, or None to read through zarr.

        The reader maps a chunk key to its bytes (None when absent); it serves a local directory
        or ``.zip`` whose arrays are all ``bytes`` (little endian) + ``blosc`` with the default
        chunk keys.

        Going around zarr's asynchronous machinery matters for a cold tile: zarr hands every
        chunk to its event-loop thread, and on a busy machine each hand-over costs
        milliseconds; a tile is about 25 small files read in this thread instead.
        """
        loc = self._location.removeprefix("file://")
        if "://" in loc:
            return None
        if not all(_plain_blosc(arr) for arr in self._arrays.values()):
            return None
        if _is_zip(loc):
            # zarr's ZipStore has parsed the central directory already (72,000 entries for a
            # national store): share its ZipFile rather than parse it again.
            shared = getattr(self.group.store, "_zf", None)
            if isinstance(shared, zipfile.ZipFile):
                zf = shared
            else:  # pragma: no cover - another zarr version
                zf = self._zip = zipfile.ZipFile(loc)

            def read_zip(key: str) -> bytes | None:
                try:
                    return zf.read(key)
                except KeyError:
                    return None

            return read_zip
        root = str(Path(loc)) + os.sep
        return lambda key: _read_file(root + key)

    def _chunk_key(self, name: str, ti: int, tj: int) -> str:
        rest = self._layout(name)[4]
        return f"{name}/c/{ti}/{tj}/{rest}" if rest else f"{name}/c/{ti}/{tj}"

    def _layout(self, name: str) -> tuple[Any, ...]:
        """Chunk shape, dtype, fill value and chunk-key suffix of an array, read once.

        zarr's metadata properties cost on every call, so they are asked once per array.
        """
        layout = self._layouts.get(name)
        if layout is None:
            arr = self._arrays[name]
            layout = (
                tuple(arr.chunks),
                np.dtype(arr.dtype).newbyteorder("<"),
                arr.fill_value,
                int(np.prod(arr.chunks[2:], dtype=np.int64)),
                "/".join(["0"] * (len(arr.chunks) - 2)),
            )
            self._layouts[name] = layout
        return layout

    def _stored_chunk(self, name: str, ti: int, tj: int) -> NDArray[Any] | bytes | None:
        """A chunk of a local store as the tile cache keeps it.

        A chunk of one Blosc block (every chunk of a national store but the wind histogram's:
        46 KB of monthly values) is decoded: any cell of it needs the whole block, and the
        next cell of the tile then costs nothing. A chunk of several blocks (the wind
        histogram: 1.8 MB in 256 KB blocks) stays compressed, and each cell decodes only the
        blocks it lies in; so does a chunk of a :data:`_DEFERRED` array, which a cell decodes
        only if it is read. None for a chunk never written.
        """
        raw: bytes | None = self._direct(self._chunk_key(name, ti, tj))
        if raw is None or name in _DEFERRED or _blosc_blocks(raw) > 1:
            return raw
        return self._decoded(name, raw)

    def _decoded(self, name: str, raw: bytes) -> NDArray[Any]:
        """A whole chunk of array ``name`` from its stored (Blosc) bytes, chunk-shaped."""
        from numcodecs import blosc

        chunks, dtype = self._layout(name)[:2]
        return np.frombuffer(blosc.decompress(raw), dtype=dtype).reshape(chunks)

    def _cell_of(self, name: str, stored: Any, a: int, b: int) -> NDArray[Any]:
        """The values of cell (``a``, ``b``) of a tile's chunk, dims after lat and lon.

        ``stored`` is a decoded chunk (copied, so that the cell does not hold the tile), the
        compressed bytes of a chunk (only the cell's bytes are decoded: in C order a cell of
        a ``(tile, tile, ...)`` chunk is one run of values) or None for a chunk never written
        (the fill value, as zarr reads it). Chunks of the grid's last tiles have the full
        chunk shape on disk, so a cell's place in the chunk does not depend on the tile.
        """
        if isinstance(stored, np.ndarray):
            return np.array(stored[a, b])
        chunks, dtype, fill, items, _ = self._layout(name)
        if stored is None:
            return np.full(chunks[2:], fill, dtype=dtype)
        start = (a * chunks[1] + b) * items * dtype.itemsize
        raw = _blosc_range(stored, start, start + items * dtype.itemsize)
        return np.frombuffer(raw, dtype=dtype).reshape(chunks[2:])

    def _cell(self, i: int, j: int) -> dict[str, Any]:
        """The variables a site reads of cell (``i``, ``j``); the :data:`_DEFERRED` deferred.

        Those (:class:`climate_data.site.Deferred`) are decoded when a reader asks for them: a
        site-climate summary never does, a wind assessment asks for the histograms. The
        annual histogram is the sum of the year's months, as the build computes it (whole
        numbers in float64, so exactly equal in any order).
        """
        with self._lock:
            stored = self._cells.get((i, j))
            if stored is None:
                t = self.tile_cells
                tile = self._tile(i // t, j // t)
                a, b = i % t, j % t
                stored = {
                    name: (
                        _CellValues(self._cell_of, name, v, a, b)
                        if name in _DEFERRED
                        else self._cell_of(name, v, a, b)
                    )
                    for name, v in tile.items()
                }
                self._cells[(i, j)] = stored
                while len(self._cells) > self._cell_cache:
                    self._cells.popitem(last=False)
            else:
                self._cells.move_to_end((i, j))
        out: dict[str, Any] = {}
        for name, v in stored.items():
            out[name] = Deferred(_float64_copy(v.values)) if isinstance(v, _CellValues) else v
        cell_hist: _CellValues = stored[_HIST]
        starts = self._year_starts

        def annual() -> NDArray[np.float64]:
            return np.add.reduceat(cell_hist.values(), starts, axis=0, dtype=np.float64)

        out["wind_speed_hist"] = Deferred(annual)
        return out

    def _assemble(self, name: str) -> NDArray[Any]:
        """A whole array of a local store, its chunks read and decoded in this thread.

        What a map layer needs (three yearly arrays of the whole grid): zarr's event loop takes
        about 0.75 s an array of a national store (2,300 chunks), this about 0.06 s.
        """
        chunks, dtype, fill = self._layout(name)[:3]
        shape = tuple(self._arrays[name].shape)
        out = np.full(shape, fill, dtype=dtype)
        ci, cj = chunks[0], chunks[1]
        for ti in range(-(-shape[0] // ci)):
            for tj in range(-(-shape[1] // cj)):
                raw = self._direct(self._chunk_key(name, ti, tj))
                if raw is None:  # never written: the fill value, as zarr reads it
                    continue
                chunk = self._decoded(name, raw)
                rows, cols = min(ci, shape[0] - ti * ci), min(cj, shape[1] - tj * cj)
                out[ti * ci : ti * ci + rows, tj * cj : tj * cj + cols] = chunk[:rows, :cols]
        return out

    def _full(self, name: str) -> NDArray[Any]:
        cached = self._full_cache.get(name)
        if cached is not None:
            return cached
        if name not in self._arrays:
            raise KeyError(name)
        values = self._assemble(name) if self._direct is not None else self._arrays[name][...]
        values = np.asarray(values)
        if values.ndim >= 3:
            values = np.moveaxis(values, 2, 0)  # (lat, lon, year, ...) -> (year, lat, lon, ...)
        self._full_cache[name] = values
        return values


__all__ = [
    "DEFAULT_TILE_CACHE",
    "DEFAULT_TILE_CELLS",
    "STORE_SCHEMA_VERSION",
    "StoreCube",
    "build_store",
    "is_store_path",
    "migrate_cube",
    "open_store",
    "update_store",
]
