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
