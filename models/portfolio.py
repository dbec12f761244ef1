r"""Joint Monte Carlo of a loan book: shared climate years, portfolio loss and NPL ratio.

A single assessment (:func:`models.risk.simulate_default`) draws each loan's climate years on
its own. Wind farms (or PV plants) in one region have their poor years together, so their
defaults are correlated; a book of such loans is riskier than the sum of its single-loan
figures suggests. Here every Monte Carlo path draws **one** sequence of calendar years
(circular block bootstrap on the common calendar, :func:`models.risk.circular_block_indices`)
that every loan of the book uses; the spatial correlation of the weather is then the one the
reanalysis record itself has, with no correlation parameter to choose. Each loan keeps its own
energy-model error and its own curtailment, price, availability and opex draws (the random
streams of its single assessment, seeded by its own seed), optionally with a common regional
component of the model error (``model_error_corr``).

The same book is also simulated **under independence** (each loan its own calendar sequence,
exactly the draws of its single assessment), so that the correlation effect is visible: the
expected losses agree, the tail does not.

Loss of loan :math:`i` on path :math:`j`: :math:`L_{ij} = EAD_i\,LGD_i\,\mathbf 1[D_{ij}]`,
with :math:`D_{ij}` default within the tenor (:func:`models.risk.default_years`), so that
:math:`E[L_i] = PD_{tenor,i}\,LGD_i\,EAD_i`, the lifetime expected loss of the single
assessment (``expected_loss_tenor``). Portfolio loss :math:`L_j = \sum_i L_{ij}`.

NPL ratio in loan year :math:`t` (all loans are taken to start together, a book of new loans):
a loan is on the book while :math:`t \le T_i`; a defaulted loan counts as non-performing from
its default year on, at its balance at default (opening balance of that year, scaled by
:math:`EAD_i / \text{loan amount}_i`), a performing one at its scheduled opening balance.
Ratio by exposure = non-performing balance / balance on the book; by count = non-performing
loans / loans on the book. "NPL" here is a loan in default (substandard or worse in the
five-category classification).

Risk sharing: a guarantor bears the share :math:`g_i` and a compensation pool :math:`c_i` of
each loss, the bank :math:`1 - g_i - c_i`.

Concentration: Euler allocation of the portfolio loss quantile,
:math:`VaR_q = \sum_i E[L_i \mid L = VaR_q]` [1]_, estimated on the paths whose loss ranks
within a window around the quantile and scaled to add up to :math:`VaR_q`; by loan, region
and technology; and the Herfindahl–Hirschman index of exposures.

Benchmark beside the simulation (not the model): the asymptotic single risk factor (ASRF)
conditional PD of the Basel IRB formula for corporate exposures [2]_,

.. math::
    \rho(PD) = 0.12\,\frac{1 - e^{-50 PD}}{1 - e^{-50}}
             + 0.24\left(1 - \frac{1 - e^{-50 PD}}{1 - e^{-50}}\right),\qquad
    PD_q = \Phi\!\left(\frac{\Phi^{-1}(PD) + \sqrt{\rho}\,\Phi^{-1}(q)}{\sqrt{1-\rho}}\right)

(Basel II §272), applied to each loan's one-year PD; its one-year 99.9 % loss
:math:`\sum_i EAD_i\,LGD_i\,PD_{q,i}` is shown beside the simulated one-year loss quantile.

References
----------
.. [1] Tasche, D. (2007). Capital allocation to business units and sub-portfolios: the Euler
   principle. arXiv:0708.2542. https://arxiv.org/abs/0708.2542
.. [2] Basel Committee on Banking Supervision (2006). *International Convergence of Capital
   Measurement and Capital Standards* (Basel II), §272 (correlation of corporate exposures)
   and §§ 271–272 (risk-weight function). https://www.bis.org/publ/bcbs128.htm
.. [3] Gordy, M. B. (2003). A risk-factor model foundation for ratings-based bank capital
   rules. *Journal of Financial Intermediation* 12(3), 199–232.
   doi:10.1016/S1042-9573(03)00040-8
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from models.assessment import Assessment
from models.drivers import RiskDrivers, draw_driver_normals
from models.errors import ModelInputError
from models.finance import opex_by_year, revenue_per_mwh_by_year
from models.risk import (
    PD_FLOOR,
    annualise_pd,
    cash_paths,
    circular_block_indices,
    default_years,
    driver_factors,
    energy_paths,
    path_draws,
)
from models.uncertainty import MIN_YEARS

__all__ = [
    "DEFAULT_NPL_TOLERANCE_PCT",
    "LOSS_QUANTILES",
    "PortfolioLoan",
    "PortfolioResult",
    "asrf_conditional_pd",
    "asrf_correlation",
    "herfindahl",
    "loan_from_assessment",
    "share_losses",
    "simulate_portfolio",
]

FloatArray = NDArray[np.float64]

#: Tolerance of the NPL ratio [%] used when the bank gives none: 3 %. A bank sets its own;
#: China's banking regulator lets banks tolerate a higher NPL ratio on inclusive small-business
#: loans than on their whole book (CBIRC, 银保监办发〔2018〕29号: up to 3 percentage points
#: above the bank's overall NPL ratio).
DEFAULT_NPL_TOLERANCE_PCT = 3.0
#: Quantiles of the portfolio loss reported.
LOSS_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99, 0.999)
#: Half width of the window of path ranks around a quantile for the Euler allocation [-].
EULER_HALF_WINDOW = 0.005
#: Bins of the loss-rate histogram.
HISTOGRAM_BINS = 40
#: Top contributors listed.
TOP_N = 10


class PortfolioError(ModelInputError):
    """The loans cannot be simulated together (no common calendar, bad shares, ...)."""


@dataclass(frozen=True, eq=False)
class PortfolioLoan:
    """Everything the joint simulation needs of one loan (pure numbers, no service objects).

    Attributes
    ----------
    loan_id : str
        Identifier of the loan in the book.
    technology : str
        ``"wind"`` or ``"solar"``.
    region : str
        Region label for the concentration figures (a province or the data cell).
    years : ndarray of int
        Calendar years of ``energy_mwh``, ascending.
    energy_mwh : ndarray
        Net energy of each calendar year before degradation [MWh year-1]; NaN where the year
        is not usable.
    revenue_per_mwh, opex, debt_service, opening_balance : ndarray, shape (T,)
        Per loan year: revenue per MWh after the output factors [currency MWh-1], opex, debt
        service and opening balance [currency].
    loan_amount : float
        Debt at financial close [currency].
    sigma : float
        Standard deviation of the persistent per-path energy error (model and long-term
        mean combined) [-].
    seed : int
        Seed of the loan's own random numbers (its single assessment's seed).
    exposure : float
        Exposure at default [currency], > 0.
    lgd : float
        Loss given default [-], 0 to 1.
    guarantee_share, compensation_share : float
        Shares of each loss borne by a guarantor and a compensation pool [-]; their sum ≤ 1.
    drivers : RiskDrivers, optional
        Non-weather risk drivers (None or all zero: none).
    reserve_months : float
        Debt service reserve [months].
    block_length : int
        Bootstrap block length of the single assessment [years].
    """

    loan_id: str
    technology: str
    region: str
    years: NDArray[np.int64]
    energy_mwh: FloatArray
    revenue_per_mwh: FloatArray
    opex: FloatArray
    debt_service: FloatArray
    opening_balance: FloatArray
    loan_amount: float
    sigma: float
    seed: int
    exposure: float
    lgd: float
    guarantee_share: float = 0.0
    compensation_share: float = 0.0
    drivers: RiskDrivers | None = None
    reserve_months: float = 6.0
    block_length: int = 2

    def __post_init__(self) -> None:
        n = self.debt_service.size
        for name in ("revenue_per_mwh", "opex", "opening_balance"):
            if np.asarray(getattr(self, name)).shape != (n,):
                raise PortfolioError(f"loan {self.loan_id}: {name} must have {n} loan years")
        if np.asarray(self.years).shape != np.asarray(self.energy_mwh).shape:
            raise PortfolioError(f"loan {self.loan_id}: years and energy_mwh differ in length")
        if not (math.isfinite(self.exposure) and self.exposure > 0.0):
            raise PortfolioError(f"loan {self.loan_id}: exposure must be > 0")
        if not 0.0 <= self.lgd <= 1.0:
            raise PortfolioError(f"loan {self.loan_id}: lgd must be between 0 and 1")
        g, c = self.guarantee_share, self.compensation_share
        if not (0.0 <= g <= 1.0 and 0.0 <= c <= 1.0 and g + c <= 1.0 + 1e-12):
            raise PortfolioError(
                f"loan {self.loan_id}: guarantee and compensation shares must be between 0 "
                f"and 1 and add up to at most 1, got {g:g} and {c:g}"
            )

    @property
    def tenor_years(self) -> int:
        """Loan tenor [years]."""
        return int(self.debt_service.size)

    @property
    def bank_share(self) -> float:
        """Share of each loss the bank keeps, :math:`1 - g - c` [-]."""
        return max(1.0 - self.guarantee_share - self.compensation_share, 0.0)


def loan_from_assessment(
    assessment: Assessment,
    *,
    loan_id: str,
    region: str | None = None,
    exposure: float | None = None,
    lgd: float | None = None,
    guarantee_pct: float = 0.0,
    compensation_pct: float = 0.0,
) -> PortfolioLoan:
    """The joint-simulation inputs of one loan from its single assessment.

    Parameters
    ----------
    assessment : Assessment
        The loan's assessment (:func:`models.assessment.assess`); it must have a Monte Carlo
        (enough usable climate years).
    loan_id : str
        Identifier in the book.
    region : str, optional
        Region label; the data cell (``"cell 44.000,87.250"``) when omitted.
    exposure : float, optional
        EAD [currency]; the loan amount when omitted.
    lgd : float, optional
        LGD [-]; the assessment's (``repayment.lgd``) when omitted.
    guarantee_pct, compensation_pct : float
        Shares of each loss borne by a guarantor and a compensation pool [%].

    Raises
    ------
    PortfolioError
        The assessment has no Monte Carlo (too few usable climate years).
    """
    a = assessment
    if a.risk is None or a.schedule is None or a.exceedance is None:
        raise PortfolioError(
            f"loan {loan_id}: the assessment has no default simulation (fewer than "
            f"{MIN_YEARS} usable climate years at the site)"
        )
    n = int(a.terms.tenor_years)
    site = a.site
    return PortfolioLoan(
        loan_id=loan_id,
        technology="solar" if a.policy.technology == "solar" else "wind",
        region=region or f"cell {site.cell_lat:.3f},{site.cell_lon:.3f}",
        years=np.asarray(a.energy_years, dtype=np.int64),
        energy_mwh=np.asarray(a.annual_energy_mwh, dtype=np.float64),
        revenue_per_mwh=revenue_per_mwh_by_year(a.terms, n, a.degradation),
        opex=opex_by_year(a.terms, n),
        debt_service=np.asarray(a.schedule.debt_service, dtype=np.float64),
        opening_balance=np.asarray(a.schedule.opening_balance, dtype=np.float64),
        loan_amount=float(a.terms.loan_amount),
        sigma=math.hypot(a.sigma_model, a.exceedance.sigma_lt_mean),
        seed=int(a.risk.seed),
        exposure=float(a.terms.loan_amount) if exposure is None else float(exposure),
        lgd=float(a.risk.lgd) if lgd is None else float(lgd),
        guarantee_share=guarantee_pct / 100.0,
        compensation_share=compensation_pct / 100.0,
        drivers=None if a.drivers is None or a.drivers.is_zero else a.drivers,
        reserve_months=float(a.risk.reserve_months),
        block_length=int(a.risk.block_length),
    )


# ------------------------------------------------------------------------------- formulas


def asrf_correlation(pd: FloatArray | float) -> FloatArray:
    r"""Asset correlation of corporate exposures, Basel II §272.

    :math:`\rho = 0.12\,w + 0.24\,(1 - w)`, :math:`w = (1 - e^{-50 PD}) / (1 - e^{-50})`.
    """
    p = np.asarray(pd, dtype=np.float64)
    w = -np.expm1(-50.0 * p) / -math.expm1(-50.0)
    out: FloatArray = 0.12 * w + 0.24 * (1.0 - w)
    return out


def asrf_conditional_pd(pd: FloatArray | float, q: float = 0.999) -> FloatArray:
    r"""PD conditional on the systematic factor at its ``q`` quantile (Vasicek/ASRF).

    :math:`PD_q = \Phi\left((\Phi^{-1}(PD) + \sqrt{\rho}\,\Phi^{-1}(q)) / \sqrt{1 - \rho}\right)`
    with :math:`\rho` from :func:`asrf_correlation` (Basel II §272 [2]_, Gordy 2003 [3]_).
    """
    p = np.clip(np.asarray(pd, dtype=np.float64), 1e-12, 1.0 - 1e-12)
    rho = asrf_correlation(p)
    out: FloatArray = norm.cdf((norm.ppf(p) + np.sqrt(rho) * norm.ppf(q)) / np.sqrt(1.0 - rho))
    return out


def herfindahl(exposures: Sequence[float] | FloatArray) -> float:
    r"""Herfindahl–Hirschman index of exposures, :math:`\sum_i (e_i / \sum_k e_k)^2` [-].

    1 for a single loan, :math:`1/n` for :math:`n` equal loans; :math:`1/HHI` is the
    effective number of loans.
    """
    e = np.asarray(exposures, dtype=np.float64)
    total = float(e.sum())
    if e.size == 0 or not total > 0.0:
        raise PortfolioError("the exposures must add up to more than zero")
    return float(np.sum((e / total) ** 2))


def share_losses(
    losses: FloatArray | float, guarantee_share: float, compensation_share: float
) -> dict[str, FloatArray]:
    """Split losses between the guarantor, the compensation pool and the bank.

    Returns ``{"guarantor": g L, "compensation_pool": c L, "bank": (1 - g - c) L}``.
    """
    g, c = float(guarantee_share), float(compensation_share)
    if not (0.0 <= g <= 1.0 and 0.0 <= c <= 1.0 and g + c <= 1.0 + 1e-12):
        raise PortfolioError(
            f"guarantee and compensation shares must be between 0 and 1 and add up to at "
            f"most 1, got {g:g} and {c:g}"
        )
    x = np.asarray(losses, dtype=np.float64)
    return {
        "guarantor": g * x,
        "compensation_pool": c * x,
        "bank": max(1.0 - g - c, 0.0) * x,
    }


# ---------------------------------------------------------------------------- simulation


@dataclass(frozen=True, eq=False)
class PortfolioResult:
    """Outcome of :func:`simulate_portfolio`.

    Attributes
    ----------
    summary : dict
        JSON-ready portfolio figures (see :meth:`to_dict`).
    loans : list of dict
        JSON-ready figures of each loan, in book order.
    loss_joint, loss_independent : ndarray, shape (paths,)
        Portfolio loss of every path, with shared and with independent calendars [currency].
    default_year_joint : ndarray of int8, shape (loans, paths)
        Loan year of default of each loan and path under the shared calendar (0: none).
    """

    summary: dict[str, Any]
    loans: list[dict[str, Any]]
    loss_joint: FloatArray
    loss_independent: FloatArray
    default_year_joint: NDArray[np.int8]

    def to_dict(self) -> dict[str, Any]:
        """Return ``{**summary, "loans": [...]}`` (plain floats, ints, strings, lists)."""
        return {**self.summary, "loans": self.loans}


def _common_calendar(loans: Sequence[PortfolioLoan]) -> NDArray[np.int64]:
    """Calendar years usable at every loan's site."""
    common: set[int] | None = None
    for loan in loans:
        usable = {
            int(y) for y, e in zip(loan.years, loan.energy_mwh, strict=True) if np.isfinite(e)
        }
        common = usable if common is None else common & usable
    years = np.array(sorted(common or ()), dtype=np.int64)
    if years.size < MIN_YEARS:
        raise PortfolioError(
            f"the loans share only {years.size} usable calendar year(s); the joint simulation "
            f"needs at least {MIN_YEARS} years in which every site has data"
        )
    return years


