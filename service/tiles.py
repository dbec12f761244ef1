"""Map tiles of a cube layer: Web Mercator tile arithmetic and 256 x 256 PNG rendering.

A tile ``(z, x, y)`` is the square of the Web Mercator ("slippy map") scheme: the world is
``2**z`` tiles wide and high, ``x`` counted eastwards from 180 degrees W and ``y`` southwards
from 85.0511 degrees N (the latitude where the square projection ends) [1]_. Each pixel of a
tile is painted with the value of the grid cell that holds the pixel's centre (nearest cell,
no interpolation: the map shows the cube's own cells), so the work of one tile is bounded by
its 65,536 pixels whatever the size of the cube.

Colours are the viridis colour map over a fixed range per layer (the same for every tile, so
that tiles join without seams). Cells that fail a threshold are *hatched* with dark diagonal
stripes laid on the global pixel grid (continuous across tile edges), so that pass and fail
stay readable without colour; cells without complete data are grey and cross-hatched; the
area outside the cube is transparent. Once cells are at least :data:`CELL_EDGE_MIN_PX` wide,
their edges are drawn as a line of darker pixels.

References
----------
.. [1] OpenStreetMap Wiki, "Slippy map tilenames",
   https://wiki.openstreetmap.org/wiki/Slippy_map_tilenames (tile numbering and the
   formulas of :func:`tile_bounds`).
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Pixels along each side of a tile.
TILE_PX = 256
#: Largest latitude of the square Web Mercator world [degrees]: atan(sinh(pi)).
MAX_MERCATOR_LAT = math.degrees(math.atan(math.sinh(math.pi)))
#: Period of the hatching of failing cells [pixels] and width of each dark stripe.
HATCH_PERIOD = 8
HATCH_WIDTH = 3
#: RGBA of the hatch stripes, of cells without complete data and of their cross-hatching.
HATCH_RGBA = (20, 20, 20, 255)
NODATA_RGBA = (189, 189, 189, 255)
NODATA_HATCH_RGBA = (120, 120, 120, 255)
#: Cell edges are drawn (a line of darker pixels) once a cell is this many pixels wide, and
#: the factor that darkens them.
CELL_EDGE_MIN_PX = 12.0
CELL_EDGE_SHADE = 0.7
#: Layers kept computed per process (each one value per cell: 0.3 MB for China at 0.25 deg).
LAYER_CACHE = 8

#: Viridis colour map at eleven stops (values of the matplotlib colour map, CC0).
VIRIDIS = (
    (0.267, 0.005, 0.329),
    (0.283, 0.141, 0.458),
    (0.254, 0.265, 0.530),
    (0.207, 0.372, 0.553),
    (0.164, 0.471, 0.558),
    (0.128, 0.567, 0.551),
    (0.135, 0.659, 0.518),
    (0.267, 0.749, 0.441),
    (0.478, 0.821, 0.318),
    (0.741, 0.873, 0.150),
    (0.993, 0.906, 0.144),
)


def viridis_lut(n: int = 256) -> NDArray[np.uint8]:
    """``n`` RGB colours of viridis, linearly interpolated between :data:`VIRIDIS` stops."""
    stops = np.asarray(VIRIDIS, dtype=float)
    pos = np.linspace(0.0, 1.0, stops.shape[0])
    t = np.linspace(0.0, 1.0, n)
    rgb = np.stack([np.interp(t, pos, stops[:, c]) for c in range(3)], axis=1)
    return np.asarray(np.round(rgb * 255), dtype=np.uint8)


def colour_hex(t: float) -> str:
    """Viridis colour of ``t`` in [0, 1] (clipped) as ``#rrggbb``, as the tiles draw it."""
    lut = _LUT
    k = round(min(1.0, max(0.0, t)) * (lut.shape[0] - 1))
    r, g, b = (int(v) for v in lut[k])
    return f"#{r:02x}{g:02x}{b:02x}"


_LUT = viridis_lut()


# ----------------------------------------------------------------------------- tile arithmetic


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """``(south, north, west, east)`` of tile ``(z, x, y)`` in degrees."""
    n = 2**z
    west = x / n * 360.0 - 180.0
    east = (x + 1) / n * 360.0 - 180.0
    north = _lat_of(y / n)
    south = _lat_of((y + 1) / n)
    return south, north, west, east


def _lat_of(v: float | NDArray[np.float64]) -> Any:
    """Latitude [degrees] of the Mercator ordinate ``v`` in [0, 1] (0 north, 1 south)."""
    return np.degrees(np.arctan(np.sinh(np.pi * (1.0 - 2.0 * np.asarray(v)))))


