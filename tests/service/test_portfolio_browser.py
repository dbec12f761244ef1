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
