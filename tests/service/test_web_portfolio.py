"""The portfolio page (service/web_portfolio.py): upload, progress, figures, downloads, zh/en.

A real app on SQLite with the session's NetCDF cube; the run is computed by the real
portfolio worker (:class:`service.portfolio_runs.Worker`) called in this process.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from service.api import models_folder
from service.portfolio_runs import Worker
from service.web_portfolio import contribution_class, size_legend
from tests.service.conftest import new_key
from tests.service.test_web import EN, ZH, csrf, login

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "portfolio_book.csv"


def _book(edit: dict[str, str] | None = None) -> bytes:
    with EXAMPLE.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["loan_id"] in ("PF-001", "PF-002", "PF-008")]
    rows[0].update(edit or {})
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture
def web(app: Any) -> Any:
    client = app.test_client()
    login(client, new_key(app, "officer", "Officer Portfolio"))
    return client


def _post(client: Any, book: bytes, **fields: str) -> Any:
    data = {
        "csrf_token": csrf(client, "/app/portfolio"),
        "book": (io.BytesIO(book), "book.csv"),
        **fields,
    }
    return client.post("/app/portfolio", data=data, content_type="multipart/form-data", headers=EN)


def test_signed_out_goes_to_login(client: Any) -> None:
    r = client.get("/app/portfolio", headers=EN)
    assert r.status_code == 302 and "/app/login" in r.headers["Location"]


def test_bad_book_is_shown_cell_by_cell(web: Any) -> None:
    r = _post(web, _book({"finance.tenor_years": "45", "site.lat": "x"}), paths="300")
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "no loan was assessed" in html
    assert "row 1, column site.lat: &#39;x&#39; is not a number" in html
    assert _post(web, _book(), paths="1").status_code == 422
    r = web.post(
        "/app/portfolio",
        data={"book": (io.BytesIO(_book()), "book.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400  # no CSRF token


def test_upload_progress_result_and_downloads(app: Any, web: Any, cube_path: Path) -> None:
    r = _post(web, _book(), paths="300", seed="4", npl_tolerance_pct="2")
    assert r.status_code == 303, r.get_data(as_text=True)[:2000]
    url = r.headers["Location"]
    page = web.get(url, headers=EN).get_data(as_text=True)
    assert 'data-status="queued"' in page and 'http-equiv="refresh"' in page
    assert "0 of 3 loans assessed" in page

    st = app.extensions["climate_loan"]
    worker = Worker(
        st.store,
        cube_path,
        st.cube.dataset.sha256,
        models_folder(st.config),
        workers=1,
    )
    assert worker.run_next() is True
    assert worker.run_next() is False  # nothing left

    page = web.get(url, headers=EN).get_data(as_text=True)
    assert 'data-status="done"' in page and 'http-equiv="refresh"' not in page
    assert "3 of 3 loans assessed" in page
    assert '<svg viewBox="0 0 640 240"' in page and 'id="loss-chart"' in page
    npl = re.search(r'<tr id="pf-npl">(.*?)</tr>', page, re.S)
    assert npl is not None and "exceeds 2.0 %" in npl.group(1)
    regions = re.search(r'<table id="pf-regions">(.*?)</table>', page, re.S)
    assert regions is not None
    assert {"Changji", "Urumqi", "Fukang"} <= set(re.findall(r"<td>(\w+)</td>", regions.group(1)))

    zh = web.get(url, headers=ZH).get_data(as_text=True)
    assert "组合损失" in zh and "共用气候年份" in zh and "各地区的贡献" in zh

    csv_r = web.get(url + "/export.csv")
    assert csv_r.status_code == 200 and csv_r.mimetype == "text/csv"
    lines = csv_r.get_data().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("row,loan_id,assessment_id") and len(lines) == 4
    xlsx = web.get(url + "/export.xlsx")
    assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"

    other = app.test_client()
    login(other, new_key(app, "officer", "Another Officer"))
    assert other.get(url, headers=EN).status_code == 404
    assert other.get(url + "/export.csv").status_code == 404


def test_the_page_is_in_chinese(web: Any) -> None:
    html = web.get("/app/portfolio", headers=ZH).get_data(as_text=True)
    assert "贷款清单（.csv 或 .parquet）" in html and "评估贷款组合" in html
    assert 'aria-current="page">贷款组合</a>' in html


def book_with_twin() -> bytes:
    """The three loans of :func:`_book` and a fourth, ``PF-002B``, at PF-002's site.

    PF-001 and PF-008 are moved so that each has a cell of its own in the test cube (cells of
    0.5 degrees at 44.0/44.5 N, 87.0/87.5 E; the three example sites share 44.0 N 87.5 E).
    """
    text = _book().decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    rows[0].update({"site.lat": "44.45", "site.lon": "87.05"})
    rows[2].update({"site.lat": "44.4", "site.lon": "87.45"})
    twin = dict(rows[1], loan_id="PF-002B", exposure="20000000")
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows([*rows, twin])
    return out.getvalue().encode()


def test_contribution_classes_and_circle_sizes() -> None:
    # hand cases at and around the class bounds 5 %, 15 %, 30 %
    cases = {0.0: 1, 0.0499: 1, 0.05: 2, 0.1499: 2, 0.15: 3, 0.2999: 3, 0.30: 4, 1.0: 4}
    assert {s: contribution_class(s) for s in cases} == cases
    sizes = size_legend(8.0e7)
    assert [s["exposure"] for s in sizes] == [8.0e7, 2.0e7, 5.0e6]
    # area proportional to exposure: (r_k / r_0)^2 == e_k / e_0
    for s in sizes:
        assert (s["radius"] / sizes[0]["radius"]) ** 2 == pytest.approx(s["exposure"] / 8.0e7)


def test_map_of_a_finished_run(app: Any, web: Any, client: Any, cube_path: Path) -> None:
    r = _post(web, book_with_twin(), paths="300", seed="5")
    assert r.status_code == 303, r.get_data(as_text=True)[:2000]
    url = r.headers["Location"]
    queued = web.get(url + "/map.json")
    assert queued.status_code == 409 and queued.mimetype == "application/problem+json"
    assert "queued" in queued.get_json()["detail"]
    assert 'id="portfolio-map"' not in web.get(url, headers=EN).get_data(as_text=True)

    st = app.extensions["climate_loan"]
    worker = Worker(
        st.store, cube_path, st.cube.dataset.sha256, models_folder(st.config), workers=1
    )
    assert worker.run_next() is True
    loans = {
        row["loan_id"]: row
        for row in csv.DictReader(
            io.StringIO(web.get(url + "/export.csv").get_data().decode("utf-8-sig"))
        )
    }
    assert set(loans) == {"PF-001", "PF-002", "PF-002B", "PF-008"}

    m = web.get(url + "/map.json")
    assert m.status_code == 200, m.get_data(as_text=True)
    data = m.get_json()
    points = {tuple(p["loan_ids"]): p for p in data["points"]}
    # the twin shares PF-002's cell: one circle for the two, with their summed exposure
    assert set(points) == {("PF-001",), ("PF-002", "PF-002B"), ("PF-008",)}
    assert [p["exposure"] for p in data["points"]] == sorted(
        (p["exposure"] for p in data["points"]), reverse=True
    )
    total = sum(float(row["var_contribution"]) for row in loans.values())
    assert total > 0
    for ids, p in points.items():
        exposure = sum(float(loans[i]["exposure"]) for i in ids)
        contribution = sum(float(loans[i]["var_contribution"]) for i in ids)
        assert p["exposure"] == pytest.approx(exposure, rel=1e-12)
        assert p["share"] == pytest.approx(contribution / total, rel=1e-9)
        assert p["class"] == 1 + sum(p["share"] >= b for b in (0.05, 0.15, 0.30))
    assert points[("PF-002", "PF-002B")]["exposure"] == pytest.approx(
        float(loans["PF-002"]["exposure"]) + 2.0e7
    )
    # a site of its own keeps its coordinates (examples/portfolio_book.csv)
    assert (points[("PF-001",)]["lat"], points[("PF-001",)]["lon"]) == (44.45, 87.05)
    assert sum(p["share"] for p in points.values()) == pytest.approx(1.0, abs=1e-9)

    page = web.get(url, headers=EN).get_data(as_text=True)
    assert 'id="portfolio-map"' in page and "/map.json" in page
    assert "Circle area: exposure at the site" in page
    assert page.count("<circle") == 3 + 4  # three reference sizes, four classes
    assert "4: 30 % or more" in page and "portfolio_map.js" in page
    zh = web.get(url, headers=ZH).get_data(as_text=True)
    assert "风险敞口与贡献地图" in zh

    # scoped like the run: another officer gets 404, a signed-out caller 401 (problem+json)
    other = app.test_client()
    login(other, new_key(app, "officer", "Another Officer"))
    for c, status in ((other, 404), (client, 401)):
        r = c.get(url + "/map.json")
        assert r.status_code == status and r.mimetype == "application/problem+json"
