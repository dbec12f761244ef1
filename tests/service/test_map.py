"""The national map: tile arithmetic against hand values, the tile renderer against an independent
colour map and hand-computed cell edges, the tile endpoint's validation and caching, the page
in both languages, and the vendored place files."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service import tiles
from service import web_map as web_map_module
from tests.service.test_web import EN, ZH, login, new_key

STATIC = Path(__file__).resolve().parents[2] / "service" / "static"
#: atan(sinh(pi)) in degrees: the edge of the square Web Mercator world (hand value).
MERC_EDGE = 85.0511287798066


# ----------------------------------------------------------------------------- tile arithmetic


@pytest.mark.parametrize(
    ("zxy", "expected"),
    [
        # (south, north, west, east); the latitudes by hand: atan(sinh(pi * (1 - 2 y / 2^z)))
        ((0, 0, 0), (-MERC_EDGE, MERC_EDGE, -180.0, 180.0)),
        ((1, 1, 0), (0.0, MERC_EDGE, 0.0, 180.0)),
        ((2, 3, 1), (0.0, 66.51326044311186, 90.0, 180.0)),  # atan(sinh(pi/2))
        ((3, 6, 3), (0.0, 40.97989806962013, 90.0, 135.0)),  # atan(sinh(pi/4))
        ((3, 5, 4), (-40.97989806962013, 0.0, 45.0, 90.0)),
    ],
)
def test_tile_bounds_hand_values(
    zxy: tuple[int, int, int], expected: tuple[float, float, float, float]
) -> None:
    got = tiles.tile_bounds(*zxy)
    assert got == pytest.approx(expected, abs=1e-9)


def test_point_falls_in_the_tile_of_its_coordinates() -> None:
    # Beijing at zoom 10, by hand: x = (116.4074 + 180) / 360 * 1024 = 843.114;
    # y by the wiki's form (1 - ln(tan(lat) + sec(lat)) / pi) / 2 * 1024 = 388.0205
    x, y = tiles.lonlat_to_tile(39.9042, 116.4074, 10)
    assert x == pytest.approx(843.114, abs=1e-3)
    assert y == pytest.approx(388.0205, abs=1e-3)
    south, north, west, east = tiles.tile_bounds(10, int(x), int(y))
    assert south <= 39.9042 < north and west <= 116.4074 < east
    # and the pixel rows run from north to south inside the tile
    lats, lons = tiles.pixel_centres(10, int(x), int(y))
    assert np.all(np.diff(lats) < 0) and np.all(np.diff(lons) > 0)
    assert north > lats[0] > lats[-1] > south and west < lons[0] < lons[-1] < east


def test_cell_index_reaches_half_way_to_neighbours() -> None:
    axis = np.array([10.0, 10.25, 10.5])
    values = np.array([9.87, 9.88, 10.12, 10.13, 10.6, 10.62, 10.63])
    assert tiles.cell_index(axis, values).tolist() == [-1, 0, 0, 1, 2, 2, -1]
    # descending centres (as ERA5 stores latitudes): indices of the original order
    assert tiles.cell_index(axis[::-1], values).tolist() == [-1, 2, 2, 1, 0, 0, -1]


# ----------------------------------------------------------------------------- rendering


def _grid() -> tiles.LayerGrid:
    # rows: 44.0 N, 44.5 N; columns: 87.0 E, 87.5 E. 5 fails 6.5, 7 and 8 pass, NaN: no data
    values = np.array([[5.0, 7.0], [np.nan, 8.0]])
    return tiles.layer_grid(values, [44.0, 44.5], [87.0, 87.5], threshold=6.5)


def _pixel(lat: float, lon: float, z: int) -> tuple[int, int, int, int]:
    """(tile x, tile y, column, row) of the pixel holding (lat, lon)."""
    x, y = tiles.lonlat_to_tile(lat, lon, z)
    return int(x), int(y), int((x % 1) * 256), int((y % 1) * 256)


def test_layer_grid_range_includes_the_threshold_band() -> None:
    g = _grid()
    assert (g.vmin, g.vmax) == (5.0, 8.0)
    assert g.counts() == (2, 1, 1)
    assert g.bounds == (43.75, 44.75, 86.75, 87.75)
    narrow = tiles.layer_grid(np.array([[7.0]]), [44.0], [87.0], threshold=6.5)
    assert (narrow.vmin, narrow.vmax) == (6.25, 7.0)


def test_passing_cell_has_the_viridis_colour_of_its_value() -> None:
    from matplotlib import colormaps

    g = _grid()
    z = 10
    tx, ty, col, row = _pixel(44.0, 87.5, z)  # value 7: t = (7 - 5) / (8 - 5)
    rgba = tiles.render_rgba(g, z, tx, ty)
    expected = np.array(colormaps["viridis"](2 / 3)[:3]) * 255
    # linear between 11 stops: within 6 of 255 of matplotlib's 256-entry table (4 measured)
    block = rgba[max(0, row - 5) : row + 5, max(0, col - 5) : col + 5]
    assert np.all(block[..., 3] == 255)
    assert np.abs(block[..., :3].reshape(-1, 3) - expected).max() <= 6


def test_failing_cell_is_hatched_and_passing_cell_is_not() -> None:
    g = _grid()
    z = 12  # a cell of 0.5 degrees is about 1,450 pixels wide: whole tiles inside a cell
    for lon, hatched in ((87.0, True), (87.5, False)):
        tx, ty, _, _ = _pixel(44.0, lon, z)
        rgba = tiles.render_rgba(g, z, tx, ty)
        dark = np.all(rgba[..., :3] == tiles.HATCH_RGBA[:3], axis=-1).mean()
        if hatched:
            # stripes of 3 pixels every 8 along the diagonal: 3/8 of the pixels
            assert dark == pytest.approx(3 / 8, abs=1e-9)
        else:
            assert dark == 0.0


def test_hatching_continues_across_tile_edges() -> None:
    g = _grid()
    z = 12
    tx, ty, _, _ = _pixel(44.0, 87.0, z)
    left = tiles.render_rgba(g, z, tx, ty)
    right = tiles.render_rgba(g, z, tx + 1, ty)
    dark_l = np.all(left[..., :3] == tiles.HATCH_RGBA[:3], axis=-1)
    dark_r = np.all(right[..., :3] == tiles.HATCH_RGBA[:3], axis=-1)
    # a stripe "/" leaving the left tile's last column at row r enters the next at row r - 1
    assert np.array_equal(dark_l[1:, 255], dark_r[:-1, 0])


def test_cell_edge_and_grid_edge_fall_where_the_projection_puts_them() -> None:
    g = _grid()
    z = 9
    tx, ty, _, _ = _pixel(44.1, 87.25, z)
    rgba = tiles.render_rgba(g, z, tx, ty)
    # hand formula: pixel x of a longitude in this tile = ((lon + 180) / 360 * 2^z - tx) * 256
    edge_x = ((87.25 + 180) / 360 * 2**z - tx) * 256
    west_x = ((86.75 + 180) / 360 * 2**z - tx) * 256
    _, y_frac = tiles.lonlat_to_tile(44.1, 87.0, z)
    row_mid = int((y_frac % 1) * 256)
    line = rgba[row_mid]
    fail_rgb = line[int(edge_x) - 3, :3]
    pass_rgb = line[int(edge_x) + 3, :3]
    assert not np.array_equal(fail_rgb, pass_rgb)
    # columns whose centre lies west of the edge belong to the failing cell (hatched or its colour)
    cols = np.arange(256) + 0.5
    west_of_edge = (cols < edge_x) & (cols > west_x)
    colours_west = {tuple(c) for c in line[west_of_edge, :3]}
    assert tuple(pass_rgb) not in colours_west
    # the first column east of the edge is the drawn cell edge (darker), then the cell's colour
    first_east = int(np.argmax(cols > edge_x))
    shaded = (pass_rgb * tiles.CELL_EDGE_SHADE).astype(np.uint8)
    assert line[first_east, :3].tolist() == shaded.tolist()
    assert {tuple(c) for c in line[(cols > edge_x + 1) & (cols < edge_x + 100), :3]} == {
        tuple(pass_rgb)
    }
    # west of the grid's outer edge the tile is transparent
    assert np.all(line[cols < west_x, 3] == 0)
    assert np.all(line[(cols > west_x) & (cols < edge_x), 3] == 255)


def test_no_data_cell_is_grey_and_cross_hatched() -> None:
    g = _grid()
    z = 12
    tx, ty, _, _ = _pixel(44.5, 87.0, z)
    rgba = tiles.render_rgba(g, z, tx, ty)
    colours = {tuple(int(v) for v in c) for c in rgba.reshape(-1, 4)}
    assert colours == {tiles.NODATA_RGBA, tiles.NODATA_HATCH_RGBA}


def test_png_decodes_to_the_rendered_pixels() -> None:
    from PIL import Image

    g = _grid()
    tx, ty, _, _ = _pixel(44.2, 87.2, 8)
    rgba = tiles.render_rgba(g, 8, tx, ty)
    png = tiles.encode_png(rgba)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    back = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    assert np.array_equal(back, rgba)
    empty = np.asarray(Image.open(io.BytesIO(tiles.empty_png())).convert("RGBA"))
    assert empty.shape == (256, 256, 4) and not empty[..., 3].any()


# ----------------------------------------------------------------------------- the endpoint


@pytest.fixture
def web(app: Any) -> Any:
    client = app.test_client()
    login(client, new_key(app, "officer", "Officer Map"))
    return client


def _tile_of(lat: float, lon: float, z: int) -> str:
    x, y = tiles.lonlat_to_tile(lat, lon, z)
    return f"{z}/{int(x)}/{int(y)}"


def test_tile_is_a_png_with_cache_headers_and_etag(web: Any) -> None:
    path = f"/app/map/tiles/trailing_3y_wind_ms/{_tile_of(44.2, 87.2, 8)}.png"
    r = web.get(path + "?hub_height_m=100")
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert r.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert "private" in r.headers["Cache-Control"] and "max-age=" in r.headers["Cache-Control"]
    etag = r.headers["ETag"]
    again = web.get(path + "?hub_height_m=100", headers={"If-None-Match": etag})
    assert again.status_code == 304 and not again.data
    other_hub = web.get(path + "?hub_height_m=140")
    assert other_hub.status_code == 200 and other_hub.headers["ETag"] != etag
    # the other layers of this cube (it has radiation: sunshine hours) are drawn too
    for layer in ("sunshine_hours", "iav"):
        r = web.get(f"/app/map/tiles/{layer}/{_tile_of(44.2, 87.2, 8)}.png")
        assert r.status_code == 200 and r.mimetype == "image/png"
    # a tile far from the cube is transparent
    far = web.get(f"/app/map/tiles/iav/{_tile_of(25.0, 110.0, 6)}.png")
    assert far.status_code == 200 and far.data == tiles.empty_png()


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/app/map/tiles/nope/5/3/3.png", 404, "no map layer 'nope'"),
        ("/app/map/tiles/iav/2/1/1.png", 400, "zoom must be a whole number from 3 to 12"),
        ("/app/map/tiles/iav/13/1/1.png", 400, "zoom must be"),
        ("/app/map/tiles/iav/-1/1/1.png", 400, "zoom must be"),
        ("/app/map/tiles/iav/x/1/1.png", 400, "zoom must be"),
        ("/app/map/tiles/iav/5/32/1.png", 400, "tile x must be a whole number from 0 to 31"),
        ("/app/map/tiles/iav/5/1/99999999.png", 400, "tile y must be"),
        ("/app/map/tiles/iav/5/1/1.5.png", 400, "tile y must be"),
        ("/app/map/tiles/trailing_3y_wind_ms/5/1/1.png?hub_height_m=5", 400, "hub_height_m"),
        ("/app/map/tiles/trailing_3y_wind_ms/5/1/1.png?hub_height_m=nan", 400, "hub_height_m"),
        ("/app/map/tiles/trailing_3y_wind_ms/5/1/1.png?hub_height_m=abc", 400, "hub_height_m"),
    ],
)
def test_bad_tile_requests_are_specific_problems(
    web: Any, path: str, status: int, words: str
) -> None:
    r = web.get(path)
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == "application/problem+json"
    body = r.get_json()
    assert body["status"] == status and words in body["detail"]


def test_cell_reads_out_the_value_and_the_verdict(app: Any, web: Any) -> None:
    cube = app.extensions["climate_loan"].cube
    values = cube.layer("trailing_3y_wind_ms", 120.0).values
    i, j = int(np.argmin(np.abs(cube.lats - 44.0))), int(np.argmin(np.abs(cube.lons - 87.5)))
    expected = float(values[i, j])
    r = web.get("/app/map/cell/trailing_3y_wind_ms?lat=44.05&lon=87.45&hub_height_m=120")
    assert r.status_code == 200
    body = r.get_json()
    assert (body["cell_lat"], body["cell_lon"]) == (44.0, 87.5)
    assert body["value"] == pytest.approx(expected, rel=1e-12)
    assert body["status"] == ("pass" if expected >= 6.5 else "fail")
    verdict = "meets 6.5 m/s" if expected >= 6.5 else "below 6.5 m/s"
    assert body["text"] == f"44.00°N 87.50°E: {expected:.2f} m/s — {verdict}"
    zh = web.get(
        "/app/map/cell/trailing_3y_wind_ms?lat=44.05&lon=87.45&hub_height_m=120", headers=ZH
    ).get_json()
    assert ("达到 6.5" if expected >= 6.5 else "低于 6.5") in zh["text"]
    # a layer without threshold: value only; IAV shown in percent
    iav = web.get("/app/map/cell/iav?lat=44.05&lon=87.45").get_json()
    assert iav["status"] == "none" and iav["unit"] == "%"
    assert iav["value"] == pytest.approx(float(cube.layer("iav").values[i, j]), rel=1e-12)
    assert iav["text"].endswith(f"{iav['value'] * 100:.1f} %")
    for query, status, words in (
        ("lat=10&lon=10", 404, "outside the cube's grid"),
        ("lat=44.0", 400, "lon must be a number from -180 to 180"),
        ("lat=95&lon=87", 400, "lat must be a number from -90 to 90"),
        ("lat=inf&lon=87", 400, "lat must be"),
    ):
        r = web.get(f"/app/map/cell/iav?{query}")
        assert r.status_code == status and r.mimetype == "application/problem+json"
        assert words in r.get_json()["detail"]
    assert web.get("/app/map/cell/nope?lat=44&lon=87").status_code == 404
    assert app.test_client().get("/app/map/cell/iav?lat=44&lon=87").status_code == 401


def test_tiles_need_a_signed_in_session(app: Any) -> None:
    r = app.test_client().get(f"/app/map/tiles/iav/{_tile_of(44.2, 87.2, 8)}.png")
    assert r.status_code == 401 and r.mimetype == "application/problem+json"
    # an API key header is not a web session
    key = new_key(app, "officer", "API only")
    r = app.test_client().get(
        f"/app/map/tiles/iav/{_tile_of(44.2, 87.2, 8)}.png", headers={"X-API-Key": key}
    )
    assert r.status_code == 401


def test_page_needs_login_and_shows_legend_in_both_languages(app: Any, web: Any) -> None:
    r = app.test_client().get("/app/map", headers=EN)
    assert r.status_code == 302 and "/app/login?next=/app/map" in r.location
    en = web.get("/app/map", headers=EN).get_data(as_text=True)
    assert "Threshold: 6.5 m/s" in en and "below the threshold (hatched cell)" in en
    assert "/static/vendor/leaflet/leaflet.js" in en and "/static/map.js" in en
    assert 'data-tiles="/app/map/tiles/trailing_3y_wind_ms/{z}/{x}/{y}.png?v=' in en
    assert "hub_height_m=100" in en
    zh = web.get("/app/map", headers=ZH).get_data(as_text=True)
    assert "阈值" in zh and 'data-lang="zh"' in zh
    # another layer: no threshold, the tiles of that layer
    iav = web.get("/app/map?layer=iav", headers=EN).get_data(as_text=True)
    assert "Threshold:" not in iav and "/app/map/tiles/iav/" in iav
    # an unknown layer or a bad hub height on the page falls back to the defaults
    bad = web.get("/app/map?layer=nope&hub_height_m=9999", headers=EN).get_data(as_text=True)
    assert "/app/map/tiles/trailing_3y_wind_ms/" in bad and "hub_height_m=100" in bad


def test_page_counts_match_the_cube_layer(app: Any, web: Any) -> None:
    cube = app.extensions["climate_loan"].cube
    values = cube.layer("trailing_3y_wind_ms", 100.0).values
    n_fail = int(np.sum(np.isfinite(values) & (values < 6.5)))
    n_pass = int(np.sum(np.isfinite(values) & (values >= 6.5)))
    grid = web_map_module.grid_of  # the page's legend comes from the same grid
    with app.test_request_context():
        g = grid("trailing_3y_wind_ms", 100.0)
    assert g.counts()[:2] == (n_pass, n_fail)
    html = web.get("/app/map", headers=EN).get_data(as_text=True)
    assert f"(hatched cell) — {n_fail}" in html and f"(plain cell) — {n_pass}" in html


# ----------------------------------------------------------------------------- place files


def test_vendored_place_files_are_small_and_inside_china() -> None:
    geo_path = STATIC / "vendor" / "places" / "provinces.geojson"
    assert geo_path.stat().st_size < 1_000_000
    geo = json.loads(geo_path.read_text())
    names = {f["properties"]["en"] for f in geo["features"]}
    assert {"Xinjiang", "Tibet", "Beijing", "Guangdong", "Inner Mongolia"} <= names
    for f in geo["features"]:
        for poly in f["geometry"]["coordinates"]:
            ring = np.asarray(poly[0])
            assert ring[0].tolist() == ring[-1].tolist()  # closed rings
            assert ring[:, 0].min() >= 73 and ring[:, 0].max() <= 135.1
            assert ring[:, 1].min() >= 3 and ring[:, 1].max() <= 54
    places = json.loads((STATIC / "vendor" / "places" / "places.json").read_text())
    provinces = [p for p in places if p["kind"] == "province"]
    assert len(provinces) >= 34
    by_en = {p["en"]: p for p in places}
    # label points and cities against their well-known positions (within 1.5 degrees)
    for name, lat, lon in (("Beijing", 39.9, 116.4), ("Ürümqi", 43.8, 87.6), ("Xinjiang", 41, 85)):
        assert math.hypot(by_en[name]["lat"] - lat, by_en[name]["lon"] - lon) < 1.5, name
    assert by_en["Ürümqi"]["zh"] == "乌鲁木齐" and by_en["Xinjiang"]["zh"].startswith("新疆")
    by_province = {p["en"]: p for p in provinces}
    assert (by_province["Xinjiang"]["min_zoom"], by_province["Beijing"]["min_zoom"]) == (3, 5)
    # the simplified Chinese names, not GeoNames' Japanese or traditional forms (仏山, 宝鶏, 長春)
    cities = {p["en"]: p["zh"] for p in places if p["kind"] == "city"}
    assert (cities["Foshan"], cities["Baoji"], cities["Changchun"]) == ("佛山", "宝鸡", "长春")
    assert (cities["Hohhot"], cities["Shenzhen"]) == ("呼和浩特", "深圳")
    for readme in ("leaflet/README.md", "places/README.md"):
        text = (STATIC / "vendor" / readme).read_text()
        assert "licen" in text.lower()
    assert (STATIC / "vendor" / "leaflet" / "LICENSE").read_text().startswith("BSD 2-Clause")
