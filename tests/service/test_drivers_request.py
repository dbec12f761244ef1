"""Risk-driver fields of the assessment request: validation, defaults, API round trip."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from service import schemas
from service.errors import UsageError
from service.requests import parse_request, to_model_inputs
from tests.service.conftest import WIND_REQUEST
from tests.service.test_api import V1, assert_problem, post_json
from tests.service.test_web import EN, ZH, assess_via_form, officer_key, web

__all__ = ["officer_key", "web"]  # fixtures of the page tests, used here too


def with_fields(**parts: dict[str, Any]) -> dict[str, Any]:
    req = copy.deepcopy(WIND_REQUEST)
    for section, values in parts.items():
        req[section].update(values)
    return req


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("project", {"curtailment": {"mean_pct": 100.0}}, "project.curtailment.mean_pct: "),
        ("project", {"curtailment": {"mean_pct": -1.0}}, "project.curtailment.mean_pct: "),
        (
            "project",
            {"curtailment": {"mean_pct": 5.0, "sd_pct": 60.0}},
            "project.curtailment.sd_pct: Input should be less than or equal to 50",
        ),
        (
            "project",
            {"curtailment": {"mean_pct": 5.0, "persistent_share": 1.5}},
            "project.curtailment.persistent_share: ",
        ),
        ("project", {"curtailment": {"sd_pct": 3.0}}, "project.curtailment.mean_pct: required"),
        (
            "project",
            {"curtailment": {"mean_pct": 5.0, "regime": 2}},
            "project.curtailment.regime: unknown field",
        ),
        ("project", {"availability_sd_pct": 12.0}, "project.availability_sd_pct: "),
        ("project", {"ageing_pct_per_year": 10.0}, "project.ageing_pct_per_year: "),
        ("project", {"energy_trend_pct_per_year": -20.0}, "project.energy_trend_pct_per_year: "),
        ("finance", {"merchant_share_pct": 120.0}, "finance.merchant_share_pct: "),
        ("finance", {"price_sd_pct": -5.0}, "finance.price_sd_pct: "),
        ("finance", {"price_wind_corr": -1.2}, "finance.price_wind_corr: "),
        ("finance", {"opex_sd_pct": "10"}, "finance.opex_sd_pct: "),
    ],
)
def test_bad_driver_fields_name_the_field(
    section: str, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError) as info:
        parse_request(with_fields(**{section: values}))
    assert message in str(info.value)


def test_ageing_is_for_wind_only() -> None:
    req = {
        **WIND_REQUEST,
        "project": {"technology": "solar", "capacity_mw": 100.0, "ageing_pct_per_year": 0.5},
    }
    with pytest.raises(UsageError, match=r"project\.ageing_pct_per_year: applies to wind"):
        parse_request(req)


def test_driver_fields_reach_the_model_and_omitted_ones_are_left_to_the_policy() -> None:
    req = with_fields(
        project={"curtailment": {"mean_pct": 12.0}, "ageing_pct_per_year": 1.6},
        finance={"merchant_share_pct": 40.0, "price_wind_corr": -0.4},
    )
    inputs = to_model_inputs(parse_request(req))
    assert inputs.driver_overrides == {
        "curtailment": {"mean_pct": 12.0},
        "ageing_pct_per_year": 1.6,
        "merchant_share_pct": 40.0,
        "price_wind_corr": -0.4,
    }
    assert to_model_inputs(parse_request(WIND_REQUEST)).driver_overrides == {}


def test_api_422_names_the_driver_field(client: Any, officer: dict[str, str]) -> None:
    r = post_json(
        client, f"{V1}/assessments", with_fields(finance={"merchant_share_pct": 150.0}), officer
    )
    body = assert_problem(r, 422, "finance.merchant_share_pct")
    assert any("100" in e["message"] for e in body["errors"])


def test_api_assessment_records_drivers_and_sensitivities(
    client: Any, officer: dict[str, str]
) -> None:
    req = with_fields(
        project={"curtailment": {"mean_pct": 8.0, "sd_pct": 5.0}},
        finance={"merchant_share_pct": 30.0},
    )
    r = post_json(client, f"{V1}/assessments", req, officer)
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    out = schemas.AssessmentOut.model_validate(body)
    assert out.risk_drivers is not None and out.sensitivities is not None
    rd = body["risk_drivers"]
    assert rd["curtailment"]["mean_pct"] == 8.0 and rd["curtailment"]["sd_pct"] == 5.0
    assert rd["sources"]["curtailment"] == "request"
    assert rd["sources"]["opex_sd_pct"].startswith("policy wind_changji_v1")
    assert rd["merchant_share_pct"] == 30.0
    ids = [c["id"] for c in body["sensitivities"]["cases"]]
    assert ids[0] == "base" and "curtailment_plus_10" in ids and "dsra_12" in ids
    assert body["sensitivities"]["cases"][0]["pd_tenor"] == body["repayment"]["pd_tenor"]
    # stored as returned
    again = client.get(f"{V1}/assessments/{body['id']}", headers=officer).get_json()
    assert again["sensitivities"] == body["sensitivities"]
    assert again["risk_drivers"] == body["risk_drivers"]


def test_openapi_documents_the_new_fields(client: Any) -> None:
    doc = client.get("/openapi.json").get_json()
    text = str(doc)
    for name in (
        "merchant_share_pct",
        "price_wind_corr",
        "CurtailmentIn",
        "SensitivitiesOut",
        "BreakEvenOut",
        "RiskDriversOut",
    ):
        assert name in text, name


# ----------------------------------------------------------------------------- page and memo


def test_tornado_chart_orders_cases_and_prints_values() -> None:
    from service.charts import Rect, Text, to_svg, tornado_chart

    cases = [
        {"id": "base", "pd_tenor": 0.05, "dscr_p90_min": 1.2},
        {"id": "small", "pd_tenor": 0.06, "dscr_p90_min": 1.15},
        {"id": "big", "pd_tenor": 0.15, "dscr_p90_min": 1.0},
        {"id": "better", "pd_tenor": 0.02, "dscr_p90_min": 1.2},
    ]
    chart = tornado_chart(
        cases,
        title="Stress",
        labels={"big": "Big", "small": "Small", "better": "Better", "base": "Base"},
        fmt_pct=lambda p: f"{100 * p:.1f}%",
        fmt=lambda v, d: f"{v:.{d}f}",
    )
    names = [s.text for s in chart.shapes if isinstance(s, Text) and s.anchor == "end"]
    assert names == ["Big", "Better", "Small"]  # longest change first
    bars = [s for s in chart.shapes if isinstance(s, Rect) and s.h > 10]
    assert [b.fill for b in bars] == ["#E69F00", "#009E73", "#E69F00"]  # worse, better, worse
    texts = [s.text for s in chart.shapes if isinstance(s, Text)]
    assert "15.0% · 1.00" in texts and "Base 5.0%" in texts
    assert bars[0].w > bars[2].w  # the big change is the long bar
    svg = to_svg(chart, element_id="chart-sensitivity")
    assert 'role="img"' in svg and "Big: 15.0% · 1.00" in svg


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_result_page_and_memo_show_the_sensitivities(app: Any, web: Any, lang: str) -> None:
    headers = ZH if lang == "zh" else EN
    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    for path in (f"/app/assessments/{aid}", f"/app/assessments/{aid}/memo"):
        html = web.get(path, headers=headers).get_data(as_text=True)
        assert 'id="chart-sensitivity"' in html
        if lang == "zh":
            assert "压力情景" in html and "弃风限电 +10个百分点" in html and "盈亏平衡点" in html
        else:
            assert "Stress cases" in html and "Curtailment +10 points" in html
            assert "Break-even (every DSCR rule still met)" in html
    pdf = web.get(f"/app/assessments/{aid}/memo.pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")


def test_memo_pdf_draws_the_tornado(app: Any, web: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from service import memo

    drawn: list[str] = []
    real = memo.draw_chart

    def spy(canvas: Any, chart: Any, *args: Any, **kwargs: Any) -> Any:
        drawn.append(chart.title)
        return real(canvas, chart, *args, **kwargs)

    monkeypatch.setattr(memo, "draw_chart", spy)
    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    assert web.get(f"/app/assessments/{aid}/memo.pdf", headers=EN).status_code == 200
    assert "Stress cases: probability of default over the tenor" in drawn
