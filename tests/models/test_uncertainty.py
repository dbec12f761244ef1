"""Exceedance levels (models/uncertainty.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.uncertainty import (
    SIGMA_MODEL_OPERATING,
    SIGMA_MODEL_REANALYSIS,
    Z_P90,
    Z_P99,
    Exceedance,
    InsufficientData,
    exceedance,
    exceedance_level,
    sigma_n_years,
)


def test_z_values() -> None:
    # Standard-normal quantiles: z(P90) = 1.2816, z(P99) = 2.3263 (4 decimals).
    assert abs(Z_P90 - 1.2816) < 5e-5
    assert abs(Z_P99 - 2.3263) < 5e-5


def test_defaults_are_ordered() -> None:
    # Calibrating on operating data must shrink the model uncertainty.
    assert 0 < SIGMA_MODEL_OPERATING < SIGMA_MODEL_REANALYSIS < 0.2


def test_hand_computed_example() -> None:
    # Hand calculation: energies 90, 100, 110 MWh -> mean 100, sd (ddof 1) 10, IAV 0.1, and a
    # record of N_rec = 3 years, so the long-term mean is uncertain by 0.1 / sqrt(3) = 0.057735
    # (variance 0.01 / 3 = 0.0033333). sigma_model 0.08 (variance 0.0064):
    # sigma_1y = sqrt(0.01 + 0.0033333 + 0.0064) = sqrt(0.0197333) = 0.140475;
    # sigma_10y = sqrt(0.001 + 0.0033333 + 0.0064) = sqrt(0.0107333) = 0.103602.
    # P90 = 100 (1 - 1.281552 * 0.140475) = 81.99736; P99 = 100 (1 - 2.326348 * 0.140475)
    # = 67.32054; P90_10y = 100 (1 - 1.281552 * 0.103602) = 86.72289; P99_10y = 75.89862.
    # Tolerance 1e-4 MWh on the hand-rounded values.
    ex = exceedance([90.0, 100.0, 110.0], 0.08)
    assert ex.p50 == pytest.approx(100.0, rel=1e-12)
    assert ex.sigma_iav == pytest.approx(0.1, rel=1e-12)
    assert ex.sigma_lt_mean == pytest.approx(0.1 / math.sqrt(3), rel=1e-12)
    assert ex.sigma_1y == pytest.approx(math.sqrt(0.01 + 0.01 / 3 + 0.0064), rel=1e-12)
    assert ex.sigma_10y == pytest.approx(math.sqrt(0.001 + 0.01 / 3 + 0.0064), rel=1e-12)
    assert ex.sigma_1y == pytest.approx(0.140475, abs=5e-7)
    assert ex.sigma_10y == pytest.approx(0.103602, abs=5e-7)
    assert ex.p90 == pytest.approx(81.99736, abs=1e-4)
    assert ex.p99 == pytest.approx(67.32054, abs=1e-4)
    assert ex.p90_10y == pytest.approx(86.72289, abs=1e-4)
    assert ex.p99_10y == pytest.approx(75.89862, abs=1e-4)
    assert ex.n_years == 3
    assert ex.sigma_model == 0.08


def test_long_term_mean_term_never_averages_out() -> None:
    # sigma_N -> sqrt(sigma_IAV^2 / N_rec + sigma_model^2) as N grows: P90 never reaches P50
    # however long the horizon, and a longer record shrinks it.
    assert sigma_n_years(0.1, 0.08, 1e9, 3) == pytest.approx(math.sqrt(0.01 / 3 + 0.0064))
    assert sigma_n_years(0.1, 0.08, 10, 30) < sigma_n_years(0.1, 0.08, 10, 3)
    assert sigma_n_years(0.1, 0.08, 10) == pytest.approx(math.sqrt(0.001 + 0.0064))
    with pytest.raises(ValueError, match="n_record_years"):
        sigma_n_years(0.1, 0.08, 10, 0)


def test_finance_reference_band() -> None:
    # Onshore wind total sigma 8-10 % (Lee and Fields 2021, doi:10.5194/wes-6-311-2021) puts
    # P90 about 10-13 % below P50. With the
    # MERRA-2 node's E-126/4200 energies (IAV 5.7 %) and the reanalysis default, P90/P50
    # must land in that band give or take a point.
    # MWh per year 2000-2016, windpowerlib ModelChain output (see test_wind.py).
    annual = np.array(
        [
            *(17625.3, 16941.1, 17905.2, 17472.6, 18037.4, 19033.1, 17395.9, 18221.7, 18582.8),
            *(18492.0, 15015.0, 17892.1, 16695.4, 18701.3, 17289.4, 19116.6, 16873.6),
        ]
    )
    ex = exceedance(annual, SIGMA_MODEL_REANALYSIS)
    assert ex.sigma_iav == pytest.approx(0.0572, abs=5e-4)
    assert 0.86 <= ex.p90 / ex.p50 <= 0.90


def test_to_dict() -> None:
    d = exceedance([90.0, 100.0, 110.0], 0.04).to_dict()
    assert set(d) == {
        "p50_mwh",
        "p90_mwh",
        "p99_mwh",
        "p90_10y_mwh",
        "p99_10y_mwh",
        "sigma",
        "n_years",
    }
    assert d["sigma"]["iav"] == 0.1
    assert d["p50_mwh"] == 100.0


def test_insufficient_data() -> None:
    with pytest.raises(InsufficientData, match="1 complete year"):
        exceedance([100.0], 0.08)
    with pytest.raises(InsufficientData, match="at least 2"):
        exceedance([], 0.08)
    assert issubclass(InsufficientData, ValueError)


@pytest.mark.parametrize(
    ("energy", "sigma", "message"),
    [
        ([100.0, math.nan], 0.08, "NaN"),
        ([100.0, -1.0], 0.08, "non-negative"),
        ([0.0, 0.0], 0.08, "zero"),
        ([100.0, 110.0], -0.1, "fraction"),
        ([100.0, 110.0], 8.0, "fraction"),
        ([100.0, 110.0], math.nan, "number"),
        ([[100.0, 110.0]], 0.08, "1-D"),
    ],
)
def test_bad_input(energy: list[float], sigma: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        exceedance(energy, sigma)


def test_floor_at_zero() -> None:
    # z sigma > 1: the normal approximation would give negative energy.
    assert exceedance_level(100.0, Z_P99, 0.5) == 0.0
    ex = exceedance([10.0, 200.0, 5.0], 0.2)
    assert ex.p99 == 0.0 and ex.p90 >= 0.0


def test_sigma_n_years() -> None:
    assert sigma_n_years(0.06, 0.08, 1) == pytest.approx(0.1, rel=1e-12)
    assert sigma_n_years(0.06, 0.0, 4) == pytest.approx(0.03, rel=1e-12)
    with pytest.raises(ValueError, match="n_years"):
        sigma_n_years(0.06, 0.08, 0)


energies = st.lists(st.floats(1.0, 1e6), min_size=2, max_size=40)
sigmas = st.floats(0.0, 0.5)


@given(e=energies, s=sigmas)
def test_p90_below_p50_and_ordering(e: list[float], s: float) -> None:
    ex = exceedance(e, s)
    assert isinstance(ex, Exceedance)
    assert 0.0 <= ex.p99 <= ex.p90 <= ex.p50
    assert 0.0 <= ex.p99_10y <= ex.p90_10y <= ex.p50
    # The ten-year mean varies less than a single year.
    assert ex.sigma_10y <= ex.sigma_1y
    assert ex.p90_10y >= ex.p90
    assert ex.p99_10y >= ex.p99


@given(e=energies, s1=sigmas, s2=sigmas)
def test_more_model_uncertainty_lowers_p90(e: list[float], s1: float, s2: float) -> None:
    lo, hi = sorted((s1, s2))
    assert exceedance(e, hi).p90 <= exceedance(e, lo).p90 + 1e-9 * max(e)


@given(e=energies, k=st.floats(0.01, 100.0), s=sigmas)
def test_scale_invariance(e: list[float], k: float, s: float) -> None:
    # Scaling every year's energy scales P-levels and leaves sigmas unchanged.
    a = exceedance(e, s)
    b = exceedance([x * k for x in e], s)
    assert b.sigma_iav == pytest.approx(a.sigma_iav, rel=1e-9, abs=1e-12)
    assert b.p90 == pytest.approx(a.p90 * k, rel=1e-9, abs=1e-9)
