"""The officer's national map: pan and zoom over a cube layer drawn as image tiles.

Pages and resources (blueprint ``web_map``; the officer signs in on the web pages first):

========================================================  ====================================
``/app/map``                                              the map page: layer, hub height,
                                                          place search, picked site, legend
``/app/map/tiles/<layer>/<z>/<x>/<y>.png``                one 256 x 256 PNG tile of the layer
                                                          (:mod:`service.tiles`)
``/app/map/cell/<layer>?lat=&lon=``                       the layer's value at one cell, in
                                                          numbers and words (JSON)
========================================================  ====================================

The map is drawn by Leaflet 1.9.4, vendored under ``service/static/vendor/leaflet`` (no CDN;
the page works offline). Province outlines and names come from Natural Earth's admin-1 units
and the place search from GeoNames cities, both simplified into small files under
``service/static/vendor/places`` (their README gives the sources and licences).

A tile is painted from the layer's value per cell (:meth:`climate_data.cube.Cube.layer`),
computed once per process and layer and kept in a small cache, so a tile request costs the
same 65,536 pixel look-ups whatever the size of the cube; the cube's whole-grid arrays are read
once (a version-2 store reads them lazily, without its histograms). Cells that fail the default
wind policy's trailing 3-year wind rule are hatched, so the threshold reads without colour.

A click on the map, or a typed place, fills the site's coordinates and links to the assessment
form (``/app/site?lat=&lon=``), which reads them.

Tile requests are checked: an unknown layer is 404, a zoom outside
``MIN_ZOOM..MAX_ZOOM``, a tile number outside the zoom's range or a bad hub height is 400, and
a request without a signed-in session is 401 — each as problem+json. Tiles carry an ``ETag``
and ``Cache-Control: private``; the page puts the cube's dataset id in the tile URLs, so a new
cube gets new URLs.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

import numpy as np
from flask import (
    Blueprint,
    Flask,
    Response,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from service import charts, tiles
from service.problems import Problem
from service.web.common import app_state, fmt_num, signed_in_key
from service.web.site_map import (
    LAYERS,
    available_layers,
    cell_verdict,
    layer_names,
    layer_unit,
    wind_threshold,
)

bp = Blueprint("web_map", __name__)

#: Zoom levels served: 3 shows China whole in a page, 12 shows cells of 0.25 degrees as about
#: 700 pixels (nothing more to see).
MIN_ZOOM = 3
MAX_ZOOM = 12
#: Hub heights accepted [m] and the default (as on the site page).
HUB_RANGE_M = (10.0, 250.0)
DEFAULT_HUB_M = 100.0
#: Seconds a browser may reuse a tile (the URL changes with the cube).
TILE_MAX_AGE_S = 3600
#: Changed whenever the drawing changes, so that cached tiles are not reused.
RENDER_VERSION = "1"

_NUMBER = re.compile(r"^[0-9]{1,7}$")
_LAYERS = tiles.LayerCache()


def register(app: Flask) -> None:
    """Install the map blueprint on ``app`` (after :func:`service.web.register`)."""
    app.register_blueprint(bp)


@bp.before_request
def _signed_in() -> None:
    """Load the signed-in officer's key into ``g.web_key`` (None when signed out)."""
    g.web_key = signed_in_key()


# ----------------------------------------------------------------------------- layers


def grid_of(layer: str, hub_height_m: float) -> tiles.LayerGrid:
    """The layer over the cube's grid, computed once per process (cache keyed by cube)."""
    st = app_state()
    cube = st.cube
    is_wind = layer == "trailing_3y_wind_ms"
    threshold = wind_threshold() if is_wind else None
    hub = hub_height_m if is_wind else None
    key = (cube.dataset.id, layer, hub, threshold)

    def make() -> tiles.LayerGrid:
        da = cube.layer(layer, hub)
        return tiles.layer_grid(da.values, cube.lats, cube.lons, threshold)

    return _LAYERS.get(key, make)


