"""Tests of the long-term correction (models.longterm).

Reference values: (1) data drawn from a known linear model, where the truth is the generating
slope, intercept and sigma; (2) the real MERRA-2 subset in tests/data (source in its README),
where one node's monthly means are regressed on its neighbour's and checked against an
independent numpy computation, and the long-term corrected mean against the node's own
17.5-year record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from climate_data.site import DatasetInfo, SiteClimate
from models.longterm import (
    InsufficientData,
    LongTermSettings,
    MonthlyReference,
    OperatingHistory,
    OperatingHistoryError,
    days_in_month,
    fit_monthly_regression,
    long_term_correction,
)

DATA = Path(__file__).resolve().parents[1] / "data"
MERRA2 = DATA / "merra2_ireland_2x2_hourly_2000_2017_subset.nc"

# True model of the synthetic tests: 30-day energy [MWh] = A + B * wind + N(0, SIGMA^2).
A, B, SIGMA = -800.0, 400.0, 60.0
FAST = LongTermSettings(n_bootstrap=400)


def _reference(seed: int = 1, years: int = 20) -> MonthlyReference:
    """Synthetic monthly reanalysis wind with a seasonal cycle, 2000-01 onwards."""
    rng = np.random.default_rng(seed)
    months = np.arange(
        np.datetime64("2000-01"), np.datetime64("2000-01") + np.timedelta64(12 * years, "M")
    )
    cal = months.astype(np.int64) % 12
    wind = 7.0 + 1.5 * np.cos(2 * np.pi * cal / 12) + rng.normal(0, 0.6, months.size)
    return MonthlyReference(months, wind, np.ones(months.size, dtype=bool))


def _history(
    ref: MonthlyReference, n: int = 48, seed: int = 2, noise: float = SIGMA, loss: float = 0.03
) -> tuple[OperatingHistory, np.ndarray]:
    """Last ``n`` months of the reference as operating months with net energy from the model."""
    rng = np.random.default_rng(seed)
    months = ref.months[-n:]
    e30 = A + B * ref.wind_ms[-n:] + rng.normal(0, noise, n)
    net = e30 * days_in_month(months) / 30.0 * (1.0 - loss)
    return OperatingHistory(months, net, availability_loss=np.full(n, loss)), e30


def _lt_truth(ref: MonthlyReference, a: float, b: float, keep: float, years: int) -> float:
    """Independent long-term annual energy: pandas groupby over the latest ``years`` years."""
    df = pd.DataFrame(
        {
            "year": ref.months.astype("datetime64[Y]").astype(int) + 1970,
            "cal": ref.months.astype(int) % 12,
            "e30": np.maximum(a + b * ref.wind_ms, 0.0),
            "days": days_in_month(ref.months),
        }
    )
    df = df[df.year > df.year.max() - years]
    g = df.groupby("cal")
    return float((g.e30.mean() * g.days.mean() / 30.0).sum() * keep)


def test_days_in_month_leap_rules() -> None:
    # Gregorian calendar: 2000 leap (divisible by 400), 1900 not, 2001 not.
    got = days_in_month(["2000-02", "1900-02", "2001-02", "2001-01", "2001-04"])
    np.testing.assert_array_equal(got, [29, 28, 28, 31, 30])


def test_recovers_known_model_within_confidence_intervals() -> None:
    ref = _reference()
    hist, _ = _history(ref)
    res = long_term_correction(hist, ref, settings=FAST, seed=0)
    fit = res.fit
    assert res.n_months_used + res.n_outliers == 48
    # True slope and intercept lie in the 95 % t intervals of the fit.
    assert fit.slope_ci[0] <= B <= fit.slope_ci[1]
    assert fit.intercept_ci[0] <= A <= fit.intercept_ci[1]
    # True sigma lies in the 95 % chi-square interval: (n-2) s^2 / sigma^2 ~ chi2(n-2).
    df = fit.n - 2
    lo = np.sqrt(df * fit.sigma**2 / stats.chi2.ppf(0.975, df))
    hi = np.sqrt(df * fit.sigma**2 / stats.chi2.ppf(0.025, df))
    assert lo <= SIGMA <= hi
    assert 0.9 < fit.r_squared < 1.0
    # The nominal point estimate equals an independent pandas computation from the fitted
    # line over the whole 20-year record, net of the 3 % loss (1e-9 relative).
    expected = _lt_truth(ref, fit.intercept, fit.slope, 1 - 0.03, 20)
    assert res.point_estimate == pytest.approx(expected, rel=1e-9)
    # ... and lies within 3 bootstrap sigma of the value from the TRUE line.
    truth = _lt_truth(ref, A, B, 1 - 0.03, 20)
    assert abs(res.point_estimate - truth) < 3 * res.sigma
    assert res.p90 < res.p50
    assert res.sigma_fraction == pytest.approx(res.sigma / res.p50)
    assert res.long_term_period == (2000, 2019)


def test_noise_free_data_gives_exact_fit_and_losses_are_grossed_up() -> None:
    ref = _reference()
    rng = np.random.default_rng(5)
    loss = rng.uniform(0.0, 0.1, 36)
    months = ref.months[-36:]
    net = (A + B * ref.wind_ms[-36:]) * days_in_month(months) / 30.0 * (1 - loss)
    half = loss / 2
    hist = OperatingHistory(months, net, availability_loss=half, curtailment_loss=loss - half)
    res = long_term_correction(hist, ref, settings=FAST, seed=0)
    assert res.fit.slope == pytest.approx(B, rel=1e-9)
    assert res.fit.intercept == pytest.approx(A, rel=1e-9)
    assert res.fit.r_squared == pytest.approx(1.0, abs=1e-12)
    assert res.mean_loss_fraction == pytest.approx(loss.mean(), rel=1e-12)


def test_high_loss_months_dropped_and_counted() -> None:
    ref = _reference()
    hist, _ = _history(ref, n=30)
    loss = np.full(30, 0.02)
    loss[[3, 7, 11]] = 0.4  # above the 15 % nominal and the 20 % bootstrap ceiling
    net = np.asarray(hist.values) / (1 - 0.03) * (1 - loss)
    res = long_term_correction(
        OperatingHistory(hist.months, net, availability_loss=loss), ref, settings=FAST
    )
    assert res.n_dropped_loss == 3
    dropped = {str(m) for m in hist.months[[3, 7, 11]]}
    assert dropped.isdisjoint(res.months_used)


def test_outliers_flagged_and_fit_unaffected() -> None:
    ref = _reference()
    hist, _ = _history(ref)
    values = np.array(hist.values)
    values[[5, 20]] *= 0.3  # unreported outages: far below the line
    res = long_term_correction(
        OperatingHistory(hist.months, values, availability_loss=hist.availability_loss),
        ref,
        settings=FAST,
    )
    assert set(res.outlier_months) >= {str(hist.months[5]), str(hist.months[20])}
    assert res.fit.slope_ci[0] <= B <= res.fit.slope_ci[1]
    assert res.fit.sigma < 1.5 * SIGMA
    # Without the robust step the two months inflate the residual sigma (measured 226 MWh).
    plain = fit_monthly_regression(
        ref.wind_ms[-48:], values / (1 - 0.03) * 30 / days_in_month(hist.months)
    )
    assert plain.sigma > 3 * SIGMA


def test_incomplete_reference_months_dropped_not_filled() -> None:
    ref = _reference()
    complete = np.array(ref.complete)
    complete[-10:-5] = False
    wind = np.array(ref.wind_ms)
    wind[-3] = np.nan  # a missing value is incomplete too
    ref2 = MonthlyReference(ref.months, wind, complete)
    hist, _ = _history(ref, n=24)
    res = long_term_correction(hist, ref2, settings=FAST)
    assert res.n_dropped_reference == 6
    assert res.n_months_used + res.n_outliers == 18
    # A year with an incomplete month has no annual figure.
    assert res.annual_by_year[str(ref.months[-3].astype("datetime64[Y]"))] is None
    assert res.annual_by_year["2000"] is not None


def test_fewer_than_twelve_usable_months_is_insufficient_data() -> None:
    ref = _reference()
    hist, _ = _history(ref, n=14)
    values = np.array(hist.values)
    values[:3] = np.nan  # three missing months leave 11
    with pytest.raises(InsufficientData, match=r"only 11 usable operating months.*3 missing"):
        long_term_correction(
            OperatingHistory(hist.months, values, availability_loss=hist.availability_loss),
            ref,
            settings=FAST,
        )
    assert issubclass(InsufficientData, ValueError)


def test_operating_months_outside_reference_are_dropped() -> None:
    ref = _reference(years=5)
    # 2004-02 .. 2005-12: 11 months inside the 2000-2004 record, 12 after it.
    months = np.arange(np.datetime64("2004-02"), np.datetime64("2006-01"))
    hist = OperatingHistory(months, np.full(23, 2000.0))
    with pytest.raises(InsufficientData, match=r"only 11 .* 12 without a complete reanalysis"):
        long_term_correction(hist, ref, settings=FAST)


def test_from_request_and_errors_name_the_month() -> None:
    req = {
        "monthly_energy_mwh": [
            {"month": "2014-01", "energy_mwh": 812.0, "availability_loss_pct": 2.0},
            {"month": "2014-02", "energy_mwh": None},
        ]
    }
    hist = OperatingHistory.from_request(req)
    assert str(hist.months[0]) == "2014-01"
    assert np.isnan(hist.values[1])
    assert hist.availability_loss is not None
    np.testing.assert_allclose(hist.availability_loss, [0.02, 0.0])
    assert hist.curtailment_loss is None
    mast = OperatingHistory.from_request({"monthly_wind_ms": [{"month": "2014-01", "wind_ms": 7}]})
    assert mast.quantity == "wind_ms"
    with pytest.raises(OperatingHistoryError, match="'2014-1-15' is not a calendar month"):
        OperatingHistory.from_request({"monthly_energy_mwh": [{"month": "2014-1-15"}]})
    with pytest.raises(OperatingHistoryError, match="month 2014-02: energy_mwh must be"):
        OperatingHistory(np.array(["2014-01", "2014-02"], "datetime64[M]"), [1.0, -5.0])
    with pytest.raises(OperatingHistoryError, match="2014-01 appears more than once"):
        OperatingHistory(np.array(["2014-01", "2014-01"], "datetime64[M]"), [1.0, 2.0])
    with pytest.raises(OperatingHistoryError, match=r"row 0 \(2014-01\): energy_mwh must be a"):
        OperatingHistory.from_request(
            {"monthly_energy_mwh": [{"month": "2014-01", "energy_mwh": "812"}]}
        )
    with pytest.raises(OperatingHistoryError, match="availability_loss must be a fraction"):
        OperatingHistory(np.array(["2014-01"], "datetime64[M]"), [1.0], availability_loss=[1.5])
    with pytest.raises(OperatingHistoryError, match="applies to energy"):
        OperatingHistory(
            np.array(["2014-01"], "datetime64[M]"), [7.0], "wind_ms", availability_loss=[0.1]
        )


def test_site_climate_reference_scales_to_hub_height() -> None:
    ref = _reference(years=12)
    n_years = 12
    site = SiteClimate(
        lat=53.0,
        lon=-6.25,
        cell_lat=53.0,
        cell_lon=-6.25,
        distance_km=0.0,
        dataset=DatasetInfo("test", "0" * 64, True, "2000-01-01", "2011-12-31"),
        reference_height_m=50.0,
        years=np.arange(2000, 2000 + n_years),
        coverage=np.ones(n_years),
        wind_mean_ms=np.full(n_years, 7.0),
        wind_hist_hours=np.zeros((n_years, 1)),
        wind_bin_edges_ms=np.array([0.0, 40.0]),
        shear_exponent=0.2,
        shear_from_data=False,
        air_density_kg_m3=np.full(n_years, 1.225),
        weibull_k=2.0,
        weibull_c_ms=8.0,
        months=ref.months,
        monthly_coverage=np.where(np.arange(ref.months.size) == 5, 0.5, 1.0),
        monthly_wind_mean_ms=np.asarray(ref.wind_ms),
        monthly_wind_hist_hours=np.zeros((ref.months.size, 1)),
        monthly_air_density_kg_m3=np.full(ref.months.size, 1.225),
    )
    r = MonthlyReference.from_site(site, hub_height_m=100.0)
    f = 2.0**0.2  # power law (100/50)^0.2
    np.testing.assert_allclose(r.wind_ms, np.asarray(ref.wind_ms) * f, rtol=1e-12)
    assert not r.complete[5] and r.complete.sum() == ref.months.size - 1
    hist, _ = _history(ref, n=36)
    res_site = long_term_correction(hist, site, hub_height_m=100.0, settings=FAST)
    res_ref = long_term_correction(hist, r, settings=FAST)
    # Same inputs either way; scaling the regressor scales the slope by 1/f.
    assert res_site.p50 == res_ref.p50
    assert res_site.fit.slope * f == pytest.approx(
        long_term_correction(hist, site, settings=FAST).fit.slope, rel=1e-9
    )


@pytest.fixture(scope="module")
def merra2_monthly() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with xr.open_dataset(MERRA2) as ds:
        ws = ds["ws50m"].astype("float64")
        assert int(ws.isnull().sum()) == 0  # every hour present: every month complete
        monthly = ws.resample(time="1MS").mean()
        node = monthly.sel(latitude=53.0, longitude=-6.25).values
        neighbour = monthly.sel(latitude=53.5, longitude=-6.25).values
        months = monthly["time"].values.astype("datetime64[M]")
    return months, node, neighbour


def _numpy_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Slope, intercept and R^2 from sums of squares (independent of statsmodels)."""
    dx, dy = x - x.mean(), y - y.mean()
    slope = float(dx @ dy / (dx @ dx))
    r2 = float((dx @ dy) ** 2 / ((dx @ dx) * (dy @ dy)))
    return slope, float(y.mean() - slope * x.mean()), r2


