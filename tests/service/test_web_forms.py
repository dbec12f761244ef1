"""The site page's form takes its limits from the request models (one copy of each bound)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from service.web.forms import AssessmentForm, InRange, Limits, LocalFloat, LocalInteger
from tests.service.test_web import EN, FORM, assess_via_form, csrf, officer_key, store, web

__all__ = ["officer_key", "web"]  # fixtures of the page tests, used here too


def form_with_csrf(web: Any, **changes: str) -> dict[str, str]:
    return {**FORM, "csrf_token": csrf(web, "/app/site"), **changes}


#: Form field -> the request field it fills (model.field), as build_request sends it.
REQUEST_FIELD: dict[str, str] = {
    "lat": "SiteIn.lat",
    "lon": "SiteIn.lon",
    "capacity_mw": "ProjectIn.capacity_mw",
    "hub_height_m": "ProjectIn.hub_height_m",
    "availability_pct": "LossesIn.availability_pct",
    "wake_pct": "LossesIn.wake_pct",
    "electrical_pct": "LossesIn.electrical_pct",
    "other_pct": "LossesIn.other_pct",
    "dc_ac_ratio": "ProjectIn.dc_ac_ratio",
    "losses_pct": "ProjectIn.losses_pct",
    "degradation_pct_per_year": "ProjectIn.degradation_pct_per_year",
    "loan_amount": "FinanceIn.loan_amount",
    "tenor_years": "FinanceIn.tenor_years",
    "interest_rate_pct": "FinanceIn.interest_rate_pct",
    "tariff_per_mwh": "FinanceIn.tariff_per_mwh",
    "opex_per_year": "FinanceIn.opex_per_year",
    "project_cost": "FinanceIn.project_cost",
    "atlas_mean_wind_ms": "AtlasIn.mean_wind_ms",
    "atlas_height_m": "AtlasIn.height_m",
    "mast_height_m": "MastIn.height_m",
    # risk drivers
    "curtailment_mean_pct": "CurtailmentIn.mean_pct",
    "curtailment_sd_pct": "CurtailmentIn.sd_pct",
    "curtailment_persistent_share": "CurtailmentIn.persistent_share",
    "merchant_share_pct": "FinanceIn.merchant_share_pct",
    "price_sd_pct": "FinanceIn.price_sd_pct",
    "price_wind_corr": "FinanceIn.price_wind_corr",
    "availability_sd_pct": "ProjectIn.availability_sd_pct",
    "opex_sd_pct": "FinanceIn.opex_sd_pct",
    "ageing_pct_per_year": "ProjectIn.ageing_pct_per_year",
    "energy_trend_pct_per_year": "ProjectIn.energy_trend_pct_per_year",
}


def schema_limits(model: type[BaseModel], name: str) -> Limits:
    """The bounds of a field as the model's JSON schema states them (an independent reading)."""
    prop = model.model_json_schema()["properties"][name]
    parts = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
    assert len(parts) == 1, prop
    p = parts[0]
    return Limits(
        ge=p.get("minimum"),
        gt=p.get("exclusiveMinimum"),
        le=p.get("maximum"),
        lt=p.get("exclusiveMaximum"),
    )


def test_every_number_field_has_the_bounds_of_its_request_field(app: Any) -> None:
    with app.test_request_context(headers=EN):
        form = AssessmentForm(formdata=None)
    mapped: dict[str, str] = {}
    for name, field in form._fields.items():
        if not isinstance(field, LocalFloat | LocalInteger):
            continue
        ranges = [v for v in field.validators if isinstance(v, InRange)]
        assert len(ranges) == 1, f"{name}: bounds must come from the request model (InRange)"
        v = ranges[0]
        mapped[name] = f"{v.model.__name__}.{v.name}"
        expected = schema_limits(v.model, v.name)
        assert v.limits == expected, f"{name}: form {v.limits} != request model {expected}"
        assert expected != Limits(), f"{name}: the request field has no bounds at all"
    assert mapped == REQUEST_FIELD


