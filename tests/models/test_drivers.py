"""Tests for models.drivers and the drivers inside models.risk.simulate_default.

Monotonicity is tested on common random numbers (same seed): for curtailment and a negative
trend every path's cash falls, so the PD can only rise, exactly; for the price volatility and
σ_model the paths move both ways and the PD is allowed to fall by at most a stated tolerance.
"""

from __future__ import annotations

import math
from dataclasses import replace
from importlib import resources
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from models.drivers import (
    Curtailment,
    DriverDefaults,
    DriverDraws,
    RiskDrivers,
    climate_anomaly,
    draw_driver_normals,
    parse_driver_defaults,
    path_factors,
    resolve_drivers,
    trend_factors,
)
from models.finance import FinanceTerms, debt_service, opex_by_year, revenue_per_mwh_by_year
from models.policy import PolicyError, load_policy, parse_policy
from models.risk import (
    cash_paths,
    circular_block_indices,
    default_years,
    energy_paths,
    simulate_default,
)
from tests.models.test_risk import SITE_YEARS

PATHS = 4_000


def terms(**over: Any) -> FinanceTerms:
    base: dict[str, Any] = {
        "loan_amount": 1_000_000.0,
        "currency": "EUR",
        "tenor_years": 10,
        "interest_rate_pct": 6.0,
        "repayment": "annuity",
        "tariff_per_mwh": 27.0,
        "opex_per_year": 100_000.0,
    }
    base.update(over)
    return FinanceTerms(**base)


def simulate(drivers: RiskDrivers | None, *, sigma: float = 0.06, seed: int = 5, **kw: Any) -> Any:
    t = kw.pop("terms", terms())
    return simulate_default(
        SITE_YEARS, t, debt_service(t), sigma, n_paths=PATHS, seed=seed, drivers=drivers, **kw
    )


XINJIANG = RiskDrivers(
    curtailment=Curtailment(mean_pct=6.0, sd_pct=4.0, persistent_share=0.7),
    merchant_share_pct=30.0,
    price_sd_pct=20.0,
    price_wind_corr=-0.3,
    availability_sd_pct=1.0,
    opex_sd_pct=10.0,
    ageing_pct_per_year=0.5,
)


# ------------------------------------------------------------------ zero drivers = today


def test_zero_drivers_give_exactly_the_result_without_drivers() -> None:
    without = simulate(None)
    zero = simulate(RiskDrivers())
    assert without.to_dict() == zero.to_dict()


def test_simulation_without_drivers_matches_the_original_draws() -> None:
    # The computation before the drivers existed, written out: block starts, then
    # rng.normal(1, sigma) per path, CFADS = E * error * price - opex, default by year.
    t = terms()
    sched = debt_service(t)
    rng = np.random.default_rng(5)
    idx = circular_block_indices(rng, SITE_YEARS.size, 10, PATHS, 2)
    error = np.maximum(rng.normal(1.0, 0.06, size=PATHS), 0.0)
    cash = SITE_YEARS[idx] * error * revenue_per_mwh_by_year(t, 10)[:, None]
    cash -= opex_by_year(t, 10)[:, None]
    years = default_years(cash.T, sched.debt_service)
    r = simulate(None)
    assert r.pd_tenor == np.count_nonzero(years) / PATHS
    expected_cum = np.cumsum(np.bincount(years, minlength=11)[1:]) / PATHS
    np.testing.assert_array_equal(r.cumulative_pd_by_year, expected_cum)
    # and energy_paths reproduces the same paths bit for bit
    e, i2 = energy_paths(SITE_YEARS, 10, PATHS, 2, 0.06, 5)
    np.testing.assert_array_equal(i2, idx)
    np.testing.assert_array_equal(e, SITE_YEARS[idx] * error)


def test_seeded_runs_with_drivers_are_identical_and_change_the_result() -> None:
    a, b = simulate(XINJIANG, seed=9), simulate(XINJIANG, seed=9)
    assert a.to_dict() == b.to_dict()
    assert a.pd_tenor > simulate(None, seed=9).pd_tenor


# ------------------------------------------------------------------ hand cases


