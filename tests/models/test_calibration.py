"""Fleet calibration estimator: a hand case, statsmodels oracles, recovery of a known truth."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from models.calibration import (
    FleetTableError,
    bootstrap_over_farms,
    calibrate_fleet,
    validate_fleet_table,
)


def hand_fleet() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "farm_id": ["A", "A", "B", "B", "C", "C", "C"],
            "year": [2010, 2011, 2010, 2011, 2012, 2013, 2014],
            "metered_mwh": [90.0, 110.0, 95.0, 95.0, 120.0, 126.0, 114.0],
            "modelled_mwh": [100.0] * 7,
        }
    )


def synthetic_fleet(
    k: int, years: int, bias: float, sigma: float, tau: float, seed: int
) -> pd.DataFrame:
    """K farms with ``years`` years each: metered = modelled x exp(bias + u_i + e_iy)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(k):
        u = sigma * rng.standard_normal()
        for y in range(2010, 2010 + years):
            modelled = 1000.0 * (1.0 + 0.1 * rng.standard_normal())
            e = tau * rng.standard_normal()
            rows.append(
                {
                    "farm_id": f"F{i:02d}",
                    "year": y,
                    "modelled_mwh": modelled,
                    "metered_mwh": modelled * math.exp(bias + u + e),
                }
            )
    return pd.DataFrame(rows)


def test_hand_case() -> None:
    # r_A = ln(200/200) = 0; r_B = ln(190/200) = -0.0512933; r_C = ln(360/300) = 0.1823216
    # b = (0 - 0.0512933 + 0.1823216) / 3 = 0.0436761
    # s2 = (0.0436761^2 + 0.0949694^2 + 0.1386455^2) / 2 = 0.0150747
    # tau2: A residuals ln(0.9), ln(1.1) less their mean -> +-0.1003354; B none;
    #   C: ln(1.2), ln(1.26), ln(1.14) less 0.1814872 -> 0.0008344, 0.0496245, -0.0504589;
    #   sum of squares 0.0251438 over 1 + 1 + 2 = 4 degrees of freedom -> 0.0062859
    # mean(1/n) = (1/2 + 1/2 + 1/3) / 3 = 0.4444444
    # sigma^2 = 0.0150747 - 0.0062859 * 0.4444444 = 0.0122809 -> sigma = 0.1108194
    c = calibrate_fleet(hand_fleet(), confidence=0.90)
    assert c.n_farms == 3 and c.n_farm_years == 7
    np.testing.assert_allclose(c.per_farm["r"], [0.0, -0.0512933, 0.1823216], atol=1e-7)
    assert c.bias == pytest.approx(0.0436761, abs=1e-7)
    assert c.bias_factor == pytest.approx(math.exp(0.0436761), abs=1e-7)
    assert c.spread_var == pytest.approx(0.0150747, abs=1e-7)
    assert c.year_noise**2 == pytest.approx(0.0062859, abs=1e-7)
    assert c.mean_inv_years == pytest.approx(4.0 / 9.0, rel=1e-12)
    assert c.sigma_model == pytest.approx(0.1108194, abs=1e-6)
    # intervals: t(2, 0.95) = 2.919986, chi2(2; 0.05, 0.95) = 0.1025866, 5.9914645
    half = 2.919986 * math.sqrt(0.0150747 / 3)
    assert c.bias_ci == pytest.approx((0.0436761 - half, 0.0436761 + half), abs=1e-6)
    assert c.spread_var_ci == pytest.approx(
        (2 * 0.0150747 / 5.9914645, 2 * 0.0150747 / 0.1025866), rel=1e-5
    )
    low = math.sqrt(2 * 0.0150747 / 5.9914645 - 0.0062859 * 4 / 9)
    assert c.sigma_model_ci[0] == pytest.approx(low, abs=1e-6)


def test_sigma_is_floored_at_zero_when_year_noise_explains_the_spread() -> None:
    t = hand_fleet()
    t.loc[t["farm_id"] == "C", "metered_mwh"] = [100.0, 104.0, 96.0]  # r_C close to 0
    c = calibrate_fleet(t)
    assert c.spread_var < c.year_noise**2 * c.mean_inv_years
    assert c.sigma_model == 0.0
    assert c.sigma_model_ci[0] == 0.0 and c.sigma_model_ci[1] > 0.0


