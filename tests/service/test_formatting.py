"""service.formatting: one way to show each figure (page, memo, command line), in both locales."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from service import formatting as fm


@pytest.mark.parametrize("locale", ["en", "zh_CN", "zh_Hans_CN"])
def test_each_figure_has_one_form(locale: str) -> None:
    assert fm.iav(0.0412, locale) == "4.1 %"
    assert fm.percent(0.0123, 2, locale) == "1.23 %"
    assert fm.ratio(1.2345, locale=locale) == "1.23×"
    assert fm.ratio(12.0, locale=locale) == "12.00×"
    assert fm.energy(123456.7, locale) == "123,457 MWh"
    assert fm.money(200_000_000, "CNY", locale) == "200,000,000 CNY"
    assert fm.number(1234567.891, 2, locale) == "1,234,567.89"
    assert fm.probability(0.0085, locale) == "0.85 %"
    assert fm.probability(0.123, locale) == "12 %"


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), -float("inf"), "x", True])
def test_missing_values_are_an_en_dash(bad: Any) -> None:
    for text in (
        fm.number(bad),
        fm.percent(bad),
        fm.iav(bad),
        fm.probability(bad),
        fm.ratio(bad),
        fm.energy(bad),
        fm.money(bad, "CNY"),
    ):
        assert text == fm.NA == "–"


def test_no_negative_zero() -> None:
    assert fm.number(-0.0001, 2) == "0.00"
    assert fm.percent(-0.00001, 1) == "0.0 %"


@given(st.floats(0, 10, allow_nan=False))
@example(1.225)
def test_ratio_round_trips_to_two_decimals(x: float) -> None:
    text = fm.ratio(x)
    assert text.endswith("×")
    # within half a unit of the last decimal (Babel rounds half to even: 1.225 -> 1.22)
    assert abs(float(text[:-1].replace(",", "")) - x) <= 0.005 + 1e-9


@given(st.floats(0, 1, allow_nan=False))
def test_iav_is_the_fraction_in_percent(f: float) -> None:
    text = fm.iav(f)
    assert text.endswith(" %")
    assert abs(float(text[:-2].replace(",", "")) - f * 100) <= 0.05 + 1e-9


def test_web_page_uses_the_same_formatter(app: Any) -> None:
    from service import web

    for headers in ({"Accept-Language": "zh-CN"}, {"Accept-Language": "en"}):
        with app.test_request_context(headers=headers):
            assert web.fmt_iav(0.041) == fm.iav(0.041) == "4.1 %"
            assert web.fmt_ratio(1.234) == "1.23×"
            assert web.fmt_mwh(1000.4) == "1,000 MWh"
            assert web.fmt_pd(0.0085) == "0.85 %"
            # rule values: IAV one decimal, DSCR with the times sign, PD as a probability
            assert web.format_metric("climate.wind.iav", "1", 0.0412) == "4.1 %"
            assert web.format_metric("repayment.dscr_p90_min", "1", 1.3) == "1.30×"
            assert web.format_metric("repayment.llcr", "1", 1.5) == "1.50×"
            assert web.format_metric("repayment.pd_scorecard", "1", 0.02) == "2.00 %"


def test_command_line_table_uses_the_same_formatter() -> None:
    from service.cli_assess import format_table

    obj = {
        "id": "x",
        "decision": "approve",
        "climate": {
            "site": {"lat": 44.0, "lon": 87.0},
            "cell": {"lat": 44.0, "lon": 87.0, "distance_km": 1.0},
            "dataset": {"id": "d"},
        },
        "energy": {
            "method": "reanalysis",
            "n_years": 4,
            "p50_mwh": 1.0,
            "p90_mwh": 1.0,
            "p90_10y_mwh": 1.0,
            "p99_mwh": 1.0,
            "sigma": 0.0412,
        },
        "repayment": {
            "loan_amount": 1.0,
            "currency": "CNY",
            "tenor_years": 10,
            "interest_rate_pct": 4.0,
            "repayment": "annuity",
            "dscr_p50_min": 1.456,
            "dscr_p90_min": 1.234,
            "dscr_p99_min": None,
            "llcr": 1.5,
            "pd_tenor": 0.05,
            "pd_annual": 0.005,
            "expected_loss": 1.0,
            "grade": "Good",
        },
        "rules": [
            {
                "id": "wind_iav",
                "metric": "climate.wind.iav",
                "unit": "1",
                "value": 0.0268,
                "operator": "<=",
                "threshold": 0.06,
                "passed": True,
                "outcome": "refer",
            }
        ],
        "reasons": [],
        "provenance": {"policy_id": "p", "policy_version": "1", "seed": 1, "n_paths": 10},
    }
    out = format_table(obj)
    assert "P50 1.46×" in out and "P90 10y 1.23×" in out and "LLCR 1.50×" in out
    assert "sigma 4.1 %" in out and "PD annual 0.50 %" in out and "P99 1y –" in out
    assert "2.7 %" in out and "6.0 %" in out  # the IAV rule, as on the page


@pytest.mark.parametrize(
    ("metric", "unit", "value", "shown"),
    [
        ("climate.wind.iav", "1", 0.0412, "4.1 %"),
        ("energy.sigma", "1", 0.1, "10.0 %"),
        ("repayment.pd_annual", "1", 0.02, "2.00 %"),
        ("energy.capacity_factor_p50", "1", 0.3125, "31.25 %"),
        ("repayment.dscr_p50_min", "1", 1.3, "1.30×"),
        ("repayment.llcr", "1", 1.456, "1.46×"),
        ("climate.wind.trailing_3y_mean_ms", "m s-1", 6.681, "6.68 m/s"),
        ("climate.complete_years", "count", 4, "4"),
        ("energy.p50_mwh", "MWh", 1234.5, "1,234 MWh"),
        ("repayment.expected_loss", "currency", 1000, "1,000 CNY"),
        ("other", "?", 0.1234, "0.123"),
        ("climate.wind.iav", "1", None, "–"),
    ],
)
def test_rule_values(metric: str, unit: str, value: Any, shown: str) -> None:
    assert fm.metric_value(metric, unit, value, "CNY") == shown


def test_every_ratio_and_probability_metric_links_to_the_glossary() -> None:
    # A metric added to the policy catalogue (e.g. a new DSCR basis) must not lose its link.
    from models.policy import METRICS
    from service.glossary import METRIC_TERMS

    for name in METRICS:
        if name.startswith(("repayment.dscr", "repayment.pd_", "climate.wind.iav")):
            assert name in METRIC_TERMS, name