def test_curtailment_price_and_opex_arithmetic_by_hand() -> None:
    # two years, two paths, chosen normals
    drivers = RiskDrivers(
        curtailment=Curtailment(mean_pct=10.0, sd_pct=5.0, persistent_share=0.5),
        merchant_share_pct=40.0,
        price_sd_pct=20.0,
        price_wind_corr=-0.5,
        availability_sd_pct=2.0,
        opex_sd_pct=10.0,
    )
    curt_z = np.array([[1.0, -3.0], [0.0, 20.0]])  # -> 15 %, 0 % (clipped), 10 %, 100 % (clipped)
    price_z = np.array([[0.5, 0.0], [-1.0, 2.0]])
    ops_z = np.array([[1.0, 0.0], [-0.5, 0.0]])
    anomaly = np.array([[1.0, -1.0], [0.0, 0.5]])
    f = path_factors(drivers, DriverDraws(curt_z, price_z, ops_z), anomaly)
    sold = np.array([[0.85, 1.0], [0.90, 0.0]])
    avail = 1.0 - 0.02 * ops_z
    s_r = math.sqrt(math.log(1.0 + 0.2**2))
    w = -0.5 * anomaly + math.sqrt(1 - 0.25) * price_z
    price = np.exp(s_r * w - s_r**2 / 2)
    revenue = sold * avail * (0.6 + 0.4 * price)
    assert f.revenue is not None and f.opex is not None
    np.testing.assert_allclose(f.revenue, revenue, rtol=1e-14)
    s_o = math.sqrt(math.log(1.0 + 0.1**2))
    np.testing.assert_allclose(f.opex, np.exp(s_o * ops_z - s_o**2 / 2), rtol=1e-14)
    # CFADS = E g p - O o, e.g. path 0 year 0: 1000 MWh, 50 /MWh, opex 10,000
    energy = np.full((2, 2), 1000.0)
    cash = cash_paths(energy.copy(), np.array([50.0, 50.0]), np.array([1e4, 1e4]), f)
    np.testing.assert_allclose(cash, 1000.0 * revenue * 50.0 - 1e4 * f.opex, rtol=1e-14)
    assert cash[1, 1] == pytest.approx(-1e4 * f.opex[1, 1])  # fully curtailed: no revenue


def test_price_draw_has_mean_one_sd_and_wind_correlation() -> None:
    drivers = RiskDrivers(merchant_share_pct=100.0, price_sd_pct=25.0, price_wind_corr=-0.6)
    n = 200_000
    anomaly = np.random.default_rng(3).standard_normal((1, n))
    f = path_factors(drivers, draw_driver_normals(drivers, 4, 1, n), anomaly)
    assert f.revenue is not None
    r = f.revenue[0]
    assert r.mean() == pytest.approx(1.0, abs=0.003)
    assert r.std() == pytest.approx(0.25, rel=0.02)
    assert np.corrcoef(np.log(r), anomaly[0])[0, 1] == pytest.approx(-0.6, abs=0.01)


def test_deterministic_curtailment_cuts_cash_like_a_lower_output() -> None:
    # Flat years, no model error: CFADS = 0.8 E p - O every year.
    t = terms(tariff_per_mwh=30.0)
    flat = np.full(10, 10_000.0)
    sched = debt_service(t)
    a = simulate_default(
        flat,
        t,
        sched,
        0.0,
        n_paths=50,
        seed=1,
        drivers=RiskDrivers(curtailment=Curtailment(mean_pct=20.0)),
    )
    b = simulate_default(
        flat * 0.8, t, sched, 0.0, n_paths=50, seed=1, degradation_factors=np.ones(10)
    )
    np.testing.assert_allclose(a.dscr_q50_by_year, b.dscr_q50_by_year, rtol=1e-12)
    assert a.dscr_q50_by_year[0] == pytest.approx((8000 * 30 - 1e5) / sched.debt_service[0])


def test_effective_mean_of_clipped_curtailment() -> None:
    c = Curtailment(mean_pct=3.0, sd_pct=4.0, persistent_share=0.4)
    draws = draw_driver_normals(RiskDrivers(curtailment=c), 1, 20, 20_000)
    assert draws.curtailment is not None
    applied = np.clip(3.0 + 4.0 * draws.curtailment, 0.0, 100.0)
    assert c.effective_mean_pct() == pytest.approx(applied.mean(), abs=0.03)
    assert c.effective_mean_pct() > 3.0
    assert Curtailment(mean_pct=6.0).effective_mean_pct() == 6.0
    # persistence: two years of a path correlate with the persistent share
    z = draws.curtailment
    assert np.corrcoef(z[0], z[7])[0, 1] == pytest.approx(0.4, abs=0.03)


