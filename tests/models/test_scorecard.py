"""Tests of the PD scorecard (models.scorecard) and the synthetic loan book (models.loanbook).

Reference values: the true coefficients of the synthetic data-generating process
(models.loanbook.TRUE_COEFFICIENTS); independent computations of every metric (scipy's
Mann-Whitney U and two-sample KS statistics, brute-force pair counting, hand-worked PSI and
Brier examples); statsmodels' own Logit predict for the golden test of card predictions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.discrete.discrete_model import Logit

from models.loanbook import (
    DEFAULT_BOOK_SEED,
    DEFAULT_BOOK_SIZE,
    DEFAULT_SPLIT_SEED,
    TRUE_COEFFICIENTS,
    synthetic_loan_book,
)
from models.registry import ModelCard, Registry, shipped_cards
from models.scorecard import (
    DEFAULT_FEATURES,
    PSI_EMPTY_BIN_SHARE,
    Feature,
    LoanBookError,
    ScorecardError,
    ScorecardResult,
    auc_rank,
    bin_shares,
    brier_score,
    calibration_by_grade,
    design_matrix,
    grade_of,
    ks_statistic,
    predict_pd,
    psi,
    psi_from_shares,
    stratified_split,
    train_scorecard,
    validate_loan_book,
)

TRUTH = np.asarray(list(TRUE_COEFFICIENTS.values()))


@pytest.fixture(scope="module")
def book() -> pd.DataFrame:
    return synthetic_loan_book(DEFAULT_BOOK_SIZE, DEFAULT_BOOK_SEED)


@pytest.fixture(scope="module")
def result(book: pd.DataFrame) -> ScorecardResult:
    return train_scorecard(book, DEFAULT_FEATURES, test_fraction=0.3, seed=DEFAULT_SPLIT_SEED)


# --- synthetic book -------------------------------------------------------------------------


def test_synthetic_book_is_labelled_and_seeded(book: pd.DataFrame) -> None:
    assert book.attrs["synthetic"] is True
    assert bool(book["synthetic"].all())
    assert list(TRUE_COEFFICIENTS) == ["const", *(f.name for f in DEFAULT_FEATURES)]
    again = synthetic_loan_book(DEFAULT_BOOK_SIZE, DEFAULT_BOOK_SEED)
    pd.testing.assert_frame_equal(book, again)
    assert not synthetic_loan_book(100, 1).equals(synthetic_loan_book(100, 2))
    # The documented lifetime default rate is "near 7 %" (6.8 % over 200 000 draws).
    assert 0.05 < book["default"].mean() < 0.09
    validate_loan_book(book)  # the generator's output passes the schema


# --- estimation -----------------------------------------------------------------------------


def test_estimates_cover_true_coefficients(result: ScorecardResult) -> None:
    assert result.names == tuple(TRUE_COEFFICIENTS)
    # Seeded, so deterministic: every true coefficient lies in its simultaneous 95 % interval
    # (Bonferroni over the 7 parameters: each at 1 - 0.05/7).
    ci = result.conf_int(alpha=0.05 / len(TRUTH))
    inside = (ci[:, 0] <= TRUTH) & (ci[:, 1] >= TRUTH)
    assert inside.all(), dict(zip(result.names, inside, strict=True))
    # and the coefficient signs (the economics of the process) are all recovered.
    np.testing.assert_array_equal(np.sign(result.coefficients), np.sign(TRUTH))
    np.testing.assert_allclose(result.std_errors, np.sqrt(np.diag(result.covariance)))


@pytest.mark.slow
def test_confidence_interval_coverage_over_many_books() -> None:
    # 40 independent books of 2000 loans: each 95 % interval should cover the truth in about
    # 38 of 40; fewer than 34 has binomial probability < 1 % (scipy.stats.binom.cdf(33,40,.95)).
    assert stats.binom.cdf(33, 40, 0.95) < 0.01
    hits = np.zeros(len(TRUTH), dtype=int)
    for seed in range(40):
        res = train_scorecard(synthetic_loan_book(2000, 1000 + seed), seed=seed)
        ci = res.conf_int()
        hits += (ci[:, 0] <= TRUTH) & (ci[:, 1] >= TRUTH)
    assert (hits >= 34).all(), hits


def test_fit_equals_statsmodels_on_the_same_split(
    book: pd.DataFrame, result: ScorecardResult
) -> None:
    y = book["default"].to_numpy()
    test = stratified_split(y, 0.3, DEFAULT_SPLIT_SEED)
    assert test.sum() == result.validation.n
    # Stratified: each outcome keeps round(0.3 * count) held-out loans.
    assert y[test].sum() == round(0.3 * y.sum())
    X = design_matrix(DEFAULT_FEATURES, book)
    ref = Logit(y[~test], X[~test]).fit(method="newton", disp=0)
    np.testing.assert_allclose(result.coefficients, ref.params, rtol=1e-10)
    np.testing.assert_allclose(result.covariance, ref.cov_params(), rtol=1e-8)
    assert result.pseudo_r2 == pytest.approx(ref.prsquared, rel=1e-9)
    assert result.log_likelihood == pytest.approx(ref.llf, rel=1e-12)


def test_card_predictions_equal_statsmodels_predict(
    book: pd.DataFrame, result: ScorecardResult, tmp_path: Path
) -> None:
    y = book["default"].to_numpy()
    test = stratified_split(y, 0.3, DEFAULT_SPLIT_SEED)
    X = design_matrix(DEFAULT_FEATURES, book)
    ref = Logit(y[~test], X[~test]).fit(method="newton", disp=0)
    # Golden test: a card written to JSON, saved, reloaded (hash verified), then numpy-only
    # predictions must equal statsmodels' own predict to 1e-12.
    reg = Registry(tmp_path, use_shipped=False)
    saved = reg.save(result.to_card(author="test", description="golden"))
    loaded = Registry(tmp_path).show(saved.id)
    got = predict_pd(loaded, book)
    want = ref.predict(X)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.predict(book), want, rtol=0, atol=1e-12)
    # Also from the plain dict of the JSON file.
    doc = json.loads((tmp_path / f"{saved.id}.json").read_text())
    np.testing.assert_allclose(predict_pd(doc, book.head(10)), want[:10], rtol=0, atol=1e-12)
    assert loaded.training_data["synthetic"] is True
    assert loaded.training_data["n_rows"] == len(book)


def test_shipped_default_card_is_reproducible(result: ScorecardResult) -> None:
    (card,) = [c for c in shipped_cards() if c.kind == "scorecard"]
    assert card.id == "scorecard-v0" and card.status == "production"
    assert card.training_data["synthetic"] is True
    assert "SYNTHETIC" in card.description
    # Retraining on the same synthetic book gives the shipped coefficients (1e-9 relative:
    # allows for a different BLAS, not for a different model).
    np.testing.assert_allclose(card.parameters["coefficients"], result.coefficients, rtol=1e-9)
    assert card.training_data["sha256"] == result.training_data["sha256"]


# --- metrics --------------------------------------------------------------------------------


def test_validation_metrics_match_independent_computations(
    book: pd.DataFrame, result: ScorecardResult
) -> None:
    y = book["default"].to_numpy()
    test = stratified_split(y, 0.3, DEFAULT_SPLIT_SEED)
    p = result.predict(book)[test]
    yt = y[test]
    v = result.validation
    mw = stats.mannwhitneyu(p[yt == 1], p[yt == 0]).statistic / (yt.sum() * (yt == 0).sum())
    assert v.auc == pytest.approx(mw, abs=1e-12)
    assert v.gini == pytest.approx(2 * mw - 1, abs=1e-12)
    assert v.ks == pytest.approx(
        stats.ks_2samp(p[yt == 1], p[yt == 0], method="asymp").statistic, abs=1e-12
    )
    assert v.brier == pytest.approx(np.mean((p - yt) ** 2), abs=1e-15)
    assert sum(c.n for c in v.calibration) == v.n
    assert sum(c.defaults for c in v.calibration) == v.n_defaults
    for c in v.calibration:
        if c.n:
            assert c.p_value == pytest.approx(stats.binomtest(c.defaults, c.n, c.mean_pd).pvalue)
    # The synthetic process is well specified: the model discriminates and is calibrated.
    assert 0.75 < v.auc < 0.9
    assert all(c.p_value is None or c.p_value > 0.01 for c in v.calibration)
    assert v.psi < 0.1  # a random split of one book is stable


def test_auc_ks_brier_hand_examples() -> None:
    y = [0, 0, 1, 1]
    # Pairs (pos, neg): (0.35,0.1) win, (0.35,0.4) lose, (0.8,0.1) win, (0.8,0.4) win -> 3/4.
    assert auc_rank(y, [0.1, 0.4, 0.35, 0.8]) == 0.75
    # A tie counts one half: pos 0.4 vs neg 0.4 -> (1 + 0.5 + 1 + 1) / 4.
    assert auc_rank(y, [0.1, 0.4, 0.4, 0.8]) == 0.875
    # KS: neg CDF reaches 1 at 0.4 while pos CDF is 0.5 there -> 0.5.
    assert ks_statistic(y, [0.1, 0.4, 0.35, 0.8]) == 0.5
    # Brier: ((0.1)^2 + (0.4)^2 + (0.65)^2 + (0.2)^2) / 4 = 0.6325 / 4 = 0.158125.
    assert brier_score(y, [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.158125, abs=1e-15)
    with pytest.raises(ValueError, match="both outcomes"):
        auc_rank([0, 0], [0.1, 0.2])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.1, 0.2, 0.3, 0.5, 0.9])),
        min_size=2,
        max_size=40,
    ).filter(lambda rows: 0 < sum(r[0] for r in rows) < len(rows))
)
def test_auc_equals_pair_count_with_ties(rows: list[tuple[int, float]]) -> None:
    y = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows])
    pos, neg = s[y == 1], s[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert auc_rank(y, s) == pytest.approx(wins / (pos.size * neg.size), abs=1e-12)
    # KS by brute force over every observed value (scipy's ks_2samp warns on such tiny
    # samples while computing a p-value we do not need).
    grid = np.unique(s)
    f1 = (pos[None, :] <= grid[:, None]).mean(axis=1)
    f0 = (neg[None, :] <= grid[:, None]).mean(axis=1)
    assert ks_statistic(y, s) == pytest.approx(np.abs(f1 - f0).max(), abs=1e-12)


def test_psi_hand_example() -> None:
    # Expected shares 1/4 each, actual 0.1, 0.2, 0.3, 0.4:
    # PSI = -0.15 ln 0.4 - 0.05 ln 0.8 + 0.05 ln 1.2 + 0.15 ln 1.6
    #     = 0.1374436 + 0.0111572 + 0.0091161 + 0.0705005 = 0.2282174 ("watch", 0.1-0.25).
    hand = -0.15 * math.log(0.4) - 0.05 * math.log(0.8) + 0.05 * math.log(1.2)
    hand += 0.15 * math.log(1.6)
    assert hand == pytest.approx(0.2282174, abs=1e-7)
    assert psi_from_shares([0.25] * 4, [0.1, 0.2, 0.3, 0.4]) == pytest.approx(hand, abs=1e-15)
    # Same example from samples and explicit edges (bins (-inf,1], (1,2], (2,3], (3,inf)).
    expected = [1, 2, 3, 4] * 5
    actual = [1] * 1 + [2] * 2 + [3] * 3 + [4] * 4
    np.testing.assert_allclose(bin_shares(actual, [1, 2, 3]), [0.1, 0.2, 0.3, 0.4])
    assert psi(expected, actual, bins=[1, 2, 3]) == pytest.approx(hand, abs=1e-15)
    # An empty bin takes the documented floor share instead of an infinite log.
    floor = PSI_EMPTY_BIN_SHARE
    got = psi_from_shares([0.5, 0.5], [1.0, 0.0])
    assert got == pytest.approx(0.5 * math.log(2) + (floor - 0.5) * math.log(floor / 0.5))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=5, max_size=200),
    st.lists(st.floats(0, 1, allow_nan=False), min_size=5, max_size=200),
)
def test_psi_is_non_negative_and_zero_for_same_sample(e: list[float], a: list[float]) -> None:
    assert psi(e, e) == pytest.approx(0.0, abs=1e-12)
    assert psi(e, a) >= -1e-12


def test_grades_and_calibration_table() -> None:
    pd_ = np.array([0.01, 0.02, 0.049, 0.05, 0.2, 0.9])
    np.testing.assert_array_equal(
        grade_of(pd_), ["Strong", "Good", "Good", "Satisfactory", "Weak", "Weak"]
    )
    y = np.array([0, 0, 1, 0, 1, 1])
    cal = calibration_by_grade(y, pd_)
    good = cal[1]
    assert (good.grade, good.n, good.defaults) == ("Good", 2, 1)
    assert good.mean_pd == pytest.approx(0.0345)
    # 1 default of 2 at p = 0.0345: two-sided exact test (scipy's binomtest, minlike).
    assert good.p_value == pytest.approx(stats.binomtest(1, 2, 0.0345).pvalue)


# --- loan-book validation -------------------------------------------------------------------


def _small_book() -> pd.DataFrame:
    return synthetic_loan_book(20, 3).drop(columns=["synthetic"])


def test_validate_names_missing_columns() -> None:
    with pytest.raises(LoanBookError, match=r"missing column.*dscr_p90.*default"):
        validate_loan_book(_small_book().drop(columns=["dscr_p90", "default"]))


def test_validate_names_column_and_row_of_bad_values() -> None:
    b = _small_book()
    b.loc[4, "leverage"] = 1.3
    with pytest.raises(
        LoanBookError, match=r"leverage: value outside \[0, 1\].*row 5 \(loan_id 'SYN-000005'\)"
    ):
        validate_loan_book(b)
    b = _small_book()
    b.loc[2, "trailing_wind_mean_ms"] = np.nan
    with pytest.raises(LoanBookError, match=r"trailing_wind_mean_ms: missing value at row 3"):
        validate_loan_book(b)
    b = _small_book().astype({"sunshine_hours": object})
    b.loc[0, "sunshine_hours"] = "n/a"
    with pytest.raises(LoanBookError, match=r"sunshine_hours: not a number at row 1"):
        validate_loan_book(b)
    b = _small_book()
    b.loc[7, "default"] = 2
    with pytest.raises(LoanBookError, match=r"default: must be 0 or 1 at row 8"):
        validate_loan_book(b)
    b = _small_book()
    b.loc[9, "loan_id"] = "SYN-000001"
    with pytest.raises(LoanBookError, match=r"duplicate ids at row 1 .* row 10"):
        validate_loan_book(b)
    b = _small_book()
    b.loc[1, "dscr_p90"] = 0.0
    with pytest.raises(LoanBookError, match=r"dscr_p90: value outside \(0, 20\]"):
        validate_loan_book(b)


def test_validate_accepts_bool_default_and_text_numbers() -> None:
    b = _small_book()
    b["default"] = b["default"].astype(bool)
    b["tenor_years"] = b["tenor_years"].astype(str)
    clean = validate_loan_book(b)
    assert clean["default"].dtype == np.int64
    assert clean["tenor_years"].dtype == np.float64


def test_training_errors_are_clear() -> None:
    with pytest.raises(ScorecardError, match="needs at least 60 of each"):
        train_scorecard(synthetic_loan_book(300, 0))
    with pytest.raises(ScorecardError, match="test_fraction"):
        train_scorecard(synthetic_loan_book(300, 0), test_fraction=1.0)
    with pytest.raises(ScorecardError, match="unknown transform"):
        Feature("leverage", "sqrt", 0.0, 1.0)  # type: ignore[arg-type]


def test_predict_refuses_a_card_of_another_kind(result: ScorecardResult) -> None:
    card = result.to_card(author="t", description="d")
    doc = card.to_dict()
    doc["kind"] = "longterm"
    with pytest.raises(ScorecardError, match="not 'scorecard'"):
        predict_pd(doc, _small_book())
    with pytest.raises(ScorecardError, match="no column 'leverage'"):
        predict_pd(card, _small_book().drop(columns=["leverage"]))
    assert isinstance(card, ModelCard) and card.version is None