def lonlat_to_tile(lat: float, lon: float, z: int) -> tuple[float, float]:
    """Fractional tile coordinates ``(x, y)`` of a point at zoom ``z``."""
    n = 2**z
    lat_r = math.radians(max(-MAX_MERCATOR_LAT, min(MAX_MERCATOR_LAT, lat)))
    x = (lon + 180.0) / 360.0 * n
    y = (1.0 - math.asinh(math.tan(lat_r)) / math.pi) / 2.0 * n
    return x, y


def pixel_centres(z: int, x: int, y: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Latitudes (rows, north first) and longitudes (columns) of the pixel centres of a tile."""
    n = 2**z
    k = (np.arange(TILE_PX, dtype=float) + 0.5) / TILE_PX
    lons = (x + k) / n * 360.0 - 180.0
    lats = np.asarray(_lat_of((y + k) / n), dtype=float)
    return lats, lons


def cell_index(axis: NDArray[np.float64], values: NDArray[np.float64]) -> NDArray[np.intp]:
    """Index of the grid cell holding each value, or -1 outside the grid.

    ``axis`` holds the cell centres (ascending or descending, regular or not); a cell reaches
    half-way to its neighbours, and the first and last reach as far beyond their centre as to
    their neighbour (half a cell of a single-cell axis is taken as 0.125 degrees).
    """
    a = np.asarray(axis, dtype=float)
    order = np.argsort(a)
    s = a[order]
    if s.size == 1:
        half_first = half_last = 0.125
    else:
        half_first = (s[1] - s[0]) / 2
        half_last = (s[-1] - s[-2]) / 2
    edges = np.concatenate(([s[0] - half_first], (s[1:] + s[:-1]) / 2, [s[-1] + half_last]))
    k = np.searchsorted(edges, values, side="right") - 1
    inside = (k >= 0) & (k < s.size) & (values <= edges[-1])
    out = np.full(np.shape(values), -1, dtype=np.intp)
    out[inside] = order[k[inside]]
    return out


# ----------------------------------------------------------------------------- the layer


@dataclass(frozen=True)
class LayerGrid:
    """One map layer over the whole grid with its colour range and threshold.

    Parameters
    ----------
    values : ndarray (lat, lon)
        The layer's value per cell (NaN: not enough complete years).
    lats, lons : ndarray
        Cell centres [degrees].
    vmin, vmax : float
        Values at the two ends of the colour scale.
    threshold : float or None
        Cells below it are hatched (the wind rule); None for layers without one.
    """

    values: NDArray[np.float64]
    lats: NDArray[np.float64]
    lons: NDArray[np.float64]
    vmin: float
    vmax: float
    threshold: float | None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(south, north, west, east)`` of the grid's outer cell edges [degrees]."""

        def span(a: NDArray[np.float64]) -> tuple[float, float]:
            s = np.sort(a)
            h0 = (s[1] - s[0]) / 2 if s.size > 1 else 0.125
            h1 = (s[-1] - s[-2]) / 2 if s.size > 1 else 0.125
            return float(s[0] - h0), float(s[-1] + h1)

        south, north = span(self.lats)
        west, east = span(self.lons)
        return south, north, west, east

    def cell_px(self, z: int) -> float:
        """Width of the narrowest cell at zoom ``z`` [pixels] (east-west; north-south is wider)."""
        step = np.diff(np.sort(self.lons))
        width = float(np.min(step)) if step.size else 0.25
        return float(width * TILE_PX * 2**z / 360.0)

    def counts(self) -> tuple[int, int, int]:
        """Cells that pass, fail and lack data (pass and fail are 0 without a threshold)."""
        finite = np.isfinite(self.values)
        nodata = int(np.count_nonzero(~finite))
        if self.threshold is None:
            return 0, 0, nodata
        passing = int(np.count_nonzero(finite & (self.values >= self.threshold)))
        return passing, int(np.count_nonzero(finite)) - passing, nodata


def layer_grid(values: NDArray[Any], lats: Any, lons: Any, threshold: float | None) -> LayerGrid:
    """A :class:`LayerGrid` with the colour range of ``values`` (widened around a threshold)."""
    v = np.asarray(values, dtype=float)
    finite = v[np.isfinite(v)]
    vmin = float(finite.min()) if finite.size else 0.0
    vmax = float(finite.max()) if finite.size else 1.0
    if threshold is not None:
        vmin, vmax = min(vmin, threshold - 0.25), max(vmax, threshold + 0.25)
    if vmax <= vmin:
        vmax = vmin + 1.0
    return LayerGrid(
        values=v,
        lats=np.asarray(lats, dtype=float),
        lons=np.asarray(lons, dtype=float),
        vmin=vmin,
        vmax=vmax,
        threshold=threshold,
    )


class LayerCache:
    """Layers computed once per process: key -> :class:`LayerGrid` (least recently used out)."""

    def __init__(self, size: int = LAYER_CACHE) -> None:
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], LayerGrid] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], LayerGrid]) -> LayerGrid:
        """The layer of ``key``, computed by ``make`` on a miss (one computation at a time)."""
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
            grid = make()
            self._items[key] = grid
            while len(self._items) > self._size:
                self._items.popitem(last=False)
            return grid