def test_ageing_and_trend_factors() -> None:
    d = RiskDrivers(ageing_pct_per_year=1.6, energy_trend_pct_per_year=-0.5)
    f = d.output_factors(4, np.array([1.0, 0.99, 0.98, 0.97]))
    assert f is not None
    t = np.arange(4)
    np.testing.assert_allclose(f, 0.984**t * 0.995**t * [1.0, 0.99, 0.98, 0.97], rtol=1e-15)
    np.testing.assert_allclose(trend_factors(3, 2.0), [1.0, 1.02, 1.0404])
    assert RiskDrivers().output_factors(4) is None


def test_draws_are_antithetic_and_independent_of_sizes() -> None:
    small = draw_driver_normals(XINJIANG, 7, 12, 100)
    assert small.operations is not None and small.operations.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(small.operations[:, :50], -small.operations[:, 50:])
    odd = draw_driver_normals(XINJIANG, 7, 12, 101)
    assert odd.price is not None and odd.price.shape == (12, 101)
    np.testing.assert_array_equal(odd.price[:, :50], -odd.price[:, 51:])
    bigger = replace(XINJIANG, opex_sd_pct=30.0, price_sd_pct=40.0)
    again = draw_driver_normals(bigger, 7, 12, 100)
    np.testing.assert_array_equal(again.operations, small.operations)
    np.testing.assert_array_equal(again.price, small.price)
    np.testing.assert_array_equal(again.curtailment, small.curtailment)
    none = draw_driver_normals(RiskDrivers(), 7, 12, 100)
    assert (none.curtailment, none.price, none.operations) == (None, None, None)


def test_climate_anomaly() -> None:
    np.testing.assert_allclose(climate_anomaly([1.0, 2.0, 3.0]), [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(climate_anomaly([5.0, 5.0]), [0.0, 0.0])


# ------------------------------------------------------------------ monotonicity (CRN)


@settings(max_examples=25, deadline=None)
@given(
    mean=st.floats(0.0, 30.0),
    extra=st.floats(0.0, 20.0),
    sd=st.floats(0.0, 8.0),
    share=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32),
)
def test_pd_non_decreasing_in_curtailment_mean(
    mean: float, extra: float, sd: float, share: float, seed: int
) -> None:
    lo = replace(XINJIANG, curtailment=Curtailment(mean, sd, share))
    hi = replace(XINJIANG, curtailment=Curtailment(mean + extra, sd, share))
    a, b = simulate(lo, seed=seed), simulate(hi, seed=seed)
    assert b.pd_tenor >= a.pd_tenor  # exact: every path's curtailment rises
    assert np.all(np.diff(b.cumulative_pd_by_year) >= 0)


@settings(max_examples=25, deadline=None)
@given(trend=st.floats(-5.0, 0.0), more=st.floats(0.0, 3.0), seed=st.integers(0, 2**32))
def test_pd_non_decreasing_in_negative_trend(trend: float, more: float, seed: int) -> None:
    a = simulate(replace(XINJIANG, energy_trend_pct_per_year=trend), seed=seed)
    b = simulate(replace(XINJIANG, energy_trend_pct_per_year=trend - more), seed=seed)
    assert b.pd_tenor >= a.pd_tenor  # exact: every path-year's energy falls


#: Allowed fall of the PD when a volatility rises (paths move both ways) [-]: 0.01, about
#: three standard errors of a change on common random numbers with 4,000 paths.
VOL_TOLERANCE = 0.01


@settings(max_examples=20, deadline=None)
@given(
    sd=st.floats(0.0, 40.0),
    extra=st.floats(5.0, 40.0),
    corr=st.floats(-0.8, 0.0),
    seed=st.integers(0, 2**32),
)
def test_pd_non_decreasing_in_price_volatility(
    sd: float, extra: float, corr: float, seed: int
) -> None:
    base = replace(XINJIANG, merchant_share_pct=60.0, price_wind_corr=corr)
    a = simulate(replace(base, price_sd_pct=sd), seed=seed)
    b = simulate(replace(base, price_sd_pct=min(sd + extra, 100.0)), seed=seed)
    assert b.pd_tenor >= a.pd_tenor - VOL_TOLERANCE


@settings(max_examples=20, deadline=None)
@given(sigma=st.floats(0.0, 0.15), extra=st.floats(0.02, 0.1), seed=st.integers(0, 2**32))
def test_pd_non_decreasing_in_sigma_model(sigma: float, extra: float, seed: int) -> None:
    a = simulate(XINJIANG, sigma=sigma, seed=seed)
    b = simulate(XINJIANG, sigma=sigma + extra, seed=seed)
    assert b.pd_tenor >= a.pd_tenor - VOL_TOLERANCE


# ------------------------------------------------------------------ validation and policy


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"merchant_share_pct": 101.0}, "merchant_share_pct"),
        ({"price_sd_pct": -1.0}, "price_sd_pct"),
        ({"price_wind_corr": -1.5}, "price_wind_corr"),
        ({"availability_sd_pct": 11.0}, "availability_sd_pct"),
        ({"opex_sd_pct": math.nan}, "opex_sd_pct"),
        ({"ageing_pct_per_year": 10.0}, "ageing_pct_per_year"),
        ({"energy_trend_pct_per_year": -11.0}, "energy_trend_pct_per_year"),
    ],
)
def test_drivers_reject_out_of_range(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RiskDrivers(**kwargs)  # type: ignore[arg-type]


def test_curtailment_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"curtailment\.mean_pct"):
        Curtailment(mean_pct=100.0)
    with pytest.raises(ValueError, match=r"curtailment\.persistent_share"):
        Curtailment(persistent_share=1.2)