# ----------------------------------------------------------------------------- the page


def _hub_arg() -> float | None:
    """The ``hub_height_m`` query value, None when absent; a bad value raises a 400 Problem."""
    raw = request.args.get("hub_height_m", "").strip()
    if not raw:
        return None
    try:
        v = float(raw)
    except ValueError:
        v = math.nan
    lo, hi = HUB_RANGE_M
    if not (math.isfinite(v) and lo <= v <= hi):
        raise Problem(400, f"hub_height_m must be a number from {lo:g} to {hi:g} m, got {raw!r}")
    return v


def legend(grid: tiles.LayerGrid, layer: str) -> dict[str, Any]:
    """Colour scale, ticks, threshold mark and counts of the legend (fractions of its width)."""
    unit, digits, scale = layer_unit(layer)
    span = grid.vmax - grid.vmin
    ticks = charts.nice_ticks(grid.vmin * scale, grid.vmax * scale, 5)
    n_pass, n_fail, n_nodata = grid.counts()
    return {
        "stops": [{"offset": k / 10, "color": tiles.colour_hex(k / 10)} for k in range(11)],
        "ticks": [
            {"x": (t / scale - grid.vmin) / span, "label": fmt_num(t, digits)}
            for t in ticks
            if grid.vmin * scale <= t <= grid.vmax * scale
        ],
        "unit": unit,
        "threshold": None if grid.threshold is None else fmt_num(grid.threshold, 1),
        "threshold_x": None if grid.threshold is None else (grid.threshold - grid.vmin) / span,
        "n_pass": n_pass,
        "n_fail": n_fail,
        "n_nodata": n_nodata,
    }


@bp.route("/app/map")
def map_page() -> Any:
    """The national map page."""
    if g.web_key is None:
        nxt = request.full_path.rstrip("?")
        return redirect(url_for("web.login", next=nxt))
    st = app_state()
    layers = available_layers(st.cube)
    layer = request.args.get("layer", LAYERS[0])
    if layer not in layers:
        layer = LAYERS[0]
    try:
        hub = _hub_arg()
    except Problem:
        hub = None
    hub = DEFAULT_HUB_M if hub is None else hub
    grid = grid_of(layer, hub)
    south, north, west, east = grid.bounds
    template = url_for("web_map.tile", layer=layer, z="ZZ", x="XX", y="YY")
    template = template.replace("ZZ", "{z}").replace("XX", "{x}").replace("YY", "{y}")
    query = f"v={st.cube.dataset.id}"
    if layer == "trailing_3y_wind_ms":
        query += f"&hub_height_m={hub:g}"
    return render_template(
        "map.html",
        layer=layer,
        layers=[(n, layer_names()[n]) for n in layers],
        layer_name=layer_names()[layer],
        hub_height_m=hub,
        hub_text=f"{hub:g}",
        tile_url=f"{template}?{query}",
        cell_url=url_for("web_map.cell", layer=layer)
        + (f"?hub_height_m={hub:g}" if layer == "trailing_3y_wind_ms" else ""),
        bounds=f"{south:.4f},{north:.4f},{west:.4f},{east:.4f}",
        legend=legend(grid, layer),
        min_zoom=MIN_ZOOM,
        max_zoom=MAX_ZOOM,
        dataset=st.cube.dataset,
        n_cells=int(grid.values.size),
        grid_shape=grid.values.shape,
    )


# ----------------------------------------------------------------------------- one cell


def _coord_arg(name: str, lo: float, hi: float) -> float:
    raw = request.args.get(name, "").strip()
    try:
        v = float(raw)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and lo <= v <= hi):
        raise Problem(400, f"{name} must be a number from {lo:g} to {hi:g}, got {raw!r}")
    return v


