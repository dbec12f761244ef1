r"""Probability-of-default scorecard: a logit model on a loan book, with validation.

A bank's loan book has one row per loan: the site climate at origination (trailing mean wind,
its inter-annual variability, sunshine hours), the finance at origination (P90 DSCR, leverage,
tenor) and whether the loan defaulted over its life. :func:`train_scorecard` fits a logistic
regression (statsmodels ``Logit``) on a training split and validates it on a held-out split:
discrimination (AUC, Gini, KS), accuracy (Brier score), calibration per grade with a binomial
test, and stability (PSI between the training and the held-out scores).

The fitted model goes into a JSON model card (:meth:`ScorecardResult.to_card`,
:mod:`models.registry`); :func:`predict_pd` computes PDs from a card with numpy alone, so the
service never needs statsmodels or a pickle.

Loan-book schema (CSV or DataFrame; one row per loan; :data:`LOAN_BOOK_COLUMNS`)
--------------------------------------------------------------------------------

=========================  =========  ========================================================
column                     units      meaning (allowed range)
=========================  =========  ========================================================
``loan_id``                —          unique identifier (text, not empty)
``trailing_wind_mean_ms``  m s-1      3-year trailing mean wind at hub height at origination
                                      (0, 30]
``wind_iav``               1          inter-annual variability of annual mean wind, a fraction
                                      [0, 1]
``sunshine_hours``         h          mean annual sunshine duration [0, 4500]
``dscr_p90``               1          minimum DSCR at P90 energy at origination (0, 20]
``leverage``               1          debt / total project cost, a fraction [0, 1]
``tenor_years``            yr         loan tenor [1, 40]
``default``                —          1 if the loan defaulted over its life, else 0
=========================  =========  ========================================================

Extra columns are kept and ignored. A missing column, an empty cell, a value out of range or a
duplicate ``loan_id`` raises :class:`LoanBookError` naming the column and the first rows
(never silently dropped or filled).

Notes
-----
Each feature is transformed and standardised with *fixed* constants (:data:`DEFAULT_FEATURES`),
so coefficients mean the same from one training to the next:

.. math:: z_j = (g_j(x_j) - c_j) / s_j, \qquad
          \mathrm{PD} = \frac{1}{1 + e^{-\eta}}, \quad \eta = \beta_0 + \sum_j \beta_j z_j

with :math:`g_j` the identity or the natural log. Validation figures on the held-out split
(:math:`n_1` defaults with scores :math:`p^+`, :math:`n_0` performing loans with :math:`p^-`):

- AUC by the rank formula (Mann-Whitney), average ranks for ties:
  :math:`\mathrm{AUC} = (R_1 - n_1(n_1 + 1)/2) / (n_1 n_0)` with :math:`R_1` the rank sum of
  the defaults; Gini :math:`= 2\,\mathrm{AUC} - 1`.
- KS :math:`= \max_t |F_1(t) - F_0(t)|`, the largest gap between the empirical score
  distributions of defaults and non-defaults.
- Brier :math:`= \frac{1}{n} \sum (p_i - y_i)^2`.
- Calibration per grade: observed defaults :math:`k` of :math:`n` against the grade's mean PD
  :math:`\bar p`, two-sided exact binomial test (``scipy.stats.binomtest``).
- PSI :math:`= \sum_b (a_b - e_b) \ln(a_b / e_b)` over score bins with expected (training)
  and actual shares :math:`e_b, a_b`; read < 0.1 stable, 0.1-0.25 watch, > 0.25 shifted.

References
----------
.. [1] Hanley, J. A., & McNeil, B. J. (1982). The meaning and use of the area under a receiver
   operating characteristic (ROC) curve. Radiology, 143(1), 29-36.
   https://doi.org/10.1148/radiology.143.1.7063747
.. [2] Brier, G. W. (1950). Verification of forecasts expressed in terms of probability.
   Monthly Weather Review, 78(1), 1-3.
   https://doi.org/10.1175/1520-0493(1950)078<0001:VOFEIT>2.0.CO;2
.. [3] Basel Committee on Banking Supervision (2005). Studies on the validation of internal
   rating systems, Working Paper No. 14. https://www.bis.org/publ/bcbs_wp14.htm
.. [4] Yurdakul, B. (2018). Statistical properties of population stability index. PhD
   dissertation, Western Michigan University. https://scholarworks.wmich.edu/dissertations/3208
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from scipy.stats import binomtest, rankdata

from models.errors import ModelInputError
from models.registry import ModelCard, RegistryError, software_versions, utc_now

Transform = Literal["identity", "log"]

#: Smallest share used in PSI for an empty bin (a zero share makes ln(a/e) infinite).
PSI_EMPTY_BIN_SHARE = 1e-4


class LoanBookError(ModelInputError):
    """A loan book cannot be used; the message names the column and the rows."""


class ScorecardError(ModelInputError):
    """A scorecard cannot be fitted or a card cannot be used for prediction."""


@dataclass(frozen=True)
class ColumnRule:
    """One column of the loan-book schema.

    Attributes
    ----------
    name, units, description : str
    low, high : float
        Allowed range.
    low_open : bool
        True when ``low`` itself is not allowed.
    """

    name: str
    units: str
    description: str
    low: float
    high: float
    low_open: bool = False


#: Numeric loan-book columns and their allowed ranges (see the module docstring).
LOAN_BOOK_COLUMNS: tuple[ColumnRule, ...] = (
    ColumnRule(
        "trailing_wind_mean_ms",
        "m s-1",
        "3-year trailing mean wind speed at hub height at origination",
        0.0,
        30.0,
        low_open=True,
    ),
    ColumnRule("wind_iav", "1", "inter-annual variability of annual mean wind", 0.0, 1.0),
    ColumnRule("sunshine_hours", "h", "mean annual sunshine duration", 0.0, 4500.0),
    ColumnRule(
        "dscr_p90", "1", "minimum DSCR at P90 energy at origination", 0.0, 20.0, low_open=True
    ),
    ColumnRule("leverage", "1", "debt / total project cost", 0.0, 1.0),
    ColumnRule("tenor_years", "yr", "loan tenor", 1.0, 40.0),
)
#: Identifier column.
ID_COLUMN = "loan_id"
#: Outcome column (1 = defaulted over the loan's life).
TARGET_COLUMN = "default"


@dataclass(frozen=True)
class Feature:
    r"""A model feature: a loan-book column, a transform and fixed standardisation.

    Attributes
    ----------
    name : str
        Loan-book column.
    transform : {"identity", "log"}
        :math:`g` applied before standardising.
    center, scale : float
        :math:`z = (g(x) - \mathrm{center}) / \mathrm{scale}`.
    units : str
        Units of the raw column.
    description : str
        Meaning of one unit of :math:`z`.
    """

    name: str
    transform: Transform
    center: float
    scale: float
    units: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        """Reject unknown transforms and non-positive scales."""
        if self.transform not in ("identity", "log"):
            raise ScorecardError(
                f"feature {self.name}: unknown transform {self.transform!r} (identity or log)"
            )
        if not (math.isfinite(self.scale) and self.scale > 0 and math.isfinite(self.center)):
            raise ScorecardError(f"feature {self.name}: scale must be positive and finite")

    def apply(self, values: ArrayLike) -> NDArray[np.float64]:
        """Return the standardised feature :math:`z` for raw column values."""
        x = np.asarray(values, dtype=np.float64)
        g = np.log(x) if self.transform == "log" else x
        return np.asarray((g - self.center) / self.scale, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready definition (stored in model cards)."""
        return {
            "name": self.name,
            "transform": self.transform,
            "center": self.center,
            "scale": self.scale,
            "units": self.units,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Feature:
        """Read a definition written by :meth:`to_dict`."""
        try:
            return cls(
                name=str(d["name"]),
                transform=d["transform"],
                center=float(d["center"]),
                scale=float(d["scale"]),
                units=str(d.get("units", "")),
                description=str(d.get("description", "")),
            )
        except (KeyError, TypeError) as exc:
            raise ScorecardError(f"bad feature definition {dict(d)!r}: {exc}") from None


#: Default features, with constants chosen as round reference values of a wind project.
DEFAULT_FEATURES: tuple[Feature, ...] = (
    Feature("trailing_wind_mean_ms", "identity", 7.0, 1.0, "m s-1", "per 1 m/s above 7 m/s"),
    Feature("wind_iav", "identity", 0.06, 0.02, "1", "per 2 points of IAV above 6 %"),
    Feature("sunshine_hours", "identity", 2500.0, 500.0, "h", "per 500 h above 2500 h"),
    Feature("dscr_p90", "log", 0.0, 0.1, "1", "per 0.1 of ln(DSCR P90) above ln 1"),
    Feature("leverage", "identity", 0.75, 0.05, "1", "per 5 points of leverage above 75 %"),
    Feature("tenor_years", "identity", 15.0, 5.0, "yr", "per 5 years of tenor above 15"),
)

#: Grades by lifetime PD: (grade, upper PD bound, exclusive). The last bound is 1.
DEFAULT_GRADE_BANDS: tuple[tuple[str, float], ...] = (
    ("Strong", 0.02),
    ("Good", 0.05),
    ("Satisfactory", 0.12),
    ("Weak", 1.0),
)


@dataclass(frozen=True)
class GradeCalibration:
    """Observed against predicted defaults in one grade of the held-out split.

    Attributes
    ----------
    grade : str
    pd_low, pd_high : float
        PD band of the grade [0-1].
    n, defaults : int
        Loans and defaults in the grade.
    observed_rate, mean_pd : float or None
        ``defaults / n`` and mean predicted PD; None for an empty grade.
    p_value : float or None
        Two-sided exact binomial test of ``defaults`` out of ``n`` at ``mean_pd``.
    """

    grade: str
    pd_low: float
    pd_high: float
    n: int
    defaults: int
    observed_rate: float | None
    mean_pd: float | None
    p_value: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Validation:
    """Held-out validation figures of a scorecard.

    Attributes
    ----------
    n, n_defaults : int
        Loans and defaults in the held-out split.
    auc, gini, ks, brier : float
        See the module Notes.
    psi : float
        PSI of held-out scores against training scores (deciles of the training scores).
    calibration : tuple of GradeCalibration
    """

    n: int
    n_defaults: int
    auc: float
    gini: float
    ks: float
    brier: float
    psi: float
    calibration: tuple[GradeCalibration, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "n": self.n,
            "n_defaults": self.n_defaults,
            "auc": self.auc,
            "gini": self.gini,
            "ks": self.ks,
            "brier": self.brier,
            "psi": self.psi,
            "calibration": [c.to_dict() for c in self.calibration],
        }


@dataclass(frozen=True, eq=False)
class ScorecardResult:
    """A fitted and validated PD scorecard.

    Attributes
    ----------
    features : tuple of Feature
        In model order (after the constant).
    names : tuple of str
        ``("const", *feature names)``, the order of every parameter array.
    coefficients, std_errors : ndarray, shape (p,)
        Estimates and standard errors (on the standardised features).
    covariance : ndarray, shape (p, p)
        Covariance of the estimates.
    n_train, n_train_defaults : int
    log_likelihood, pseudo_r2 : float
        Log-likelihood and McFadden's pseudo R² (1 − llf / llnull, with the constant-only
        log-likelihood in closed form) of the training fit.
    converged : bool
    validation : Validation
        Held-out figures.
    grade_bands : tuple of (str, float)
    psi_edges : ndarray
        Interior bin edges of the training-score deciles [PD].
    psi_expected : ndarray
        Share of training loans in each bin (reference for PSI of new samples).
    training_data : dict
        ``sha256``, ``n_rows``, ``size_bytes``, ``synthetic`` of the loan book.
    test_fraction : float
    seed : int
    """

    features: tuple[Feature, ...]
    names: tuple[str, ...]
    coefficients: NDArray[np.float64]
    std_errors: NDArray[np.float64]
    covariance: NDArray[np.float64]
    n_train: int
    n_train_defaults: int
    log_likelihood: float
    pseudo_r2: float
    converged: bool
    validation: Validation
    grade_bands: tuple[tuple[str, float], ...]
    psi_edges: NDArray[np.float64]
    psi_expected: NDArray[np.float64]
    training_data: dict[str, Any] = field(default_factory=dict)
    test_fraction: float = 0.3
    seed: int = 0

    def conf_int(self, alpha: float = 0.05) -> NDArray[np.float64]:
        """Wald confidence intervals, shape (p, 2), at level ``1 - alpha``."""
        z = float(stats.norm.ppf(1 - alpha / 2))
        return np.column_stack(
            [self.coefficients - z * self.std_errors, self.coefficients + z * self.std_errors]
        )

    def parameters(self) -> dict[str, Any]:
        """Return the card's ``parameters``: link, names, coefficients, grade bands."""
        return {
            "link": "logit",
            "names": list(self.names),
            "coefficients": [float(v) for v in self.coefficients],
            "std_errors": [float(v) for v in self.std_errors],
            "grade_bands": [[g, b] for g, b in self.grade_bands],
        }

    def predict(self, book: pd.DataFrame | Mapping[str, ArrayLike]) -> NDArray[np.float64]:
        """PD for each loan (numpy, same as :func:`predict_pd` on this result's card)."""
        return _predict(self.features, self.coefficients, book)

    def metrics(self) -> dict[str, Any]:
        """Return the card's ``metrics``: training fit, held-out validation, PSI reference."""
        return {
            "train": {
                "n": self.n_train,
                "n_defaults": self.n_train_defaults,
                "log_likelihood": self.log_likelihood,
                "pseudo_r2_mcfadden": self.pseudo_r2,
                "converged": self.converged,
            },
            "validation": self.validation.to_dict(),
            "psi_reference": {
                "edges": [float(v) for v in self.psi_edges],
                "expected": [float(v) for v in self.psi_expected],
            },
            "split": {"test_fraction": self.test_fraction, "seed": self.seed},
        }

    def to_card(self, *, author: str, description: str, created_at: str | None = None) -> ModelCard:
        """Return an unsaved candidate :class:`~models.registry.ModelCard` of this scorecard."""
        return ModelCard(
            kind="scorecard",
            version=None,
            status="candidate",
            created_at=created_at or utc_now(),
            author=author,
            description=description,
            parameters=self.parameters(),
            covariance={"names": list(self.names), "matrix": self.covariance.tolist()},
            features=[f.to_dict() for f in self.features],
            training_data=dict(self.training_data),
            metrics=self.metrics(),
            software=software_versions(),
        )


# --- loan book --------------------------------------------------------------------------------


def validate_loan_book(
    book: pd.DataFrame, features: Sequence[Feature] = DEFAULT_FEATURES
) -> pd.DataFrame:
    """Check a loan book against the schema; return it with numeric columns as float/int.

    Parameters
    ----------
    book : pandas.DataFrame
        One row per loan (module docstring, *Loan-book schema*).
    features : sequence of Feature
        Features the model will use; their columns must be present and valid.

    Returns
    -------
    pandas.DataFrame
        A copy with the feature columns as float64 and ``default`` as int64.

    Raises
    ------
    LoanBookError
        Names the column and up to five offending rows (by ``loan_id`` and row number,
        counting the first data row as row 1, as a spreadsheet would after the header).
    """
    if not isinstance(book, pd.DataFrame):
        raise LoanBookError(f"a loan book must be a pandas DataFrame, got {type(book).__name__}")
    rules = {r.name: r for r in LOAN_BOOK_COLUMNS}
    needed = [ID_COLUMN, *(f.name for f in features), TARGET_COLUMN]
    missing = [c for c in needed if c not in book.columns]
    if missing:
        raise LoanBookError(
            f"loan book is missing column(s) {', '.join(missing)}; required: {', '.join(needed)}"
        )
    if len(book) == 0:
        raise LoanBookError("loan book has no rows")
    out = book.copy()
    ids = out[ID_COLUMN]
    where = _row_namer(ids)

    empty_id = ids.isna() | (ids.astype(str).str.strip() == "")
    if empty_id.any():
        raise LoanBookError(f"column {ID_COLUMN}: empty at {where(empty_id)}")
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise LoanBookError(f"column {ID_COLUMN}: duplicate ids at {where(dup)}")

    for f in features:
        out[f.name] = _checked_feature(out[f.name], f, rules.get(f.name), where)

    target = out[TARGET_COLUMN]
    tnum = pd.to_numeric(target.astype("object").replace({True: 1, False: 0}), errors="coerce")
    bad_t = ~tnum.isin([0, 1])
    if bad_t.any():
        raise LoanBookError(f"column {TARGET_COLUMN}: must be 0 or 1 at {where(bad_t)}")
    out[TARGET_COLUMN] = tnum.astype("int64")
    return out


def _checked_feature(
    col: pd.Series[Any],
    f: Feature,
    rule: ColumnRule | None,
    where: Callable[[pd.Series[bool]], str],
) -> pd.Series[float]:
    """A feature column as float64: every value a number, none missing, within its range."""
    num = pd.to_numeric(col, errors="coerce").astype("float64")
    not_number = num.isna() & col.notna()
    if not_number.any():
        raise LoanBookError(f"column {f.name}: not a number at {where(not_number)}")
    if num.isna().any():
        raise LoanBookError(
            f"column {f.name}: missing value at {where(num.isna())}; fill it from the loan "
            "file or remove the loan (missing values are never filled in)"
        )
    if rule is not None:
        too_low = num <= rule.low if rule.low_open else num < rule.low
        bad = too_low | (num > rule.high) | ~np.isfinite(num)
        if bad.any():
            lo = "(" if rule.low_open else "["
            raise LoanBookError(
                f"column {f.name}: value outside {lo}{rule.low:g}, {rule.high:g}] "
                f"[{rule.units}] at {where(bad)}"
            )
    if f.transform == "log" and (num <= 0).any():
        raise LoanBookError(f"column {f.name}: must be positive (log) at {where(num <= 0)}")
    return num


def loan_book_sha256(book: pd.DataFrame, columns: Sequence[str]) -> dict[str, Any]:
    """Return the sha256 and size of the loan-book columns a model was trained on.

    The bytes hashed are, for each column in order: its name, a NUL byte, then its values —
    ``loan_id`` as UTF-8 text joined by newlines, every other column as little-endian
    float64 — so the hash depends on the values, not on how the book was read or typed.

    Returns
    -------
    dict
        ``{"sha256", "n_rows", "size_bytes", "columns", "synthetic"}``; ``size_bytes`` is the
        length of the hashed stream; ``synthetic`` from ``book.attrs["synthetic"]`` (False
        when absent).
    """
    h = hashlib.sha256()
    size = 0
    for col in columns:
        if col == ID_COLUMN:
            payload = "\n".join(str(v) for v in book[col].tolist()).encode("utf-8")
        else:
            payload = np.ascontiguousarray(book[col].to_numpy(dtype="<f8")).tobytes()
        chunk = col.encode("utf-8") + b"\0" + payload
        h.update(chunk)
        size += len(chunk)
    return {
        "sha256": h.hexdigest(),
        "n_rows": len(book),
        "size_bytes": size,
        "columns": list(columns),
        "synthetic": bool(book.attrs.get("synthetic", False)),
    }


# --- metrics ----------------------------------------------------------------------------------


def auc_rank(y: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve by the rank (Mann-Whitney) formula.

    Parameters
    ----------
    y : array_like of {0, 1}
        Outcomes (1 = default).
    score : array_like
        Predicted PD or any score that is higher for riskier loans.

    Returns
    -------
    float
        Probability that a random default scores above a random non-default (ties count ½).
    """
    ya, sa = _outcomes(y, score)
    n1 = int(ya.sum())
    n0 = ya.size - n1
    ranks = rankdata(sa, method="average")
    r1 = float(ranks[ya == 1].sum())
    return (r1 - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def ks_statistic(y: ArrayLike, score: ArrayLike) -> float:
    """Kolmogorov-Smirnov distance between the score distributions of defaults and others."""
    ya, sa = _outcomes(y, score)
    pos = np.sort(sa[ya == 1])
    neg = np.sort(sa[ya == 0])
    grid = np.unique(sa)
    f1 = np.searchsorted(pos, grid, side="right") / pos.size
    f0 = np.searchsorted(neg, grid, side="right") / neg.size
    return float(np.max(np.abs(f1 - f0)))


def brier_score(y: ArrayLike, pd_: ArrayLike) -> float:
    """Mean squared difference between predicted PD and outcome."""
    ya = np.asarray(y, dtype=np.float64)
    pa = np.asarray(pd_, dtype=np.float64)
    return float(np.mean((pa - ya) ** 2))


def psi(
    expected: ArrayLike,
    actual: ArrayLike,
    bins: int | ArrayLike = 10,
) -> float:
    r"""Compute the population stability index of ``actual`` against ``expected``.

    Parameters
    ----------
    expected : array_like
        Reference sample (e.g. training scores).
    actual : array_like
        New sample (e.g. this quarter's applications' scores).
    bins : int or array_like
        Number of quantile bins of ``expected`` (default deciles), or the interior bin edges.
        The outer bins are open (−∞ and +∞), so every value falls in a bin.

    Returns
    -------
    float
        :math:`\sum_b (a_b - e_b) \ln(a_b / e_b)`; an empty bin counts with share
        :data:`PSI_EMPTY_BIN_SHARE`.
    """
    e = np.asarray(expected, dtype=np.float64).ravel()
    a = np.asarray(actual, dtype=np.float64).ravel()
    if e.size == 0 or a.size == 0:
        raise ModelInputError("psi needs two non-empty samples")
    if not (np.all(np.isfinite(e)) and np.all(np.isfinite(a))):
        raise ModelInputError("psi samples must be finite")
    edges = (
        psi_edges(e, int(bins)) if isinstance(bins, int | np.integer) else np.asarray(bins, float)
    )
    return psi_from_shares(bin_shares(e, edges), bin_shares(a, edges))


def psi_edges(sample: ArrayLike, n_bins: int = 10) -> NDArray[np.float64]:
    """Interior edges of ``n_bins`` quantile bins of ``sample`` (duplicates merged)."""
    if n_bins < 2:
        raise ModelInputError(f"psi needs at least 2 bins, got {n_bins}")
    q = np.quantile(np.asarray(sample, dtype=np.float64), np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.unique(q)


def bin_shares(sample: ArrayLike, edges: ArrayLike) -> NDArray[np.float64]:
    """Share of ``sample`` in each bin ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    s = np.asarray(sample, dtype=np.float64)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), s, side="left")
    counts = np.bincount(idx, minlength=np.asarray(edges).size + 1)
    return np.asarray(counts / s.size, dtype=np.float64)


