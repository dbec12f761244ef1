"""Joint simulation of a loan book (models.portfolio).

Oracles: the single assessments of the same loans (models.assessment.assess), hand cases of
the NPL ratio, risk sharing and the Herfindahl index, and the Basel II §272 formula computed
here from scipy.stats.norm. Monte Carlo comparisons state their tolerance from the standard
errors.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm

from models.assessment import Assessment
from models.portfolio import (
    PortfolioError,
    PortfolioLoan,
    asrf_conditional_pd,
    asrf_correlation,
    herfindahl,
    loan_from_assessment,
    share_losses,
    simulate_portfolio,
)
from tests.models.test_assessment import NO_DRIVERS, make_site, run, terms

PATHS = 4000


#: Weibull scale of each climate year [m/s]: runs of poor years (2003-04, 2009-10) that a
#: twelve-year loan cannot always ride out on its reserve.
SCALES = [8.6, 8.9, 7.0, 6.8, 8.4, 9.0, 7.2, 8.8, 6.9, 7.1, 8.7, 8.3, 7.3, 8.6]


def _book(n: int, *, tariff: float = 215.0, drivers: Any = NO_DRIVERS) -> list[Assessment]:
    """``n`` wind loans at one site (one data cell), each with its own seed."""
    site = make_site(SCALES)
    return [
        run(
            site,
            seed=100 + i,
            n_paths=PATHS,
            terms=terms(tariff_per_mwh=tariff, loan_amount=150e6 + 1e6 * i),
            driver_overrides=drivers,
            with_sensitivities=False,
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def one_cell() -> list[Assessment]:
    return _book(12)


def test_independent_mode_reproduces_each_single_assessment(one_cell: list[Assessment]) -> None:
    # with the paths of the single assessments, each loan's own draws are its assessment's
    loans = [loan_from_assessment(a, loan_id=f"L{i}") for i, a in enumerate(one_cell)]
    result = simulate_portfolio(loans, n_paths=PATHS, seed=1)
    for a, row in zip(one_cell, result.loans, strict=True):
        assert a.risk is not None
        assert row["pd_tenor_independent"] == a.risk.pd_tenor
        assert row["pd_annual"] == a.risk.pd_annual
    pds = [a.risk.pd_tenor for a in one_cell if a.risk is not None]
    assert min(pds) > 0.02 and max(pds) < 0.6  # the test looks at a book with defaults


def test_independent_mode_with_drivers_reproduces_the_single_assessment() -> None:
    # the policy's default drivers (curtailment, availability, opex, ageing) drawn per loan
    book = _book(2, tariff=240.0, drivers=None)
    assert book[0].drivers is not None and not book[0].drivers.is_zero
    loans = [loan_from_assessment(a, loan_id=f"L{i}") for i, a in enumerate(book)]
    result = simulate_portfolio(loans, n_paths=PATHS, seed=3)
    for a, row in zip(book, result.loans, strict=True):
        assert a.risk is not None
        assert row["pd_tenor_independent"] == a.risk.pd_tenor


def test_portfolio_expected_loss_is_the_sum_of_the_loans(one_cell: list[Assessment]) -> None:
    loans = [loan_from_assessment(a, loan_id=f"L{i}") for i, a in enumerate(one_cell)]
    result = simulate_portfolio(loans, n_paths=PATHS, seed=7)
    joint = result.summary["joint"]
    single = [a.risk for a in one_cell if a.risk is not None]
    total = sum(r.expected_loss_tenor for r in single)
    # standard error of the sum of the single estimates (independent streams) and of the
    # portfolio's mean loss; 4 standard errors of their difference
    se_single = math.sqrt(sum((r.lgd * r.ead * r.pd_tenor_se) ** 2 for r in single))
    se = math.hypot(se_single, joint["expected_loss_se"])
    assert abs(joint["expected_loss"] - total) < 4.0 * se
    assert se < 0.1 * total  # the comparison is informative
    # the independent book has the same expected loss
    assert abs(result.summary["independent"]["expected_loss"] - total) < 4.0 * se


def test_one_cell_joint_tail_exceeds_independent(one_cell: list[Assessment]) -> None:
    loans = [loan_from_assessment(a, loan_id=f"L{i}") for i, a in enumerate(one_cell)]
    result = simulate_portfolio(loans, n_paths=PATHS, seed=5)
    j, ind = result.summary["joint"], result.summary["independent"]
    # same expected loss (within 4 standard errors), a fatter tail when the years are shared
    se = math.hypot(j["expected_loss_se"], ind["expected_loss_se"])
    assert abs(j["expected_loss"] - ind["expected_loss"]) < 4.0 * se
    assert j["var_99"] > 1.2 * ind["var_99"]
    assert j["loss_sd"] > 1.4 * ind["loss_sd"]
    assert result.summary["correlation_effect"]["var_99_ratio"] == j["var_99"] / ind["var_99"]
    # both loss histograms on the same bins, every path counted
    hj, hi = j["loss_rate_histogram"], ind["loss_rate_histogram"]
    assert hj["edges"] == hi["edges"]
    assert sum(hj["counts"]) == sum(hi["counts"]) == PATHS
    # Euler contributions add up to the quantile they allocate
    conc = result.summary["concentration"]
    total = sum(r["var_contribution"] for r in result.loans)
    assert total == pytest.approx(conc["euler_var"], rel=1e-9)
    assert sum(r["var_contribution"] for r in conc["by_region"]) == pytest.approx(total)


def _factorial_loan(
    digit: int, levels: int, n_loans: int, *, seed: int, same_climate: bool = False
) -> PortfolioLoan:
    """A loan whose energy depends on one base-``levels`` digit of the calendar-year index.

    Over ``levels ** n_loans`` calendar years every combination of digits occurs once, so a
    uniformly drawn year gives each loan an independent climate year (exactly, with blocks of
    one year); with ``same_climate`` every loan reads digit 0 (all loans in one cell).
    """
    n_cal = levels**n_loans
    years = np.arange(2000, 2000 + n_cal)
    values = np.linspace(0.85, 1.15, levels) * 1000.0
    d = 0 if same_climate else digit
    energy = values[(np.arange(n_cal) // levels**d) % levels]
    tenor = 5
    return PortfolioLoan(
        loan_id=f"L{digit}",
        technology="wind",
        region=f"R{digit}",
        years=years.astype(np.int64),
        energy_mwh=energy,
        revenue_per_mwh=np.full(tenor, 100.0),
        opex=np.zeros(tenor),
        debt_service=np.full(tenor, 93_000.0),
        opening_balance=np.linspace(400_000.0, 80_000.0, tenor),
        loan_amount=400_000.0,
        sigma=0.02,
        seed=seed,
        exposure=400_000.0,
        lgd=0.5,
        reserve_months=0.0,
        block_length=1,
    )


def _defaults_count_probs(result: Any, n_loans: int) -> tuple[np.ndarray, np.ndarray]:
    per_loan = 400_000.0 * 0.5
    joint = np.bincount(np.rint(result.loss_joint / per_loan).astype(int), minlength=n_loans + 1)
    indep = np.bincount(
        np.rint(result.loss_independent / per_loan).astype(int), minlength=n_loans + 1
    )
    return joint / result.loss_joint.size, indep / result.loss_independent.size


def _max_z(result: Any, n_loans: int) -> float:
    """Largest |difference| of the probabilities of k defaults, in standard errors."""
    pj, pi = _defaults_count_probs(result, n_loans)
    n = result.loss_joint.size
    se = np.sqrt((pj * (1 - pj) + pi * (1 - pi)) / n)
    keep = se > 0
    return float(np.max(np.abs(pj - pi)[keep] / se[keep]))


def test_uncorrelated_climates_joint_agrees_with_independent() -> None:
    n_loans, paths = 3, 20_000
    loans = [_factorial_loan(k, 4, n_loans, seed=50 + k) for k in range(n_loans)]
    result = simulate_portfolio(loans, n_paths=paths, seed=9, block_length=1)
    pd = [r["pd_tenor_joint"] for r in result.loans]
    assert all(0.1 < p < 0.9 for p in pd)
    # each probability of k defaults agrees within 4 standard errors of the difference
    assert _max_z(result, n_loans) < 4.0
    # the same statistic separates a book whose loans share one climate
    same = [_factorial_loan(k, 4, n_loans, seed=50 + k, same_climate=True) for k in range(3)]
    correlated = simulate_portfolio(same, n_paths=paths, seed=9, block_length=1)
    assert _max_z(correlated, n_loans) > 10.0


def _flat_loan(loan_id: str, energy: float, *, region: str = "A", **kw: Any) -> PortfolioLoan:
    """Constant energy, no error: the loan defaults in a known year or never."""
    tenor = kw.pop("tenor", 4)
    args: dict[str, Any] = {
        "loan_id": loan_id,
        "technology": "wind",
        "region": region,
        "years": np.arange(2001, 2011, dtype=np.int64),
        "energy_mwh": np.full(10, energy),
        "revenue_per_mwh": np.full(tenor, 1.0),
        "opex": np.zeros(tenor),
        "debt_service": np.full(tenor, 100.0),
        "opening_balance": np.linspace(400.0, 100.0, tenor),
        "loan_amount": 400.0,
        "sigma": 0.0,
        "seed": 1,
        "exposure": 400.0,
        "lgd": 0.25,
        "reserve_months": 6.0,
    }
    args.update(kw)
    return PortfolioLoan(**args)


def test_npl_ratio_hand_case() -> None:
    # CFADS 80 against debt service 100, reserve 50: the reserve pays 20 in years 1 and 2,
    # leaves 10 for year 3, whose gap of 20 it cannot cover -> default in year 3 on every path
    bad = _flat_loan("bad", 80.0)
    good = _flat_loan("good", 150.0, exposure=800.0, region="B")
    result = simulate_portfolio([bad, good], n_paths=50, seed=2)
    years = result.summary["joint"]["npl"]["by_year"]
    assert [y["npl_ratio_count_mean"] for y in years] == [0.0, 0.0, 0.5, 0.5]
    # balances: bad 400, 300, 200 (at default), 200; good twice its schedule
    balance_bad_at_default = 200.0
    good_balance = 2.0 * np.linspace(400.0, 100.0, 4)
    expected = [0.0, 0.0] + [
        balance_bad_at_default / (balance_bad_at_default + good_balance[t]) for t in (2, 3)
    ]
    assert [y["npl_ratio_balance_mean"] for y in years] == pytest.approx(expected, rel=1e-12)
    assert years[2]["p_npl_count_above_tolerance"] == 1.0
    j = result.summary["joint"]
    assert j["expected_loss"] == pytest.approx(400.0 * 0.25)
    assert years[2]["annual_loss_mean"] == pytest.approx(100.0)
    assert result.loans[0]["pd_tenor_joint"] == 1.0 and result.loans[1]["pd_tenor_joint"] == 0.0
    # concentration: the only loss is the bad loan's
    conc = result.summary["concentration"]
    assert conc["top_loans"][0]["name"] == "bad"
    assert conc["by_region"][0] == pytest.approx(
        {
            "name": "A",
            "loans": 1,
            "exposure": 400.0,
            "expected_loss": 100.0,
            "var_contribution": 100.0,
            "var_share": 1.0,
        }
    )
    assert conc["herfindahl_exposure"] == pytest.approx((1 / 3) ** 2 + (2 / 3) ** 2)


def test_risk_sharing_hand_cases() -> None:
    parts = share_losses(np.array([100.0, 0.0, 250.0]), 0.4, 0.2)
    np.testing.assert_allclose(parts["guarantor"], [40.0, 0.0, 100.0])
    np.testing.assert_allclose(parts["compensation_pool"], [20.0, 0.0, 50.0])
    np.testing.assert_allclose(parts["bank"], [40.0, 0.0, 100.0])
    full = share_losses(100.0, 0.7, 0.3)
    assert float(full["bank"]) == pytest.approx(0.0)
    with pytest.raises(PortfolioError, match="add up to at most 1"):
        share_losses(100.0, 0.7, 0.4)
    with pytest.raises(PortfolioError, match="add up to at most 1"):
        _flat_loan("x", 80.0, guarantee_share=0.8, compensation_share=0.3)
    # through the simulation: a loan that always defaults, 40 % guaranteed, 20 % pooled
    bad = _flat_loan("bad", 80.0, guarantee_share=0.4, compensation_share=0.2)
    plain = _flat_loan("plain", 80.0, region="B")
    rs = simulate_portfolio([bad, plain], n_paths=20, seed=1).summary["risk_sharing"]
    assert rs["expected_loss"] == pytest.approx(
        {"total": 200.0, "guarantor": 40.0, "compensation_pool": 20.0, "bank": 140.0}
    )
    assert rs["bank_var_99"] == pytest.approx(140.0)


def test_asrf_against_hand_values() -> None:
    # Basel II §272 by hand: w = (1 - e^{-50 PD}) / (1 - e^{-50})
    for pd in (0.0005, 0.01, 0.03, 0.2):
        w = (1.0 - math.exp(-50.0 * pd)) / (1.0 - math.exp(-50.0))
        rho = 0.12 * w + 0.24 * (1.0 - w)
        cond = norm.cdf((norm.ppf(pd) + math.sqrt(rho) * norm.ppf(0.999)) / math.sqrt(1 - rho))
        assert float(asrf_correlation(pd)) == pytest.approx(rho, rel=1e-12)
        assert float(asrf_conditional_pd(pd)) == pytest.approx(cond, rel=1e-10)
    # published anchor: R = 0.1928 at PD 1 % (corporate, no size adjustment)
    assert float(asrf_correlation(0.01)) == pytest.approx(0.19278, abs=1e-5)
    assert float(asrf_correlation(0.0)) == pytest.approx(0.24)
    assert float(asrf_conditional_pd(0.01)) == pytest.approx(0.14028, abs=1e-4)


def test_herfindahl_hand_cases() -> None:
    assert herfindahl([5.0, 5.0, 5.0, 5.0]) == pytest.approx(0.25)
    assert herfindahl([7.0]) == 1.0
    assert herfindahl([3.0, 1.0]) == pytest.approx(0.625)
    with pytest.raises(PortfolioError):
        herfindahl([])


def test_bad_books_are_refused() -> None:
    a = _flat_loan("a", 80.0)
    with pytest.raises(PortfolioError, match="more than once"):
        simulate_portfolio([a, a], n_paths=10)
    with pytest.raises(PortfolioError, match="no loans"):
        simulate_portfolio([], n_paths=10)
    few = _flat_loan("b", 80.0, years=np.arange(2001, 2011), energy_mwh=np.full(10, np.nan))
    with pytest.raises(PortfolioError, match="usable calendar year"):
        simulate_portfolio([a, few], n_paths=10)
    with pytest.raises(PortfolioError, match="npl_tolerance_pct"):
        simulate_portfolio([a], n_paths=10, npl_tolerance_pct=-1.0)


def test_regional_model_error_correlation_raises_the_tail() -> None:
    loans = [_flat_loan(f"L{i}", 100.0, sigma=0.1, seed=i, reserve_months=0.0) for i in range(10)]
    base = simulate_portfolio(loans, n_paths=4000, seed=4)
    corr = simulate_portfolio(loans, n_paths=4000, seed=4, model_error_corr=0.8)
    # the mean is unchanged (each loan's marginal error is N(0, 1)); the spread widens
    se = math.hypot(
        base.summary["joint"]["expected_loss_se"], corr.summary["joint"]["expected_loss_se"]
    )
    assert (
        abs(base.summary["joint"]["expected_loss"] - corr.summary["joint"]["expected_loss"])
        < 4 * se
    )
    assert corr.summary["joint"]["loss_sd"] > 1.5 * base.summary["joint"]["loss_sd"]


def test_a_loan_without_its_own_lgd_takes_its_lending_products() -> None:
    # the product's lgd_pct (policy 2.1) is the portfolio's default; the book's value wins
    from dataclasses import replace

    from tests.models.test_assessment import WIND_POLICY

    a = run(
        make_site(SCALES),
        policy=replace(WIND_POLICY, lgd_pct=35.0),
        n_paths=200,
        with_sensitivities=False,
    )
    assert loan_from_assessment(a, loan_id="L").lgd == 0.35
    assert loan_from_assessment(a, loan_id="L", lgd=0.5).lgd == 0.5
    shipped = run(make_site(SCALES), n_paths=200, with_sensitivities=False)
    assert loan_from_assessment(shipped, loan_id="S").lgd == WIND_POLICY.lgd == 0.20
