"""Loan-officer pages with the Flask test client: every page in both languages, login and
CSRF, form errors next to their fields, the assessment path (stored before shown), history,
memo and PDF, the chart builders and the message catalogues."""

from __future__ import annotations

import logging
import math
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from service import charts
from service.web import figures as web_figures
from tests.service.conftest import make_config, new_key

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
TRANSLATIONS = Path(__file__).resolve().parents[2] / "service" / "translations"

#: A valid wind form inside the test cube (Changji); the loan is sized so that DSCRs are
#: near the covenants (P50 CFADS ~ 113 GWh x 250 - 6 M ~ 22 M CNY against ~ 18 M CNY debt service).
FORM: dict[str, str] = {
    "lat": "44.1",
    "lon": "87.3",
    "site_name": "Changji web test",
    "technology": "wind",
    "capacity_mw": "49.5",
    "turbine_type": "E-82/2300",
    "hub_height_m": "100",
    "loan_amount": "200000000",
    "currency": "CNY",
    "tenor_years": "15",
    "interest_rate_pct": "4.2",
    "repayment": "annuity",
    "tariff_per_mwh": "250",
    "opex_per_year": "6000000",
    "policy": "",
}


def csrf(client: Any, path: str = "/app/login", headers: dict[str, str] | None = None) -> str:
    html = client.get(path, headers=headers or EN).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: Any, key: str) -> None:
    r = client.post("/app/login", data={"api_key": key, "csrf_token": csrf(client)}, headers=EN)
    assert r.status_code == 303, r.get_data(as_text=True)[:500]


@pytest.fixture
def officer_key(app: Any) -> str:
    return new_key(app, "officer", "Officer Wang")


@pytest.fixture
def web(app: Any, officer_key: str) -> Any:
    """A test client signed in as an officer."""
    client = app.test_client()
    login(client, officer_key)
    return client


def store(app: Any) -> Any:
    return app.extensions["climate_loan"].store