def _loan_defaults(
    loan: PortfolioLoan,
    energy: FloatArray,
    n_paths: int,
    calendar: NDArray[np.int32],
    common_z: FloatArray | None,
    corr: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Default year of every path of one loan (0: none): shared calendar, own calendar.

    The loan's own random numbers (model error, drivers) are drawn once and serve both:
    the two simulations differ only in the climate years.
    """
    n = loan.tenor_years
    own_idx, z = path_draws(loan.seed, int(energy.size), n, n_paths, loan.block_length)
    if common_z is not None and corr > 0.0:
        z = math.sqrt(corr) * common_z + math.sqrt(1.0 - corr) * z
    drivers = None if loan.drivers is None or loan.drivers.is_zero else loan.drivers
    draws = None if drivers is None else draw_driver_normals(drivers, loan.seed, n, n_paths)
    # the drivers' multipliers depend on the climate years only through a price correlation
    shared_factors = (
        driver_factors(drivers, energy, own_idx, loan.seed, draws)
        if drivers is not None and not (drivers.price_risk and drivers.price_wind_corr != 0.0)
        else None
    )
    out = []
    for idx in (np.ascontiguousarray(calendar[:n]), own_idx):
        cash, _ = energy_paths(
            energy, n, n_paths, loan.block_length, loan.sigma, loan.seed, (idx, z)
        )
        factors = shared_factors
        if drivers is not None and factors is None:
            factors = driver_factors(drivers, energy, idx, loan.seed, draws)
        cash = cash_paths(cash, loan.revenue_per_mwh, loan.opex, factors)
        out.append(default_years(cash.T, loan.debt_service, loan.reserve_months))
    return out[0], out[1]


def _quantiles(x: FloatArray, probs: Sequence[float]) -> list[float]:
    return [float(v) for v in np.quantile(x, probs, axis=-1)]


@dataclass
class _Book:
    """Aggregates of one simulation mode."""

    loss: FloatArray  # (paths,)
    bank_loss: FloatArray  # (paths,)
    annual_loss: FloatArray  # (horizon, paths)
    npl_balance: FloatArray  # (horizon, paths)
    book_balance: FloatArray  # (horizon, paths)
    npl_count: FloatArray  # (horizon, paths)
    book_count: FloatArray  # (horizon,)
    defaults: NDArray[np.int8]  # (loans, paths)

    @classmethod
    def empty(cls, n_loans: int, horizon: int, p: int) -> _Book:
        return cls(
            loss=np.zeros(p),
            bank_loss=np.zeros(p),
            annual_loss=np.zeros((horizon, p)),
            npl_balance=np.zeros((horizon, p)),
            book_balance=np.zeros((horizon, p)),
            npl_count=np.zeros((horizon, p)),
            book_count=np.zeros(horizon),
            defaults=np.zeros((n_loans, p), dtype=np.int8),
        )

    def add(self, i: int, loan: PortfolioLoan, year: NDArray[np.int64]) -> None:
        """Add loan ``i`` with its default year on every path."""
        n = loan.tenor_years
        self.defaults[i] = year
        balance = loan.opening_balance * (loan.exposure / loan.loan_amount)
        self.book_balance[:n] += balance[:, None]
        self.book_count[:n] += 1.0
        cols = np.flatnonzero(year)
        if cols.size == 0:
            return
        d = year[cols]
        loss = loan.exposure * loan.lgd
        self.loss[cols] += loss
        self.bank_loss[cols] += loss * loan.bank_share
        self.annual_loss[d - 1, cols] += loss
        # non-performing from the default year to the end of the tenor, at the balance at
        # default; the book holds it at that balance instead of the scheduled one
        t = np.arange(1, n + 1)[:, None]
        npl = t >= d[None, :]
        at_default = balance[d - 1][None, :]
        self.npl_balance[:n, cols] += np.where(npl, at_default, 0.0)
        self.npl_count[:n, cols] += npl
        self.book_balance[:n, cols] += np.where(npl, at_default - balance[:, None], 0.0)


def _simulate(
    loans: Sequence[PortfolioLoan],
    energies: Sequence[FloatArray],
    n_paths: int,
    calendar: NDArray[np.int32],
    region_z: dict[str, FloatArray] | None,
    corr: float,
) -> tuple[_Book, _Book]:
    """The book with the shared calendar and under independence."""
    horizon = max(loan.tenor_years for loan in loans)
    joint = _Book.empty(len(loans), horizon, n_paths)
    indep = _Book.empty(len(loans), horizon, n_paths)
    for i, (loan, energy) in enumerate(zip(loans, energies, strict=True)):
        zc = None if region_z is None else region_z[loan.region]
        year_joint, year_indep = _loan_defaults(loan, energy, n_paths, calendar, zc, corr)
        joint.add(i, loan, year_joint)
        indep.add(i, loan, year_indep)
    return joint, indep


def _loss_figures(loss: FloatArray, total_exposure: float, edges: FloatArray) -> dict[str, Any]:
    el = float(loss.mean())
    q = _quantiles(loss, LOSS_QUANTILES)
    qd = dict(zip(LOSS_QUANTILES, q, strict=True))
    counts, bin_edges = np.histogram(loss / total_exposure, bins=edges)
    return {
        "expected_loss": el,
        "expected_loss_se": float(loss.std(ddof=1) / math.sqrt(loss.size))
        if loss.size > 1
        else 0.0,
        "loss_sd": float(loss.std(ddof=1)) if loss.size > 1 else 0.0,
        "unexpected_loss": qd[0.999] - el,
        "loss_quantiles": {f"q{100 * p:g}".replace(".", "_"): v for p, v in qd.items()},
        "var_99": qd[0.99],
        "var_999": qd[0.999],
        "expected_loss_rate": el / total_exposure,
        "loss_rate_histogram": {
            "edges": [float(x) for x in bin_edges],
            "counts": [int(c) for c in counts],
        },
    }


def _npl_figures(book: _Book, tolerance: float) -> dict[str, Any]:
    with np.errstate(invalid="ignore", divide="ignore"):
        by_balance = np.where(book.book_balance > 0.0, book.npl_balance / book.book_balance, 0.0)
        by_count = np.where(
            book.book_count[:, None] > 0.0, book.npl_count / book.book_count[:, None], 0.0
        )
    years = []
    for t in range(by_balance.shape[0]):
        qb = _quantiles(by_balance[t], (0.5, 0.9, 0.99))
        qc = _quantiles(by_count[t], (0.5, 0.9, 0.99))
        years.append(
            {
                "year": t + 1,
                "loans_on_book": int(book.book_count[t]),
                "npl_ratio_balance_mean": float(by_balance[t].mean()),
                "npl_ratio_balance_q50": qb[0],
                "npl_ratio_balance_q90": qb[1],
                "npl_ratio_balance_q99": qb[2],
                "npl_ratio_count_mean": float(by_count[t].mean()),
                "npl_ratio_count_q50": qc[0],
                "npl_ratio_count_q90": qc[1],
                "npl_ratio_count_q99": qc[2],
                "p_npl_balance_above_tolerance": float(np.mean(by_balance[t] > tolerance)),
                "p_npl_count_above_tolerance": float(np.mean(by_count[t] > tolerance)),
                "annual_loss_mean": float(book.annual_loss[t].mean()),
                "annual_loss_q99": _quantiles(book.annual_loss[t], (0.99,))[0],
            }
        )
    return {
        "p_npl_balance_above_tolerance_any_year": float(np.mean((by_balance > tolerance).any(0))),
        "p_npl_count_above_tolerance_any_year": float(np.mean((by_count > tolerance).any(0))),
        "by_year": years,
    }


def _euler(loans: Sequence[PortfolioLoan], book: _Book, q: float) -> tuple[FloatArray, float, int]:
    """Euler contributions of each loan to the ``q`` loss quantile, the quantile, window size."""
    loss = book.loss
    p = loss.size
    var = float(np.quantile(loss, q))
    order = np.argsort(loss, kind="stable")
    centre = round(q * (p - 1))
    half = max(math.ceil(EULER_HALF_WINDOW * p), 1)
    window = order[max(centre - half, 0) : min(centre + half + 1, p)]
    per_loan = np.array([loan.exposure * loan.lgd for loan in loans])
    share = (book.defaults[:, window] > 0).mean(axis=1) * per_loan
    total = float(share.sum())
    contrib = share * (var / total) if total > 0.0 else np.zeros(len(loans))
    return contrib, var, int(window.size)


def _grouped(
    keys: Sequence[str], contrib: FloatArray, el: FloatArray, exposure: FloatArray
) -> list[dict[str, Any]]:
    groups: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    total = float(contrib.sum())
    rows: list[dict[str, Any]] = [
        {
            "name": k,
            "loans": len(ix),
            "exposure": float(exposure[ix].sum()),
            "expected_loss": float(el[ix].sum()),
            "var_contribution": float(contrib[ix].sum()),
            "var_share": float(contrib[ix].sum() / total) if total > 0 else 0.0,
        }
        for k, ix in groups.items()
    ]
    rows.sort(key=lambda r: (-r["var_contribution"], -r["expected_loss"], r["name"]))
    return rows


def _check_arguments(
    loans: Sequence[PortfolioLoan],
    n_paths: int,
    npl_tolerance_pct: float,
    model_error_corr: float,
    euler_quantile: float,
) -> None:
    """Check the book and the arguments of :func:`simulate_portfolio` but the block lengths.

    Raises
    ------
    PortfolioError
        No loans, duplicate ids, a tenor above 127 years, or an argument out of range.
    """
    if not loans:
        raise PortfolioError("the book has no loans")
    ids = [loan.loan_id for loan in loans]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise PortfolioError(f"loan_id {dup!r} appears more than once")
    if not isinstance(n_paths, int) or not 2 <= n_paths <= 1_000_000:
        raise PortfolioError(f"n_paths must be from 2 to 1,000,000, got {n_paths!r}")
    if not (math.isfinite(npl_tolerance_pct) and 0.0 <= npl_tolerance_pct < 100.0):
        raise PortfolioError(f"npl_tolerance_pct must be from 0 to <100, got {npl_tolerance_pct}")
    if not 0.0 <= model_error_corr < 1.0:
        raise PortfolioError(f"model_error_corr must be from 0 to <1, got {model_error_corr}")
    if not 0.5 <= euler_quantile < 1.0:
        raise PortfolioError(f"euler_quantile must be from 0.5 to <1, got {euler_quantile}")
    if max(loan.tenor_years for loan in loans) > 127:
        raise PortfolioError("tenors above 127 years are not supported")


def _check_block_lengths(loans: Sequence[PortfolioLoan], block_length: int, n_cal: int) -> None:
    """Check the shared and every loan's block length against the ``n_cal`` calendar years.

    Raises
    ------
    PortfolioError
        A block length outside 1..``n_cal``.
    """
    if not 1 <= block_length <= n_cal:
        raise PortfolioError(f"block_length must be from 1 to {n_cal}, got {block_length}")
    for loan in loans:
        if not 1 <= loan.block_length <= n_cal:
            raise PortfolioError(
                f"loan {loan.loan_id}: block_length must be from 1 to the {n_cal} shared "
                f"calendar years, got {loan.block_length}"
            )


def simulate_portfolio(
    loans: Sequence[PortfolioLoan],
    *,
    n_paths: int = 10_000,
    seed: int = 0,
    block_length: int = 2,
    npl_tolerance_pct: float = DEFAULT_NPL_TOLERANCE_PCT,
    model_error_corr: float = 0.0,
    euler_quantile: float = 0.99,
) -> PortfolioResult:
    r"""Simulate a loan book with shared climate years and under independence.

    Parameters
    ----------
    loans : sequence of PortfolioLoan
        The book (:func:`loan_from_assessment`), unique ``loan_id``.
    n_paths : int, default 10000
        Monte Carlo paths, 2 to 1,000,000. With the paths of the single assessments, the
        independent simulation reproduces each loan's ``pd_tenor`` exactly.
    seed : int, default 0
        Seed of the shared calendar (and of the regional model-error factors); each loan's
        own draws use the loan's seed.
    block_length : int, default 2
        Bootstrap block length of the shared calendar [years].
    npl_tolerance_pct : float, default 3
        The bank's tolerance of the NPL ratio [%].
    model_error_corr : float, default 0
        Correlation, 0 to <1, of the energy-model errors of loans in the same region (one
        common normal per region and path): :math:`z_i = \sqrt{r} Z_{region} +
        \sqrt{1-r} \varepsilon_i`. Applies to both modes (it is not weather).
    euler_quantile : float, default 0.99
        Loss quantile allocated to loans, regions and technologies.

    Returns
    -------
    PortfolioResult

    Raises
    ------
    PortfolioError
        No loans, duplicate ids, fewer than :data:`models.uncertainty.MIN_YEARS` calendar
        years usable at every site, or an argument out of range.
    """
    _check_arguments(loans, n_paths, npl_tolerance_pct, model_error_corr, euler_quantile)
    calendar_years = _common_calendar(loans)
    n_cal = int(calendar_years.size)
    _check_block_lengths(loans, block_length, n_cal)
    energies = [
        np.ascontiguousarray(loan.energy_mwh[np.isin(loan.years, calendar_years)]) for loan in loans
    ]
    tolerance = npl_tolerance_pct / 100.0
    horizon = max(loan.tenor_years for loan in loans)

    rng = np.random.default_rng(seed)
    calendar = circular_block_indices(rng, n_cal, horizon, n_paths, block_length)
    regions = sorted({loan.region for loan in loans})
    region_z = (
        {r: rng.standard_normal(n_paths) for r in regions} if model_error_corr > 0.0 else None
    )
    joint, indep = _simulate(loans, energies, n_paths, calendar, region_z, model_error_corr)

    exposure = np.array([loan.exposure for loan in loans])
    total_exposure = float(exposure.sum())
    lgd = np.array([loan.lgd for loan in loans])
    g = np.array([loan.guarantee_share for loan in loans])
    c = np.array([loan.compensation_share for loan in loans])
    pd_joint = (joint.defaults > 0).mean(axis=1)
    pd_indep = (indep.defaults > 0).mean(axis=1)
    el = pd_joint * lgd * exposure
    tenor = np.array([loan.tenor_years for loan in loans])
    pd_annual = np.array(
        [annualise_pd(float(p), int(n)) for p, n in zip(pd_indep, tenor, strict=True)]
    )
    pd_q = asrf_conditional_pd(pd_annual, 0.999)

    # one set of bins for both, over the range of both
    lo = min(float(joint.loss.min()), float(indep.loss.min())) / total_exposure
    hi = max(float(joint.loss.max()), float(indep.loss.max())) / total_exposure
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-9, HISTOGRAM_BINS + 1)
    joint_fig = _loss_figures(joint.loss, total_exposure, edges)
    indep_fig = _loss_figures(indep.loss, total_exposure, edges)
    joint_fig["npl"] = _npl_figures(joint, tolerance)
    indep_fig["npl"] = _npl_figures(indep, tolerance)

    contrib, var_q, window = _euler(loans, joint, euler_quantile)
    keys_loan = [loan.loan_id for loan in loans]
    by_loan = _grouped(keys_loan, contrib, el, exposure)

    bank_q = _quantiles(joint.bank_loss, (0.99, 0.999))
    asrf_loss = float(np.sum(exposure * lgd * pd_q))
    summary: dict[str, Any] = {
        "n_loans": len(loans),
        "n_paths": n_paths,
        "seed": int(seed),
        "block_length": block_length,
        "horizon_years": horizon,
        "calendar_years": [int(y) for y in calendar_years],
        "npl_tolerance_pct": float(npl_tolerance_pct),
        "model_error_corr": float(model_error_corr),
        "total_exposure": total_exposure,
        "joint": joint_fig,
        "independent": indep_fig,
        "correlation_effect": {
            "var_99_ratio": _ratio(joint_fig["var_99"], indep_fig["var_99"]),
            "var_999_ratio": _ratio(joint_fig["var_999"], indep_fig["var_999"]),
            "loss_sd_ratio": _ratio(joint_fig["loss_sd"], indep_fig["loss_sd"]),
        },
        "risk_sharing": {
            "expected_loss": {
                "total": float(el.sum()),
                "guarantor": float(np.sum(g * el)),
                "compensation_pool": float(np.sum(c * el)),
                "bank": float(np.sum(np.maximum(1.0 - g - c, 0.0) * el)),
            },
            "bank_var_99": bank_q[0],
            "bank_var_999": bank_q[1],
        },
        "concentration": {
            "euler_quantile": euler_quantile,
            "euler_var": var_q,
            "euler_window_paths": window,
            "herfindahl_exposure": herfindahl(exposure),
            "effective_number_of_loans": 1.0 / herfindahl(exposure),
            "by_region": _grouped([loan.region for loan in loans], contrib, el, exposure),
            "by_technology": _grouped([loan.technology for loan in loans], contrib, el, exposure),
            "top_loans": by_loan[:TOP_N],
        },
        "asrf": {
            "quantile": 0.999,
            "expected_loss_one_year": float(np.sum(exposure * lgd * pd_annual)),
            "loss_q99_9_one_year": asrf_loss,
            "simulated_annual_loss_q99_9": _quantiles(joint.annual_loss.ravel(), (0.999,))[0],
            "pd_floor": PD_FLOOR,
        },
    }
    loan_rows = [
        {
            "loan_id": loan.loan_id,
            "region": loan.region,
            "technology": loan.technology,
            "exposure": float(exposure[i]),
            "lgd": float(lgd[i]),
            "guarantee_share": float(g[i]),
            "compensation_share": float(c[i]),
            "tenor_years": int(tenor[i]),
            "pd_tenor_joint": float(pd_joint[i]),
            "pd_tenor_independent": float(pd_indep[i]),
            "pd_annual": float(pd_annual[i]),
            "expected_loss": float(el[i]),
            "expected_loss_bank": float(el[i] * loan.bank_share),
            "var_contribution": float(contrib[i]),
            "asrf_correlation": float(asrf_correlation(pd_annual[i])),
            "asrf_pd_q99_9": float(pd_q[i]),
        }
        for i, loan in enumerate(loans)
    ]
    return PortfolioResult(summary, loan_rows, joint.loss, indep.loss, joint.defaults)


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0.0 else None