def test_policy_defaults_and_sources() -> None:
    p = load_policy("wind_changji_v1")
    assert p.risk_drivers is not None
    d = p.risk_drivers.drivers
    assert 5.0 <= d.curtailment.mean_pct <= 7.0 and d.curtailment.sd_pct > 0
    assert "National Energy Administration" in dict(p.risk_drivers.sources)["curtailment"]
    assert "renene.2013.10.041" in dict(p.risk_drivers.sources)["ageing"]
    drivers, sources = resolve_drivers(
        p.risk_drivers, {"curtailment": {"mean_pct": 12.0}, "merchant_share_pct": 50.0}, p.id
    )
    assert drivers.curtailment == Curtailment(12.0, d.curtailment.sd_pct, 0.7)
    assert drivers.merchant_share_pct == 50.0 and drivers.price_sd_pct == d.price_sd_pct
    assert sources["curtailment"] == "request"
    assert sources["merchant_share_pct"] == "request"
    assert sources["opex_sd_pct"].startswith("policy wind_changji_v1: ")
    assert sources["energy_trend_pct_per_year"] == "none (0)"
    none, _ = resolve_drivers(None, None)
    assert none.is_zero


def test_policy_risk_drivers_block_is_validated() -> None:
    raw = yaml.safe_load(
        (resources.files("models") / "policies" / "wind_changji_v1.yaml").read_text("utf-8")
    )
    parse_policy(raw, "test")  # the shipped file as it is parses
    raw["risk_drivers"]["opex_sd_pct"] = 500.0
    with pytest.raises(PolicyError, match="opex_sd_pct"):
        parse_policy(raw, "test")
    raw["risk_drivers"]["opex_sd_pct"] = 5.0
    raw["risk_drivers"]["curtailment_pct"] = 5.0
    with pytest.raises(PolicyError, match="curtailment_pct"):
        parse_policy(raw, "test")


def test_parse_driver_defaults_round_trip() -> None:
    d = DriverDefaults(XINJIANG, (("curtailment", "a source"),))
    again = parse_driver_defaults(d.to_policy_dict(), "test")
    assert again == d


def test_shared_random_numbers_give_the_same_result_and_are_checked() -> None:
    from models.risk import path_draws

    t = terms()
    shared = path_draws(5, SITE_YEARS.size, 10, PATHS, 2)
    draws = draw_driver_normals(XINJIANG, 5, 10, PATHS)
    a = simulate(XINJIANG)
    b = simulate(XINJIANG, path_random=shared, driver_draws=draws)
    assert a.to_dict() == b.to_dict()
    with pytest.raises(ValueError, match="path_random"):
        simulate_default(
            SITE_YEARS, t, debt_service(t), 0.06, n_paths=10, seed=5, path_random=shared
        )