def psi_from_shares(expected: ArrayLike, actual: ArrayLike) -> float:
    """PSI from bin shares (each summing to 1); empty bins floored at PSI_EMPTY_BIN_SHARE."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), PSI_EMPTY_BIN_SHARE)
    a = np.maximum(np.asarray(actual, dtype=np.float64), PSI_EMPTY_BIN_SHARE)
    if e.shape != a.shape:
        raise ModelInputError(f"psi shares differ in length: {e.size} and {a.size}")
    return float(np.sum((a - e) * np.log(a / e)))


def grade_of(
    pd_: ArrayLike, bands: Sequence[tuple[str, float]] = DEFAULT_GRADE_BANDS
) -> NDArray[np.str_]:
    """Grade of each PD: the first band whose upper bound exceeds it."""
    p = np.asarray(pd_, dtype=np.float64)
    uppers = np.asarray([b for _, b in bands], dtype=np.float64)
    names = np.asarray([g for g, _ in bands])
    idx = np.minimum(np.searchsorted(uppers, p, side="right"), len(bands) - 1)
    return np.asarray(names[idx])


def calibration_by_grade(
    y: ArrayLike, pd_: ArrayLike, bands: Sequence[tuple[str, float]] = DEFAULT_GRADE_BANDS
) -> tuple[GradeCalibration, ...]:
    """Observed against predicted defaults per grade, with an exact binomial test."""
    ya = np.asarray(y, dtype=np.int64)
    pa = np.asarray(pd_, dtype=np.float64)
    grades = grade_of(pa, bands)
    out = []
    low = 0.0
    for g, high in bands:
        sel = grades == g
        n = int(sel.sum())
        k = int(ya[sel].sum())
        if n:
            mean_pd = float(pa[sel].mean())
            p_value = float(binomtest(k, n, mean_pd).pvalue)
            out.append(GradeCalibration(g, low, high, n, k, k / n, mean_pd, p_value))
        else:
            out.append(GradeCalibration(g, low, high, 0, 0, None, None, None))
        low = high
    return tuple(out)


# --- training ---------------------------------------------------------------------------------


def train_scorecard(
    book: pd.DataFrame,
    features: Sequence[Feature] = DEFAULT_FEATURES,
    test_fraction: float = 0.3,
    seed: int = 0,
    *,
    grade_bands: Sequence[tuple[str, float]] = DEFAULT_GRADE_BANDS,
) -> ScorecardResult:
    """Fit a logit PD scorecard on a training split and validate it on the rest.

    Parameters
    ----------
    book : pandas.DataFrame
        Loan book (checked with :func:`validate_loan_book`).
    features : sequence of Feature
        Model features; :data:`DEFAULT_FEATURES` when omitted.
    test_fraction : float
        Share of loans held out for validation, drawn within defaults and non-defaults
        separately (stratified) so both splits keep the book's default rate.
    seed : int
        Seed of the split.
    grade_bands : sequence of (str, float)
        Grades for the calibration table.

    Returns
    -------
    ScorecardResult

    Raises
    ------
    LoanBookError
        The book fails validation.
    ScorecardError
        Too few defaults, a split without defaults, or the fit does not converge
        (e.g. perfect separation).
    """
    # lazy: statsmodels takes about 1.7 s to load; only training a card needs it
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    if not 0 < test_fraction < 1:
        raise ScorecardError(f"test_fraction must be in (0, 1), got {test_fraction}")
    feats = tuple(features)
    if len({f.name for f in feats}) != len(feats):
        raise ScorecardError("each feature may appear once")
    clean = validate_loan_book(book, feats)
    y = clean[TARGET_COLUMN].to_numpy(dtype=np.int64)
    n_def = int(y.sum())
    min_events = 10 * len(feats)
    if n_def < min_events or (y.size - n_def) < min_events:
        raise ScorecardError(
            f"the book has {n_def} defaults and {y.size - n_def} performing loans; a logit "
            f"with {len(feats)} features needs at least {min_events} of each "
            "(ten events per feature)"
        )
    test = stratified_split(y, test_fraction, seed)
    train = ~test
    X = design_matrix(feats, clean)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            res = Logit(y[train], X[train]).fit(method="newton", maxiter=100, disp=0)
        except (PerfectSeparationWarning, np.linalg.LinAlgError) as exc:
            raise ScorecardError(
                f"the logit cannot be fitted ({exc}); a feature separates defaults perfectly "
                "or features are collinear"
            ) from None
    converged = bool(res.mle_retvals.get("converged", False))
    if not converged:
        raise ScorecardError("the logit fit did not converge in 100 Newton steps")
    beta = np.asarray(res.params, dtype=np.float64)
    cov = np.asarray(res.cov_params(), dtype=np.float64)
    se = np.sqrt(np.diag(cov))
    p_train = np.asarray(res.predict(X[train]), dtype=np.float64)
    p_test = np.asarray(res.predict(X[test]), dtype=np.float64)
    y_test = y[test]
    if y_test.sum() == 0 or y_test.sum() == y_test.size:
        raise ScorecardError("the held-out split has only one outcome; use a larger book")
    edges = psi_edges(p_train, 10)
    expected = bin_shares(p_train, edges)
    auc = auc_rank(y_test, p_test)
    validation = Validation(
        n=int(test.sum()),
        n_defaults=int(y_test.sum()),
        auc=auc,
        gini=2.0 * auc - 1.0,
        ks=ks_statistic(y_test, p_test),
        brier=brier_score(y_test, p_test),
        psi=psi_from_shares(expected, bin_shares(p_test, edges)),
        calibration=calibration_by_grade(y_test, p_test, grade_bands),
    )
    for arr in (beta, se, cov, edges, expected):
        arr.setflags(write=False)
    return ScorecardResult(
        features=feats,
        names=("const", *(f.name for f in feats)),
        coefficients=beta,
        std_errors=se,
        covariance=cov,
        n_train=int(train.sum()),
        n_train_defaults=int(y[train].sum()),
        log_likelihood=float(res.llf),
        pseudo_r2=1.0 - float(res.llf) / _null_loglike(y[train]),
        converged=converged,
        validation=validation,
        grade_bands=tuple((str(g), float(b)) for g, b in grade_bands),
        psi_edges=edges,
        psi_expected=expected,
        training_data=loan_book_sha256(clean, [ID_COLUMN, *(f.name for f in feats), TARGET_COLUMN]),
        test_fraction=test_fraction,
        seed=seed,
    )


def stratified_split(y: ArrayLike, test_fraction: float, seed: int) -> NDArray[np.bool_]:
    """Held-out mask: ``round(test_fraction * count)`` loans of each outcome, drawn at random.

    Parameters
    ----------
    y : array_like of {0, 1}
        Outcomes in book order.
    test_fraction : float
        Share held out within each outcome.
    seed : int
        Seed of the :class:`numpy.random.Generator` (outcome 0 drawn first, then 1).

    Returns
    -------
    ndarray of bool
        True for held-out loans.
    """
    ya = np.asarray(y)
    rng = np.random.default_rng(seed)
    test = np.zeros(ya.size, dtype=bool)
    for cls in (0, 1):
        idx = np.flatnonzero(ya == cls)
        n_test = round(idx.size * test_fraction)
        test[rng.permutation(idx)[:n_test]] = True
    return test


def design_matrix(
    features: Sequence[Feature], data: pd.DataFrame | Mapping[str, ArrayLike]
) -> NDArray[np.float64]:
    """Constant column then each standardised feature, shape (n, 1 + len(features))."""
    cols = []
    for f in features:
        if f.name not in data:
            raise ScorecardError(f"input has no column {f.name!r} that the scorecard needs")
        cols.append(f.apply(np.asarray(data[f.name], dtype=np.float64)))
    n = cols[0].size if cols else 0
    return np.column_stack([np.ones(n), *cols])


# --- prediction from a card (numpy only) ------------------------------------------------------


def predict_pd(
    card: ModelCard | Mapping[str, Any], data: pd.DataFrame | Mapping[str, ArrayLike]
) -> NDArray[np.float64]:
    """Lifetime PD of each loan from a scorecard model card, with numpy only.

    Parameters
    ----------
    card : ModelCard or mapping
        A ``scorecard`` card (or its dict).
    data : DataFrame or mapping of column -> array
        Raw feature columns (loan-book units). Values are not range-checked here; use
        :func:`validate_loan_book` on untrusted input.

    Returns
    -------
    ndarray
        PD in [0, 1] per loan; NaN where an input is NaN (never filled).
    """
    features, beta = card_model(card)
    return _predict(features, beta, data)


def card_model(
    card: ModelCard | Mapping[str, Any],
) -> tuple[tuple[Feature, ...], NDArray[np.float64]]:
    """Features and coefficients of a scorecard card, checked for consistency."""
    doc = card.to_dict() if isinstance(card, ModelCard) else card
    if doc.get("kind") != "scorecard":
        raise ScorecardError(f"card kind is {doc.get('kind')!r}, not 'scorecard'")
    params = doc.get("parameters", {})
    if params.get("link") != "logit":
        raise ScorecardError(f"unsupported link {params.get('link')!r}; this code reads 'logit'")
    try:
        features = tuple(Feature.from_dict(f) for f in doc["features"])
        names = list(params["names"])
        beta = np.asarray(params["coefficients"], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(f"scorecard card is incomplete: {exc}") from None
    if names != ["const", *(f.name for f in features)] or beta.size != len(names):
        raise ScorecardError("scorecard card: coefficient names do not match its features")
    return features, beta


def grade_bands_of(card: ModelCard | Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    """Grade bands stored in a scorecard card."""
    doc = card.to_dict() if isinstance(card, ModelCard) else card
    return tuple((str(g), float(b)) for g, b in doc["parameters"]["grade_bands"])


def _predict(
    features: Sequence[Feature],
    beta: NDArray[np.float64],
    data: pd.DataFrame | Mapping[str, ArrayLike],
) -> NDArray[np.float64]:
    X = design_matrix(features, data)
    eta = X @ beta
    return np.asarray(1.0 / (1.0 + np.exp(-eta)), dtype=np.float64)


def _null_loglike(y: NDArray[np.int64]) -> float:
    """Log-likelihood of the constant-only logit (closed form: the rate is the MLE)."""
    n1 = float(y.sum())
    n0 = float(y.size) - n1
    rate = n1 / y.size
    return n1 * math.log(rate) + n0 * math.log(1.0 - rate)


def _outcomes(y: ArrayLike, score: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    ya = np.asarray(y)
    sa = np.asarray(score, dtype=np.float64)
    if ya.shape != sa.shape or ya.ndim != 1:
        raise ModelInputError("outcomes and scores must be 1-d and of equal length")
    if not np.all(np.isin(ya, (0, 1))):
        raise ModelInputError("outcomes must be 0 or 1")
    if not np.all(np.isfinite(sa)):
        raise ModelInputError("scores must be finite")
    yi = ya.astype(np.int64)
    if yi.sum() == 0 or yi.sum() == yi.size:
        raise ModelInputError("both outcomes (0 and 1) must occur")
    return yi, sa


def _row_namer(ids: pd.Series[Any]) -> Any:
    """Return a function naming the first rows of a boolean mask (loan_id and row number)."""

    def name(mask: pd.Series[bool]) -> str:
        pos = np.flatnonzero(np.asarray(mask, dtype=bool))
        parts = [f"row {int(i) + 1} (loan_id {ids.iloc[int(i)]!r})" for i in pos[:5]]
        more = f" and {pos.size - 5} more" if pos.size > 5 else ""
        return ", ".join(parts) + more

    return name
