"""The loan officer's path in a real headless Chromium against a real server on loopback.

Debian's ``chromium`` (``/usr/bin/chromium``, installed by ``.ci/run``) is driven by
Playwright; the app runs in werkzeug's threaded server on 127.0.0.1 and a free port. The test
signs in, clicks a map cell (mouse and keyboard), fills and submits the form, checks the
decision and the charts, switches to Chinese, opens the memo and downloads the PDF.
Screenshots go to ``test-artifacts/`` (ignored by git). Without Chromium the tests are
skipped, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import csv
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import WIND_REQUEST, new_key
from tests.service.test_officer_page import pdf_fonts, pdf_text

CHROMIUM = Path(os.environ.get("CLIMATE_LOAN_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.slow


def _need_browser() -> None:
    missing = []
    if not CHROMIUM.is_file():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[dev]')")
    if missing:
        text = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(text, pytrace=False)
        pytest.skip(text)


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    """The app on a real HTTP server on loopback; yields its base URL."""
    from werkzeug.serving import make_server

    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        thread.join(timeout=10)
        srv.server_close()


@pytest.fixture
def page(server: str) -> Iterator[Any]:
    _need_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="en-US", accept_downloads=True
        )
        context.set_default_timeout(20_000)
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield pg
        finally:
            context.close()
            browser.close()
        assert errors == [], f"JavaScript errors: {errors}"


def test_officer_path_end_to_end(app: Any, server: str, page: Any) -> None:
    key = new_key(app, "officer", "Officer Zhang")
    store = app.extensions["climate_loan"].store
    sign_in(page, server, key)
    page.screenshot(path=str(ARTIFACTS / "01-site-en.png"), full_page=True)
    pick_a_site(page)
    fill_the_project_and_loan(page)
    page.locator("#assess-button").click()
    page.wait_for_url("**/app/assessments/*")
    aid = page.url.rsplit("/", 1)[-1]
    check_the_result_page(page, store, aid)
    page.screenshot(path=str(ARTIFACTS / "02-result-en.png"), full_page=True)

    # switch language: same stored result, in Chinese
    page.locator("#lang-zh_CN").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/app/assessments/{aid}")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "决定" in page.locator("#decision-h").inner_text()
    page.screenshot(path=str(ARTIFACTS / "03-result-zh.png"), full_page=True)
    check_the_memo_in_chinese(page)

    # history lists it and reopens the stored result
    page.goto(server + "/app/history")
    page.get_by_role("link", name="打开 Changji browser test").click()
    page.wait_for_url(f"**/app/assessments/{aid}")
    assert store.list_assessments()[1] == 1


def sign_in(page: Any, server: str, key: str, path: str = "/", landing: str = "/app/site") -> None:
    """Sign in from ``path``, which sends a visitor to the login form and back to ``landing``."""
    page.goto(server + path)
    assert "/app/login" in page.url
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**" + landing)


def pick_a_site(page: Any) -> None:
    """A click on a cell puts its centre into the form without a reload; so does the keyboard."""
    cell = page.locator("a.cell").nth(1)
    lat, lon = cell.get_attribute("data-lat"), cell.get_attribute("data-lon")
    cell.click()
    assert page.locator("#lat").input_value() == lat
    assert page.locator("#lon").input_value() == lon
    assert "/app/site" in page.url and "lat=" not in page.url
    # the keyboard does the same: Tab to a cell, Enter
    other = page.locator("a.cell").nth(2)
    other.focus()
    page.keyboard.press("Enter")
    assert page.locator("#lat").input_value() == other.get_attribute("data-lat")
    # and typed coordinates work too
    page.locator("#lat").fill("44.1")
    page.locator("#lon").fill("87.3")


def fill_the_project_and_loan(page: Any) -> None:
    """Name the site, switch to solar and back (fields shown and hidden), fill a wind loan."""
    page.get_by_label("Site name").fill("Changji browser test")
    page.get_by_label("Solar", exact=True).check()
    assert page.locator("#wind-fields").is_hidden() and page.locator("#solar-fields").is_visible()
    page.get_by_label("Wind", exact=True).check()
    assert page.locator("#wind-fields").is_visible()
    page.get_by_label("Turbine type").fill("E-82/2300")
    page.get_by_label("Hub height [m]").fill("100")
    page.get_by_label("Loan amount").fill("200000000")
    page.get_by_label("Tenor [years]").fill("15")
    page.get_by_label("Repayment").select_option("annuity")


def check_the_result_page(page: Any, store: Any, aid: str) -> None:
    """The decision, the charts and the rules on the page are those of the stored record."""
    record = store.get_assessment(aid)
    assert record is not None and record.site_name == "Changji browser test"
    badge = page.locator(".decision .badge")
    expected = {"approve": "Approve", "refer": "Refer to credit committee", "decline": "Decline"}
    assert expected[record.decision] in badge.inner_text()
    for key_ in ("wind", "monthly", "energy", "dscr", "pd"):
        chart = page.locator(f"#chart-{key_}")
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 80
    assert page.locator("table.rules tbody tr").count() == len(record.response["rules"])


def check_the_memo_in_chinese(page: Any) -> None:
    """The memo: print page (A4 print CSS, screen-only tools hidden) and the PDF download."""
    page.locator("#memo-link").click()
    page.wait_for_url("**/memo")
    assert "授信备忘录" in page.locator("h1").inner_text()
    page.screenshot(path=str(ARTIFACTS / "04-memo-zh.png"), full_page=True)
    page.emulate_media(media="print")
    assert page.locator(".memo-tools").is_hidden()  # screen-only tools vanish on paper
    page.pdf(path=str(ARTIFACTS / "05-memo-print-zh.pdf"), prefer_css_page_size=True)
    page.emulate_media(media="screen")
    with page.expect_download() as info:
        page.get_by_role("link", name="下载 PDF").click()
    pdf = Path(info.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF-")
    (ARTIFACTS / "06-memo-download-zh.pdf").write_bytes(pdf)


def test_form_errors_in_the_browser(app: Any, server: str, page: Any) -> None:
    key = new_key(app, "officer", "Officer Zhao")
    page.goto(server + "/app/lang/zh_CN?next=/app/login")
    page.locator("#api_key").fill(key)
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/app/site")
    page.locator("#lat").fill("44.1")
    page.locator("#lon").fill("87.3")
    page.locator("#hub_height_m").fill("400")
    page.locator("#capacity_mw").fill("")
    page.locator("#assess-button").click()
    page.wait_for_load_state()
    assert page.locator("#hub_height_m-error").inner_text() == "请输入 10 至 250 之间的数值。"
    assert page.locator("#capacity_mw-error").inner_text() == "此项为必填项。"
    assert page.locator("#hub_height_m").get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(ARTIFACTS / "07-form-errors-zh.png"), full_page=True)
    assert app.extensions["climate_loan"].store.list_assessments()[1] == 0


def test_risk_driver_typed_on_the_page_is_assessed(app: Any, server: str, page: Any) -> None:
    """Issue 10: a curtailment of 15 % typed in the drivers fieldset is stored and raises the PD."""
    key = new_key(app, "officer", "Officer Sun")
    store = app.extensions["climate_loan"].store
    page.goto(server + "/app/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/app/site")

    def assess(curtailment: str | None) -> str:
        page.goto(server + "/app/site")
        page.locator("#lat").fill("44.1")
        page.locator("#lon").fill("87.3")
        drivers = page.locator("#risk-drivers")
        assert drivers.get_attribute("open") is None  # collapsed by default
        field = page.get_by_label("Curtailment, mean [%]")
        assert field.is_hidden()
        # the product's default (wind_changji_v1: 6 %) is the placeholder
        assert field.get_attribute("placeholder") == "6"
        if curtailment is not None:
            page.locator("#risk-drivers > summary").click()
            field.fill(curtailment)
        page.locator("#assess-button").click()
        page.wait_for_url("**/app/assessments/*")
        return page.url.rsplit("/", 1)[-1]

    base = assess(None)
    aid = assess("15")
    record, ref = store.get_assessment(aid), store.get_assessment(base)
    assert record.request["project"]["curtailment"] == {"mean_pct": 15.0}
    assert record.response["risk_drivers"]["curtailment"]["mean_pct"] == 15.0
    assert record.response["risk_drivers"]["sources"]["curtailment"] == "request"
    assert ref.response["risk_drivers"]["curtailment"]["mean_pct"] == 6.0
    pd, pd_ref = record.response["repayment"]["pd_tenor"], ref.response["repayment"]["pd_tenor"]
    assert pd > pd_ref, (pd, pd_ref)
    # the result page shows the driver and where it came from
    row = page.locator("#driver-curtailment_mean_pct")
    assert row.is_visible() and row.get_attribute("data-source") == "request"
    assert row.locator("td").first.inner_text() == "15"
    assert page.locator("#driver-curtailment_sd_pct").get_attribute("data-source") == "policy"
    page.screenshot(path=str(ARTIFACTS / "08-drivers-result-en.png"), full_page=True)

    # the placeholders follow the chosen product; ageing is a wind-only field
    page.goto(server + "/app/site")
    page.locator("#risk-drivers > summary").click()
    page.get_by_label("Solar", exact=True).check()
    assert page.locator("#ageing_pct_per_year").is_hidden()
    page.locator("#policy").select_option("solar_default_v1")
    assert page.locator("#curtailment_mean_pct").get_attribute("placeholder") == "0"
    page.get_by_label("Wind", exact=True).check()
    page.locator("#policy").select_option("")
    assert page.locator("#ageing_pct_per_year").is_visible()
    assert page.locator("#curtailment_mean_pct").get_attribute("placeholder") == "6"


def test_glossary_exports_and_memo_through_the_api(app: Any, server: str, page: Any) -> None:
    """From a term to its glossary entry, the CSV download, and the PDF memo of the API."""
    key = new_key(app, "officer", "Officer Qian")
    made = page.request.post(
        server + "/api/v1/assessments", data=WIND_REQUEST, headers={"X-API-Key": key}
    )
    assert made.status == 201
    a = made.json()
    aid = a["id"]

    page.goto(server + "/app/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/app/site")
    page.goto(server + f"/app/assessments/{aid}")
    assert page.locator("#synthetic-watermark").is_visible()
    page.screenshot(path=str(ARTIFACTS / "08-result-glossary-links-en.png"), full_page=True)
    follow_a_term_to_the_glossary(page, aid)
    download_the_exports(page, a)

    # the print memo: the watermark is fixed, so Chromium repeats it on every printed page
    page.goto(server + f"/app/assessments/{aid}/memo")
    page.emulate_media(media="print")
    mark = page.locator("#synthetic-watermark")
    assert mark.is_visible() and mark.evaluate("e => getComputedStyle(e).position") == "fixed"
    assert "Officer Qian" in page.locator("#signoff-officer").inner_text()
    page.emulate_media(media="screen")
    check_the_memo_pdf_of_the_api(app, page, server, key, aid)


def follow_a_term_to_the_glossary(page: Any, aid: str) -> None:
    """A term on the page opens its glossary entry (a plain link: no script involved)."""
    term = page.locator("table.rules a.term", has_text="Minimum DSCR at 1-year P90 energy")
    assert term.get_attribute("title") == "Debt service coverage ratio"
    term.click()
    page.wait_for_url("**/app/glossary#dscr")
    entry = page.locator("#dscr")
    assert entry.is_visible() and "Debt service coverage ratio" in entry.inner_text()
    assert entry.evaluate("e => e.matches(':target')")
    page.screenshot(path=str(ARTIFACTS / "09-glossary-dscr-en.png"), full_page=True)
    page.go_back()
    page.wait_for_url(f"**/app/assessments/{aid}")


def download_the_exports(page: Any, a: dict[str, Any]) -> None:
    """The CSV export downloads and parses back to the stored figures; the xlsx is a zip."""
    aid = a["id"]
    with page.expect_download() as info:
        page.locator("#csv-link").click()
    download = info.value
    assert download.suggested_filename == f"assessment-{aid[:12]}.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8-sig"))))
    by = {(r["section"], r["key"], r["year"]): r["value"] for r in rows}
    assert by[("assessment", "id", "")] == aid
    assert float(by[("repayment", "dscr_p90_min", "")]) == a["repayment"]["dscr_p90_min"]
    with page.expect_download() as info:
        page.locator("#xlsx-link").click()
    assert Path(info.value.path()).read_bytes()[:2] == b"PK"  # a zip: the xlsx container


def check_the_memo_pdf_of_the_api(app: Any, page: Any, server: str, key: str, aid: str) -> None:
    """The memo through the API: a PDF with its fonts embedded and the sign-off; key-scoped."""
    r = page.request.get(
        server + f"/api/v1/assessments/{aid}/memo.pdf",
        headers={"X-API-Key": key, "Accept-Language": "zh-CN"},
    )
    assert r.status == 200 and r.headers["content-type"] == "application/pdf"
    pdf = r.body()
    assert pdf.startswith(b"%PDF-")
    (ARTIFACTS / "10-memo-api-zh.pdf").write_bytes(pdf)
    fonts = pdf_fonts(pdf)
    assert fonts and all(embedded for _name, embedded in fonts), fonts
    text = "\n".join(pdf_text(pdf))
    assert "签核" in text and "Officer Qian" in text and aid in text
    # without the key, or with another officer's: refused
    assert page.request.get(server + f"/api/v1/assessments/{aid}/memo.pdf").status == 401
    other = new_key(app, "officer", "Officer Sun")
    r = page.request.get(
        server + f"/api/v1/assessments/{aid}/memo.pdf", headers={"X-API-Key": other}
    )
    assert r.status == 404