def test_the_validator_follows_the_model() -> None:
    """A changed model changes the check: bounds read from Field and from an alias in a union."""
    Share = Annotated[float, Field(gt=2.0, lt=7.0)]

    class Model(BaseModel):
        closed: float = Field(ge=-1.5, le=4.0)
        share: Share | None = None

    assert InRange(Model, "closed").limits == Limits(ge=-1.5, le=4.0)
    assert InRange(Model, "share").limits == Limits(gt=2.0, lt=7.0)
    inside = InRange(Model, "share").limits
    assert [inside.contains(x) for x in (2.0, 2.001, 6.999, 7.0)] == [False, True, True, False]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("tenor_years", "31", "Enter a value from 1 to 30."),
        ("capacity_mw", "0", "Enter a value greater than zero."),
        ("capacity_mw", "10001", "Enter a value of at most 10,000."),
        ("interest_rate_pct", "100", "Enter a value below 100."),
        ("hub_height_m", "9.5", "Enter a value from 10 to 250."),
    ],
)
def test_out_of_range_messages(app: Any, field: str, value: str, message: str) -> None:
    from werkzeug.datastructures import MultiDict

    with app.test_request_context(headers=EN):
        form = AssessmentForm(formdata=MultiDict({**FORM, field: value}))
        form.validate()
        assert form._fields[field].errors == [message]


# ----------------------------------------------------------------------------- risk drivers


def _driver_rows(html: str) -> dict[str, tuple[str, str]]:
    """``{field: (value, source)}`` of the result page's table of drivers used."""
    import re

    table = html[html.index('id="drivers-table"') :]
    table = table[: table.index("</table>")]
    out = {}
    for m in re.finditer(
        r'<tr id="driver-(\w+)" data-source="(\w+)">\s*<th[^>]*>[^<]*</th>\s*'
        r'<td class="num">([^<]*)</td>',
        table,
    ):
        out[m.group(1)] = (m.group(3), m.group(2))
    return out


def test_driver_fields_reach_the_request_and_the_result_page(app: Any, web: Any) -> None:
    base = assess_via_form(web).location.rsplit("/", 1)[-1]
    data = {**FORM, "curtailment_mean_pct": "15", "price_wind_corr": "-0,5"}
    r = assess_via_form(web, data)
    assert r.status_code == 303, r.get_data(as_text=True)[:2000]
    aid = r.location.rsplit("/", 1)[-1]
    rec, ref = store(app).get_assessment(aid), store(app).get_assessment(base)
    # only what was typed goes into the request; the rest is the product's default
    assert rec.request["project"]["curtailment"] == {"mean_pct": 15.0}
    assert rec.request["finance"]["price_wind_corr"] == -0.5
    assert "curtailment" not in ref.request["project"]
    used = rec.response["risk_drivers"]
    assert used["curtailment"]["mean_pct"] == 15.0 and used["price_wind_corr"] == -0.5
    assert used["sources"]["curtailment"] == "request"
    assert ref.response["risk_drivers"]["curtailment"]["mean_pct"] == 6.0  # wind_changji_v1
    assert rec.response["repayment"]["pd_tenor"] > ref.response["repayment"]["pd_tenor"]

    rows = _driver_rows(web.get(f"/app/assessments/{aid}", headers=EN).get_data(as_text=True))
    assert rows["curtailment_mean_pct"] == ("15", "request")
    assert rows["curtailment_sd_pct"] == ("4", "policy")  # the product's default, not typed
    assert rows["price_wind_corr"] == ("-0.50", "request")
    assert rows["energy_trend_pct_per_year"] == ("0", "none")  # no product default
    assert rows["ageing_pct_per_year"] == ("0.50", "policy")


def test_driver_placeholders_are_the_product_defaults(app: Any, web: Any) -> None:
    import re

    from models.policy import load_policy

    html = web.get("/app/site", headers=EN).get_data(as_text=True)
    d = load_policy("wind_changji_v1").risk_drivers
    assert d is not None
    expected = {
        "curtailment_mean_pct": d.drivers.curtailment.mean_pct,
        "curtailment_sd_pct": d.drivers.curtailment.sd_pct,
        "price_sd_pct": d.drivers.price_sd_pct,
        "price_wind_corr": d.drivers.price_wind_corr,
        "ageing_pct_per_year": d.drivers.ageing_pct_per_year,
    }
    for field, value in expected.items():
        m = re.search(rf'<input id="{field}"[^>]*placeholder="([^"]*)"', html, re.S)
        assert m and float(m.group(1)) == value, field
    # collapsed until a driver field has an error
    assert re.search(r'<details id="risk-drivers">', html)
    bad = web.post(
        "/app/assess",
        data=form_with_csrf(web, curtailment_sd_pct="3"),
        headers=EN,
    ).get_data(as_text=True)
    assert re.search(r'<details id="risk-drivers" open>', bad)
    assert "Enter the mean curtailment too" in bad


