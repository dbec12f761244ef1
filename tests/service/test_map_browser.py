"""The national map in a real headless Chromium, on a national-size version-2 store.

The store (:mod:`tests.service.national_cube`) has ERA5's 0.25-degree grid over China, 145 x 249
cells and three years. The test signs in, opens the map, and checks that the layer's tiles load
as PNG images, the legend gives the threshold, province labels show, a typed place (English
without its diacritics, or Chinese) centres the map and picks the site, a click picks the
point under the mouse (checked against Web Mercator arithmetic by hand), the link leads into
the assessment form with the coordinates, and nothing is loaded from another host. Screenshots
go to ``test-artifacts/``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service import tiles
from tests.service.conftest import make_config, new_key
from tests.service.national_cube import LATS, LONS, wind_field, write_national_store
from tests.service.test_browser import ARTIFACTS, page, server, sign_in  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def national_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_national_store(tmp_path_factory.mktemp("national") / "china.zarr")


@pytest.fixture
def app(national_store: Path, tmp_path: Path) -> Iterator[Any]:
    """The app on the national store (overrides the small cube of conftest)."""
    from service.app import create_app

    application = create_app(
        make_config(national_store, f"sqlite:///{tmp_path / 'audit.sqlite3'}", tmp_path)
    )
    yield application
    application.extensions["climate_loan"].store.dispose()


def _picked(pg: Any) -> tuple[float, float]:
    return float(pg.locator("#map-lat").input_value()), float(pg.locator("#map-lon").input_value())


def _tiles_and_legend(pg: Any, responses: list[Any]) -> None:
    """Tiles load as PNG images; the legend, province outlines and labels show."""
    pg.wait_for_selector("#national-map[data-places-loaded]")
    # a locator, not wait_for_function: its string predicate needs eval, which the CSP forbids
    pg.locator("img.leaflet-tile-loaded").nth(3).wait_for(state="attached")
    pg.wait_for_timeout(500)  # let the tiles fade in for the screenshot
    tile_responses = [r for r in responses if "/app/map/tiles/" in r.url]
    assert len(tile_responses) >= 4
    for r in tile_responses:
        assert r.status == 200, r.url
        assert r.headers["content-type"] == "image/png", r.url
    assert "/app/map/tiles/trailing_3y_wind_ms/" in tile_responses[0].url

    # legend: the threshold in words and the hatched key
    legend = pg.locator("#legend-threshold")
    assert "6.5 m/s" in legend.inner_text()
    assert pg.get_by_text("below the threshold (hatched cell)").is_visible()
    # province outlines (Leaflet's SVG paths) and labels
    assert pg.locator("path.leaflet-interactive, .leaflet-overlay-pane path").count() >= 30
    xinjiang = pg.locator(".province-label span", has_text="Xinjiang")
    assert xinjiang.count() == 1 and xinjiang.is_visible()
    # the municipalities are labelled from zoom 5 only
    assert pg.locator("#national-map").get_attribute("data-zoom") in ("3", "4")
    assert pg.locator(".province-label span", has_text="Beijing").count() == 0
    pg.screenshot(path=str(ARTIFACTS / "map-01-national-en.png"))


def _place_search(pg: Any) -> None:
    """A typed place (without its diacritics) centres the map and picks the site."""
    pg.locator("#place").fill("urumqi")
    pg.get_by_role("button", name="Go", exact=True).click()
    assert _picked(pg) == (43.801, 87.6)  # GeoNames' Ürümqi in places.json
    assert "Ürümqi" in pg.locator("#place-status").inner_text()
    # the picked cell's value in words: the cell of 43.75 N 87.50 E, by the store's wind field
    expected = float(wind_field(np.array(43.75), np.array(87.5)))
    info = pg.locator('#picked-info[data-status="pass"]')
    assert f"43.75°N 87.50°E: {expected:.2f} m/s — meets 6.5 m/s" in info.inner_text()
    pg.wait_for_selector('#national-map[data-zoom="9"][data-center="43.8010,87.6000"]')
    # a locator, not wait_for_function: its string predicate needs eval, which the CSP forbids
    pg.locator("img.leaflet-tile-loaded").nth(3).wait_for(state="attached")


def _clicks_and_keys(pg: Any) -> tuple[float, float]:
    """Clicks and the keyboard pick sites where the Mercator projection puts them."""
    # a click at the centre of the map picks the centre (the place), within a pixel at zoom 9
    box = pg.locator("#national-map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    pg.mouse.click(cx, cy)
    lat, lon = _picked(pg)
    deg_per_px = 360 / (256 * 2**9)  # longitude per pixel at zoom 9, by hand: 0.00275
    assert abs(lon - 87.6) <= 1.5 * deg_per_px and abs(lat - 43.801) <= 1.5 * deg_per_px
    # 100 pixels east is 100 x 0.00275 degrees east; 100 pixels south follows the Mercator
    # ordinate: lat = atan(sinh(pi (1 - 2 y / (256 2^9)))) with y 100 pixels lower
    pg.mouse.click(cx + 100, cy + 100)
    lat2, lon2 = _picked(pg)
    assert lon2 - lon == pytest.approx(100 * deg_per_px, abs=2e-4)
    _, y0 = tiles.lonlat_to_tile(lat, lon, 9)
    expected_lat = float(tiles._lat_of((y0 * 256 + 100) / (256 * 2**9)))
    assert lat2 == pytest.approx(expected_lat, abs=2e-4)
    # the keyboard: Enter on the focused map picks the centre of the view (the place again)
    pg.locator("#national-map").focus()
    pg.keyboard.press("Enter")
    assert _picked(pg) == pytest.approx((43.801, 87.6), abs=1e-4)
    pg.mouse.click(cx + 100, cy + 100)
    assert _picked(pg) == (lat2, lon2)
    link = pg.locator("#assess-link")
    href = link.get_attribute("href") or ""
    assert f"lat={lat2}" in href and f"lon={lon2}" in href and "hub_height_m=100" in href
    pg.wait_for_timeout(500)
    pg.screenshot(path=str(ARTIFACTS / "map-02-picked.png"))
    return lat2, lon2


def _tile_hatching(pg: Any, base: str) -> None:
    """Tiles of the store's wind field: hatched where it fails 6.5 m/s, plain where it passes."""
    # (wind_field gives 4.99 m/s at 22 N 120 E and 8.58 m/s at 45 N 80 E)
    from PIL import Image

    for lat_, lon_, fails in ((22.0, 120.0, True), (45.0, 80.0, False)):
        assert (wind_field(np.array(lat_), np.array(lon_)) < 6.5) == fails
        x, y = tiles.lonlat_to_tile(lat_, lon_, 9)
        url = f"{base}/app/map/tiles/trailing_3y_wind_ms/9/{int(x)}/{int(y)}.png"
        r = pg.request.get(url)
        assert r.status == 200 and r.headers["content-type"] == "image/png"
        rgba = np.asarray(Image.open(io.BytesIO(r.body())).convert("RGBA"))
        dark = np.all(rgba[..., :3] == tiles.HATCH_RGBA[:3], axis=-1).mean()
        assert dark == (pytest.approx(3 / 8, abs=0.01) if fails else 0.0)

    # this store has no radiation: no sunshine layer, as problem+json
    r = pg.request.get(f"{base}/app/map/tiles/sunshine_hours/9/0/0.png")
    assert r.status == 404 and r.headers["content-type"] == "application/problem+json"
    assert "sunshine" not in pg.locator("#layer").inner_text().lower()