def assess_via_form(
    client: Any, form: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> Any:
    data = dict(FORM if form is None else form)
    data["csrf_token"] = csrf(client, "/app/site", headers)
    return client.post("/app/assess", data=data, headers=headers or EN)


class TextNodes(HTMLParser):
    """Visible text of a page (no script/style, no attribute values)."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "code", "title", "desc", "datalist"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code", "title", "desc", "datalist"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = TextNodes()
    parser.feed(html)
    return parser.parts


# ----------------------------------------------------------------------------- login, CSRF


def test_start_page_leads_to_login_and_back(app: Any, officer_key: str) -> None:
    client = app.test_client()
    r = client.get("/")
    assert r.status_code == 302 and r.location.endswith("/app/site")
    r = client.get("/app/site?layer=iav")
    assert r.status_code == 302 and "/app/login?next=" in r.location
    token = csrf(client)
    r = client.post(
        "/app/login",
        data={"api_key": officer_key, "csrf_token": token, "next": "/app/site?layer=iav"},
    )
    assert r.status_code == 303 and r.location == "/app/site?layer=iav"
    assert client.get("/app/site?layer=iav").status_code == 200


def test_login_page_in_both_languages(client: Any) -> None:
    zh = client.get("/app/login", headers=ZH).get_data(as_text=True)
    en = client.get("/app/login", headers=EN).get_data(as_text=True)
    assert '<html lang="zh-CN">' in zh and "登录" in zh and "API 密钥" in zh
    assert '<html lang="en">' in en and "Sign in" in en and "登录" not in en
    # every input has a label
    for html in (zh, en):
        assert '<label for="api_key">' in html and 'id="api_key"' in html


def test_bad_key_error_next_to_field_in_page_language(client: Any) -> None:
    token = csrf(client, headers=ZH)
    r = client.post("/app/login", data={"api_key": "clr_nope", "csrf_token": token}, headers=ZH)
    html = r.get_data(as_text=True)
    assert r.status_code == 401
    assert re.search(r'id="api_key-error"[^>]*>该 API 密钥无效或已被吊销。<', html)
    assert 'aria-invalid="true" aria-describedby="api_key-error"' in html


def test_revoked_key_ends_the_session(app: Any, web: Any, officer_key: str) -> None:
    from service.auth import key_id_of

    assert web.get("/app/history").status_code == 200
    store(app).revoke_key(key_id_of(officer_key))
    r = web.get("/app/history")
    assert r.status_code == 302 and "/app/login" in r.location


def test_session_cookie_holds_no_key(app: Any, officer_key: str) -> None:
    client = app.test_client()
    login(client, officer_key)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    # clr_<16 hex id>_<43-character secret>; the secret itself may contain "_"
    secret = officer_key.split("_", 2)[2]
    assert len(secret) == 43
    assert secret not in cookie.value and officer_key not in cookie.value


def test_csrf_rejected_without_or_with_wrong_token(app: Any, web: Any, officer_key: str) -> None:
    client = app.test_client()
    r = client.post("/app/login", data={"api_key": officer_key}, headers=ZH)
    assert r.status_code == 400 and "表单已过期或并非来自本网站" in r.get_data(as_text=True)
    assert client.get("/app/site").status_code == 302  # not signed in
    r = web.post("/app/assess", data={**FORM, "csrf_token": "forged"}, headers=EN)
    assert r.status_code == 400 and "did not come from this site" in r.get_data(as_text=True)
    r = web.post("/app/logout", data={}, headers=EN)
    assert r.status_code == 400
    # a token from another session is refused too
    other = app.test_client()
    foreign = csrf(other)
    r = web.post("/app/assess", data={**FORM, "csrf_token": foreign}, headers=EN)
    assert r.status_code == 400
    assert store(app).list_assessments()[1] == 0


def test_workers_of_one_instance_share_the_session_secret(tmp_path: Path) -> None:
    """Gunicorn workers each build an app; a session made by one must be valid in another."""
    from flask import Flask

    from service.web import SECRET_FILE, _instance_secret

    first = _instance_secret(tmp_path / "inst")
    assert _instance_secret(tmp_path / "inst") == first and len(first) == 64
    assert (tmp_path / "inst" / SECRET_FILE).stat().st_mode & 0o077 == 0  # owner only
    assert _instance_secret(tmp_path / "other") != first
    configured = Flask("x", instance_path=str(tmp_path / "cfg"))
    configured.config["SECRET_KEY"] = "from-config"
    from service import web as web_module

    web_module.register(configured)
    assert configured.config["SECRET_KEY"] == "from-config"
    assert not (tmp_path / "cfg" / SECRET_FILE).exists()


def test_logout_keeps_language(web: Any) -> None:
    web.get("/app/lang/zh_CN?next=/app/history")
    r = web.post("/app/logout", data={"csrf_token": csrf(web, "/app/history")})
    assert r.status_code == 303
    assert web.get("/app/history").status_code == 302
    assert "登录" in web.get("/app/login").get_data(as_text=True)


def test_language_switch_and_no_open_redirect(web: Any) -> None:
    r = web.get("/app/lang/zh_CN?next=/app/history?decision=refer")
    assert r.status_code == 302 and r.location == "/app/history?decision=refer"
    assert "历史记录" in web.get("/app/history").get_data(as_text=True)
    for evil in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
        r = web.get("/app/lang/en", query_string={"next": evil})
        assert r.location == "/app/site"
    assert web.get("/app/lang/fr").status_code == 404
    assert "History" in web.get("/app/history").get_data(as_text=True)


# ----------------------------------------------------------------------------- site page


def test_site_map_cells_match_cube_layer(app: Any, web: Any) -> None:
    cube = app.extensions["climate_loan"].cube
    html = web.get("/app/site?hub_height_m=100", headers=EN).get_data(as_text=True)
    cells = re.findall(
        r'<a href="[^"]+" class="cell cell-(\w+)" data-lat="([^"]+)" data-lon="([^"]+)"', html
    )
    assert len(cells) == cube.lats.size * cube.lons.size
    # independent check: the layer's values against the policy's 6.5 m/s threshold
    layer = cube.layer("trailing_3y_wind_ms", 100)
    for status, lat, lon in cells:
        v = float(layer.sel(lat=float(lat), lon=float(lon)).values)
        expected = "nodata" if not math.isfinite(v) else ("pass" if v >= 6.5 else "fail")
        assert status == expected
    # not colour alone: each cell names its verdict; a legend explains the marks
    assert "meets 6.5 m/s" in html or "below 6.5 m/s" in html
    assert "hatched cell" in html


@pytest.mark.parametrize("layer", ["trailing_3y_wind_ms", "sunshine_hours", "iav"])
@pytest.mark.parametrize("headers", [ZH, EN], ids=["zh", "en"])
def test_site_page_every_layer_both_languages(
    web: Any, layer: str, headers: dict[str, str]
) -> None:
    r = web.get(f"/app/site?layer={layer}&lat=44.1&lon=87.3", headers=headers)
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert f'<option value="{layer}" selected>' in html
    assert 'class="marker"' in html  # the chosen site is marked
    if headers is ZH:
        assert "新建评估" in html and "最近的数据网格为 44.00°N 87.50°E" in html
    else:
        assert "New assessment" in html and "Nearest data cell 44.00°N 87.50°E" in html
    # every visible input of the form has a label
    ids = set(re.findall(r'<input id="([^"]+)"', html))
    labelled = set(re.findall(r'<label for="([^"]+)"', html))
    assert ids <= labelled


def test_site_outside_data_is_explained(web: Any) -> None:
    html = web.get("/app/site?lat=10&lon=10", headers=EN).get_data(as_text=True)
    assert "This point is outside the data" in html


def _broadcast_fault(*args: Any, **kwargs: Any) -> NoReturn:
    """A bug as numpy reports it (a ValueError), injected where the page reads a cell."""
    np.zeros(3) + np.zeros(4)
    raise AssertionError("numpy broadcast the shapes")  # pragma: no cover


def test_a_fault_reading_the_cell_is_not_outside_the_data(
    app: Any, web: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Only SiteOutsideCoverage means "outside the data"; a bug surfaces as a bug (issue 12)."""
    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    cube = app.extensions["climate_loan"].cube
    monkeypatch.setattr(cube, "site", _broadcast_fault)
    # the site page and the result page (its monthly chart reads the cell)
    for url in ("/app/site?lat=44.2&lon=87.6", f"/app/assessments/{aid}"):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="climate_loan"):
            r = web.get(url, headers=EN)
        assert r.status_code == 500, url
        text = r.get_data(as_text=True)
        assert "outside the data" not in text and "broadcast" not in text
        logged = [rec.exc_info for rec in caplog.records if rec.exc_info is not None]
        assert [info[0] for info in logged] == [ValueError], url  # logged with its traceback


