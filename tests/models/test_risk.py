"""Tests for models.risk: analytic PD, reserve account, bootstrap, reproducibility, grades."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.finance import FinanceTerms, annuity_payment, debt_service
from models.risk import (
    GRADE_RISK_WEIGHT_PCT,
    PD_FLOOR,
    _quantiles,
    _years_in_default,
    annualise_pd,
    circular_block_indices,
    default_years,
    grade_from_pd,
    simulate_default,
)


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def make_terms(**overrides: object) -> FinanceTerms:
    base: dict[str, object] = {
        "loan_amount": 1_000_000.0,
        "currency": "EUR",
        "tenor_years": 10,
        "interest_rate_pct": 6.0,
        "repayment": "annuity",
        "tariff_per_mwh": 24.6,
        "opex_per_year": 100_000.0,
    }
    base.update(overrides)
    return FinanceTerms(**base)  # type: ignore[arg-type]


# A site whose ten climate years are identical: no climate variability, so a path's CFADS
# is the same every year and only the model error varies between paths.
FLAT_YEARS = np.full(10, 10_000.0)

# Eighteen climate years with about 6 % inter-annual variability (fixed, synthetic).
SITE_YEARS = np.array(
    [
        10_450,
        9_720,
        10_980,
        10_130,
        9_310,
        10_620,
        9_880,
        10_240,
        11_020,
        9_560,
        10_310,
        9_940,
        10_770,
        9_150,
        10_050,
        10_560,
        9_830,
        10_190,
    ],
    dtype=float,
)


# ---------------------------------------------------------------- analytic PD


@pytest.mark.parametrize("reserve_months", [6.0, 0.0])
def test_pd_matches_normal_cdf_without_climate_variability(reserve_months: float) -> None:
    # Constant CFADS c = E b p - O per path (b: model error ~ N(1, s)). With annuity A and a
    # reserve R0 = (m/12) A that never refills (no surplus when c < A), the path defaults
    # within n years iff n (A - c) > R0, i.e. b < b* = (A (1 - m/(12 n)) + O) / (E p), so
    # PD = Phi((b* - 1) / s) exactly. Monte Carlo must agree within 3 standard errors.
    terms = make_terms()
    sigma = 0.08
    a = annuity_payment(1_000_000.0, 6.0, 10)
    b_star = (a * (1.0 - reserve_months / 12.0 / 10.0) + 100_000.0) / (10_000.0 * 24.6)
    expected = normal_cdf((b_star - 1.0) / sigma)
    assert 0.05 < expected < 0.5  # a case where the test has power
    n = 20_000
    res = simulate_default(
        FLAT_YEARS,
        terms,
        debt_service(terms),
        sigma,
        n_paths=n,
        seed=20_240_601,
        reserve_months=reserve_months,
    )
    se = math.sqrt(expected * (1.0 - expected) / n)
    assert abs(res.pd_tenor - expected) < 3.0 * se
    assert res.pd_tenor_se == pytest.approx(math.sqrt(res.pd_tenor * (1 - res.pd_tenor) / n))


def test_cumulative_pd_by_year_matches_normal_cdf() -> None:
    # Same flat case: default by year k iff k (A - c) > R0, i.e. b < (A - R0/k + O) / (E p).
    # Ten simultaneous comparisons, so 4 standard errors each (family-wise error < 0.1 %).
    terms = make_terms()
    sigma, n = 0.08, 20_000
    a = annuity_payment(1_000_000.0, 6.0, 10)
    res = simulate_default(FLAT_YEARS, terms, debt_service(terms), sigma, n_paths=n, seed=7)
    for k in range(1, 11):
        p = normal_cdf(((a - 0.5 * a / k + 100_000.0) / (10_000.0 * 24.6) - 1.0) / sigma)
        se = math.sqrt(max(p * (1.0 - p), 1e-12) / n)
        assert abs(res.cumulative_pd_by_year[k - 1] - p) < 4.0 * se + 1e-12, k
    assert res.cumulative_pd_by_year[-1] == res.pd_tenor
    assert np.all(np.diff(res.cumulative_pd_by_year) >= 0.0)


def test_deterministic_path_defaults_in_the_hand_computed_year() -> None:
    # sigma = 0: every path has CFADS = 0.8 A; shortfall 0.2 A a year against a reserve of
    # 0.5 A -> reserve 0.3 A, 0.1 A, then a 0.2 A gap it cannot cover: default in year 3.
    terms = make_terms()
    a = annuity_payment(1_000_000.0, 6.0, 10)
    energy = np.full(5, (0.8 * a + 100_000.0) / 24.6)
    res = simulate_default(energy, terms, debt_service(terms), 0.0, n_paths=50, seed=1)
    np.testing.assert_array_equal(res.cumulative_pd_by_year, [0, 0] + [1] * 8)
    assert res.pd_tenor == 1.0
    assert res.pd_annual == 1.0
    assert res.grade == "Weak"
    assert res.min_dscr_q01 == pytest.approx(0.8, rel=1e-12)
    np.testing.assert_allclose(res.dscr_q90_by_year, 0.8, rtol=1e-12)


# ---------------------------------------------------------------- reserve account


def test_default_years_hand_paths() -> None:
    ds = np.full(5, 100.0)  # reserve 6 months = 50
    paths = np.array(
        [
            [80, 80, 80, 80, 80],  # 50 -> 30 -> 10 -> gap 20 > 10: year 3
            [80, 150, 80, 80, 80],  # 30, refill to target 50, 30, 10, gap 20 > 10: year 5
            [100, 100, 100, 100, 100],  # exactly covered: never
            [40, 200, 200, 200, 200],  # gap 60 > 50 at once: year 1
            [60, 90, 100, 100, 100],  # 10, then gap 10 uses it all, 0: never
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(default_years(paths, ds), [3, 5, 0, 1, 0])
    # Without refilling, path 2 keeps 30 after year 2, 10 after year 3, fails in year 4.
    np.testing.assert_array_equal(default_years(paths, ds, replenish=False), [3, 4, 0, 1, 0])
    # No reserve: any shortfall is a default.
    np.testing.assert_array_equal(default_years(paths, ds, reserve_months=0.0), [1, 1, 0, 1, 1])


def test_reserve_refill_target_follows_next_year_debt_service() -> None:
    # DS 100 then 40: reserve starts at 50; a surplus year caps it at 6 months of the *next*
    # year's DS (20), so a later gap of 30 is a default.
    ds = np.array([100.0, 40.0, 40.0])
    paths = np.array([[200.0, 10.0, 40.0], [200.0, 25.0, 40.0]])
    np.testing.assert_array_equal(default_years(paths, ds), [2, 0])


def reference_default_years(
    cash: list[list[float]], ds: list[float], months: float, replenish: bool
) -> list[int]:
    """Plain-Python statement of the documented reserve rules, one path at a time."""
    out = []
    for path in cash:
        reserve = months / 12.0 * ds[0]
        year = 0
        for t, (c, d) in enumerate(zip(path, ds, strict=True)):
            gap = d - c
            if gap > reserve + 1e-9 * d:
                year = t + 1
                break
            if gap > 0:
                reserve -= gap
            elif replenish:
                nxt = ds[t + 1] if t + 1 < len(ds) else 0.0
                reserve = min(reserve - gap, months / 12.0 * nxt)
        out.append(year)
    return out


@st.composite
def reserve_cases(draw: st.DrawFn) -> tuple[list[list[float]], list[float], float, bool]:
    n = draw(st.integers(1, 12))
    ds = draw(st.lists(st.integers(1, 200), min_size=n, max_size=n))
    paths = draw(
        st.lists(st.lists(st.integers(-50, 300), min_size=n, max_size=n), min_size=1, max_size=8)
    )
    months = draw(st.sampled_from([0.0, 3.0, 6.0, 12.0]))
    return (
        [[float(x) for x in p] for p in paths],
        [float(d) for d in ds],
        months,
        draw(st.booleans()),
    )


@settings(max_examples=200, deadline=None)
@given(reserve_cases())
def test_vectorised_reserve_matches_per_path_reference(
    case: tuple[list[list[float]], list[float], float, bool],
) -> None:
    cash, ds, months, replenish = case
    got = default_years(np.array(cash), np.array(ds), months, replenish)
    assert got.tolist() == reference_default_years(cash, ds, months, replenish)


def test_default_years_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="paths, years"):
        default_years(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="3 years"):
        default_years(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ValueError, match="> 0"):
        default_years(np.ones((2, 2)), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="missing"):
        default_years(np.array([[1.0, np.nan]]), np.ones(2))


# ---------------------------------------------------------------- bootstrap


def test_circular_blocks_are_consecutive_and_uniform() -> None:
    rng = np.random.default_rng(3)
    n_climate, n_years, paths, block = 7, 20, 20_000, 3
    idx = circular_block_indices(rng, n_climate, n_years, paths, block)
    assert idx.shape == (n_years, paths)
    assert idx.min() >= 0 and idx.max() < n_climate
    within = np.array([t % block != 0 for t in range(1, n_years)])
    steps = (idx[1:] - idx[:-1]) % n_climate
    assert np.all(steps[within] == 1)  # consecutive years inside a block, wrapping round
    # Circularity makes every year equally likely in every position: frequency 1/7 within
    # 5 binomial standard errors per cell (140 cells).
    p = 1.0 / n_climate
    se = math.sqrt(p * (1 - p) / paths)
    for t in range(n_years):
        freq = np.bincount(idx[t], minlength=n_climate) / paths
        assert np.all(np.abs(freq - p) < 5 * se)


def test_block_bootstrap_keeps_the_record_with_one_block_per_tenor() -> None:
    # L = N = tenor: each path is a rotation of the site's record, so every path holds each
    # climate year exactly once.
    rng = np.random.default_rng(11)
    idx = circular_block_indices(rng, 10, 10, 500, 10)
    np.testing.assert_array_equal(np.sort(idx, axis=0), np.tile(np.arange(10)[:, None], 500))


# ---------------------------------------------------------------- reproducibility


def test_seeded_runs_are_identical_and_drawn_seed_is_returned() -> None:
    terms = make_terms()
    sched = debt_service(terms)
    first = simulate_default(SITE_YEARS, terms, sched, 0.06, n_paths=3000, seed=42)
    again = simulate_default(SITE_YEARS, terms, sched, 0.06, n_paths=3000, seed=42)
    assert first.to_dict() == again.to_dict()
    drawn = simulate_default(SITE_YEARS, terms, sched, 0.06, n_paths=3000)
    assert isinstance(drawn.seed, int) and 0 <= drawn.seed < 2**53
    replay = simulate_default(SITE_YEARS, terms, sched, 0.06, n_paths=3000, seed=drawn.seed)
    assert replay.to_dict() == drawn.to_dict()


# ---------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(
    st.floats(min_value=15.0, max_value=40.0),
    st.floats(min_value=0.0, max_value=10.0),
    st.sampled_from(["annuity", "equal_principal"]),
)
def test_pd_non_increasing_in_tariff(tariff: float, extra: float, repayment: str) -> None:
    # Same seed -> same bootstrap and model errors (common random numbers), so a higher
    # tariff raises every path's CFADS and cannot add a default.
    low = make_terms(tariff_per_mwh=tariff, repayment=repayment)
    high = make_terms(tariff_per_mwh=tariff + extra, repayment=repayment)
    sched = debt_service(low)
    r_low = simulate_default(SITE_YEARS, low, sched, 0.06, n_paths=2000, seed=5)
    r_high = simulate_default(SITE_YEARS, high, sched, 0.06, n_paths=2000, seed=5)
    assert r_high.pd_tenor <= r_low.pd_tenor
    assert np.all(r_high.cumulative_pd_by_year <= r_low.cumulative_pd_by_year)
    assert r_high.min_dscr_q05 >= r_low.min_dscr_q05


@settings(max_examples=30, deadline=None)
@given(st.floats(min_value=0.5, max_value=2.0), st.integers(1, 5))
def test_pd_non_decreasing_in_loan_amount(factor: float, block: int) -> None:
    small = make_terms()
    big = make_terms(loan_amount=1_000_000.0 * factor)
    lo = simulate_default(SITE_YEARS, small, debt_service(small), 0.05, 2000, 9, block)
    hi = simulate_default(SITE_YEARS, big, debt_service(big), 0.05, 2000, 9, block)
    if factor >= 1.0:
        assert hi.pd_tenor >= lo.pd_tenor
    else:
        assert hi.pd_tenor <= lo.pd_tenor


def test_quantiles_are_ordered_and_degradation_raises_pd() -> None:
    terms = make_terms()
    sched = debt_service(terms)
    base = simulate_default(SITE_YEARS, terms, sched, 0.06, n_paths=4000, seed=3)
    assert base.min_dscr_q01 <= base.min_dscr_q05 <= base.min_dscr_q10 <= base.min_dscr_q50
    assert np.all(base.dscr_q10_by_year <= base.dscr_q50_by_year)
    assert np.all(base.dscr_q50_by_year <= base.dscr_q90_by_year)
    deg = 0.995 ** np.arange(10)
    worn = simulate_default(
        SITE_YEARS, terms, sched, 0.06, n_paths=4000, seed=3, degradation_factors=deg
    )
    assert worn.pd_tenor >= base.pd_tenor
    assert np.all(worn.dscr_q50_by_year[1:] < base.dscr_q50_by_year[1:])


# ---------------------------------------------------------------- sculpted, EL, grade


def test_sculpted_schedule_on_its_own_case_never_defaults() -> None:
    # Energy fixed at the sculpting case and no model error: DSCR = target every year.
    energy = np.full(10, 10_000.0)
    profile = np.full(10, 300_000.0)
    capacity = float(np.sum(profile / 1.3 * 1.06 ** -np.arange(1, 11)))
    terms = make_terms(
        repayment="sculpted", opex_per_year=0.0, tariff_per_mwh=30.0, loan_amount=capacity
    )
    sched = debt_service(terms, profile)
    res = simulate_default(energy, terms, sched, 0.0, n_paths=100, seed=0)
    assert res.pd_tenor == 0.0
    assert res.min_dscr_q01 == pytest.approx(1.3, abs=1e-9)
    assert res.pd_annual == PD_FLOOR
    assert res.grade == "Strong"
    assert res.risk_weight_pct == 70.0
    # EL = PD (one-year, floored) x LGD x EAD (loan amount): 0.0005 x 0.20 x capacity.
    assert res.expected_loss == pytest.approx(0.0005 * 0.20 * capacity, rel=1e-12)
    assert res.expected_loss_tenor == 0.0


def test_expected_loss_uses_one_year_pd_lgd_and_loan_amount() -> None:
    terms = make_terms(tariff_per_mwh=23.5)
    res = simulate_default(
        SITE_YEARS, terms, debt_service(terms), 0.06, n_paths=5000, seed=8, lgd=0.35
    )
    assert 0.0 < res.pd_tenor < 1.0
    assert res.pd_annual == pytest.approx(1 - (1 - res.pd_tenor) ** 0.1, rel=1e-12)
    assert res.expected_loss == pytest.approx(res.pd_annual * 0.35 * 1_000_000.0, rel=1e-12)
    assert res.expected_loss_tenor == pytest.approx(res.pd_tenor * 0.35 * 1e6, rel=1e-12)
    assert res.ead == 1_000_000.0
    assert res.risk_weight_pct == GRADE_RISK_WEIGHT_PCT[res.grade]


def test_annualised_pd_and_grade_boundaries() -> None:
    # Moody's project-finance bank loans 1983-2015: 10-year cumulative default 6.7 %
    # (Moody's project-finance bank loan study) -> 1 - 0.933^(1/10) = 0.6911 % a year -> "Good".
    assert annualise_pd(0.067, 10) == pytest.approx(0.0069110161, rel=1e-8)
    assert grade_from_pd(annualise_pd(0.067, 10)) == "Good"
    assert annualise_pd(0.0, 20) == 0.0005
    assert annualise_pd(1.0, 20) == 1.0
    cases = {
        0.0005: "Strong",
        0.00399: "Strong",
        0.004: "Good",
        0.00799: "Good",
        0.008: "Satisfactory",
        0.02799: "Satisfactory",
        0.028: "Weak",
        1.0: "Weak",
    }
    for pd_value, grade in cases.items():
        assert grade_from_pd(pd_value) == grade, pd_value
    with pytest.raises(ValueError, match="pd_annual"):
        grade_from_pd(1.5)


def test_to_dict_is_json_ready() -> None:
    terms = make_terms()
    res = simulate_default(SITE_YEARS, terms, debt_service(terms), 0.06, n_paths=500, seed=2)
    data = json.loads(json.dumps(res.to_dict()))
    assert {"seed", "pd_tenor", "pd_annual", "expected_loss", "grade"} <= set(data)
    assert len(data["dscr_by_year"]) == 10
    assert data["dscr_by_year"][0]["year"] == 1
    assert set(data["min_dscr_quantiles"]) == {"q01", "q05", "q10", "q50"}
    with pytest.raises(ValueError, match="read-only"):
        res.cumulative_pd_by_year[0] = 1.0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"climate_year_energy_mwh": [1.0, np.nan, 2.0]}, "position 1"),
        ({"climate_year_energy_mwh": []}, "one value per complete"),
        ({"climate_year_energy_mwh": [1.0, -2.0]}, ">= 0"),
        ({"sigma_model": -0.1}, "sigma_model"),
        ({"n_paths": 0}, "n_paths"),
        ({"n_paths": 10.5}, "n_paths"),
        ({"seed": -1}, "seed"),
        ({"seed": True}, "seed"),
        ({"block_length": 19}, "block_length"),
        ({"lgd": 1.5}, "lgd"),
        ({"reserve_months": -1.0}, "reserve_months"),
        ({"schedule_or_debt_service": np.ones(9)}, "one value per loan year"),
        ({"schedule_or_debt_service": np.zeros(10)}, "> 0"),
        ({"degradation_factors": np.ones(9)}, "degradation_factors"),
    ],
)
def test_simulate_rejects_bad_input(kwargs: dict[str, object], match: str) -> None:
    terms = make_terms()
    args: dict[str, object] = {
        "climate_year_energy_mwh": SITE_YEARS,
        "terms": terms,
        "schedule_or_debt_service": debt_service(terms),
        "sigma_model": 0.06,
        "n_paths": 100,
        "seed": 1,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        simulate_default(**args)  # type: ignore[arg-type]


def test_simulate_rejects_schedule_of_other_loan() -> None:
    terms = make_terms()
    other = debt_service(make_terms(loan_amount=2e6))
    with pytest.raises(ValueError, match="loan_amount"):
        simulate_default(SITE_YEARS, terms, other, 0.06, n_paths=10, seed=1)
    shorter = debt_service(make_terms(tenor_years=8))
    with pytest.raises(ValueError, match="tenor_years"):
        simulate_default(SITE_YEARS, terms, shorter, 0.06, n_paths=10, seed=1)


def test_pd_floor_is_basel_iii_final() -> None:
    # Basel III final (BCBS Dec 2017; Basel Framework CRE32.4): the PD used for the risk
    # weight and the expected loss must not be less than 0.05 % (Basel II: 0.03 %).
    assert PD_FLOOR == 0.0005
    assert annualise_pd(0.0001, 10) == 0.0005
    assert annualise_pd(0.01, 10) == pytest.approx(1 - 0.99**0.1, rel=1e-12)


def test_long_term_mean_error_is_a_persistent_draw() -> None:
    # sigma_lt_mean is drawn once per path with the model error, as one normal of standard
    # deviation hypot(sigma_model, sigma_lt): the same seed with (0.06, 0.08) equals
    # (0.10, 0) exactly, and 0 changes nothing.
    terms = make_terms(tariff_per_mwh=23.5)
    sched = debt_service(terms)
    a = simulate_default(SITE_YEARS, terms, sched, 0.06, n_paths=3000, seed=5, sigma_lt_mean=0.08)
    b = simulate_default(SITE_YEARS, terms, sched, 0.10, n_paths=3000, seed=5)
    assert a.pd_tenor == b.pd_tenor and a.min_dscr_q01 == pytest.approx(b.min_dscr_q01)
    assert a.sigma_lt_mean == 0.08 and a.to_dict()["sigma_lt_mean"] == 0.08
    c = simulate_default(SITE_YEARS, terms, sched, 0.06, n_paths=3000, seed=5, sigma_lt_mean=0.0)
    d = simulate_default(SITE_YEARS, terms, sched, 0.06, n_paths=3000, seed=5)
    assert c.pd_tenor == d.pd_tenor
    assert a.pd_tenor > d.pd_tenor  # a wider persistent error fattens the low tail


@pytest.mark.parametrize(
    "shape", [(12, 10_000), (20, 10_001), (3, 7), (2, 1), (5, 2), (10_000,), (1,)]
)
def test_quantiles_are_numpys_linear_estimator(shape: tuple[int, ...]) -> None:
    """The partition quantiles: the order statistics exactly, numpy's quantile to 1e-12."""
    rng = np.random.default_rng(11)
    values = rng.normal(1.2, 0.3, shape)
    values[..., ::7] = 1.0  # ties, as a DSCR capped or repeated across paths has
    ordered = np.sort(values, axis=-1)
    n = shape[-1]
    for probs in [(0.10, 0.50, 0.90), (0.01, 0.05, 0.10, 0.50), (0.0, 1.0, 0.5), (0.9, 0.1)]:
        got = _quantiles(values, probs)
        for i, q in enumerate(probs):
            h = (n - 1) * q
            lo = int(np.floor(h))
            hi = min(lo + 1, n - 1)
            v_lo, v_hi = ordered[..., lo], ordered[..., hi]
            np.testing.assert_array_equal(got[i], v_lo + (h - lo) * (v_hi - v_lo))
        np.testing.assert_allclose(got, np.quantile(values, probs, axis=-1), rtol=1e-12, atol=0)
    before = values.copy()
    _quantiles(values, (0.1, 0.9))
    np.testing.assert_array_equal(values, before)  # not in place unless asked


@settings(max_examples=100, deadline=None)
@given(reserve_cases(), st.lists(st.sampled_from([0.0, 3.0, 6.0, 12.0, 24.0]), min_size=8))
def test_reserve_loop_with_one_reserve_per_path_matches_reference(
    case: tuple[list[list[float]], list[float], float, bool], months: list[float]
) -> None:
    # The sensitivities run the paths of several reserve sizes through one loop.
    cash, ds, _, replenish = case
    per_path = months[: len(cash)]
    share = np.array(per_path) / 12.0
    years = _years_in_default(np.array(cash).T.copy(), np.array(ds), share, replenish)
    n = len(ds)
    got = [n + 1 - y if y else 0 for y in years.tolist()]
    expected = [
        reference_default_years([path], ds, m, replenish)[0]
        for path, m in zip(cash, per_path, strict=True)
    ]
    assert got == expected