def _in_chinese(pg: Any, base: str) -> None:
    """In Chinese: the province labels, the legend and the place search."""
    pg.goto(base + "/app/map")
    pg.locator("#lang-zh_CN").click()
    pg.wait_for_selector("#national-map[data-places-loaded]")
    assert pg.locator(".province-label span", has_text="新疆维吾尔自治区").count() == 1
    assert "阈值：6.5 m/s" in pg.locator("#legend-threshold").inner_text()
    pg.locator("#place").fill("新疆")
    pg.get_by_role("button", name="前往").click()
    assert _picked(pg) == (41.122, 85.425)  # Natural Earth's label point of Xinjiang
    pg.wait_for_selector('#national-map[data-zoom="6"][data-center="41.1220,85.4250"]')
    pg.locator("#place").fill("不存在的地方")
    pg.get_by_role("button", name="前往").click()
    assert "没有" in pg.locator("#place-status").inner_text()
    pg.wait_for_timeout(500)
    pg.screenshot(path=str(ARTIFACTS / "map-03-zh.png"))


def test_national_map_in_chromium(app: Any, server: str, page: Any) -> None:  # noqa: F811
    assert app.extensions["climate_loan"].cube.lats.size * LONS.size == 145 * 249
    key = new_key(app, "officer", "Officer Map")
    responses: list[Any] = []
    requests: list[str] = []
    console: list[str] = []
    page.on("response", lambda r: responses.append(r))
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    sign_in(page, server, key, "/app/map", "/app/map")

    _tiles_and_legend(page, responses)
    _place_search(page)
    lat2, lon2 = _clicks_and_keys(page)
    _tile_hatching(page, server)
    # the link leads into the assessment form with the coordinates
    page.locator("#assess-link").click()
    page.wait_for_url("**/app/site?**")
    assert page.locator("#lat").input_value() == str(lat2)
    assert page.locator("#lon").input_value() == str(lon2)

    _in_chinese(page, server)

    # nothing came from another host, and the page's policy blocked nothing
    assert all(u.startswith(server) or u.startswith("data:") for u in requests), [
        u for u in requests if not u.startswith(server)
    ]
    assert not [m for m in console if "Content Security Policy" in m], console
    assert LATS.size == 145