def test_an_out_of_range_latitude_is_a_form_error_not_a_lookup(web: Any) -> None:
    """A latitude the form rejects is neither marked on the map nor looked up in the cube."""
    r = assess_via_form(web, {**FORM, "lat": "95"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and _error(html, "lat")
    assert "This point is outside the data" not in html and "Nearest data cell" not in html


# ----------------------------------------------------------------------------- form errors


def _error(html: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error" role="alert">([^<]*)</p>', html)
    assert match, f"no error next to {field}"
    return match.group(1)


def test_field_errors_next_to_fields_in_chinese(app: Any, web: Any) -> None:
    bad = {
        **FORM,
        "capacity_mw": "",
        "hub_height_m": "300",
        "currency": "cny",
        "tenor_years": "2.5",
        "loan_amount": "abc",
    }
    r = assess_via_form(web, bad, ZH)
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert _error(html, "capacity_mw") == "此项为必填项。"
    assert _error(html, "hub_height_m") == "请输入 10 至 250 之间的数值。"
    assert _error(html, "currency") == "请使用三个字母的 ISO 4217 代码，例如 CNY。"
    assert _error(html, "tenor_years") == "请输入整数。"
    assert _error(html, "loan_amount") == "请输入数字。"
    # what the officer typed is kept
    assert 'value="abc"' in html and 'value="cny"' in html
    assert store(app).list_assessments()[1] == 0


def test_field_errors_in_english_and_turbine_rules(web: Any) -> None:
    html = assess_via_form(web, {**FORM, "turbine_type": "NoSuchTurbine 9"}).get_data(as_text=True)
    assert (
        _error(html, "turbine_type")
        == "Unknown turbine type NoSuchTurbine 9; pick one from the list."
    )
    html = assess_via_form(web, {**FORM, "turbine_type": ""}).get_data(as_text=True)
    assert _error(html, "turbine_type") == "Choose a turbine from the list or upload a power curve."
    html = assess_via_form(web, {**FORM, "hub_height_m": ""}).get_data(as_text=True)
    assert _error(html, "hub_height_m") == "Enter the hub height of the turbines."
    html = assess_via_form(web, {**FORM, "policy": "solar_default_v1"}).get_data(as_text=True)
    assert _error(html, "policy") == "This lending product is for another technology."
    html = assess_via_form(web, {**FORM, "wake_pct": "100"}).get_data(as_text=True)
    assert _error(html, "wake_pct") == "Enter a value below 100."


def test_site_outside_data_error_next_to_latitude(app: Any, web: Any) -> None:
    r = assess_via_form(web, {**FORM, "lat": "10", "lon": "10"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert _error(html, "lat").startswith("This site is outside the data or lacks usable years:")
    assert store(app).list_assessments()[1] == 0


# ----------------------------------------------------------------------------- assessment path


def test_assessment_is_stored_then_shown(app: Any, web: Any, officer_key: str) -> None:
    from service.auth import key_id_of

    r = assess_via_form(web)
    assert r.status_code == 303
    aid = r.location.rsplit("/", 1)[-1]
    record = store(app).get_assessment(aid)
    assert record is not None and record.api_key_id == key_id_of(officer_key)
    # the stored request is the form, in contract-v1 shape (same path as the API)
    assert record.request == {
        "site": {"lat": 44.1, "lon": 87.3, "name": "Changji web test"},
        "project": {
            "technology": "wind",
            "capacity_mw": 49.5,
            "turbine_type": "E-82/2300",
            "hub_height_m": 100.0,
        },
        "finance": {
            "loan_amount": 200000000.0,
            "currency": "CNY",
            "tenor_years": 15,
            "interest_rate_pct": 4.2,
            "repayment": "annuity",
            "tariff_per_mwh": 250.0,
            "opex_per_year": 6000000.0,
        },
    }
    # the API returns the same stored object
    api = web.get(f"/api/v1/assessments/{aid}", headers={"X-API-Key": officer_key})
    assert api.get_json() == record.response
    a = record.response
    for headers, words in ((EN, ("Decision", "Provenance")), (ZH, ("决定", "数据来源"))):
        html = web.get(r.location, headers=headers).get_data(as_text=True)
        assert all(w in html for w in words)
        assert aid in html
        assert f'class="badge badge-{a["decision"]}"' in html
        # every rule row, with its text result (not colour only)
        assert html.count("<tr class=") == len(a["rules"])
        # the five result charts, each an accessible SVG
        for key in ("wind", "monthly", "energy", "dscr", "pd"):
            assert f'id="chart-{key}"' in html
        assert html.count('role="img"') >= 5
    assert store(app).list_assessments()[1] == 1  # viewing did not add records


def test_reasons_in_page_language_and_rule_values(app: Any, web: Any) -> None:
    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    a = store(app).get_assessment(aid).response
    zh = web.get(f"/app/assessments/{aid}", headers=ZH).get_data(as_text=True)
    en = web.get(f"/app/assessments/{aid}", headers=EN).get_data(as_text=True)
    for reason in a["reasons"]:
        # as the page writes them: HTML-escaped (e.g. the apostrophe of "product's")
        assert escape(reason["message_zh"]) in zh and escape(reason["message"]) in en
    trailing = next(r for r in a["rules"] if r["id"] == "trailing_3y_wind")
    assert f"{trailing['value']:.2f} m/s" in en  # stored value, formatted with 2 decimals
    assert "≥ 6.50 m/s" in en


def test_result_is_the_stored_one_even_with_another_cube(
    app: Any, web: Any, cube_path: Path, tmp_path: Path, officer_key: str
) -> None:
    """Reopening never recomputes: an app on a different dataset still shows the stored result."""
    from service.app import create_app

    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    stored = store(app).get_assessment(aid).response
    if cube_path.is_dir():  # a version-2 store: same data, another content digest
        import zarr

        from climate_data.store import _quiet_consolidated

        other_cube = tmp_path / "other.zarr"
        shutil.copytree(cube_path, other_cube)
        group = zarr.open_group(str(other_cube), mode="r+")
        group.attrs["content_sha256"] = "0" * 64
        with _quiet_consolidated():
            zarr.consolidate_metadata(str(other_cube))
    else:
        other_cube = tmp_path / "other.nc"
        shutil.copy(cube_path, other_cube)
        with other_cube.open("ab") as fh:  # same data, different bytes: another sha256
            fh.write(b"\0" * 16)
    db = store(app).url
    other = create_app(make_config(other_cube, db, tmp_path, instance_path=tmp_path / "instance"))
    try:
        client = other.test_client()
        login(client, officer_key)
        html = client.get(f"/app/assessments/{aid}", headers=EN).get_data(as_text=True)
        assert stored["provenance"]["dataset_sha256"][:16] in html
        assert "the service now uses another dataset than this assessment did" in html
        assert 'id="chart-monthly"' not in html and 'id="chart-dscr"' in html
    finally:
        other.extensions["climate_loan"].store.dispose()


def test_power_curve_upload(app: Any, web: Any) -> None:
    import io

    csv_text = "wind speed [m/s];power [kW]\n" + "\n".join(
        f"{v};{min(2000.0, 2000.0 * max(0.0, (v - 3) / 9) ** 3):.1f}" for v in range(3, 26)
    )
    data = {**FORM, "turbine_type": "", "csrf_token": csrf(web, "/app/site")}
    data["power_curve_csv"] = (io.BytesIO(csv_text.encode()), "curve.csv")
    r = web.post("/app/assess", data=data, content_type="multipart/form-data")
    assert r.status_code == 303, r.get_data(as_text=True)[:300]
    record = store(app).get_assessment(r.location.rsplit("/", 1)[-1])
    curve = record.request["project"]["power_curve"]
    assert curve["wind_speed_ms"][:3] == [3.0, 4.0, 5.0] and len(curve["power_kw"]) == 23
    assert record.response["project"]["custom_power_curve"] is True
    # a broken file: the error sits next to the upload field
    data = {**FORM, "turbine_type": "", "csrf_token": csrf(web, "/app/site")}
    data["power_curve_csv"] = (io.BytesIO(b"speed\n3\n4\n"), "bad.csv")
    html = web.post("/app/assess", data=data, content_type="multipart/form-data").get_data(
        as_text=True
    )
    assert _error(html, "power_curve_csv") == "Line 1: expected two columns, wind speed and power."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"3,0\n", "The power curve needs at least two rows."),
        (b"ws,p\n3,0\nx,5\n", "Line 3: not a number."),
        (b"\xff\xfe\x00", "The file is not UTF-8 text."),
        (b"5,10\n4,20\n", "The power curve is not valid:"),
    ],
)
def test_power_curve_parse_errors(app: Any, text: bytes, message: str) -> None:
    from service.web.assess import parse_power_curve

    with app.test_request_context(headers=EN), pytest.raises(ValueError, match=re.escape(message)):
        parse_power_curve(text)


# ----------------------------------------------------------------------------- history


def test_history_shows_own_assessments_filtered(app: Any, web: Any, officer_key: str) -> None:
    from tests.service.conftest import WIND_REQUEST

    mine = assess_via_form(web).location.rsplit("/", 1)[-1]
    other_key = new_key(app, "officer", "Officer Li")
    r = app.test_client().post(
        "/api/v1/assessments",
        json={**WIND_REQUEST, "site": {"lat": 44.4, "lon": 87.1, "name": "Li's site"}},
        headers={"X-API-Key": other_key},
    )
    theirs = r.get_json()["id"]
    decision = store(app).get_assessment(mine).decision
    for headers in (ZH, EN):
        html = web.get("/app/history", headers=headers).get_data(as_text=True)
        assert mine in html and theirs not in html and "Li&#39;s site" not in html
    html = web.get(f"/app/history?decision={decision}&technology=wind&q=changji").get_data(
        as_text=True
    )
    assert mine in html and "1 assessments found." in html
    other_decision = next(d for d in ("approve", "refer", "decline") if d != decision)
    html = web.get(f"/app/history?decision={other_decision}").get_data(as_text=True)
    assert mine not in html and "No assessments match" in html
    html = web.get("/app/history?from=2000-01-01&to=2000-12-31").get_data(as_text=True)
    assert mine not in html
    # another officer's result is not reachable by URL
    assert web.get(f"/app/assessments/{theirs}").status_code == 404
    assert web.get(f"/app/assessments/{theirs}/memo.pdf").status_code == 404


# ----------------------------------------------------------------------------- memo


@pytest.mark.parametrize("headers", [ZH, EN], ids=["zh", "en"])
def test_memo_print_page_and_pdf(app: Any, web: Any, headers: dict[str, str]) -> None:
    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    html = web.get(f"/app/assessments/{aid}/memo", headers=headers).get_data(as_text=True)
    assert "memo.css" in html and aid in html
    assert ("授信备忘录" if headers is ZH else "Credit memo") in html
    css = (Path(__file__).resolve().parents[2] / "service" / "static" / "memo.css").read_text()
    assert "size: A4" in css and "@media print" in css
    r = web.get(f"/app/assessments/{aid}/memo.pdf", headers=headers)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"].startswith("attachment;")
    pdf = r.data
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type /Page\b", pdf))
    assert 2 <= pages <= 6
    if headers is ZH:
        # a font with Chinese glyphs: an embedded TrueType subset or the standard CID font
        assert b"STSong-Light" in pdf or b"/FontFile2" in pdf


def test_memo_fonts_fallback_without_truetype(monkeypatch: pytest.MonkeyPatch) -> None:
    from service import memo

    monkeypatch.setattr(memo, "CJK_FONT_CANDIDATES", ())
    monkeypatch.setattr(memo, "system_cjk_fonts", lambda: ())
    monkeypatch.delenv(memo.FONT_ENV, raising=False)
    assert memo.memo_fonts(need_cjk=True).regular == "STSong-Light"
    assert memo.memo_fonts(need_cjk=False).regular == "Helvetica"


# ----------------------------------------------------------------------------- catalogues


def _read(reader: Any, path: Path) -> Any:
    with path.open("rb") as fh:
        return reader(fh)


def test_every_message_translated_and_mo_up_to_date() -> None:
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    pot = {m.id for m in _read(read_po, TRANSLATIONS / "messages.pot") if m.id}
    assert len(pot) > 150
    for locale in ("zh_Hans_CN", "en"):
        folder = TRANSLATIONS / locale / "LC_MESSAGES"
        po = _read(read_po, folder / "messages.po")
        mo = _read(read_mo, folder / "messages.mo")
        assert {m.id for m in po if m.id} == pot
        # the shipped .mo holds exactly the translated entries of the .po
        assert {m.id: m.string for m in po if m.id and m.string} == {
            m.id: m.string for m in mo if m.id
        }
        if locale == "zh_Hans_CN":
            untranslated = [m.id for m in po if m.id and not m.string]
            assert untranslated == []
            for m in po:  # placeholders survive translation
                if m.id:
                    assert sorted(re.findall(r"%\(\w+\)s", m.id)) == sorted(
                        re.findall(r"%\(\w+\)s", m.string)
                    )


def test_catalogue_template_matches_the_code() -> None:
    from babel.messages.extract import extract_from_dir

    root = TRANSLATIONS.parent
    from babel.messages.frontend import parse_mapping_cfg

    # the files and methods of service/translations/babel.cfg, the extraction's own list
    with (TRANSLATIONS / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, _options = parse_mapping_cfg(fh)
    found = {
        msg
        for _f, _l, msg, *_ in extract_from_dir(
            root, method_map, keywords={"_": None, "_l": None, "gettext": None}
        )
    }
    from babel.messages.pofile import read_po

    pot = {m.id for m in _read(read_po, TRANSLATIONS / "messages.pot") if m.id}
    assert found == pot, "run pybabel extract/update/compile (see service/translations/babel.cfg)"


def test_metric_labels_come_from_the_policy_catalogue(app: Any, web: Any) -> None:
    """One catalogue: the rule table names each metric as models.policy.METRICS does."""
    from babel.messages.pofile import read_po

    from models.policy import METRICS

    # the web catalogue holds no copy of a metric's name
    pot = {m.id for m in _read(read_po, TRANSLATIONS / "messages.pot") if m.id}
    assert pot.isdisjoint({m.label_en for m in METRICS.values()})
    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    rules = store(app).get_assessment(aid).response["rules"]
    assert rules
    for headers, attr in ((EN, "label_en"), (ZH, "label_zh")):
        html = web.get(f"/app/assessments/{aid}", headers=headers).get_data(as_text=True)
        table = html[html.index('<table class="rules"') :]
        table = table[: table.index("</table>")]
        shown = [str(escape(getattr(METRICS[r["metric"]], attr))) for r in rules]
        assert all(label in table for label in shown), (attr, shown)
    with app.test_request_context(headers=ZH):
        from service.web.common import metric_label

        for path, metric in METRICS.items():
            assert metric_label(path) == metric.label_zh != ""
        assert metric_label("no.such.metric") == "no.such.metric"


def test_chinese_pages_have_no_untranslated_english(app: Any, web: Any) -> None:
    aid = assess_via_form(web, {**FORM, "site_name": "昌吉北风电场"}, ZH).location.rsplit("/", 1)[
        -1
    ]
    allowed = re.compile(
        r"^(P50|P90|P99|DSCR|LLCR|MWh|MWp|MW|CNY|UTC|PDF|API|CSV|Excel|PVWatts|ISO|Tab|m/s|m|km|kW|kWh|h|v\d|[A-Z]{3}/MWh|"
        r"[A-Z0-9_]+|[\w.+-]*\d[\w./@+-]*|wind_changji_v1|E-82/2300|cube|sha256|models\..*)$"
    )
    for path in (
        "/app/site",
        "/app/history",
        f"/app/assessments/{aid}",
        f"/app/assessments/{aid}/memo",
    ):
        html = web.get(path, headers=ZH).get_data(as_text=True)
        leftovers = []
        for text in visible_text(html):
            if text == "English" or text.startswith("当前用户："):  # language switch; key name
                continue
            if text == "Officer Wang":  # the key holder's name in the memo's sign-off
                continue
            for word in re.findall(r"[A-Za-z][A-Za-z0-9_./@-]*", text):
                if not allowed.match(word) and word not in ("Wind", "English"):
                    leftovers.append((word, text))
        assert leftovers == [], f"{path}: {leftovers[:10]}"


def test_locale_formats_numbers_and_dates(app: Any) -> None:
    from service import web

    with app.test_request_context(headers=ZH):
        assert web.fmt_num(1234567.891, 2) == "1,234,567.89"
        assert web.fmt_pct(0.0123, 2) == "1.23 %"
        assert "2024年3月5日" in web.fmt_time("2024-03-05T10:20:30Z")
    with app.test_request_context(headers={"Accept-Language": "de-DE"}):  # falls back to English
        assert web.fmt_time("2024-03-05T10:20:30Z").startswith("Mar 5, 2024")
        assert web.fmt_num(None) == "–" and web.fmt_num(float("nan")) == "–"


# ----------------------------------------------------------------------------- charts


@settings(max_examples=200, deadline=None)
@given(
    lo=st.floats(-1e6, 1e6, allow_nan=False),
    span=st.floats(1e-3, 1e6, allow_nan=False),
    n=st.integers(2, 10),
)
def test_nice_ticks_cover_range_with_round_equal_steps(lo: float, span: float, n: int) -> None:
    hi = lo + span
    ticks = charts.nice_ticks(lo, hi, n)
    assert ticks[0] <= lo + 1e-9 * max(1.0, abs(lo)) and ticks[-1] >= hi - 1e-9 * max(1.0, abs(hi))
    steps = np.diff(ticks)
    step = float(steps[0])
    assert np.allclose(steps, step, rtol=1e-6, atol=1e-9 * max(1.0, abs(hi)))
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1.0, 2.0, 2.5, 5.0, 10.0))
    assert len(ticks) <= 2 * n + 2


def _fmt(v: float, d: int) -> str:
    return f"{v:.{d}f}"


def test_years_chart_marks_missing_and_low_years() -> None:
    chart = charts.years_chart(
        {"2020": 6.8, "2021": None, "2022": 6.2, "2023": 7.0},
        title="wind",
        unit="m/s",
        labels={"na": "n/a"},
        fmt=_fmt,
        threshold=6.5,
        trailing_mean=6.6,
        trailing_years=[2020, 2022, 2023],
    )
    bars = [
        s
        for s in chart.shapes
        if isinstance(s, charts.Rect)
        and s.fill in (charts.PALETTE["bar"], charts.PALETTE["bar_low"])
        and s.w > 12
    ]
    assert len(bars) == 3  # no bar for the year without data
    assert [b.fill == charts.PALETTE["bar_low"] for b in sorted(bars, key=lambda b: b.x)] == [
        False,
        True,
        False,
    ]
    texts = [s.text for s in chart.shapes if isinstance(s, charts.Text)]
    assert "n/a" in texts and "6.5" in " ".join(texts)
    # bar tops are proportional to the values on the y axis
    b0, b1 = sorted(bars, key=lambda b: b.x)[:2]
    base = b0.y + b0.h
    assert base == pytest.approx(b1.y + b1.h)
    assert "2021: n/a" in chart.description


def test_dscr_chart_uses_monte_carlo_fan_when_stored() -> None:
    rows = [{"year": k, "p50": 1.4, "p90": 1.2, "p99": 1.0} for k in range(1, 6)]
    fan = [{"year": k, "q10": 1.1, "q50": 1.35, "q90": 1.6} for k in range(1, 6)]
    labels = {"fan": "MC", "band": "BAND"}
    with_fan = charts.dscr_chart(rows, covenant=1.2, fan=fan, title="t", labels=labels, fmt=_fmt)
    without = charts.dscr_chart(rows, covenant=1.2, fan=None, title="t", labels=labels, fmt=_fmt)
    texts = lambda c: [s.text for s in c.shapes if isinstance(s, charts.Text)]  # noqa: E731
    assert "MC" in texts(with_fan) and "BAND" in texts(without)
    poly = next(s for s in with_fan.shapes if isinstance(s, charts.Polygon))
    assert len(poly.points) == 10


def test_svg_is_well_formed_and_accessible() -> None:
    chart = charts.energy_chart(
        {"2020": 100.0, "2021": None, "2022": 120.0},
        p50=110.0,
        p90=95.0,
        p99=80.0,
        title="E <&>",
        labels={},
        fmt=_fmt,
    )
    svg = charts.to_svg(chart, element_id="c1")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title"
    assert root.find(f"{ns}title").text == "E <&>"
    assert len(root.findall(f"{ns}rect")) >= 2


def test_svg_escapes_every_text_it_carries() -> None:
    """The SVG that result_charts marks safe (``Markup``) carries its texts as text only."""
    evil = '<script>alert("x")</script>&"'
    shapes = (
        charts.Line(((0.0, 0.0), (10.0, 10.0)), "#000000"),
        charts.Polygon(((0.0, 0.0), (5.0, 0.0), (5.0, 5.0)), "#111111"),
        charts.Rect(1.0, 1.0, 2.0, 2.0, "#222222", "#333333"),
        charts.Circle(3.0, 3.0, 1.0, "#444444", "#555555"),
        charts.Text(4.0, 4.0, evil, anchor=evil, bold=True, rotate=-90.0),
    )
    chart = charts.Chart(100.0, 50.0, evil, evil, shapes)
    svg = charts.to_svg(chart, element_id=evil)
    root = ET.fromstring(svg)  # well-formed: no quote or bracket broke out of its place
    ns = "{http://www.w3.org/2000/svg}"
    tags = {el.tag.removeprefix(ns) for el in root.iter()}
    assert tags == {"svg", "title", "desc", "polyline", "polygon", "rect", "circle", "text"}
    assert root.get("id") == evil and root.find(f"{ns}title").text == evil
    assert root.find(f"{ns}desc").text == evil and root.find(f"{ns}text").text == evil
    assert root.find(f"{ns}text").get("text-anchor") == "start"  # an unknown anchor falls back
    assert "<script" not in svg


def test_pd_chart_places_marker_on_log_scale() -> None:
    from models.risk import GRADE_PD_UPPER_BOUNDS

    def marker_x(pd: float) -> float:
        c = charts.pd_chart(
            pd,
            bounds=GRADE_PD_UPPER_BOUNDS,
            grade_names={},
            title="pd",
            fmt_pct=lambda p: f"{p:.2%}",
        )
        return next(s for s in c.shapes if isinstance(s, charts.Polygon)).points[2][0]

    left, right = 20.0, 540.0
    # 1e-4 .. 1 spans four decades: 1e-2 sits half-way
    assert marker_x(1e-2) == pytest.approx((left + right) / 2)
    assert marker_x(1e-4) == pytest.approx(left) and marker_x(1.0) == pytest.approx(right)


def test_viridis_end_points() -> None:
    from service.tiles import colour_hex as colour

    # matplotlib's viridis at 0 and 1: #440154 and #fde725
    assert colour(0.0) == "#440154" and colour(1.0) == "#fde725"
    assert colour(-1) == colour(0.0) and colour(2) == colour(1.0)


def test_pages_json_free_of_nan(web: Any) -> None:
    """The map of a layer with no-data cells renders them grey, never as numbers."""
    html = web.get("/app/site?layer=iav").get_data(as_text=True)
    assert "nan" not in re.sub(r"<[^>]+>", " ", html).lower().split()


# ------------------------------------------------- issue 10: sigma parts, sizing, wind trend


def _issue10_object(trend: float, p_value: float) -> dict[str, Any]:
    return {
        "climate": {"wind": {"trend_pct_per_decade": trend, "trend_p_value": p_value}},
        "energy": {
            "sigma_components": {
                "iav_1y": 0.124,
                "lt_mean": 0.0506,
                "model": 0.08,
                "total_1y": 0.156,
                "total_10y": 0.1025,
                "n_record_years": 6,
            }
        },
        "repayment": {
            "dscr_p90_1y_min": 0.9958,
            "dscr_p99_1y_min": 0.5836,
            "sizing": {
                "binding_rule": "dscr_p99_1y",
                "binding_case": "p99_1y",
                "binding_target": 1.0,
            },
        },
    }


@pytest.mark.parametrize("headers", [EN, ZH])
def test_result_figures_show_sigma_parts_sizing_and_a_falling_trend(
    app: Any, headers: dict[str, str]
) -> None:
    with app.test_request_context("/app/", headers=headers):
        falling = web_figures.risk_figures(_issue10_object(-9.8, 0.03))
        flat = web_figures.risk_figures(_issue10_object(-9.8, 0.6))
        rising = web_figures.risk_figures(_issue10_object(4.0, 0.01))
    text = " ".join(f"{a} {b}" for a, b in falling["extra_figures"])
    assert "5.1" in text and "8.0" in text and "15.6" in text and "10.2" in text
    assert "dscr_p99_1y" in text and "0.58" in text
    assert len(falling["climate_notes"]) == 1 and "9.8" in falling["climate_notes"][0]
    word = "下降" if headers is ZH else "falling"
    assert word in falling["climate_notes"][0]
    assert flat["climate_notes"] == [] and rising["climate_notes"] == []
    # an assessment stored before these fields existed shows none of them
    with app.test_request_context("/app/", headers=headers):
        assert web_figures.risk_figures({}) == {"extra_figures": [], "climate_notes": []}
