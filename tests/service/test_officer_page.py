"""The officers' result page and memo: glossary (page and links from each term), project cost
and the scorecard PD (value, why missing, which PD the product uses), the synthetic-data
watermark, and the memo's sign-off, words for results and embedded fonts (HTML and PDF, web
and API)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from markupsafe import escape

from service import glossary
from tests.service.conftest import WIND_REQUEST, new_key
from tests.service.test_web import EN, FORM, ZH, assess_via_form, login, store


@pytest.fixture
def web(app: Any) -> Any:
    client = app.test_client()
    login(client, new_key(app, "officer", "Officer Wang"))
    return client


def pdf_text(data: bytes) -> list[str]:
    """Text of each page of a PDF (pypdf decodes the embedded subsets' ToUnicode maps)."""
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def pdf_fonts(data: bytes) -> list[tuple[str, bool]]:
    """Every font of a PDF: (base name, embedded), as ``pdffonts`` lists them."""
    from pypdf import PdfReader

    out: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        fonts = (page.get("/Resources") or {}).get("/Font") or {}
        for ref in fonts.values():
            font = ref.get_object()
            desc = font.get("/FontDescriptor")
            if desc is None and "/DescendantFonts" in font:
                desc = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            desc = desc.get_object() if desc is not None else {}
            embedded = any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            out[str(font["/BaseFont"])] = embedded
    return sorted(out.items())


# ----------------------------------------------------------------------------- glossary


def test_glossary_has_every_term_in_both_languages(client: Any) -> None:
    ids = [t.id for t in glossary.entries()]
    assert {"iav", "p50", "p90", "p99", "dscr", "llcr", "dsra", "grade", "pd", "lgd", "el"} <= set(
        ids
    )
    for t in glossary.entries():
        assert t.name_en and t.name_zh and len(t.text_en) > 40 and len(t.text_zh) > 15
        assert re.search(r"[\u4e00-\u9fff]", t.text_zh) and not re.search(
            r"[\u4e00-\u9fff]", t.text_en
        )
    # open to everyone (no figures on it), one anchor per term, no script needed
    en = client.get("/app/glossary", headers=EN).get_data(as_text=True)
    zh = client.get("/app/glossary", headers=ZH).get_data(as_text=True)
    for t in glossary.entries():
        assert f'id="{t.id}"' in en and escape(t.text_en) in en and escape(t.text_zh) in zh
    assert "<script" not in en.split("</main>")[0]


def test_each_term_on_the_result_page_links_to_its_entry(app: Any, web: Any) -> None:
    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    a = store(app).get_assessment(aid).response
    html = web.get(f"/app/assessments/{aid}", headers=EN).get_data(as_text=True)
    links = re.findall(
        r'<a class="term" href="/app/glossary#(\w+)" title="([^"]+)">([^<]+)</a>', html
    )
    linked = {term for term, _title, _text in links}
    assert {"p50", "p90", "p99", "iav", "dscr", "llcr", "pd", "grade", "el"} <= linked
    # every rule whose metric has an entry links to it, from its label in the rules table
    for rule in a["rules"]:
        term = glossary.term_for(rule["metric"])
        if term is not None:
            assert any(t == term.id for t, _, _ in links)
    assert ("dscr", "Debt service coverage ratio", "Minimum DSCR at P50 energy") in links
    # the memo links to its own printed glossary (works on paper and offline)
    memo = web.get(f"/app/assessments/{aid}/memo", headers=ZH).get_data(as_text=True)
    assert '<a class="term" href="#g-dscr" title="偿债覆盖率">' in memo
    assert 'id="g-dscr"' in memo and glossary.term_for("dscr").text_zh in memo  # type: ignore[union-attr]


def test_figures_in_one_form_on_the_page(app: Any, web: Any) -> None:
    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    a = store(app).get_assessment(aid).response
    html = web.get(f"/app/assessments/{aid}", headers=EN).get_data(as_text=True)
    iav = a["climate"]["wind"]["iav"]
    assert f"{iav * 100:.1f} %" in html  # IAV as a percentage, one decimal
    assert f"{a['repayment']['dscr_p90_min']:.2f}×" in html
    assert "P90 annual energy (1 year)" in html and "P90 annual energy (10-year average)" in html
    assert "P90 (1-year)" in html  # the energy chart's legend names the basis


# ----------------------------------------------------------------------------- scorecard PD


def test_project_cost_gives_the_scorecard_pd_and_the_page_says_which_pd_is_used(
    app: Any, web: Any
) -> None:
    r = assess_via_form(web, {**FORM, "project_cost": "260000000"})
    assert r.status_code == 303
    record = store(app).get_assessment(r.location.rsplit("/", 1)[-1])
    assert record.request["finance"]["project_cost"] == 260_000_000
    rep = record.response["repayment"]
    assert rep["pd_scorecard"] is not None and rep["pd_annual"] is not None
    html = web.get(r.location, headers=EN).get_data(as_text=True)
    assert 'id="scorecard-value"' in html and 'id="scorecard-missing"' not in html
    # the Changji product's rules use repayment.pd_annual: the Monte Carlo PD
    assert any(x["metric"] == "repayment.pd_annual" for x in record.response["rules"])
    assert "The lending product&#39;s rules use the Monte Carlo PD" in html
    zh = web.get(r.location, headers=ZH).get_data(as_text=True)
    assert "该贷款产品的规则使用蒙特卡洛违约概率" in zh


def test_without_project_cost_the_page_says_why_there_is_no_scorecard_pd(
    app: Any, web: Any
) -> None:
    r = assess_via_form(web)
    record = store(app).get_assessment(r.location.rsplit("/", 1)[-1])
    assert record.response["repayment"]["pd_scorecard"] is None
    html = web.get(r.location, headers=EN).get_data(as_text=True)
    missing = re.search(r'<p id="scorecard-missing">(.*?)</p>', html, re.S)
    assert missing and "could not be computed" in missing.group(1)
    assert "no total project cost was given" in missing.group(1)
    zh = web.get(r.location, headers=ZH).get_data(as_text=True)
    assert "无法计算评分卡违约概率" in zh and "未填写项目总投资" in zh


def test_project_cost_below_the_loan_is_refused_next_to_the_field(app: Any, web: Any) -> None:
    html = assess_via_form(web, {**FORM, "project_cost": "1000"}, ZH).get_data(as_text=True)
    assert re.search(r'id="project_cost-error" role="alert">项目总投资不得低于贷款金额。<', html)
    assert store(app).list_assessments()[1] == 0


@pytest.mark.parametrize(
    ("metrics", "uses"),
    [
        ({"repayment.pd_annual"}, "monte_carlo"),
        ({"repayment.pd_scorecard"}, "scorecard"),
        ({"repayment.pd_annual", "repayment.pd_scorecard"}, "both"),
        ({"climate.complete_years"}, "none"),
    ],
)
def test_which_pd_the_policy_uses(app: Any, metrics: set[str], uses: str) -> None:
    from service.web.results import scorecard_view

    a = {
        "rules": [{"metric": m} for m in metrics],
        "repayment": {"pd_annual": 0.01, "pd_scorecard": 0.02, "scorecard": {"features": {}}},
    }
    with app.test_request_context(headers=EN):
        view = scorecard_view(a)
    assert view["policy_uses"] == uses and view["both"] is True


# ----------------------------------------------------------------------------- watermark


def test_synthetic_watermark_on_the_result_page_and_every_memo_page(app: Any, web: Any) -> None:
    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    assert store(app).get_assessment(aid).response["climate"]["dataset"]["synthetic"] is True
    for path in (f"/app/assessments/{aid}", f"/app/assessments/{aid}/memo"):
        html = web.get(path, headers=EN).get_data(as_text=True)
        assert 'id="synthetic-banner"' in html and 'id="synthetic-watermark"' in html
        assert "Synthetic data — not for lending" in html
    pdf = web.get(f"/app/assessments/{aid}/memo.pdf", headers=EN).data
    pages = pdf_text(pdf)
    assert len(pages) >= 2 and all("Synthetic data — not for lending" in p for p in pages)


def test_no_watermark_on_real_data(app: Any, web: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from service.web import results as web_results

    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    extras = web_results.result_extras
    monkeypatch.setattr(
        web_results, "result_extras", lambda record, a: {**extras(record, a), "synthetic": False}
    )
    html = web.get(f"/app/assessments/{aid}", headers=EN).get_data(as_text=True)
    assert "synthetic-watermark" not in html
    pages = pdf_text(web.get(f"/app/assessments/{aid}/memo.pdf").data)
    # the provenance box still names the dataset's flag; no page carries the watermark
    assert not any("not for lending" in p for p in pages)


# ----------------------------------------------------------------------------- memo


@pytest.mark.parametrize("headers", [ZH, EN], ids=["zh", "en"])
def test_memo_pdf_fonts_embedded_results_in_words_and_sign_off(
    app: Any, web: Any, headers: dict[str, str]
) -> None:
    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    a = store(app).get_assessment(aid).response
    pdf = web.get(f"/app/assessments/{aid}/memo.pdf", headers=headers).data
    fonts = pdf_fonts(pdf)
    assert fonts and all(embedded for _name, embedded in fonts), fonts
    assert b"/FontFile2" in pdf  # TrueType subsets
    text = "\n".join(pdf_text(pdf))
    words = {
        "zh": {"approve": "批准", "refer": "提交信贷委员会复核", "decline": "拒绝"},
        "en": {"approve": "Approve", "refer": "Refer to credit committee", "decline": "Decline"},
    }["zh" if headers is ZH else "en"]
    assert words[a["decision"]] in text
    result_word = "通过" if headers is ZH else "pass"
    assert text.count(result_word) >= sum(r["passed"] for r in a["rules"])
    assert "Officer Wang" in text and aid in text
    assert ("签核" if headers is ZH else "Sign-off") in text
    assert re.search(r"\d{4}-\d{2}-\d{2}", text)  # the sign-off date
    assert ("术语表" if headers is ZH else "Glossary") in text


def test_memo_html_sign_off(app: Any, web: Any) -> None:
    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    html = web.get(f"/app/assessments/{aid}/memo", headers=EN).get_data(as_text=True)
    assert '<dd id="signoff-officer">Officer Wang</dd>' in html
    assert re.search(r'<dd id="signoff-date">\d{4}-\d{2}-\d{2}</dd>', html)
    assert html.count(aid) >= 2


def test_memo_pdf_through_the_api(app: Any, officer: Any, admin: Any) -> None:
    client = app.test_client()
    aid = client.post("/api/v1/assessments", json=WIND_REQUEST, headers=officer).get_json()["id"]
    r = client.get(f"/api/v1/assessments/{aid}/memo.pdf", headers=officer)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"] == f'attachment; filename="credit-memo-{aid[:12]}.pdf"'
    assert all(embedded for _n, embedded in pdf_fonts(r.data))
    text = "\n".join(pdf_text(r.data))
    assert "Officer Test" in text and "Credit memo" in text  # the key holder who assessed it
    # an admin reading it still sees the assessing officer; Chinese by Accept-Language
    r = client.get(f"/api/v1/assessments/{aid}/memo.pdf", headers={**admin, **ZH})
    text = "\n".join(pdf_text(r.data))
    assert "Officer Test" in text and "授信备忘录" in text and "Admin Test" not in text


def test_history_shows_key_figures_in_the_same_form(app: Any, web: Any) -> None:
    from service import formatting

    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    rep = store(app).get_assessment(aid).response["repayment"]
    html = web.get("/app/history", headers=EN).get_data(as_text=True)
    assert formatting.ratio(rep["dscr_p90_min"]) in html
    assert formatting.probability(rep["pd_annual"]) in html
    assert "200,000,000 CNY" in html