# ----------------------------------------------------------------------------- rendering


def tile_overlaps(grid: LayerGrid, z: int, x: int, y: int) -> bool:
    """True when tile ``(z, x, y)`` covers any part of the grid."""
    south, north, west, east = tile_bounds(z, x, y)
    g_south, g_north, g_west, g_east = grid.bounds
    return south < g_north and north > g_south and west < g_east and east > g_west


def render_rgba(grid: LayerGrid, z: int, x: int, y: int) -> NDArray[np.uint8]:
    """The RGBA pixels ``(256, 256, 4)`` of tile ``(z, x, y)`` of ``grid``."""
    lats, lons = pixel_centres(z, x, y)
    rows = cell_index(grid.lats, lats)
    cols = cell_index(grid.lons, lons)
    # the pixel before the first row and column (in the tile to the north and west), to find
    # cell edges on the tile's own edge
    n = 2**z
    before = -0.5 / TILE_PX
    row_prev = cell_index(grid.lats, np.array([float(_lat_of((y + before) / n))]))[0]
    col_prev = cell_index(grid.lons, np.array([(x + before) / n * 360.0 - 180.0]))[0]
    rgba = np.zeros((TILE_PX, TILE_PX, 4), dtype=np.uint8)
    inside = (rows[:, None] >= 0) & (cols[None, :] >= 0)
    if not inside.any():
        return rgba
    r = np.clip(rows, 0, None)[:, None]
    c = np.clip(cols, 0, None)[None, :]
    vals = np.where(inside, grid.values[r, c], np.nan)
    finite = inside & np.isfinite(vals)
    t = (np.where(finite, vals, grid.vmin) - grid.vmin) / (grid.vmax - grid.vmin)
    k = np.clip(np.round(t * (_LUT.shape[0] - 1)), 0, _LUT.shape[0] - 1).astype(np.intp)
    rgba[..., :3] = _LUT[k]
    rgba[..., 3] = 255
    # global pixel coordinates: the stripes continue across tile edges
    gy = y * TILE_PX + np.arange(TILE_PX)[:, None]
    gx = x * TILE_PX + np.arange(TILE_PX)[None, :]
    diag = (gx + gy) % HATCH_PERIOD < HATCH_WIDTH
    if grid.threshold is not None:
        fail = finite & (vals < grid.threshold)
        rgba[fail & diag] = HATCH_RGBA
    if grid.cell_px(z) >= CELL_EDGE_MIN_PX:
        row_edge = rows != np.concatenate(([row_prev], rows[:-1]))
        col_edge = cols != np.concatenate(([col_prev], cols[:-1]))
        edge = inside & (row_edge[:, None] | col_edge[None, :])
        if grid.threshold is not None:
            edge &= ~(finite & (vals < grid.threshold) & diag)  # stripes stay as they are
        rgba[edge, :3] = (rgba[edge, :3] * CELL_EDGE_SHADE).astype(np.uint8)
    nodata = inside & ~finite
    rgba[nodata] = NODATA_RGBA
    cross = ((gx + gy) % HATCH_PERIOD == 0) | ((gx - gy) % HATCH_PERIOD == 0)
    rgba[nodata & cross] = NODATA_HATCH_RGBA
    rgba[~inside] = 0
    return rgba


def encode_png(rgba: NDArray[np.uint8]) -> bytes:
    """PNG bytes of an RGBA image (Pillow, already a dependency through reportlab)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def empty_png() -> bytes:
    """A fully transparent tile."""
    return _EMPTY


_EMPTY = encode_png(np.zeros((TILE_PX, TILE_PX, 4), dtype=np.uint8))


__all__ = [
    "MAX_MERCATOR_LAT",
    "TILE_PX",
    "VIRIDIS",
    "LayerCache",
    "LayerGrid",
    "cell_index",
    "colour_hex",
    "empty_png",
    "encode_png",
    "layer_grid",
    "lonlat_to_tile",
    "pixel_centres",
    "render_rgba",
    "tile_bounds",
    "tile_overlaps",
    "viridis_lut",
]
