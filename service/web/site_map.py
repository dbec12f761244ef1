"""The map of the site page, and the map layers it shares with the national map.

One coloured cell per grid cell of the cube, with legend and threshold (drawn as SVG by
``templates/site.html``). The layers, their names, units and the wind threshold are defined
here once; :mod:`service.web_map` draws the same layers as tiles, in the same viridis colours
(:func:`service.tiles.colour_hex`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from flask_babel import gettext as _
from numpy.typing import NDArray

from service import charts
from service.tiles import NODATA_RGBA, colour_hex
from service.web.common import (
    TRAILING_METRIC,
    app_state,
    fmt_num,
    metric_label,
)

#: Map layers of the site page and the national map (names of
#: :meth:`climate_data.cube.Cube.layer`); the first is the default.
LAYERS: tuple[str, ...] = ("trailing_3y_wind_ms", "sunshine_hours", "iav")
#: Largest map drawn cell by cell; larger grids are thinned by a stride (noted on the page).
MAX_MAP_CELLS = 6400
#: Colour of a cell without complete data: the tiles' grey.
NODATA_COLOUR = "#{:02x}{:02x}{:02x}".format(*NODATA_RGBA[:3])
#: Wind-speed threshold used for the map when the default wind policy has no such rule [m s-1].
DEFAULT_WIND_THRESHOLD_MS = 6.5


# ============================================================================ site map


@dataclass(frozen=True)
class MapCell:
    """One drawn cell of the map."""

    x: float
    y: float
    w: float
    h: float
    lat: float
    lon: float
    color: str
    label: str
    status: str  # "pass", "fail", "none" (no threshold), "nodata"
    href: str


def available_layers(cube: Any) -> list[str]:
    """The layers this cube can draw (sunshine only with radiation)."""
    return [n for n in LAYERS if n != "sunshine_hours" or cube.has_solar]


def wind_threshold() -> float:
    """The trailing 3-year wind threshold of the default wind policy [m s-1] (both maps)."""
    st = app_state()
    policy = st.policies.get(st.default_policies.get("wind", ""))
    if policy is not None:
        for rule in policy.rules:
            if rule.metric == TRAILING_METRIC:
                return float(rule.threshold)
    return DEFAULT_WIND_THRESHOLD_MS


@dataclass(frozen=True)
class _Frame:
    """Where the drawn cells of a map lie: the thinned grid and the size of one cell."""

    lats: NDArray[np.float64]
    lons: NDArray[np.float64]
    rows: list[int]  # latitude indices, north first
    cols: list[int]  # longitude indices, west first
    dlat: float  # degrees per drawn cell
    dlon: float
    cw: float  # SVG units per drawn cell
    ch: float


def _frame(cube: Any, shape: tuple[int, ...], width: float) -> tuple[_Frame, int]:
    """The drawn grid of ``cube`` (thinned by a stride to :data:`MAX_MAP_CELLS`), and the stride.

    The grid is drawn equirectangular with the east-west scale shrunk by cos(mid latitude), so
    cells keep their true shape near the cube's centre.
    """
    lats = np.asarray(cube.lats, dtype=float)
    lons = np.asarray(cube.lons, dtype=float)
    stride = max(1, math.ceil(math.sqrt(math.prod(shape) / MAX_MAP_CELLS)))
    lat_idx = list(range(0, lats.size, stride))
    lon_idx = list(range(0, lons.size, stride))
    dlat = float(np.median(np.abs(np.diff(lats)))) * stride if lats.size > 1 else 0.25
    dlon = float(np.median(np.abs(np.diff(lons)))) * stride if lons.size > 1 else 0.25
    mid = math.radians(float(np.mean(lats)))
    cw = min(width / max(1, len(lon_idx)), 120.0)
    ch = cw * dlat / (dlon * max(0.2, math.cos(mid)))
    ch = min(ch, 560.0 / max(1, len(lat_idx)))
    rows = sorted(lat_idx, key=lambda i: -lats[i])  # north at the top
    cols = sorted(lon_idx, key=lambda j: lons[j])
    return _Frame(lats, lons, rows, cols, dlat, dlon, cw, ch), stride


def _value_range(values: NDArray[np.float64], threshold: float | None) -> tuple[float, float]:
    """Ends of the colour scale: the finite values, widened to show the threshold."""
    finite = values[np.isfinite(values)]
    vmin = float(finite.min()) if finite.size else 0.0
    vmax = float(finite.max()) if finite.size else 1.0
    if threshold is not None and finite.size:
        vmin, vmax = min(vmin, threshold - 0.25), max(vmax, threshold + 0.25)
    return vmin, vmax


def cell_verdict(
    value: float, lat: float, lon: float, layer: str, threshold: float | None
) -> tuple[str, str]:
    """Status (pass, fail, none, nodata) and words of a cell, as both maps give them.

    ``lat``/``lon`` are the cell's centre; ``threshold`` is None for a layer without one.
    """
    where = f"{_deg(lat, 'N', 'S')} {_deg(lon, 'E', 'W')}"
    if not math.isfinite(value):
        nodata = _("no complete data")
        return "nodata", f"{where}: {nodata}"
    unit, digits, scale = layer_unit(layer)
    shown = f"{fmt_num(value * scale, digits)} {unit}"
    if threshold is None:
        return "none", f"{where}: {shown}"
    if value >= threshold:
        verdict = _("meets %(t)s m/s", t=fmt_num(threshold, 1))
        return "pass", f"{where}: {shown} — {verdict}"
    verdict = _("below %(t)s m/s", t=fmt_num(threshold, 1))
    return "fail", f"{where}: {shown} — {verdict}"


def _marker(frame: _Frame, selected: tuple[float, float] | None) -> dict[str, float] | None:
    """SVG position of the selected site, None when none is selected or it is far off the map."""
    if selected is None:
        return None
    lat, lon = selected
    lat_top = float(frame.lats[frame.rows[0]]) + frame.dlat / 2
    lon_left = float(frame.lons[frame.cols[0]]) - frame.dlon / 2
    mx = (lon - lon_left) / frame.dlon * frame.cw
    my = (lat_top - lat) / frame.dlat * frame.ch
    width, height = frame.cw * len(frame.cols), frame.ch * len(frame.rows)
    if -frame.cw <= mx <= width + frame.cw and -frame.ch <= my <= height + frame.ch:
        return {"x": mx, "y": my}
    return None


def _legend(layer: str, vmin: float, vmax: float, threshold: float | None) -> dict[str, Any]:
    """Colour stops, ticks, unit and threshold mark of the legend (fractions of its width)."""
    unit, digits, scale = layer_unit(layer)
    span = (vmax - vmin) or 1.0
    ticks = charts.nice_ticks(vmin * scale, vmax * scale, 5)
    ticks = [t for t in ticks if vmin * scale <= t <= vmax * scale]
    return {
        "stops": [{"offset": k / 10, "color": colour_hex(k / 10)} for k in range(11)],
        "ticks": [{"x": (t / scale - vmin) / span, "label": fmt_num(t, digits)} for t in ticks],
        "unit": unit,
        "threshold": threshold,
        "threshold_x": (threshold - vmin) / span if threshold is not None else None,
    }


def build_map(
    cube: Any,
    layer: str,
    hub_height_m: float,
    selected: tuple[float, float] | None,
    link: Callable[[float, float], str],
    width: float = 640.0,
) -> dict[str, Any]:
    """Cells, legend and axes of the map of ``layer`` (SVG coordinates, north up).

    The cells are laid out by :func:`_frame` and labelled by :func:`cell_verdict`;
    ``link`` gives the address each cell leads to.
    """
    da = cube.layer(layer, hub_height_m if layer == "trailing_3y_wind_ms" else None)
    values = np.asarray(da.values, dtype=float)
    frame, stride = _frame(cube, values.shape, width)
    threshold = wind_threshold() if layer == "trailing_3y_wind_ms" else None
    vmin, vmax = _value_range(values, threshold)
    span = (vmax - vmin) or 1.0
    cells: list[MapCell] = []
    for row, i in enumerate(frame.rows):
        for col, j in enumerate(frame.cols):
            lat, lon, v = float(frame.lats[i]), float(frame.lons[j]), float(values[i, j])
            status, label = cell_verdict(v, lat, lon, layer, threshold)
            color = NODATA_COLOUR if status == "nodata" else colour_hex((v - vmin) / span)
            cells.append(
                MapCell(
                    x=col * frame.cw,
                    y=row * frame.ch,
                    w=frame.cw,
                    h=frame.ch,
                    lat=lat,
                    lon=lon,
                    color=color,
                    label=label,
                    status=status,
                    href=link(lat, lon),
                )
            )
    return {
        "width": len(frame.cols) * frame.cw,
        "height": frame.ch * len(frame.rows),
        "cells": cells,
        "cell_w": frame.cw,
        "cell_h": frame.ch,
        "glyphs": frame.cw >= 26 and frame.ch >= 20,
        "marker": _marker(frame, selected),
        **_legend(layer, vmin, vmax, threshold),
        "stride": stride,
        "n_cells": int(values.size),
        "n_pass": sum(c.status == "pass" for c in cells),
        "n_fail": sum(c.status == "fail" for c in cells),
    }


def layer_unit(layer: str) -> tuple[str, int, float]:
    """Unit, decimals and display scale of a layer's values (both maps)."""
    if layer == "trailing_3y_wind_ms":
        return "m/s", 2, 1.0
    if layer == "sunshine_hours":
        return "h", 0, 1.0
    return "%", 1, 100.0


def _deg(value: float, pos: str, neg: str) -> str:
    return f"{abs(value):.2f}°{pos if value >= 0 else neg}"


def layer_names() -> dict[str, str]:
    """Names of the map layers (both maps): the catalogue's names of the metrics they map."""
    return {
        "trailing_3y_wind_ms": metric_label("climate.wind.trailing_3y_mean_ms"),
        "sunshine_hours": metric_label("climate.solar.mean_sunshine_hours"),
        "iav": metric_label("climate.wind.iav"),
    }
