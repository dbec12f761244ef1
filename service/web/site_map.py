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

from service import charts
from service.tiles import colour_hex
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


def wind_threshold() -> float:
    """The trailing 3-year wind threshold of the default wind policy [m s-1] (both maps)."""
    st = app_state()
    policy = st.policies.get(st.default_policies.get("wind", ""))
    if policy is not None:
        for rule in policy.rules:
            if rule.metric == TRAILING_METRIC:
                return float(rule.threshold)
    return DEFAULT_WIND_THRESHOLD_MS


def build_map(
    cube: Any,
    layer: str,
    hub_height_m: float,
    selected: tuple[float, float] | None,
    link: Callable[[float, float], str],
    width: float = 640.0,
) -> dict[str, Any]:
    """Cells, legend and axes of the map of ``layer`` (SVG coordinates, north up).

    The grid is drawn equirectangular with the east-west scale shrunk by cos(mid latitude), so
    cells keep their true shape near the cube's centre.
    """
    da = cube.layer(layer, hub_height_m if layer == "trailing_3y_wind_ms" else None)
    values = np.asarray(da.values, dtype=float)
    lats = np.asarray(cube.lats, dtype=float)
    lons = np.asarray(cube.lons, dtype=float)
    stride = max(1, math.ceil(math.sqrt(values.size / MAX_MAP_CELLS)))
    lat_idx = list(range(0, lats.size, stride))
    lon_idx = list(range(0, lons.size, stride))
    dlat = float(np.median(np.abs(np.diff(lats)))) * stride if lats.size > 1 else 0.25
    dlon = float(np.median(np.abs(np.diff(lons)))) * stride if lons.size > 1 else 0.25
    mid = math.radians(float(np.mean(lats)))
    cw = min(width / max(1, len(lon_idx)), 120.0)
    ch = cw * dlat / (dlon * max(0.2, math.cos(mid)))
    ch = min(ch, 560.0 / max(1, len(lat_idx)))
    finite = values[np.isfinite(values)]
    vmin = float(finite.min()) if finite.size else 0.0
    vmax = float(finite.max()) if finite.size else 1.0
    threshold = wind_threshold() if layer == "trailing_3y_wind_ms" else None
    if threshold is not None and finite.size:
        vmin, vmax = min(vmin, threshold - 0.25), max(vmax, threshold + 0.25)
    span = (vmax - vmin) or 1.0
    unit, digits, scale = layer_unit(layer)
    order = sorted(lat_idx, key=lambda i: -lats[i])  # north at the top
    cells: list[MapCell] = []
    for row, i in enumerate(order):
        for col, j in enumerate(sorted(lon_idx, key=lambda j: lons[j])):
            v = float(values[i, j])
            where = f"{_deg(lats[i], 'N', 'S')} {_deg(lons[j], 'E', 'W')}"
            if not math.isfinite(v):
                status, color = "nodata", "#bdbdbd"
                nodata = _("no complete data")
                label = f"{where}: {nodata}"
            else:
                color = colour_hex((v - vmin) / span)
                shown = f"{fmt_num(v * scale, digits)} {unit}"
                if threshold is None:
                    status, label = "none", f"{where}: {shown}"
                elif v >= threshold:
                    status = "pass"
                    verdict = _("meets %(t)s m/s", t=fmt_num(threshold, 1))
                    label = f"{where}: {shown} — {verdict}"
                else:
                    status = "fail"
                    verdict = _("below %(t)s m/s", t=fmt_num(threshold, 1))
                    label = f"{where}: {shown} — {verdict}"
            cells.append(
                MapCell(
                    x=col * cw,
                    y=row * ch,
                    w=cw,
                    h=ch,
                    lat=float(lats[i]),
                    lon=float(lons[j]),
                    color=color,
                    label=label,
                    status=status,
                    href=link(float(lats[i]), float(lons[j])),
                )
            )
    ncols = len(lon_idx)
    height = ch * len(lat_idx)
    marker = None
    if selected is not None:
        lat, lon = selected
        lat_top = float(lats[order[0]]) + dlat / 2
        lon_left = float(lons[min(lon_idx, key=lambda j: lons[j])]) - dlon / 2
        mx = (lon - lon_left) / dlon * cw
        my = (lat_top - lat) / dlat * ch
        if -cw <= mx <= ncols * cw + cw and -ch <= my <= height + ch:
            marker = {"x": mx, "y": my}
    legend_stops = [{"offset": k / 10, "color": colour_hex(k / 10)} for k in range(11)]
    ticks = charts.nice_ticks(vmin * scale, vmax * scale, 5)
    ticks = [t for t in ticks if vmin * scale <= t <= vmax * scale]
    legend_ticks = [{"x": (t / scale - vmin) / span, "label": fmt_num(t, digits)} for t in ticks]
    threshold_x = (threshold - vmin) / span if threshold is not None else None
    return {
        "width": ncols * cw,
        "height": height,
        "cells": cells,
        "cell_w": cw,
        "cell_h": ch,
        "glyphs": cw >= 26 and ch >= 20,
        "marker": marker,
        "stops": legend_stops,
        "ticks": legend_ticks,
        "unit": unit,
        "threshold": threshold,
        "threshold_x": threshold_x,
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