def test_bias_and_year_noise_equal_statsmodels_least_squares() -> None:
    t = synthetic_fleet(k=30, years=5, bias=math.log(0.95), sigma=0.06, tau=0.03, seed=3)
    # unbalanced: drop some farm-years
    t = t.drop(index=t.index[::7]).reset_index(drop=True)
    c = calibrate_fleet(t, confidence=0.90)
    ols = sm.OLS(c.per_farm["r"].to_numpy(), np.ones(c.n_farms)).fit()
    assert c.bias == pytest.approx(float(ols.params[0]), rel=1e-12)
    np.testing.assert_allclose(c.bias_ci, ols.conf_int(alpha=0.10)[0], rtol=1e-12)
    assert c.spread_var == pytest.approx(float(ols.scale), rel=1e-12)
    data = t.assign(lr=np.log(t["metered_mwh"] / t["modelled_mwh"]))
    fixed = smf.ols("lr ~ C(farm_id)", data).fit()  # within-farm residual variance
    assert c.year_noise**2 == pytest.approx(float(fixed.scale), rel=1e-10)


def test_sigma_model_agrees_with_statsmodels_reml_random_intercept() -> None:
    # A balanced fleet: REML's between-farm variance is the method-of-moments one when it is
    # positive; the estimator uses the log of summed energies per farm rather than the mean of
    # yearly logs, which with 3 % year noise and 10 % spread of the yearly modelled energy moves
    # sigma by a few 1e-4 (measured 3.3e-4): tolerance 0.002.
    t = synthetic_fleet(k=40, years=6, bias=math.log(0.95), sigma=0.06, tau=0.03, seed=1)
    c = calibrate_fleet(t)
    data = t.assign(lr=np.log(t["metered_mwh"] / t["modelled_mwh"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = smf.mixedlm("lr ~ 1", data, groups=data["farm_id"]).fit(reml=True)
    assert c.sigma_model == pytest.approx(math.sqrt(float(fit.cov_re.iloc[0, 0])), abs=0.002)
    assert c.year_noise == pytest.approx(math.sqrt(float(fit.scale)), rel=1e-4)
    assert c.bias == pytest.approx(float(fit.fe_params.iloc[0]), abs=0.001)


def test_intervals_cover_the_truth_over_many_fleets() -> None:
    truth_b, truth_s = math.log(0.95), 0.06
    cover_b = cover_s = 0
    n = 200
    for seed in range(n):
        c = calibrate_fleet(
            synthetic_fleet(k=24, years=5, bias=truth_b, sigma=truth_s, tau=0.03, seed=seed),
            confidence=0.90,
        )
        cover_b += c.bias_ci[0] <= truth_b <= c.bias_ci[1]
        cover_s += c.sigma_model_ci[0] <= truth_s <= c.sigma_model_ci[1]
    # 90 % intervals: coverage within 3 binomial standard errors of 0.90 (0.064 for n = 200)
    se = math.sqrt(0.9 * 0.1 / n)
    assert abs(cover_b / n - 0.90) <= 3 * se
    assert abs(cover_s / n - 0.90) <= 3 * se + 0.02  # sigma: approximate (tau estimated)


def test_bootstrap_over_farms_matches_a_plain_loop() -> None:
    c = calibrate_fleet(synthetic_fleet(k=12, years=4, bias=0.0, sigma=0.05, tau=0.03, seed=9))
    boot_b, boot_sigma = bootstrap_over_farms(c, 50, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    idx = rng.integers(0, c.n_farms, size=(50, c.n_farms))
    r = c.per_farm["r"].to_numpy()
    for j in range(50):
        sample = r[idx[j]]
        assert boot_b[j] == pytest.approx(sample.mean(), rel=1e-12)
        want = math.sqrt(max(sample.var(ddof=1) - c.year_noise**2 * c.mean_inv_years, 0.0))
        assert boot_sigma[j] == pytest.approx(want, rel=1e-12, abs=1e-15)
    # the bootstrap's centre sits near the estimate
    assert float(np.median(boot_b)) == pytest.approx(c.bias, abs=2 * math.sqrt(c.spread_var))
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_over_farms(c, 0, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop(columns="modelled_mwh"), "lacks column"),
        (lambda t: t.assign(metered_mwh=t["metered_mwh"].where(t.index != 2, -1.0)), "rows"),
        (lambda t: t.assign(modelled_mwh=t["modelled_mwh"].where(t.index != 1, np.nan)), "rows"),
        (lambda t: t.assign(year=t["year"].where(t.index != 1, 2010)), "twice"),
        (lambda t: t[t["farm_id"] == "C"], "two farms"),
    ],
)
def test_bad_fleet_tables_are_refused_with_the_problem_named(change, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FleetTableError, match=message):
        validate_fleet_table(change(hand_fleet()))
    with pytest.raises(ValueError, match="confidence"):
        calibrate_fleet(hand_fleet(), confidence=1.0)


def test_t_and_chi2_quantiles_used_in_the_hand_case() -> None:
    # the literals of test_hand_case, from scipy
    assert stats.t.ppf(0.95, 2) == pytest.approx(2.919986, abs=1e-6)
    assert stats.chi2.ppf(0.05, 2) == pytest.approx(0.1025866, abs=1e-7)
    assert stats.chi2.ppf(0.95, 2) == pytest.approx(5.9914645, abs=1e-7)
