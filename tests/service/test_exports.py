"""CSV and Excel exports: parsed back and compared with the stored assessment object; the web
links and API endpoints with their scoping (own or admin) and the history page's filters;
guard against CSV/formula injection."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from service import exports
from tests.service.conftest import WIND_REQUEST, new_key
from tests.service.test_web import EN, FORM, assess_via_form, login


def _csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8 (Chinese names)
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.DictReader(io.StringIO(text)))


def _xlsx(data: bytes) -> dict[str, list[list[Any]]]:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def _num(text: str) -> float | None:
    return None if text == "" else float(text)


def _post(app: Any, key: str, **finance: Any) -> dict[str, Any]:
    body = {**WIND_REQUEST, "finance": {**WIND_REQUEST["finance"], **finance}}
    r = app.test_client().post("/api/v1/assessments", json=body, headers={"X-API-Key": key})
    assert r.status_code == 201, r.get_data(as_text=True)
    out: dict[str, Any] = r.get_json()
    return out


# ----------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Changji", "Changji"),
        ("昌吉", "昌吉"),
        (-1.5, -1.5),
        (3, 3),
        (True, True),
        (None, None),
        (float("nan"), None),
    ],
)
def test_safe_cell_guards_text_not_numbers(value: Any, expected: Any) -> None:
    assert exports.safe_cell(value) == expected


def test_assessment_csv_and_xlsx_parse_back_to_the_stored_object(app: Any, officer: Any) -> None:
    a = _post(app, officer["X-API-Key"], project_cost=9_000_000)
    client = app.test_client()
    r = client.get(f"/api/v1/assessments/{a['id']}/export.csv", headers=officer)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"] == (
        f'attachment; filename="assessment-{a["id"][:12]}.csv"'
    )
    rows = _csv(r.data)
    assert list(rows[0]) == list(exports.ASSESSMENT_HEADER)
    by = {(row["section"], row["key"], row["year"]): row for row in rows}
    assert by[("assessment", "id", "")]["value"] == a["id"]
    assert by[("assessment", "decision", "")]["value"] == a["decision"]
    assert by[("assessment", "synthetic_data", "")]["value"] == "true"
    for rule in a["rules"]:
        rid = rule["id"]
        assert _num(by[("rule", f"{rid}.value", "")]["value"]) == rule["value"]
        assert _num(by[("rule", f"{rid}.threshold", "")]["value"]) == rule["threshold"]
        assert by[("rule", f"{rid}.passed", "")]["value"] == str(rule["passed"]).lower()
        assert by[("rule", f"{rid}.metric", "")]["value"] == rule["metric"]
    e, rep = a["energy"], a["repayment"]
    for key in ("p50_mwh", "p90_mwh", "p90_10y_mwh", "p99_mwh", "sigma"):
        assert _num(by[("energy", key, "")]["value"]) == e[key]
    for year, mwh in e["annual_mwh"].items():
        assert _num(by[("energy", "annual_mwh", year)]["value"]) == mwh
    assert _num(by[("energy", "wind_iav", "")]["value"]) == a["climate"]["wind"]["iav"]
    for key in ("dscr_p50_min", "dscr_p90_min", "dscr_p99_min", "llcr", "pd_annual", "pd_tenor"):
        assert _num(by[("repayment", key, "")]["value"]) == rep[key]
    assert _num(by[("repayment", "pd_scorecard", "")]["value"]) == rep["pd_scorecard"]
    assert by[("repayment", "grade", "")]["value"] == rep["grade"]
    assert len(rep["dscr_by_year"]) == rep["tenor_years"]
    for row in rep["dscr_by_year"]:
        y = str(row["year"])
        for key in ("p50", "p90", "p99", "cfads_p50", "debt_service", "closing_balance"):
            assert _num(by[("dscr", key, y)]["value"]) == row[key]

    # the workbook: the same table, plus Rules and DSCR by year
    r = client.get(f"/api/v1/assessments/{a['id']}/export.xlsx", headers=officer)
    assert r.status_code == 200 and r.mimetype == exports.XLSX_MIME
    sheets = _xlsx(r.data)
    assert list(sheets) == ["Assessment", "Rules", "DSCR by year"]
    table = sheets["Assessment"]
    assert tuple(table[0]) == exports.ASSESSMENT_HEADER and len(table) == len(rows) + 1
    for got, row in zip(table[1:], rows, strict=True):
        assert got[0] == row["section"] and got[1] == row["key"]
        value = row["value"]
        if isinstance(got[3], bool):
            assert str(got[3]).lower() == value
        elif isinstance(got[3], int | float):
            assert got[3] == float(value)
        else:
            assert (got[3] or "") == value
    rules = sheets["Rules"]
    assert rules[0][:5] == ["id", "metric", "operator", "value", "threshold"]
    assert [r_[0] for r_ in rules[1:]] == [rule["id"] for rule in a["rules"]]
    assert [r_[3] for r_ in rules[1:]] == [rule["value"] for rule in a["rules"]]
    dscr = sheets["DSCR by year"]
    assert [r_[2] for r_ in dscr[1:]] == [row["p90"] for row in rep["dscr_by_year"]]


def test_formula_in_a_site_name_is_text_in_csv_and_excel(app: Any, officer: Any) -> None:
    body = {**WIND_REQUEST, "site": {**WIND_REQUEST["site"], "name": '=HYPERLINK("http://x")'}}
    client = app.test_client()
    aid = client.post("/api/v1/assessments", json=body, headers=officer).get_json()["id"]
    rows = _csv(client.get(f"/api/v1/assessments/{aid}/export.csv", headers=officer).data)
    name = next(r for r in rows if r["key"] == "site_name")["value"]
    assert name == '\'=HYPERLINK("http://x")'
    sheets = _xlsx(client.get(f"/api/v1/assessments/{aid}/export.xlsx", headers=officer).data)
    cell = next(r for r in sheets["Assessment"] if r[1] == "site_name")[3]
    assert cell == '\'=HYPERLINK("http://x")'  # a string, not a formula
    history = _csv(client.get("/api/v1/assessments/export.csv", headers=officer).data)
    assert history[0]["site_name"] == '\'=HYPERLINK("http://x")'


# ----------------------------------------------------------------------------- API scoping


def test_exports_only_for_the_owner_or_an_admin(app: Any, officer: Any, admin: Any) -> None:
    a = _post(app, officer["X-API-Key"])
    other = {"X-API-Key": new_key(app, "officer", "Officer Li")}
    client = app.test_client()
    for suffix in ("export.csv", "export.xlsx", "memo.pdf"):
        path = f"/api/v1/assessments/{a['id']}/{suffix}"
        assert client.get(path, headers=officer).status_code == 200
        assert client.get(path, headers=admin).status_code == 200
        r = client.get(path, headers=other)
        assert r.status_code == 404 and r.mimetype == "application/problem+json"
        assert client.get(path).status_code == 401
        assert client.get(f"/api/v1/assessments/nope/{suffix}", headers=admin).status_code == 404


def test_history_export_filters_and_scoping(app: Any, officer: Any, admin: Any) -> None:
    mine = _post(app, officer["X-API-Key"])
    other_key = new_key(app, "officer", "Officer Li")
    theirs = _post(app, other_key)
    client = app.test_client()
    rows = _csv(client.get("/api/v1/assessments/export.csv", headers=officer).data)
    assert [r["id"] for r in rows] == [mine["id"]]
    assert list(rows[0]) == list(exports.HISTORY_COLUMNS)
    row = rows[0]
    assert row["decision"] == mine["decision"] and row["technology"] == "wind"
    assert _num(row["dscr_p90_min"]) == mine["repayment"]["dscr_p90_min"]
    assert _num(row["pd_annual"]) == mine["repayment"]["pd_annual"]
    assert _num(row["p50_mwh"]) == mine["energy"]["p50_mwh"]
    assert row["synthetic_data"] == "true"
    # an admin sees every officer's, newest first
    rows = _csv(client.get("/api/v1/assessments/export.csv", headers=admin).data)
    assert [r["id"] for r in rows] == [theirs["id"], mine["id"]]
    # the history page's filters
    other = next(d for d in ("approve", "refer", "decline") if d != mine["decision"])
    for query, expected in (
        (f"decision={mine['decision']}", [mine["id"]]),
        (f"decision={other}", []),
        ("technology=solar", []),
        ("q=changji", [mine["id"]]),
        (f"q={mine['id'][:8]}", [mine["id"]]),
        ("from=2000-01-01&to=2000-12-31", []),
    ):
        rows = _csv(client.get(f"/api/v1/assessments/export.csv?{query}", headers=officer).data)
        assert [r["id"] for r in rows] == expected, query
    sheets = _xlsx(client.get("/api/v1/assessments/export.xlsx", headers=admin).data)
    assert tuple(sheets["History"][0]) == exports.HISTORY_COLUMNS
    assert [r[0] for r in sheets["History"][1:]] == [theirs["id"], mine["id"]]
    r = client.get("/api/v1/assessments/export.csv?decision=maybe", headers=officer)
    assert r.status_code == 422


def test_export_endpoints_are_in_the_openapi_document(client: Any) -> None:
    doc = client.get("/openapi.json").get_json()
    paths = doc["paths"]
    for path in (
        "/api/v1/assessments/{assessment_id}/memo.pdf",
        "/api/v1/assessments/{assessment_id}/export.csv",
        "/api/v1/assessments/{assessment_id}/export.xlsx",
        "/api/v1/assessments/export.csv",
        "/api/v1/assessments/export.xlsx",
    ):
        op = paths[path]["get"]
        assert op["x-required-role"] == "officer" and op["security"] == [{"ApiKeyAuth": []}]
        assert ("404" in op["responses"]) == ("{assessment_id}" in path)
    params = {p["name"] for p in paths["/api/v1/assessments/export.csv"]["get"]["parameters"]}
    assert params == {"decision", "technology", "q", "from", "to"}


# ----------------------------------------------------------------------------- web links


def test_web_export_links_of_a_result_and_of_the_history(app: Any) -> None:
    web = app.test_client()
    login(web, new_key(app, "officer", "Officer Wang"))
    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    html = web.get(f"/app/assessments/{aid}", headers=EN).get_data(as_text=True)
    assert f'href="/app/assessments/{aid}/export.csv"' in html
    assert f'href="/app/assessments/{aid}/export.xlsx"' in html
    rows = _csv(web.get(f"/app/assessments/{aid}/export.csv").data)
    assert next(r for r in rows if r["key"] == "site_name")["value"] == FORM["site_name"]
    assert "Assessment" in _xlsx(web.get(f"/app/assessments/{aid}/export.xlsx").data)
    # the history links keep the filters
    html = web.get("/app/history?technology=wind&q=changji", headers=EN).get_data(as_text=True)
    assert 'href="/app/history/export.csv?technology=wind&amp;q=changji"' in html
    rows = _csv(web.get("/app/history/export.csv?technology=wind&q=changji").data)
    assert [r["id"] for r in rows] == [aid]
    assert _csv(web.get("/app/history/export.csv?technology=solar").data) == []
    assert _xlsx(web.get("/app/history/export.xlsx").data)["History"][1][0] == aid
    # another officer's result cannot be exported; signed out: the login page
    other = app.test_client()
    login(other, new_key(app, "officer", "Officer Li"))
    assert other.get(f"/app/assessments/{aid}/export.csv").status_code == 404
    assert _csv(other.get("/app/history/export.csv").data) == []
    assert app.test_client().get("/app/history/export.csv").status_code == 302
