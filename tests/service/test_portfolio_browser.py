"""The portfolio page in a real headless Chromium against a real server on loopback.

Uses the fixtures of test_browser.py (Debian's chromium driven by Playwright; skipped without
it, except under CI). The officer uploads a book, watches the page reload itself while the
real portfolio worker computes the run, reads the figures, downloads the CSV and switches to
Chinese.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from service.api import models_folder
from service.portfolio_runs import Worker
from tests.service.conftest import new_key
from tests.service.test_browser import ARTIFACTS, page, server, sign_in  # noqa: F401
from tests.service.test_web_portfolio import book_with_twin

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "portfolio_book.csv"


def test_upload_watch_and_download(
    app: Any,
    server: str,  # noqa: F811
    page: Any,  # noqa: F811
    cube_path: Path,
    tmp_path: Path,
) -> None:
    with EXAMPLE.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["loan_id"] in ("PF-001", "PF-002", "PF-008")]
    book = tmp_path / "book.csv"
    with book.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)

    sign_in(page, server, new_key(app, "officer", "Officer Portfolio"))
    page.get_by_role("link", name="Portfolio").click()
    page.wait_for_url("**/app/portfolio")
    page.set_input_files("#pf-book", str(book))
    page.locator("#pf-paths").fill("300")
    page.locator("#pf-seed").fill("8")
    page.locator("#pf-submit").click()
    page.wait_for_url("**/app/portfolio/*")
    assert page.locator("#run-status").get_attribute("data-status") == "queued"

    st = app.extensions["climate_loan"]
    worker = Worker(
        st.store, cube_path, st.cube.dataset.sha256, models_folder(st.config), workers=1
    )
    assert worker.run_next() is True
    # the page reloads itself every two seconds until the run is done
    page.wait_for_selector('#run-status[data-status="done"]', timeout=30_000)
    assert page.locator("#loss-chart").is_visible()
    assert page.locator("#pf-regions tbody tr").count() == 3
    assert "3 of 3 loans assessed" in page.locator("#run-status").inner_text()
    page.screenshot(path=str(ARTIFACTS / "portfolio-en.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("#pf-csv").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("row,loan_id") and len(lines) == 4

    page.locator("#lang-zh_CN").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "组合损失" in page.locator("#pf-figures-h").inner_text()
    page.screenshot(path=str(ARTIFACTS / "portfolio-zh.png"), full_page=True)


def test_map_of_exposure_and_contribution(
    app: Any,
    server: str,  # noqa: F811
    page: Any,  # noqa: F811
    cube_path: Path,
    tmp_path: Path,
) -> None:
    """Four loans on three cells: three circles, the biggest on the largest exposure."""
    book = tmp_path / "book.csv"
    book.write_bytes(book_with_twin())
    requests: list[str] = []
    console: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    sign_in(page, server, new_key(app, "officer", "Officer Portfolio Map"))
    page.goto(f"{server}/app/portfolio")
    page.set_input_files("#pf-book", str(book))
    page.locator("#pf-paths").fill("300")
    page.locator("#pf-seed").fill("3")
    page.locator("#pf-submit").click()
    page.wait_for_url("**/app/portfolio/*")
    st = app.extensions["climate_loan"]
    worker = Worker(
        st.store, cube_path, st.cube.dataset.sha256, models_folder(st.config), workers=1
    )
    assert worker.run_next() is True
    page.wait_for_selector('#run-status[data-status="done"]', timeout=30_000)
    # a locator, not wait_for_function: its string predicate needs eval, which the CSP forbids
    page.locator('#portfolio-map[data-sites="3"]').wait_for(state="attached", timeout=15_000)
    sites = page.locator("#portfolio-map path.pf-site")
    assert sites.count() == 3
    assert page.locator("#portfolio-map .pf-site-label").count() == 3
    # the province outlines are drawn (more paths than the three circles)
    page.locator("#portfolio-map .leaflet-overlay-pane path").nth(10).wait_for(state="attached")

    # the widest circle on screen is the site of the largest exposure, and areas scale with it
    found = []
    for k in range(3):
        s = sites.nth(k)
        box = s.bounding_box()
        assert box is not None
        found.append((box["width"], float(s.get_attribute("data-exposure") or 0), s))
    found.sort(key=lambda f: -f[0])
    assert found[0][1] == max(e for _w, e, _s in found)
    # PF-002 (61.9 M, its loan amount) and its twin (20 M) share a cell: 81.9 M
    assert found[0][2].get_attribute("data-loans") == "PF-002 PF-002B"
    for w, e, _s in found[1:]:
        # diameter ratio = sqrt(exposure ratio), within a pixel or two of the stroke
        assert w == pytest.approx(found[0][0] * (e / found[0][1]) ** 0.5, abs=2.5)

    legend = page.locator("#pf-legend")
    assert legend.is_visible()
    assert "Circle area: exposure at the site" in legend.inner_text()
    assert page.locator("#pf-legend-classes li").count() == 4
    page.screenshot(path=str(ARTIFACTS / "portfolio-map-en.png"), full_page=True)

    # nothing came from another host, and the page's policy blocked nothing
    assert all(u.startswith(server) or u.startswith("data:") for u in requests), [
        u for u in requests if not u.startswith(server)
    ]
    assert not [m for m in console if "Content Security Policy" in m], console
