"""Tests for models.finance: hand-computed schedules, cover ratios, sizing and invariants."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from models.finance import (
    CovenantSizing,
    DscrCovenant,
    FinanceTerms,
    annuity_payment,
    cfads,
    debt_metrics,
    debt_service,
    dscr,
    llcr,
    llcr_by_year,
    size_debt_covenants,
)


def make_terms(**overrides: object) -> FinanceTerms:
    base: dict[str, object] = {
        "loan_amount": 1_000_000.0,
        "currency": "EUR",
        "tenor_years": 10,
        "interest_rate_pct": 6.0,
        "repayment": "annuity",
        "tariff_per_mwh": 50.0,
        "opex_per_year": 0.0,
    }
    base.update(overrides)
    return FinanceTerms(**base)  # type: ignore[arg-type]


# ---------------------------------------------------------------- FinanceTerms validation


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("loan_amount", 0.0),
        ("loan_amount", -5.0),
        ("loan_amount", math.nan),
        ("loan_amount", "1e6"),
        ("currency", "eur"),
        ("currency", "EURO"),
        ("currency", ""),
        ("tenor_years", 0),
        ("tenor_years", 31),
        ("tenor_years", 10.0),
        ("tenor_years", True),
        ("interest_rate_pct", -0.1),
        ("interest_rate_pct", 100.0),
        ("interest_rate_pct", math.inf),
        ("repayment", "bullet"),
        ("tariff_per_mwh", -1.0),
        ("opex_per_year", -1.0),
        ("tariff_escalation_pct", -100.0),
        ("opex_inflation_pct", math.nan),
        ("target_dscr", 0.99),
    ],
)
def test_terms_reject_bad_field_and_name_it(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        make_terms(**{field: value})


def test_terms_accept_boundaries_and_are_frozen() -> None:
    terms = make_terms(tenor_years=30, interest_rate_pct=0.0, target_dscr=1.0, currency="CNY")
    assert terms.rate == 0.0
    assert terms.target_dscr == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        terms.loan_amount = 2.0  # type: ignore[misc]


# ---------------------------------------------------------------------------- CFADS


def test_cfads_hand_computed_with_escalation_inflation_degradation() -> None:
    # Hand computation: tariff 50 escalating 2 %/yr -> 50, 51, 52.02; opex 10,000 inflating
    # 3 %/yr -> 10,000, 10,300, 10,609; degradation 1, 0.99, 0.98 on 1,000 MWh:
    # 50,000 - 10,000 = 40,000; 990*51 - 10,300 = 40,190; 980*52.02 - 10,609 = 40,370.6
    terms = make_terms(
        tenor_years=3,
        opex_per_year=10_000.0,
        tariff_escalation_pct=2.0,
        opex_inflation_pct=3.0,
    )
    got = cfads([1000.0, 1000.0, 1000.0], terms, degradation_factors=[1.0, 0.99, 0.98])
    np.testing.assert_allclose(got, [40_000.0, 40_190.0, 40_370.6], rtol=0, atol=1e-8)


def test_cfads_keeps_leading_axes_and_propagates_nan() -> None:
    terms = make_terms(tenor_years=3, opex_per_year=1000.0)
    energy = np.array([[100.0, 200.0, np.nan], [0.0, 10.0, 20.0]])
    got = cfads(energy, terms)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got[1], [-1000.0, -500.0, 0.0])
    assert np.isnan(got[0, 2])  # missing energy stays missing, never filled
    np.testing.assert_allclose(got[0, :2], [4000.0, 9000.0])


@pytest.mark.parametrize(
    ("energy", "deg", "match"),
    [
        ([-1.0, 1.0], None, "energy_mwh_by_year"),
        (5.0, None, "scalar"),
        ([1.0, 1.0], [1.0], "degradation_factors"),
        ([1.0, 1.0], [1.0, -0.1], "degradation_factors"),
        ([1.0, 1.0], [1.0, np.nan], "degradation_factors"),
    ],
)
def test_cfads_rejects_bad_input(energy: object, deg: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cfads(energy, make_terms(), deg)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- debt service


def test_annuity_payment_textbook_value() -> None:
    # A = D r / (1 - (1+r)^-n) with D = 1,000,000, r = 6 %, n = 10: 135,867.96 (standard
    # annuity tables; present-value annuity factor a_10 at 6 % = 7.360087).
    assert annuity_payment(1_000_000.0, 6.0, 10) == pytest.approx(135_867.96, abs=0.005)
    assert annuity_payment(1_000_000.0, 0.0, 8) == 125_000.0


def test_annuity_schedule_hand_values() -> None:
    sched = debt_service(make_terms())
    np.testing.assert_allclose(sched.debt_service, 135_867.958220, rtol=1e-10)
    # Year 1: interest 6 % of 1,000,000; principal = A - interest.
    assert sched.interest[0] == pytest.approx(60_000.0, abs=1e-6)
    assert sched.principal[0] == pytest.approx(75_867.958220, abs=1e-5)
    assert sched.closing_balance[0] == pytest.approx(924_132.041780, abs=1e-5)
    assert sched.closing_balance[-1] == 0.0
    assert sched.sculpted_dscr is None
    assert sched.meets_target is None
    np.testing.assert_array_equal(sched.years, np.arange(1, 11))


def test_annuity_zero_rate_is_straight_line() -> None:
    sched = debt_service(make_terms(interest_rate_pct=0.0, tenor_years=4))
    np.testing.assert_allclose(sched.debt_service, 250_000.0, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sched.interest, 0.0, atol=0)


def test_equal_principal_hand_values() -> None:
    # D = 1,000,000, n = 4, r = 10 %: principal 250,000 a year; interest on opening balances
    # 1,000,000 / 750,000 / 500,000 / 250,000 -> 100,000 / 75,000 / 50,000 / 25,000.
    sched = debt_service(
        make_terms(repayment="equal_principal", tenor_years=4, interest_rate_pct=10.0)
    )
    np.testing.assert_allclose(sched.principal, 250_000.0, rtol=0, atol=1e-6)
    np.testing.assert_allclose(sched.interest, [100_000, 75_000, 50_000, 25_000], atol=1e-6)
    np.testing.assert_allclose(sched.debt_service, [350_000, 325_000, 300_000, 275_000], atol=1e-6)
    np.testing.assert_allclose(sched.opening_balance, [1e6, 750_000, 500_000, 250_000], atol=1e-6)


SCULPT_CFADS = np.array([100_000.0, 120_000.0, 90_000.0, 110_000.0])
# Hand computation, target 1.30 and r = 5 %: sum CFADS_t / 1.3 / 1.05^t
# = 73,260.07 + 83,725.78 + 59,804.13 + 69,613.32 = 286,403.30
SCULPT_CAPACITY = 286_403.2990369239


def sculpt_terms(loan: float) -> FinanceTerms:
    return make_terms(
        loan_amount=loan,
        repayment="sculpted",
        tenor_years=4,
        interest_rate_pct=5.0,
        target_dscr=1.30,
    )


def test_sculpted_at_capacity_has_exactly_the_target_dscr() -> None:
    sched = debt_service(sculpt_terms(SCULPT_CAPACITY), SCULPT_CFADS)
    np.testing.assert_allclose(dscr(SCULPT_CFADS, sched), 1.30, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sched.debt_service, SCULPT_CFADS / 1.3, rtol=1e-12)
    assert sched.sculpted_debt_capacity == pytest.approx(SCULPT_CAPACITY, rel=1e-12)
    assert sched.sculpted_dscr == pytest.approx(1.30, rel=1e-12)
    assert sched.meets_target is True
    assert sched.closing_balance[-1] == 0.0
    assert sched.principal.sum() == pytest.approx(SCULPT_CAPACITY, rel=1e-12)


def test_sculpted_below_capacity_keeps_shape_with_more_cover() -> None:
    sched = debt_service(sculpt_terms(SCULPT_CAPACITY / 1.1), SCULPT_CFADS)
    np.testing.assert_allclose(dscr(SCULPT_CFADS, sched), 1.30 * 1.1, rtol=1e-12)
    assert sched.meets_target is True


def test_sculpted_above_capacity_spreads_the_shortfall_and_flags_it() -> None:
    sched = debt_service(sculpt_terms(SCULPT_CAPACITY * 1.2), SCULPT_CFADS)
    np.testing.assert_allclose(dscr(SCULPT_CFADS, sched), 1.30 / 1.2, rtol=1e-12)
    assert sched.meets_target is False
    assert sched.sculpted_dscr == pytest.approx(1.30 / 1.2, rel=1e-12)
    assert sched.closing_balance[-1] == 0.0  # still fully repaid, no balloon


@pytest.mark.parametrize(
    ("profile", "match"),
    [
        (None, "cfads_for_sculpting is required"),
        ([1.0, 2.0, 3.0], "tenor is 4"),
        ([1.0, 2.0, 0.0, 4.0], "year 3"),
        ([1.0, np.nan, 1.0, 4.0], "year 2"),
    ],
)
def test_sculpted_rejects_unusable_profile(profile: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        debt_service(sculpt_terms(1000.0), profile)  # type: ignore[arg-type]


def test_schedule_arrays_are_read_only() -> None:
    sched = debt_service(make_terms())
    with pytest.raises(ValueError, match="read-only"):
        sched.debt_service[0] = 0.0
    as_dict = sched.to_dict()
    assert as_dict["debt_service"][0] == pytest.approx(135_867.96, abs=0.005)


# --------------------------------------------------------------------------- DSCR, LLCR


def test_flat_cfads_annuity_llcr_closed_form() -> None:
    # Flat CFADS C against an annuity: NPV = C a_n and D = A a_n, so LLCR = C / A = DSCR in
    # every year; with C = 200,000 and A = 135,867.96: 1.472017.
    sched = debt_service(make_terms())
    flat = np.full(10, 200_000.0)
    expected = 200_000.0 / annuity_payment(1_000_000.0, 6.0, 10)
    assert expected == pytest.approx(1.4720174, abs=1e-7)
    assert llcr(flat, sched) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(llcr_by_year(flat, sched), expected, rtol=1e-12)
    np.testing.assert_allclose(dscr(flat, sched), expected, rtol=1e-12)


def test_flat_cfads_equal_principal_llcr_and_other_rate() -> None:
    sched = debt_service(make_terms(repayment="equal_principal"))
    flat = np.full(10, 200_000.0)
    # LLCR = C a_n / D with a_10 at 6 % = 7.360087051: 1.4720174
    assert llcr(flat, sched) == pytest.approx(200_000.0 * 7.360087051414703 / 1e6, rel=1e-12)
    # Discounting at 0 %: LLCR = n C / D = 2.0
    assert llcr(flat, sched, rate_pct=0.0) == pytest.approx(2.0, rel=1e-12)


def test_debt_metrics_hand_values() -> None:
    # Equal principal D = 1e6, n = 4, 10 %: DS 350k/325k/300k/275k; CFADS 400k flat.
    sched = debt_service(
        make_terms(repayment="equal_principal", tenor_years=4, interest_rate_pct=10.0)
    )
    m = debt_metrics(np.full(4, 400_000.0), sched)
    ratios = [400 / 350, 400 / 325, 400 / 300, 400 / 275]
    assert m.min_dscr == pytest.approx(400 / 350, rel=1e-12)
    assert m.min_dscr_year == 1
    assert m.avg_dscr == pytest.approx(sum(ratios) / 4, rel=1e-12)
    # LLCR = 400k * a_4(10 %) / 1e6, a_4 = 3.169865
    assert m.llcr == pytest.approx(0.4 * 3.1698654463, rel=1e-9)
    assert set(m.to_dict()) == {"min_dscr", "min_dscr_year", "avg_dscr", "llcr"}


def test_dscr_and_metrics_reject_wrong_length_or_missing() -> None:
    sched = debt_service(make_terms())
    with pytest.raises(ValueError, match="10 years"):
        dscr(np.ones(9), sched)
    with pytest.raises(ValueError, match="year 4"):
        debt_metrics(np.r_[np.ones(3), np.nan, np.ones(6)], sched)
    with pytest.raises(ValueError, match="rate_pct"):
        llcr(np.ones(10), sched, rate_pct=-1.0)


# ---------------------------------------------------------------------------- sizing


def size_debt(
    c50: np.ndarray, c90: np.ndarray, terms: FinanceTerms, t50: float, t90: float
) -> CovenantSizing:
    """The two-covenant case (P50 and P90) of :func:`size_debt_covenants`."""
    return size_debt_covenants(
        [DscrCovenant("p50", "p50", c50, t50), DscrCovenant("p90", "p90", c90, t90)], terms
    )


def test_size_annuity_hand_example() -> None:
    # Flat CFADS: P50 200,000, P90 170,000; targets 1.35 / 1.20; n = 10, r = 6 %.
    # Allowed annuity = min(200,000 / 1.35, 170,000 / 1.20) = 141,666.67 (P90 binds);
    # D = 141,666.67 * a_10(6 %) = 141,666.67 * 7.360087051 = 1,042,679.00
    res = size_debt(np.full(10, 200_000.0), np.full(10, 170_000.0), make_terms(), 1.35, 1.20)
    assert res.max_loan_amount == pytest.approx(1_042_679.00, abs=0.01)
    assert res.binding == "p90"
    assert res.dscr_min[1] == pytest.approx(1.20, rel=1e-12)
    assert res.dscr_min[0] == pytest.approx(200_000 / 141_666.6667, rel=1e-9)
    assert res.schedule is not None and res.terms is not None
    assert res.terms.loan_amount == res.max_loan_amount
    assert res.schedule.repayment == "annuity"
    assert res.limits == pytest.approx((200_000 / 1.35 * 7.360087051, 1_042_679.00), rel=1e-8)


def _bisect_max_loan(
    c50: np.ndarray, c90: np.ndarray, terms: FinanceTerms, t50: float, t90: float
) -> float:
    """Independent check: largest loan meeting both targets by bisection on the schedule."""

    def ok(amount: float) -> bool:
        sched = debt_service(dataclasses.replace(terms, loan_amount=amount))
        return bool(dscr(c50, sched).min() >= t50 and dscr(c90, sched).min() >= t90)

    lo, hi = 1e-6, 1e9
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


# CFADS with opex so that P90 is not proportional to P50, and a profile that is not flat.
ENERGY_P50 = np.array([52_000, 50_500, 49_800, 51_200, 48_700, 50_100, 49_000, 47_900.0])
ENERGY_P90 = 0.88 * ENERGY_P50
OPEX_TERMS = {"tenor_years": 8, "tariff_per_mwh": 60.0, "opex_per_year": 900_000.0}


@pytest.mark.parametrize("repayment", ["annuity", "equal_principal"])
def test_size_linear_profiles_match_independent_bisection(repayment: str) -> None:
    terms = make_terms(repayment=repayment, opex_inflation_pct=2.5, **OPEX_TERMS)
    c50, c90 = cfads(ENERGY_P50, terms), cfads(ENERGY_P90, terms)
    res = size_debt(c50, c90, terms, 1.35, 1.20)
    expected = _bisect_max_loan(c50, c90, terms, 1.35, 1.20)
    assert res.max_loan_amount == pytest.approx(expected, rel=1e-9)
    assert res.binding_year is not None
    assert min(res.dscr_min[0] - 1.35, res.dscr_min[1] - 1.20) == pytest.approx(0.0, abs=1e-9)


def test_size_sculpted_matches_linear_programme() -> None:
    terms = make_terms(repayment="sculpted", opex_inflation_pct=2.5, **OPEX_TERMS)
    c50, c90 = cfads(ENERGY_P50, terms), cfads(ENERGY_P90, terms)
    res = size_debt(c50, c90, terms, 1.35, 1.20)
    # Independent: maximise sum DS_t v^t subject to DS_t <= CFADS_c,t / target_c (scipy LP).
    v = 1.06 ** -np.arange(1, 9)
    lp = linprog(
        -v,
        A_ub=np.vstack([np.eye(8), np.eye(8)]),
        b_ub=np.r_[c50 / 1.35, c90 / 1.20],
        bounds=[(0, None)] * 8,
        method="highs",
    )
    assert lp.status == 0
    assert res.max_loan_amount == pytest.approx(-lp.fun, rel=1e-9)
    assert res.schedule is not None and res.terms is not None
    assert res.dscr_min[0] >= 1.35 - 1e-9
    assert res.dscr_min[1] >= 1.20 - 1e-9
    # Every year is at a target in one of the two cases (no slack left anywhere).
    tight = np.minimum(dscr(c50, res.schedule) / 1.35, dscr(c90, res.schedule) / 1.20)
    np.testing.assert_allclose(tight, 1.0, rtol=0, atol=1e-9)
    # The sculpting profile reproduces the sized schedule through debt_service.
    again = debt_service(res.terms, res.sculpting_cfads)
    np.testing.assert_allclose(again.debt_service, res.schedule.debt_service, rtol=1e-12)
    assert again.sculpted_dscr == pytest.approx(terms.target_dscr, rel=1e-12)
    assert res.binding_year is None


def test_size_sculpted_proportional_cases_is_classic_capacity() -> None:
    # No opex: CFADS_p90 = 0.88 CFADS_p50, so P90 binds iff 0.88 / 1.20 < 1 / 1.35 (0.733 <
    # 0.741: yes) and the loan is the classic sculpted capacity sum (CFADS90 / 1.20) v^t.
    terms = make_terms(repayment="sculpted", tenor_years=8, tariff_per_mwh=60.0)
    c50, c90 = cfads(ENERGY_P50, terms), cfads(ENERGY_P90, terms)
    res = size_debt(c50, c90, terms, 1.35, 1.20)
    v = 1.06 ** -np.arange(1, 9)
    assert res.binding == "p90"
    assert res.max_loan_amount == pytest.approx(float(np.sum(c90 / 1.20 * v)), rel=1e-12)


@pytest.mark.parametrize("repayment", ["annuity", "equal_principal", "sculpted"])
def test_size_returns_zero_when_a_year_loses_money(repayment: str) -> None:
    c = np.full(10, 100_000.0)
    c90 = c.copy()
    c90[4] = -5.0
    res = size_debt(c, c90, make_terms(repayment=repayment), 1.3, 1.1)
    assert res.max_loan_amount == 0.0
    assert res.schedule is None and res.terms is None
    assert math.isnan(res.dscr_min[1])


def test_size_rejects_bad_targets_and_missing_cfads() -> None:
    c = np.full(10, 100_000.0)
    with pytest.raises(ValueError, match="target"):
        size_debt(c, c, make_terms(), 1.3, 0.0)
    with pytest.raises(ValueError, match="cfads of p50"):
        size_debt(np.r_[c[:9], np.nan], c, make_terms(), 1.3, 1.2)


# ------------------------------------------------------------------- property tests

profiles = st.sampled_from(["annuity", "equal_principal", "sculpted"])
tenors = st.integers(min_value=1, max_value=30)
rates = st.floats(min_value=0.0, max_value=25.0)
loans = st.floats(min_value=1e3, max_value=1e10)


@st.composite
def terms_and_cfads(draw: st.DrawFn) -> tuple[FinanceTerms, np.ndarray]:
    n = draw(tenors)
    terms = make_terms(
        loan_amount=draw(loans),
        tenor_years=n,
        interest_rate_pct=draw(rates),
        repayment=draw(profiles),
    )
    values = draw(
        st.lists(st.floats(min_value=1.0, max_value=1e9), min_size=n, max_size=n),
    )
    return terms, np.array(values)


@settings(max_examples=150, deadline=None)
@given(terms_and_cfads())
def test_schedule_invariants(case: tuple[FinanceTerms, np.ndarray]) -> None:
    terms, profile = case
    sched = debt_service(terms, profile)
    d = terms.loan_amount
    assert sched.closing_balance[-1] == 0.0
    assert sched.principal.sum() == pytest.approx(d, rel=1e-9)
    np.testing.assert_allclose(
        sched.debt_service, sched.interest + sched.principal, rtol=1e-12, atol=1e-9 * d
    )
    np.testing.assert_allclose(
        sched.closing_balance, sched.opening_balance - sched.principal, rtol=0, atol=1e-9 * d
    )
    np.testing.assert_array_equal(sched.opening_balance[1:], sched.closing_balance[:-1])
    assert sched.opening_balance[0] == d
    assert np.all(sched.debt_service > 0.0)


@settings(max_examples=100, deadline=None)
@given(
    terms_and_cfads(),
    st.floats(min_value=0.01, max_value=100.0),
)
def test_dscr_scales_inversely_with_loan(
    case: tuple[FinanceTerms, np.ndarray], factor: float
) -> None:
    terms, values = case
    if terms.repayment == "sculpted":
        terms = dataclasses.replace(terms, repayment="annuity")
    scaled = dataclasses.replace(terms, loan_amount=terms.loan_amount * factor)
    base = dscr(values, debt_service(terms))
    np.testing.assert_allclose(dscr(values, debt_service(scaled)), base / factor, rtol=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    terms_and_cfads(),
    st.floats(min_value=-0.5, max_value=1.0),
    st.floats(min_value=1.0, max_value=2.0),
    st.floats(min_value=1.0, max_value=2.0),
)
def test_sized_loan_is_feasible_and_maximal(
    case: tuple[FinanceTerms, np.ndarray], p90_shift: float, t50: float, t90: float
) -> None:
    terms, c50 = case
    c90 = c50 * 0.9 - p90_shift * float(np.mean(c50)) * 0.1  # may turn a year negative
    res = size_debt(c50, c90, terms, t50, t90)
    if res.max_loan_amount == 0.0:
        assert (c90 <= 0).any() or (c50 <= 0).any()
        return
    assert res.schedule is not None and res.terms is not None
    assert res.dscr_min[0] >= t50 * (1 - 1e-9)
    assert res.dscr_min[1] >= t90 * (1 - 1e-9)
    # A loan 0.1 % larger breaks a target (same schedule shape).
    bigger_terms = dataclasses.replace(res.terms, loan_amount=res.max_loan_amount * 1.001)
    bigger = debt_service(bigger_terms, res.sculpting_cfads)
    assert dscr(c50, bigger).min() < t50 or dscr(c90, bigger).min() < t90


# ------------------------------------------------------- sizing on every DSCR covenant

ENERGY_P99 = 0.78 * ENERGY_P50


def _covenants(terms: FinanceTerms) -> list[DscrCovenant]:
    return [
        DscrCovenant("p50", "p50", cfads(ENERGY_P50, terms), 1.35),
        DscrCovenant("p90_1y", "p90_1y", cfads(ENERGY_P90, terms), 1.20),
        DscrCovenant("p99_1y", "p99_1y", cfads(ENERGY_P99, terms), 1.00),
    ]


@pytest.mark.parametrize("repayment", ["annuity", "equal_principal"])
def test_covenant_sizing_matches_bisection_on_all_three(repayment: str) -> None:
    # Independent: the largest loan whose schedule meets all three covenants, by bisection.
    terms = make_terms(repayment=repayment, opex_inflation_pct=2.5, **OPEX_TERMS)
    covs = _covenants(terms)

    def ok(amount: float) -> bool:
        sched = debt_service(dataclasses.replace(terms, loan_amount=amount))
        return all(dscr(c.cfads, sched).min() >= c.target for c in covs)

    lo, hi = 1e-6, 1e9
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    res = size_debt_covenants(covs, terms)
    assert res.max_loan_amount == pytest.approx(lo, rel=1e-9)
    # P99 at 1.00 on 78 % of P50 binds before P90 1.20 on 88 % and P50 1.35 here
    assert res.binding == "p99_1y" and res.binding_year is not None
    assert res.max_loan_amount == min(res.limits)
    assert all(d >= c.target - 1e-9 for d, c in zip(res.dscr_min, covs, strict=True))
    # the old two-case sizing (P50, P90 10y) would have offered more than P99 allows
    old = size_debt(covs[0].cfads, covs[1].cfads, terms, 1.35, 1.20)
    assert old.max_loan_amount > res.max_loan_amount


def test_covenant_sizing_sculpted_matches_linear_programme() -> None:
    terms = make_terms(repayment="sculpted", opex_inflation_pct=2.5, **OPEX_TERMS)
    covs = _covenants(terms)
    res = size_debt_covenants(covs, terms)
    v = 1.06 ** -np.arange(1, 9)
    lp = linprog(
        -v,
        A_ub=np.vstack([np.eye(8)] * 3),
        b_ub=np.concatenate([c.cfads / c.target for c in covs]),
        bounds=[(0, None)] * 8,
        method="highs",
    )
    assert lp.status == 0
    assert res.max_loan_amount == pytest.approx(-lp.fun, rel=1e-9)
    assert res.schedule is not None and res.binding_year is None
    assert all(d >= c.target - 1e-9 for d, c in zip(res.dscr_min, covs, strict=True))
    assert set(res.binding_by_year) <= {"p50", "p90_1y", "p99_1y"}


def test_covenant_sizing_errors_and_no_debt() -> None:
    terms = make_terms(**OPEX_TERMS)
    with pytest.raises(ValueError, match="at least one"):
        size_debt_covenants([], terms)
    c = cfads(ENERGY_P50, terms)
    with pytest.raises(ValueError, match="unique"):
        size_debt_covenants(
            [DscrCovenant("a", "p50", c, 1.2), DscrCovenant("a", "p50", c, 1.3)], terms
        )
    loss = np.full(8, -1.0)
    res = size_debt_covenants([DscrCovenant("a", "p50", loss, 1.0)], terms)
    assert res.max_loan_amount == 0.0 and res.schedule is None
