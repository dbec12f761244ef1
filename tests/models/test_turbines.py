"""Turbine library (oedb data in the windpowerlib wheel) and power-curve validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from windpowerlib.data import get_turbine_types
from windpowerlib.wind_turbine import WindTurbine

from models.turbines import (
    PowerCurve,
    PowerCurveError,
    Turbine,
    UnknownTurbineError,
    get_turbine,
    list_turbines,
    search_turbines,
)

# windpowerlib 0.2.2 calls pandas APIs that pandas 3.1 deprecates (inplace dropna); the warning
# is theirs, not ours.
WPL_WARNINGS = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

GOOD_V = [3.0, 5.0, 8.0, 12.0, 25.0]
GOOD_P = [0.0, 300.0, 1200.0, 2000.0, 2000.0]


def test_library_counts() -> None:
    # The oedb library shipped in windpowerlib 0.2.2 holds 140 turbines, 67 with curves.
    assert len(list_turbines(with_curve_only=False)) == 140
    assert len(list_turbines()) == 67
    assert all(t.has_power_curve for t in list_turbines())


def test_curve_types_match_windpowerlib() -> None:
    # windpowerlib's own listing (pandas read of the same CSV) names the same 67 types.
    theirs = get_turbine_types(print_out=False)
    assert sorted(theirs["turbine_type"]) == sorted(t.turbine_type for t in list_turbines())


@WPL_WARNINGS
def test_e126_round_trip() -> None:
    t = get_turbine("E-126/4200")
    assert t.turbine_type == "E-126/4200"
    assert t.manufacturer == "Enercon"
    assert t.rated_power_kw == 4200.0  # turbine_data.csv: nominal_power 4200000 W
    assert t.rotor_diameter_m == 127.0
    assert t.hub_heights_m == (99.0, 135.0, 159.0)  # "99; 135; 159"
    curve = t.power_curve
    assert curve is not None
    assert curve.rated_power_kw == 4200.0
    # Same points as windpowerlib's WindTurbine, which loads the curve in W.
    wt = WindTurbine(hub_height=135, turbine_type="E-126/4200")
    np.testing.assert_allclose(curve.speeds, wt.power_curve["wind_speed"].to_numpy(), rtol=0)
    np.testing.assert_allclose(curve.powers * 1000, wt.power_curve["value"].to_numpy(), rtol=1e-12)


@WPL_WARNINGS
@pytest.mark.parametrize("turbine_type", ["V90/2000", "N131/3000", "E-82/2000", "S152/6330"])
def test_curves_equal_windpowerlib(turbine_type: str) -> None:
    # Every listed curve equals windpowerlib's own load (W -> kW), including the curves whose
    # peak is off nameplate (E-82/2000 +2.5 %, S152/6330 -2.8 %).
    curve = get_turbine(turbine_type).power_curve
    assert curve is not None
    wt = WindTurbine(hub_height=100, turbine_type=turbine_type)
    np.testing.assert_allclose(curve.speeds, wt.power_curve["wind_speed"].to_numpy())
    np.testing.assert_allclose(curve.powers * 1000, wt.power_curve["value"].to_numpy(), rtol=1e-12)
    assert t_rated(turbine_type) == pytest.approx(wt.nominal_power / 1000, rel=1e-12)


def t_rated(turbine_type: str) -> float:
    return get_turbine(turbine_type).rated_power_kw


def test_turbine_without_curve_is_listed() -> None:
    t = get_turbine("AD132/5000")  # has_power_curve False in turbine_data.csv
    assert t.power_curve is None
    assert not t.has_power_curve
    assert t.rated_power_kw == 5000.0
    assert t.hub_heights_m == (80.0, 94.0)


def test_hub_heights_parse_decimal_commas() -> None:
    # turbine_data.csv writes "87,5; 100; 120; 137,5" for AW125/3000.
    assert get_turbine("AW125/3000").hub_heights_m == (87.5, 100.0, 120.0, 137.5)


def test_lookup_case_insensitive() -> None:
    assert get_turbine("e-126/4200") is get_turbine("E-126/4200")


def test_unknown_turbine_suggests_close_matches() -> None:
    with pytest.raises(UnknownTurbineError, match="E-126/4200") as info:
        get_turbine("E126/4200")
    assert "E-126/4200" in info.value.suggestions
    assert isinstance(info.value, ValueError)
    with pytest.raises(UnknownTurbineError, match="custom power curve"):
        get_turbine("no such machine")


def test_search() -> None:
    found = search_turbines("enercon", with_curve_only=True)
    assert found
    assert all(t.manufacturer == "Enercon" and t.has_power_curve for t in found)
    assert "E-126/4200" in [t.turbine_type for t in search_turbines("e-126")]
    assert search_turbines("zzzz") == ()


def test_library_is_cached() -> None:
    assert list_turbines() is not list_turbines()  # new tuple ...
    assert list_turbines()[0] is list_turbines()[0]  # ... of the same cached objects


def test_from_points_valid() -> None:
    c = PowerCurve.from_points(np.array(GOOD_V), GOOD_P, rated_power_kw=2000)
    assert c.wind_speed_ms == tuple(GOOD_V)
    assert c.rated_power_kw == 2000.0
    # Frozen.
    with pytest.raises(AttributeError):
        c.power_kw = (1.0,)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("speeds", "powers", "rated", "message"),
    [
        ([3, 5, 8, 12], [0, 300, 1200, 2000], None, "at least 5"),
        ([3, 5, 5, 12, 25], GOOD_P, None, "strictly increasing"),
        ([3, 8, 5, 12, 25], GOOD_P, None, "strictly increasing"),
        (GOOD_V, [0, 300, -1, 2000, 2000], None, "non-negative"),
        (GOOD_V, [0, 300, math.nan, 2000, 2000], None, "non-negative"),
        (GOOD_V, [0, 300, math.inf, 2000, 2000], None, "non-negative"),
        ([-1, 5, 8, 12, 25], GOOD_P, None, "non-negative"),
        ([3, 5, 8, 12, math.nan], GOOD_P, None, "finite"),
        (GOOD_V, [0, 300, 1200], None, "5 wind speeds but 3 power"),
        (GOOD_V, [0, 0, 0, 0, 0], None, "zero everywhere"),
        # Curve in W by mistake: peak 2,000,000 "kW" against 2,000 kW rated.
        (GOOD_V, [p * 1000 for p in GOOD_P], 2000, "check the units"),
        (GOOD_V, GOOD_P, 2200, "more than 5% apart"),
        (GOOD_V, GOOD_P, -5, "rated power must be a positive"),
        ([[3, 5], [8, 12]], GOOD_P, None, "flat lists"),
        (["a", 5, 8, 12, 25], GOOD_P, None, "must be numbers"),
    ],
)
def test_from_points_errors(
    speeds: list[float], powers: list[float], rated: float | None, message: str
) -> None:
    with pytest.raises(PowerCurveError, match=message):
        PowerCurve.from_points(speeds, powers, rated_power_kw=rated)


def test_direct_construction_validates() -> None:
    with pytest.raises(PowerCurveError, match="strictly increasing"):
        PowerCurve((3.0, 2.0, 4.0, 5.0, 6.0), (0.0, 1.0, 2.0, 3.0, 3.0))


def test_rated_within_tolerance_accepted() -> None:
    # 2,050 kW peak against 2,000 kW rated (+2.5 %, like E-82/2000) is accepted.
    c = PowerCurve.from_points(GOOD_V, [0, 300, 1200, 2050, 2050], rated_power_kw=2000)
    assert c.rated_power_kw == 2050.0


def test_custom_turbine() -> None:
    c = PowerCurve.from_points(GOOD_V, GOOD_P)
    t = Turbine.custom("  Site X 2 MW ", c)
    assert t.turbine_type == "Site X 2 MW"
    assert t.manufacturer == "custom"
    assert t.rated_power_kw == 2000.0
    assert t.hub_heights_m == ()
    assert Turbine.custom("x", c, rated_power_kw=1990).rated_power_kw == 1990.0
    with pytest.raises(PowerCurveError, match="apart"):
        Turbine.custom("x", c, rated_power_kw=3000)
    with pytest.raises(ValueError, match="non-empty name"):
        Turbine.custom(" ", c)


@given(
    steps=st.lists(st.floats(0.1, 5.0), min_size=4, max_size=30),
    start=st.floats(0.0, 5.0),
    peak=st.floats(1.0, 1e4),
)
def test_valid_curves_round_trip(steps: list[float], start: float, peak: float) -> None:
    # Property: any strictly increasing, non-negative curve with >= 5 points is accepted and
    # stored unchanged, and its rated power is its maximum.
    speeds = start + np.concatenate([[0.0], np.cumsum(steps)])
    powers = peak * np.linspace(0.0, 1.0, speeds.size) ** 2
    c = PowerCurve.from_points(speeds, powers, rated_power_kw=peak)
    np.testing.assert_array_equal(c.speeds, speeds)
    assert c.rated_power_kw == pytest.approx(peak, rel=1e-12)


def test_every_library_curve_is_valid_and_near_nameplate() -> None:
    # All 67 curves pass validation (loading would raise otherwise) and peak within 5 % of
    # nameplate; the largest gaps in the data are +2.5 % (E-82/2000) and -2.8 % (S152/6330).
    gaps = []
    for t in list_turbines():
        assert t.power_curve is not None
        gaps.append(t.power_curve.rated_power_kw / t.rated_power_kw - 1)
    assert max(gaps) == pytest.approx(0.025, abs=1e-3)
    assert min(gaps) == pytest.approx(-0.0284, abs=1e-3)
