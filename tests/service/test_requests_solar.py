"""Solar plant fields of the request: defaults, bounds, messages naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from models.pvplant import PlantConfiguration
from models.solar import SolarProject
from service.errors import UsageError
from service.requests import parse_request, to_model_inputs


def request(**project: Any) -> dict[str, Any]:
    return {
        "site": {"lat": 44.0, "lon": 87.3},
        "project": {"technology": "solar", "capacity_mw": 20.0, **project},
        "finance": {
            "loan_amount": 5e7,
            "currency": "CNY",
            "tenor_years": 15,
            "interest_rate_pct": 4.2,
            "repayment": "annuity",
            "tariff_per_mwh": 300,
            "opex_per_year": 1e6,
        },
    }


def project_of(body: dict[str, Any]) -> SolarProject:
    project = to_model_inputs(parse_request(body)).project
    assert isinstance(project, SolarProject)
    return project


def test_defaults_are_the_reference_system() -> None:
    assert project_of(request()).configuration == PlantConfiguration()


def test_fixed_and_tracker_fields_reach_the_model() -> None:
    fixed = project_of(request(tilt_deg=25.0, azimuth_deg=170.0, racking="close_mount"))
    assert fixed.configuration == PlantConfiguration(
        tilt_deg=25.0, azimuth_deg=170.0, racking="close_mount"
    )
    tracker = project_of(request(tracking={"type": "single_axis", "gcr": 0.4, "backtrack": False}))
    assert tracker.configuration == PlantConfiguration(
        tracking="single_axis", gcr=0.4, backtrack=False, max_angle_deg=60.0
    )


@pytest.mark.parametrize(
    ("project", "message"),
    [
        ({"tilt_deg": 95.0}, "project.tilt_deg: Input should be less than or equal to 90"),
        ({"tilt_deg": -5.0}, "project.tilt_deg: Input should be greater than or equal to 0"),
        ({"azimuth_deg": 400.0}, "project.azimuth_deg: Input should be less than or equal to 360"),
        (
            {"tracking": {"type": "dual_axis"}},
            "project.tracking.type: Input should be 'single_axis'",
        ),
        ({"tracking": {"type": "single_axis", "gcr": 1.0}}, "project.tracking.gcr"),
        (
            {"tracking": {"type": "single_axis", "max_angle_deg": 0}},
            "project.tracking.max_angle_deg",
        ),
        ({"racking": "floating"}, "project.racking"),
        ({"tracking": {"type": "single_axis"}, "tilt_deg": 20.0}, "a tracker's orientation"),
        (
            {"tracking": {"type": "single_axis", "speed": 1}},
            "project.tracking.speed: unknown field",
        ),
    ],
)
def test_bad_fields_are_named(project: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_request(request(**project))


def test_solar_fields_are_refused_for_wind() -> None:
    body = request(tilt_deg=20.0)
    body["project"] = {
        "technology": "wind",
        "capacity_mw": 20.0,
        "turbine_type": "E-82/2300",
        "hub_height_m": 100.0,
        "tilt_deg": 20.0,
    }
    with pytest.raises(UsageError, match=r"project\.tilt_deg: applies to solar projects only"):
        parse_request(body)