@pytest.mark.parametrize(
    ("field", "value"), [("curtailment_mean_pct", "100"), ("price_wind_corr", "-1.5")]
)
def test_driver_out_of_range_is_a_form_error(app: Any, web: Any, field: str, value: str) -> None:
    r = web.post("/app/assess", data=form_with_csrf(web, **{field: value}), headers=EN)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert f'id="{field}-error"' in html


def test_reasons_show_values_by_unit_on_the_page_and_the_api(
    app: Any, web: Any, officer_key: str
) -> None:
    """The reasons are made once (models.policy) with units; the API and page show them as made."""
    import re

    from markupsafe import escape

    from models.policy import METRICS

    aid = assess_via_form(web).location.rsplit("/", 1)[-1]
    response = store(app).get_assessment(aid).response
    by_rule = {r["id"]: r for r in response["rules"]}
    reasons = response["reasons"]
    assert reasons
    patterns = {
        "probability": r"is \d+(\.\d\d)? %; the product requires at most \d+(\.\d\d)? %",
        "ratio": r"is \d\.\d\d+×; the product requires at least \d\.\d\d+×",
        "spread": r"is \d+\.\d+ %; the product requires at most \d+\.\d+ %",
    }
    kinds = set()
    for reason in reasons:
        metric = by_rule[reason["rule"]]["metric"]
        kind = METRICS[metric].display
        if kind in patterns:
            kinds.add(kind)
            assert re.search(patterns[kind], reason["message"]), reason["message"]
    assert {"probability", "ratio"} <= kinds  # the test loan fails a PD and a DSCR rule
    html = web.get(f"/app/assessments/{aid}", headers=EN).get_data(as_text=True)
    api = web.get(f"/api/v1/assessments/{aid}", headers={"X-API-Key": officer_key}).get_json()
    for reason in reasons:
        assert str(escape(reason["message"])) in html
    assert api["reasons"] == reasons


# ----------------------------------------------------------------------------- model basis


def test_model_basis_is_translated_from_the_stored_figures(app: Any, web: Any) -> None:
    """The zh page says where σ_model comes from in Chinese; the en page says what models said."""
    from markupsafe import escape

    from tests.service.test_web import ZH

    atlas = {"atlas_mean_wind_ms": "7.1", "atlas_height_m": "80", "atlas_source": "GWA 3.3"}
    r = assess_via_form(web, {**FORM, **atlas})
    assert r.status_code == 303, r.get_data(as_text=True)[:2000]
    aid = r.location.rsplit("/", 1)[-1]
    ev = store(app).get_assessment(aid).response["energy"]["evidence"]
    basis = ev["model_basis"]
    assert ", with " in basis  # 80 m atlas to a 100 m hub: the vertical term is part of it
    en = web.get(f"/app/assessments/{aid}", headers=EN).get_data(as_text=True)
    assert str(escape(basis)) in en  # the web's English words are exactly the model's
    zh = web.get(f"/app/assessments/{aid}", headers=ZH).get_data(as_text=True)
    assert str(escape(basis)) not in zh
    sigma = f"{100 * ev['sigma_parts']['atlas']:.1f} %"
    assert f"按风能图谱均值校准：默认 {sigma}" in zh
    assert "将图谱均值从 80 米换算到 100 米" in zh


def test_model_basis_of_a_mast(app: Any) -> None:
    from service.web.figures import model_basis_text
    from tests.service.test_web import ZH

    ev = {
        "method": "mcp",
        "model_basis": "stored text",
        "sigma_parts": {
            "measurement": 0.025,
            "mcp": 0.0123,
            "vertical": 0.01,
            "energy_sensitivity": 1.734,
            "plant": 0.03,
        },
        "mcp": {"method": "variance_ratio", "concurrent_months": 24, "r_squared": 0.9612},
    }
    with app.test_request_context(headers=EN):
        assert model_basis_text(ev, 100.0) == (
            "on-site mast, MCP (variance ratio, 24 months, R² 0.96): wind speed 2.5 % "
            "measurement (IEC 61400-12-1), 1.2 % MCP fit, 1.0 % vertical extrapolation, times "
            "energy sensitivity 1.73; 3.0 % power curve and losses (IEC 61400-15; Lee and "
            "Fields 2021)"
        )
        # an older record without the figures keeps its stored words
        assert model_basis_text({**ev, "sigma_parts": {}}, 100.0) == "stored text"
        assert model_basis_text({**ev, "method": "reanalysis"}, 100.0) == "stored text"
    with app.test_request_context(headers=ZH):
        text = model_basis_text(ev, 100.0)
        assert text.startswith("现场测风塔，MCP（方差比法，24 个月，R² 0.96）")
