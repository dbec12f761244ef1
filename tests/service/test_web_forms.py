"""The site page's form takes its limits from the request models (one copy of each bound)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field

from service.web.forms import AssessmentForm, InRange, Limits, LocalFloat, LocalInteger

EN = {"Accept-Language": "en-US,en;q=0.9"}

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

    from tests.service.test_web import FORM

    with app.test_request_context(headers=EN):
        form = AssessmentForm(formdata=MultiDict({**FORM, field: value}))
        form.validate()
        assert form._fields[field].errors == [message]