def test_merra2_node_on_neighbour_matches_numpy(
    merra2_monthly: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    months, node, neighbour = merra2_monthly
    assert months.size == 210  # 2000-01 .. 2017-06
    fit = fit_monthly_regression(neighbour, node)
    slope, intercept, r2 = _numpy_fit(neighbour, node)
    assert fit.slope == pytest.approx(slope, rel=1e-9)
    assert fit.intercept == pytest.approx(intercept, rel=1e-9)
    assert fit.r_squared == pytest.approx(r2, rel=1e-9)
    # Residual sigma with n - 2 degrees of freedom.
    resid = node - (intercept + slope * neighbour)
    assert fit.sigma == pytest.approx(np.sqrt(resid @ resid / (node.size - 2)), rel=1e-9)


def test_merra2_long_term_correction_of_three_years_of_mast_wind(
    merra2_monthly: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    months, node, neighbour = merra2_monthly
    ref = MonthlyReference(months, neighbour, np.ones(months.size, dtype=bool))
    hist = OperatingHistory(months[-36:], node[-36:], quantity="wind_ms")
    res = long_term_correction(hist, ref, seed=0)
    used = np.isin(months[-36:].astype(str), res.months_used)
    slope, _, r2 = _numpy_fit(neighbour[-36:][used], node[-36:][used])
    assert res.fit.slope == pytest.approx(slope, rel=1e-9)
    assert res.fit.r_squared == pytest.approx(r2, rel=1e-9)
    # Independent truth: the node's own 17.5-year record, calendar-month means weighted by
    # mean month length. Three years of "mast" data corrected with the neighbour land within
    # 1 % of it (measured 0.5 %) and within 3 bootstrap sigma.
    df = pd.DataFrame({"cal": months.astype(int) % 12, "v": node, "d": days_in_month(months)})
    g = df.groupby("cal")
    truth = float((g.v.mean() * g.d.mean()).sum() / g.d.mean().sum())
    assert res.point_estimate == pytest.approx(truth, rel=0.01)
    assert abs(res.point_estimate - truth) < 3 * res.sigma
    assert res.units == "m s-1" and "p50_ms" in res.to_dict()


def test_same_seed_same_result_and_to_dict_is_json() -> None:
    import json

    ref = _reference()
    hist, _ = _history(ref)
    r1 = long_term_correction(hist, ref, settings=FAST, seed=7)
    r2 = long_term_correction(hist, ref, settings=FAST, seed=7)
    r3 = long_term_correction(hist, ref, settings=FAST, seed=8)
    assert r1.to_dict() == r2.to_dict()
    assert r1.p50 != r3.p50
    doc = json.loads(json.dumps(r1.to_dict(), allow_nan=False))
    assert doc["method"] == "operating_history"
    assert doc["fit"]["n_months"] == r1.fit.n


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    perm_seed=st.integers(0, 2**32 - 1),
    scale=st.floats(0.01, 100.0),
)
def test_fit_invariant_to_month_order_and_equivariant_to_scale(
    perm_seed: int, scale: float
) -> None:
    ref = _reference()
    hist, _ = _history(ref, n=30)
    cfg = LongTermSettings(n_bootstrap=100, outlier_threshold=1e6)
    base = long_term_correction(hist, ref, settings=cfg)
    order = np.random.default_rng(perm_seed).permutation(30)
    shuffled = OperatingHistory(
        hist.months[order], hist.values[order], availability_loss=hist.availability_loss
    )
    perm = long_term_correction(shuffled, ref, settings=cfg)
    assert perm.fit.slope == pytest.approx(base.fit.slope, rel=1e-9)
    assert perm.point_estimate == pytest.approx(base.point_estimate, rel=1e-9)
    scaled = OperatingHistory(
        hist.months, hist.values * scale, availability_loss=hist.availability_loss
    )
    sc = long_term_correction(scaled, ref, settings=cfg)
    assert sc.fit.slope == pytest.approx(base.fit.slope * scale, rel=1e-9)
    assert sc.fit.r_squared == pytest.approx(base.fit.r_squared, rel=1e-9)
    # Same seed, same resampling: every replicate scales, so P50, sigma and P90 do too.
    assert sc.p50 == pytest.approx(base.p50 * scale, rel=1e-9)
    assert sc.sigma == pytest.approx(base.sigma * scale, rel=1e-9)
    assert sc.p90 <= sc.p50


# ---------------------------------------------------- losses in MWh (OpenOA's convention)


def _history_mwh(
    ref: MonthlyReference, n: int = 60, seed: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Operating months whose GROSS 30-day energy follows A + B wind + noise exactly.

    Availability loss 0-5 % and curtailment 0-8 % of gross each month, and every 7th month a
    30 % curtailment (a month a loss filter must drop). Returns months, net, availability and
    curtailment losses [MWh], and the loss fractions.
    """
    rng = np.random.default_rng(seed)
    months = ref.months[-n:]
    gross = (A + B * ref.wind_ms[-n:] + rng.normal(0, SIGMA, n)) * days_in_month(months) / 30.0
    f_avail = rng.uniform(0.0, 0.05, n)
    f_curt = rng.uniform(0.0, 0.08, n)
    f_curt[::7] = 0.30
    avail, curt = gross * f_avail, gross * f_curt
    return months, gross - avail - curt, avail, curt, f_avail + f_curt


def test_losses_in_mwh_recover_the_gross_relation() -> None:
    # Truth: gross 30-day energy = -800 + 400 U (+ N(0, 60)). With losses given in MWh,
    # gross = net + losses is regressed on wind; months above the 15 % loss threshold (the
    # nine 30 % curtailment months) are dropped; the long-term gross is reduced by the mean
    # loss fraction of the months used. Tolerances: 3 standard errors of the fitted slope and
    # intercept, and 1e-9 relative for the long-term figure against an independent pandas
    # computation with the fitted coefficients.
    ref = _reference()
    months, net, avail, curt, frac = _history_mwh(ref)
    hist = OperatingHistory.from_energy_mwh(months, net, avail, curt)
    np.testing.assert_allclose(hist.total_loss, frac, rtol=1e-12)
    res = long_term_correction(hist, ref, settings=FAST, seed=3)
    fit = res.fit
    se_b = (fit.slope_ci[1] - fit.slope_ci[0]) / (2 * 1.96)
    se_a = (fit.intercept_ci[1] - fit.intercept_ci[0]) / (2 * 1.96)
    assert abs(fit.slope - B) < 3 * se_b
    assert abs(fit.intercept - A) < 3 * se_a
    assert res.n_dropped_loss == 9  # months 0, 7, ..., 56 of 60
    kept = np.isin(months.astype(str), res.months_used)  # loss <= 15 % and not an outlier
    assert not np.any(kept & (frac > 0.15)) and kept.sum() == res.n_months_used
    assert res.mean_loss_fraction == pytest.approx(frac[kept].mean(), rel=1e-12)
    assert res.mean_availability_loss_fraction == pytest.approx(
        (avail / (net + avail + curt))[kept].mean(), rel=1e-12
    )
    assert res.mean_curtailment_loss_fraction == pytest.approx(
        (curt / (net + avail + curt))[kept].mean(), rel=1e-12
    )
    truth = _lt_truth(ref, fit.intercept, fit.slope, 1.0 - res.mean_loss_fraction, 20)
    assert res.point_estimate == pytest.approx(truth, rel=1e-9)
    d = res.to_dict()
    assert d["max_loss_fraction"] == 0.15 and d["loss_threshold_range"] == [0.10, 0.20]
    # reading the net energy alone, as if there were no losses, biases the fit low
    naive = long_term_correction(OperatingHistory(months, net), ref, settings=FAST, seed=3)
    assert naive.fit.slope < fit.slope - 3 * se_b


def test_all_zero_losses_equal_no_losses() -> None:
    ref = _reference()
    months, net, _, _, _ = _history_mwh(ref)
    zeros = np.zeros(net.size)
    with_zero = OperatingHistory.from_energy_mwh(months, net, zeros, zeros)
    without = OperatingHistory(months, net)
    a = long_term_correction(with_zero, ref, settings=FAST, seed=9)
    b = long_term_correction(without, ref, settings=FAST, seed=9)
    assert a.p50 == b.p50 and a.sigma == b.sigma and a.point_estimate == b.point_estimate
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.mean_loss_fraction == 0.0 == a.mean_curtailment_loss_fraction


def test_mwh_losses_are_checked() -> None:
    with pytest.raises(OperatingHistoryError, match=r"2020-02: curtailment_loss_mwh.*>= 0"):
        OperatingHistory.from_energy_mwh(["2020-01", "2020-02"], [100.0, 100.0], None, [0.0, -1.0])
    # a missing month keeps NaN energy and no loss
    h = OperatingHistory.from_energy_mwh(["2020-01", "2020-02"], [np.nan, 90.0], [5.0, 10.0])
    assert np.isnan(h.values[0]) and h.total_loss[1] == pytest.approx(0.1)
    # a month entirely curtailed (no net energy) is a loss of (almost) 1, never an error
    full = OperatingHistory.from_energy_mwh(["2020-01"], [0.0], [100.0], [300.0])
    assert full.total_loss[0] == pytest.approx(1.0, abs=1e-8) and full.total_loss[0] < 1.0
    assert full.curtailment_loss is not None and full.curtailment_loss[0] == pytest.approx(0.75)


# ------------------------------------------- another quantity is never read as MWh


def test_wind_speeds_sent_as_energy_are_rejected() -> None:
    from models.longterm import check_energy_plausible

    months = np.arange(np.datetime64("2020-01"), np.datetime64("2022-01"))
    speeds = 7.0 + 1.5 * np.cos(np.arange(24) / 12 * 2 * np.pi)
    with pytest.raises(OperatingHistoryError, match=r"monthly_energy_mwh.*look like wind speeds"):
        check_energy_plausible(OperatingHistory(months, speeds), 50.0)
    # kWh sent as MWh: above capacity x hours (50 MW x 744 h = 37,200 MWh in January)
    with pytest.raises(OperatingHistoryError, match=r"2020-01 has 12,000,000 MWh.*37,200 MWh"):
        check_energy_plausible(OperatingHistory(months, np.full(24, 12e6)), 50.0)
    # GWh sent as MWh: 42 "MWh" a month is 0.11 % of capacity
    with pytest.raises(OperatingHistoryError, match=r"median month is 42\.0 MWh, 0\.11 %"):
        check_energy_plausible(OperatingHistory(months, np.full(24, 12.0 + 30)), 50.0)
    with pytest.raises(OperatingHistoryError, match="not monthly energy"):
        check_energy_plausible(OperatingHistory(months, speeds, quantity="wind_ms"), 50.0)


def test_real_energy_is_not_rejected() -> None:
    # A 50 MW farm at capacity factors from 1.5 % (a calm, curtailed month) to 60 %, with a
    # few zero months before commissioning and a missing month: plausible, accepted.
    from models.longterm import check_energy_plausible

    months = np.arange(np.datetime64("2020-01"), np.datetime64("2023-01"))
    hours = days_in_month(months) * 24
    cf = np.linspace(0.015, 0.60, months.size)
    energy = 50.0 * hours * cf
    energy[:3] = 0.0
    energy[10] = np.nan
    check_energy_plausible(OperatingHistory(months, energy), 50.0)
    # exactly full output every hour is the physical limit, still accepted
    check_energy_plausible(OperatingHistory(months, 50.0 * hours), 50.0)