@bp.route("/app/map/cell/<layer>")
def cell(layer: str) -> Response:
    """The layer's value at the cell holding ``lat``/``lon``, in numbers and in words (JSON).

    What the tiles show as colour and hatching, for the picked site: read out by the page (and
    by screen readers, which cannot see the tiles).
    """
    if g.web_key is None:
        raise Problem(401, "sign in on the web page first (/app/login)")
    st = app_state()
    _check_layer(layer, st.cube)
    lat = _coord_arg("lat", -90.0, 90.0)
    lon = _coord_arg("lon", -180.0, 180.0)
    hub = _hub_arg()
    grid = grid_of(layer, DEFAULT_HUB_M if hub is None else hub)
    i = int(tiles.cell_index(grid.lats, np.array([lat]))[0])
    j = int(tiles.cell_index(grid.lons, np.array([lon]))[0])
    if i < 0 or j < 0:
        raise Problem(404, f"({lat:g}, {lon:g}) is outside the cube's grid")
    value = float(grid.values[i, j])
    cell_lat, cell_lon = float(grid.lats[i]), float(grid.lons[j])
    status, text = cell_verdict(value, cell_lat, cell_lon, layer, grid.threshold)
    return jsonify(
        {
            "layer": layer,
            "cell_lat": cell_lat,
            "cell_lon": cell_lon,
            "value": value if math.isfinite(value) else None,
            "unit": layer_unit(layer)[0],
            "threshold": grid.threshold,
            "status": status,
            "text": text,
        }
    )


# ----------------------------------------------------------------------------- tiles


def _check_layer(layer: str, cube: Any) -> None:
    """A layer this cube cannot draw is a 404 Problem naming the layers it can."""
    if layer not in available_layers(cube):
        known = ", ".join(available_layers(cube))
        raise Problem(404, f"no map layer {layer!r} in this cube; layers: {known}")


def _tile_number(name: str, raw: str, hi: int) -> int:
    if not _NUMBER.match(raw) or int(raw) > hi:
        raise Problem(400, f"tile {name} must be a whole number from 0 to {hi}, got {raw!r}")
    return int(raw)


@bp.route("/app/map/tiles/<layer>/<z>/<x>/<y>.png")
def tile(layer: str, z: str, x: str, y: str) -> Response:
    """One 256 x 256 PNG tile of ``layer`` at Web Mercator tile ``(z, x, y)``."""
    if g.web_key is None:
        raise Problem(401, "sign in on the web page first (/app/login) to load map tiles")
    st = app_state()
    _check_layer(layer, st.cube)
    if not _NUMBER.match(z) or not MIN_ZOOM <= int(z) <= MAX_ZOOM:
        raise Problem(400, f"zoom must be a whole number from {MIN_ZOOM} to {MAX_ZOOM}, got {z!r}")
    zoom = int(z)
    tx = _tile_number("x", x, 2**zoom - 1)
    ty = _tile_number("y", y, 2**zoom - 1)
    hub = _hub_arg()
    hub = DEFAULT_HUB_M if hub is None else hub
    grid = grid_of(layer, hub)
    tag = hashlib.sha256(
        "|".join(
            map(
                str,
                (RENDER_VERSION, st.cube.dataset.id, layer, hub, grid.threshold, zoom, tx, ty),
            )
        ).encode()
    ).hexdigest()[:32]
    if tag in request.if_none_match:
        response = Response(status=304)
    else:
        if tiles.tile_overlaps(grid, zoom, tx, ty):
            body = tiles.encode_png(tiles.render_rgba(grid, zoom, tx, ty))
        else:
            body = tiles.empty_png()
        response = Response(body, mimetype="image/png")
    response.set_etag(tag)
    response.headers["Cache-Control"] = f"private, max-age={TILE_MAX_AGE_S}"
    response.vary.add("Cookie")
    return response


__all__ = [
    "LAYERS",
    "MAX_ZOOM",
    "MIN_ZOOM",
    "available_layers",
    "bp",
    "cell",
    "grid_of",
    "legend",
    "register",
    "wind_threshold",
]
