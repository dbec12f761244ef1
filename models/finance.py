"""Project-finance cash flow, debt service, cover ratios and debt sizing.

Annual periods. Year ``t = 1 … n`` ends ``t`` years after financial close; the loan is drawn in
full at financial close, interest accrues on the opening balance of each year and debt service is
paid at the end of the year. All money amounts are in the currency of :class:`FinanceTerms`.

Pure functions and frozen dataclasses only: every function returns a new value and never mutates
its input. Arrays held by the dataclasses are made read-only.

References
----------
.. [1] Yescombe, E. R. (2014). *Principles of Project Finance*, 2nd ed., chapters 12–14
   (cover ratios, debt sculpting, sizing). Academic Press. doi:10.1016/C2010-0-67010-9
.. [2] Gilman, P. et al. (2018). *SAM Photovoltaic Model Technical Reference Update*,
   NREL/TP-6A20-67399 (Single Owner debt sizing by DSCR). doi:10.2172/1429291
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from models.errors import ModelInputError

__all__ = [
    "REPAYMENT_PROFILES",
    "CovenantSizing",
    "DebtMetrics",
    "DebtSchedule",
    "DscrCovenant",
    "FinanceTerms",
    "Repayment",
    "annuity_payment",
    "cfads",
    "debt_metrics",
    "debt_service",
    "dscr",
    "llcr",
    "llcr_by_year",
    "opex_by_year",
    "revenue_per_mwh_by_year",
    "size_debt_covenants",
]

Repayment = Literal["annuity", "equal_principal", "sculpted"]
REPAYMENT_PROFILES: tuple[str, ...] = get_args(Repayment)

MAX_TENOR_YEARS = 30
"""Longest tenor accepted [years]; renewable project loans rarely exceed 20–25 years."""

FloatArray = NDArray[np.float64]


def _frozen(values: ArrayLike) -> FloatArray:
    """Return a read-only float64 copy of ``values``."""
    arr = np.array(values, dtype=np.float64, copy=True)
    arr.setflags(write=False)
    return arr


def _is_real(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _check_real(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    unit: str = "",
) -> float:
    """Validate one scalar; raise ``ValueError`` naming the field."""
    if not _is_real(value):
        raise ModelInputError(f"{name} must be a number, got {value!r}")
    x = float(value)  # type: ignore[arg-type]
    if not math.isfinite(x):
        raise ModelInputError(f"{name} must be finite, got {x}")
    suffix = f" {unit}" if unit else ""
    if low is not None and (x <= low if low_open else x < low):
        op = ">" if low_open else ">="
        raise ModelInputError(f"{name} must be {op} {low:g}{suffix}, got {x:g}{suffix}")
    if high is not None and (x >= high if high_open else x > high):
        op = "<" if high_open else "<="
        raise ModelInputError(f"{name} must be {op} {high:g}{suffix}, got {x:g}{suffix}")
    return x


def _check_series(
    name: str, values: ArrayLike, n: int | None = None, *, positive: bool = False
) -> FloatArray:
    """Return ``values`` as a finite 1-D float array of length ``n`` or raise ``ValueError``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ModelInputError(f"{name} must be one value per year (1-D), got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise ModelInputError(f"{name} has {arr.size} years but the loan tenor is {n} years")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ModelInputError(
            f"{name} is missing (NaN or infinite) in year {int(bad[0]) + 1}; "
            "exclude incomplete years before the finance model"
        )
    if positive:
        nonpos = np.flatnonzero(arr <= 0.0)
        if nonpos.size:
            raise ModelInputError(
                f"{name} must be > 0 in every year, got {arr[nonpos[0]]:g} in year "
                f"{int(nonpos[0]) + 1}"
            )
    return arr


@dataclass(frozen=True)
class FinanceTerms:
    """Loan and revenue terms of a project, validated on construction.

    Parameters
    ----------
    loan_amount : float
        Senior debt drawn at financial close [currency], > 0.
    currency : str
        ISO 4217 code, three upper-case letters (e.g. ``"CNY"``, ``"EUR"``).
    tenor_years : int
        Loan life [years], 1 to 30.
    interest_rate_pct : float
        Fixed annual interest rate [%], 0 ≤ rate < 100.
    repayment : {"annuity", "equal_principal", "sculpted"}
        Repayment profile, see :func:`debt_service`.
    tariff_per_mwh : float
        Price received in year 1 [currency MWh-1], ≥ 0.
    opex_per_year : float
        Operating cost in year 1 [currency year-1], ≥ 0.
    tariff_escalation_pct : float, default 0.0
        Annual tariff escalation [% year-1], > -100.
    opex_inflation_pct : float, default 0.0
        Annual opex inflation [% year-1], > -100.
    target_dscr : float, default 1.30
        DSCR the sculpted profile is designed for [-], ≥ 1. Only used by
        ``repayment="sculpted"``: the sculpted debt capacity is Σ (CFADS_t / target) v^t. The
        default 1.30 sits in the covenant range seen for renewables (wind about 1.35 at P50,
        1.20 at P90 or 1.00 at one-year P99; solar 1.20–1.30; E. Bodmer, "Wind P99, P90, P50
        for 1-year and 10-year and Debt Sizing", edbodmer.com). :func:`size_debt_covenants`
        takes its targets from the covenants instead.

    Raises
    ------
    ValueError
        When a field is out of range; the message names the field.
    """

    loan_amount: float
    currency: str
    tenor_years: int
    interest_rate_pct: float
    repayment: Repayment
    tariff_per_mwh: float
    opex_per_year: float
    tariff_escalation_pct: float = 0.0
    opex_inflation_pct: float = 0.0
    target_dscr: float = 1.30

    def __post_init__(self) -> None:
        _check_real("loan_amount", self.loan_amount, low=0.0, low_open=True)
        if (
            not isinstance(self.currency, str)
            or len(self.currency) != 3
            or not self.currency.isascii()
            or not self.currency.isalpha()
            or not self.currency.isupper()
        ):
            raise ModelInputError(
                f"currency must be an ISO 4217 code of three upper-case letters such as "
                f"'CNY' or 'EUR', got {self.currency!r}"
            )
        if (
            not isinstance(self.tenor_years, int | np.integer)
            or isinstance(self.tenor_years, bool)
            or not 1 <= int(self.tenor_years) <= MAX_TENOR_YEARS
        ):
            raise ModelInputError(
                f"tenor_years must be a whole number of years from 1 to {MAX_TENOR_YEARS}, "
                f"got {self.tenor_years!r}"
            )
        _check_real(
            "interest_rate_pct",
            self.interest_rate_pct,
            low=0.0,
            high=100.0,
            high_open=True,
            unit="%",
        )
        if self.repayment not in REPAYMENT_PROFILES:
            raise ModelInputError(
                f"repayment must be one of {', '.join(REPAYMENT_PROFILES)}, got {self.repayment!r}"
            )
        _check_real("tariff_per_mwh", self.tariff_per_mwh, low=0.0)
        _check_real("opex_per_year", self.opex_per_year, low=0.0)
        _check_real(
            "tariff_escalation_pct", self.tariff_escalation_pct, low=-100.0, low_open=True, unit="%"
        )
        _check_real(
            "opex_inflation_pct", self.opex_inflation_pct, low=-100.0, low_open=True, unit="%"
        )
        _check_real("target_dscr", self.target_dscr, low=1.0)

    @property
    def rate(self) -> float:
        """Interest rate as a fraction per year [-]."""
        return float(self.interest_rate_pct) / 100.0


@dataclass(frozen=True, eq=False)
class DebtSchedule:
    """Year-by-year debt schedule (arrays of length ``tenor_years``, year 1 first).

    Attributes
    ----------
    repayment : str
        Profile that produced the schedule.
    loan_amount : float
        Debt at financial close [currency].
    interest_rate_pct : float
        Annual interest rate [%].
    opening_balance, interest, principal, debt_service, closing_balance : ndarray
        Per year [currency]; ``debt_service = interest + principal`` and
        ``closing_balance = opening_balance - principal``; the last closing balance is 0.
    sculpted_dscr : float or None
        For a sculpted schedule, the constant DSCR it gives on the CFADS it was sculpted on
        [-]; ``None`` otherwise. Below ``target_dscr`` when the loan exceeds the sculpted debt
        capacity.
    sculpted_debt_capacity : float or None
        For a sculpted schedule, Σ (CFADS_t / target_dscr) / (1 + r)^t [currency].
    """

    repayment: str
    loan_amount: float
    interest_rate_pct: float
    opening_balance: FloatArray
    interest: FloatArray
    principal: FloatArray
    debt_service: FloatArray
    closing_balance: FloatArray
    sculpted_dscr: float | None = None
    sculpted_debt_capacity: float | None = None

    def __post_init__(self) -> None:
        for name in ("opening_balance", "interest", "principal", "debt_service", "closing_balance"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def tenor_years(self) -> int:
        """Number of years [years]."""
        return int(self.debt_service.size)

    @property
    def years(self) -> NDArray[np.int64]:
        """Loan years 1 … n."""
        return np.arange(1, self.tenor_years + 1, dtype=np.int64)

    @property
    def meets_target(self) -> bool | None:
        """Whether a sculpted loan fits within its sculpted debt capacity; ``None`` otherwise."""
        if self.sculpted_debt_capacity is None:
            return None
        return self.loan_amount <= self.sculpted_debt_capacity * (1.0 + 1e-12)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (lists per year)."""
        return {
            "repayment": self.repayment,
            "loan_amount": self.loan_amount,
            "interest_rate_pct": self.interest_rate_pct,
            "years": self.years.tolist(),
            "opening_balance": self.opening_balance.tolist(),
            "interest": self.interest.tolist(),
            "principal": self.principal.tolist(),
            "debt_service": self.debt_service.tolist(),
            "closing_balance": self.closing_balance.tolist(),
            "sculpted_dscr": self.sculpted_dscr,
            "sculpted_debt_capacity": self.sculpted_debt_capacity,
        }


def annuity_payment(loan_amount: float, interest_rate_pct: float, tenor_years: int) -> float:
    r"""Constant yearly payment that repays a loan over its tenor.

    Parameters
    ----------
    loan_amount : float
        Debt at financial close [currency].
    interest_rate_pct : float
        Annual interest rate [%].
    tenor_years : int
        Number of yearly payments [years].

    Returns
    -------
    float
        Annuity payment A [currency year-1].

    Notes
    -----
    .. math:: A = D \frac{r}{1 - (1 + r)^{-n}}, \\qquad A = D / n \text{ when } r = 0.

    Examples
    --------
    >>> round(annuity_payment(1_000_000, 6.0, 10), 2)
    135867.96
    """
    r = float(interest_rate_pct) / 100.0
    if r == 0.0:
        return float(loan_amount) / tenor_years
    # -expm1(-n log1p r) = 1 - (1 + r)^-n without cancellation for tiny r.
    return float(loan_amount) * r / -math.expm1(-tenor_years * math.log1p(r))


def revenue_per_mwh_by_year(
    terms: FinanceTerms, n_years: int, degradation_factors: ArrayLike | None = None
) -> FloatArray:
    """Revenue per MWh of undegraded energy in each year.

    Parameters
    ----------
    terms : FinanceTerms
        Tariff and escalation.
    n_years : int
        Number of years [years].
    degradation_factors : array_like, optional
        Output factor per year [-], length ``n_years``, finite and >= 0.

    Returns
    -------
    ndarray
        :math:`p (1 + e)^{t-1} d_t` [currency MWh-1] for t = 1 … n.
    """
    t = np.arange(n_years, dtype=np.float64)
    price: FloatArray = (
        float(terms.tariff_per_mwh) * (1.0 + float(terms.tariff_escalation_pct) / 100.0) ** t
    )
    if degradation_factors is not None:
        deg = _check_series("degradation_factors", degradation_factors, n_years)
        if np.any(deg < 0.0):
            raise ModelInputError("degradation_factors must be >= 0 in every year")
        price = price * deg
    return price


def opex_by_year(terms: FinanceTerms, n_years: int) -> FloatArray:
    """Operating cost in each year.

    Parameters
    ----------
    terms : FinanceTerms
        Opex and inflation.
    n_years : int
        Number of years [years].

    Returns
    -------
    ndarray
        :math:`O (1 + i)^{t-1}` [currency year-1] for t = 1 … n.
    """
    t = np.arange(n_years, dtype=np.float64)
    out: FloatArray = (
        float(terms.opex_per_year) * (1.0 + float(terms.opex_inflation_pct) / 100.0) ** t
    )
    return out


def cfads(
    energy_mwh_by_year: ArrayLike,
    terms: FinanceTerms,
    degradation_factors: ArrayLike | None = None,
) -> FloatArray:
    r"""Cash flow available for debt service per year.

    Parameters
    ----------
    energy_mwh_by_year : array_like
        Net energy sold [MWh year-1], year 1 first along the last axis. Extra leading axes
        (e.g. Monte Carlo paths) are kept. NaN propagates to NaN CFADS (never filled).
    terms : FinanceTerms
        Tariff, opex, escalation and inflation.
    degradation_factors : array_like, optional
        Output factor per year [-] (e.g. 1, 0.995, 0.990, …), same length as the last axis;
        ``None`` means no degradation.

    Returns
    -------
    ndarray
        CFADS [currency year-1], same shape as ``energy_mwh_by_year``.

    Raises
    ------
    ValueError
        If energy is negative, or degradation factors are negative, non-finite or of the wrong
        length.

    Notes
    -----
    .. math:: CFADS_t = E_t \, d_t \, p (1 + e)^{t-1} - O (1 + i)^{t-1}

    with energy :math:`E_t`, degradation :math:`d_t`, tariff :math:`p`, escalation :math:`e`,
    opex :math:`O` and inflation :math:`i`. Tax and working capital are outside the model.
    """
    energy = np.asarray(energy_mwh_by_year, dtype=np.float64)
    if energy.ndim == 0:
        raise ModelInputError("energy_mwh_by_year must have one value per year, got a scalar")
    if np.any(energy < 0.0):
        raise ModelInputError("energy_mwh_by_year must be >= 0 MWh in every year")
    n = energy.shape[-1]
    price = revenue_per_mwh_by_year(terms, n, degradation_factors)
    opex = opex_by_year(terms, n)
    out: FloatArray = energy * price - opex
    return out


def _schedule(
    terms: FinanceTerms,
    closing: FloatArray,
    payments: FloatArray | None = None,
    **extra: float | None,
) -> DebtSchedule:
    """Build a schedule from closing balances B_1 … B_n (B_n = 0).

    When ``payments`` (debt service per year) is given it is kept exactly and principal is
    ``payments - interest``; otherwise principal is ``B_{t-1} - B_t``. Keeping the designed
    payment exact matters for sculpted years whose debt service is tiny next to the balance,
    where ``interest + (B_{t-1} - B_t)`` would lose most of its digits.
    """
    d = float(terms.loan_amount)
    opening = np.concatenate(([d], closing[:-1]))
    interest = terms.rate * opening
    if payments is None:
        principal = opening - closing
        payments = interest + principal
    else:
        principal = payments - interest
    return DebtSchedule(
        repayment=terms.repayment,
        loan_amount=d,
        interest_rate_pct=float(terms.interest_rate_pct),
        opening_balance=opening,
        interest=interest,
        principal=principal,
        debt_service=payments,
        closing_balance=closing,
        sculpted_dscr=extra.get("sculpted_dscr"),
        sculpted_debt_capacity=extra.get("sculpted_debt_capacity"),
    )


def _discount_factors(rate: float, n: int) -> FloatArray:
    """v^t = (1 + r)^-t for t = 1 … n."""
    out: FloatArray = (1.0 + rate) ** -np.arange(1, n + 1, dtype=np.float64)
    return out


def debt_service(terms: FinanceTerms, cfads_for_sculpting: ArrayLike | None = None) -> DebtSchedule:
    r"""Debt schedule for the repayment profile in ``terms``.

    Parameters
    ----------
    terms : FinanceTerms
        Loan amount, tenor, rate, repayment profile and (for sculpting) target DSCR.
    cfads_for_sculpting : array_like, optional
        CFADS per year of the case the loan is sculpted on [currency year-1], length
        ``tenor_years``, > 0 in every year. Required for ``"sculpted"``, ignored otherwise.
        Usually the P90 (or P50) case, or ``CovenantSizing.sculpting_cfads`` after
        :func:`size_debt_covenants`.

    Returns
    -------
    DebtSchedule

    Raises
    ------
    ValueError
        When sculpting without a CFADS profile, with a profile of the wrong length, with a
        missing value, or with a year whose CFADS is ≤ 0 (no debt service can be sculpted on
        an operating loss; choose annuity or equal principal).

    Notes
    -----
    With :math:`v = 1/(1+r)`, loan :math:`D`, tenor :math:`n`:

    * annuity: :math:`DS_t = A = D r / (1 - v^n)`; closing balance
      :math:`B_t = D \frac{(1+r)^n - (1+r)^t}{(1+r)^n - 1}` (:math:`D(1 - t/n)` at r = 0).
    * equal principal: :math:`P_t = D/n`, :math:`I_t = r B_{t-1}`.
    * sculpted: debt service follows the CFADS profile,
      :math:`DS_t = CFADS_t / DSCR^*` with :math:`DSCR^* = \\sum_t CFADS_t v^t / D`, the one
      constant DSCR at which the profile repays exactly :math:`D`. The sculpted debt capacity
      at the target is :math:`D_{cap} = \\sum_t (CFADS_t / DSCR_{target}) v^t` [1]_ [2]_, and
      :math:`DSCR^* = DSCR_{target} D_{cap} / D`.

      - :math:`D = D_{cap}`: :math:`DS_t = CFADS_t / DSCR_{target}` exactly.
      - :math:`D < D_{cap}`: same shape, higher constant DSCR (the loan is not repaid early).
      - :math:`D > D_{cap}`: the loan cannot be repaid at the target. The schedule still
        amortises fully, but at the constant :math:`DSCR^* < DSCR_{target}` in *every*
        year (``schedule.meets_target`` is False). We spread the shortfall instead of
        booking it as a final-year balloon: a balloon hides the problem until the last
        year and turns it into refinancing risk, while a uniform lower DSCR shows the
        lender, in each year's DSCR and in the minimum DSCR, the cover they actually get.

    Balances come from the closed form (annuity, equal principal) or backwards from
    :math:`B_n = 0` (sculpted: :math:`B_{t-1} = (B_t + DS_t) v`), so the loan ends at exactly
    zero; interest is :math:`r B_{t-1}`. The designed payment (A, or the sculpted
    :math:`DS_t`) is kept exactly and principal is :math:`DS_t - I_t`; for equal principal,
    principal is :math:`B_{t-1} - B_t`. The identities hold to rounding
    (about :math:`10^{-12} D`).

    References
    ----------
    .. [1] Yescombe, E. R. (2014). *Principles of Project Finance*, 2nd ed., §14.
       doi:10.1016/C2010-0-67010-9
    .. [2] Gilman, P. et al. (2018). NREL/TP-6A20-67399, Single Owner debt sizing.
       doi:10.2172/1429291
    """
    n = int(terms.tenor_years)
    d = float(terms.loan_amount)
    r = terms.rate
    t = np.arange(1, n + 1, dtype=np.float64)
    if terms.repayment == "annuity":
        if r == 0.0:
            closing = d * (1.0 - t / n)
        else:
            # (1+r)^n - (1+r)^t over (1+r)^n - 1, with expm1/log1p for small rates.
            log_growth = math.log1p(r)
            total = math.expm1(n * log_growth)
            closing = d * (total - np.expm1(t * log_growth)) / total
        closing[-1] = 0.0
        payment = annuity_payment(d, float(terms.interest_rate_pct), n)
        return _schedule(terms, closing, np.full(n, payment))
    if terms.repayment == "equal_principal":
        closing = d * (1.0 - t / n)
        closing[-1] = 0.0
        return _schedule(terms, closing)
    # sculpted
    if cfads_for_sculpting is None:
        raise ModelInputError(
            "cfads_for_sculpting is required for repayment='sculpted' "
            "(the CFADS per year of the case the loan is sculpted on)"
        )
    profile = _check_series("cfads_for_sculpting", cfads_for_sculpting, n, positive=True)
    v = _discount_factors(r, n)
    pv = float(np.sum(profile * v))
    dscr_star = pv / d
    ds = profile / dscr_star
    closing = np.zeros(n)
    balance = 0.0
    for k in range(n - 1, 0, -1):
        balance = (balance + ds[k]) / (1.0 + r)
        closing[k - 1] = balance
    return _schedule(
        terms,
        closing,
        ds,
        sculpted_dscr=dscr_star,
        sculpted_debt_capacity=pv / float(terms.target_dscr),
    )


def dscr(cfads_by_year: ArrayLike, schedule: DebtSchedule) -> FloatArray:
    """Debt service cover ratio per year.

    Parameters
    ----------
    cfads_by_year : array_like
        CFADS [currency year-1], years along the last axis (length ``tenor_years``); extra
        leading axes (paths, cases) are kept. NaN propagates.
    schedule : DebtSchedule
        Debt schedule; its debt service is > 0 in every year by construction.

    Returns
    -------
    ndarray
        DSCR [-], same shape as ``cfads_by_year``.

    Notes
    -----
    .. math:: DSCR_t = CFADS_t / (I_t + P_t)
    """
    c = np.asarray(cfads_by_year, dtype=np.float64)
    if c.ndim == 0 or c.shape[-1] != schedule.tenor_years:
        raise ModelInputError(
            f"cfads_by_year must have {schedule.tenor_years} years along its last axis, "
            f"got shape {c.shape}"
        )
    out: FloatArray = c / schedule.debt_service
    return out


def llcr_by_year(
    cfads_by_year: ArrayLike, schedule: DebtSchedule, rate_pct: float | None = None
) -> FloatArray:
    r"""Loan life cover ratio at the start of each year.

    Parameters
    ----------
    cfads_by_year : array_like
        CFADS per year [currency year-1], 1-D, length ``tenor_years``, finite.
    schedule : DebtSchedule
        Debt schedule (opening balances are the debt outstanding).
    rate_pct : float, optional
        Discount rate [%]; default the loan's interest rate.

    Returns
    -------
    ndarray
        LLCR_t [-] for t = 1 … n (LLCR_1 is the value at financial close).

    Notes
    -----
    .. math:: LLCR_t = \frac{\\sum_{s=t}^{n} CFADS_s (1+r)^{-(s-t+1)}}{B_{t-1}}

    where :math:`B_{t-1}` is the opening balance of year :math:`t`
    (Yescombe 2014, §12.10).
    """
    n = schedule.tenor_years
    c = _check_series("cfads_by_year", cfads_by_year, n)
    r = (
        schedule.interest_rate_pct / 100.0
        if rate_pct is None
        else _check_real("rate_pct", rate_pct, low=0.0, high=100.0, high_open=True) / 100.0
    )
    npv = np.zeros(n)
    acc = 0.0
    for k in range(n - 1, -1, -1):
        acc = (acc + c[k]) / (1.0 + r)
        npv[k] = acc
    out: FloatArray = npv / schedule.opening_balance
    return out


def llcr(cfads_by_year: ArrayLike, schedule: DebtSchedule, rate_pct: float | None = None) -> float:
    r"""Loan life cover ratio at financial close [-].

    Parameters
    ----------
    cfads_by_year : array_like
        CFADS per year [currency year-1], 1-D, length ``tenor_years``.
    schedule : DebtSchedule
        Debt schedule.
    rate_pct : float, optional
        Discount rate [%] (percent, e.g. ``6.0``); default the loan's interest rate.

    Returns
    -------
    float
        :math:`LLCR = \sum_{t=1}^{n} CFADS_t (1+r)^{-t} / D`.
    """
    return float(llcr_by_year(cfads_by_year, schedule, rate_pct)[0])


@dataclass(frozen=True)
class DebtMetrics:
    """Summary cover ratios of one CFADS case against a schedule.

    Attributes
    ----------
    min_dscr : float
        Minimum DSCR over the tenor [-].
    min_dscr_year : int
        Loan year (1-based) of the minimum.
    avg_dscr : float
        Arithmetic mean of the yearly DSCRs [-] (the usual lender definition; not
        Σ CFADS / Σ DS).
    llcr : float
        LLCR at financial close at the loan rate [-].
    """

    min_dscr: float
    min_dscr_year: int
    avg_dscr: float
    llcr: float

    def to_dict(self) -> dict[str, float | int]:
        """Return a JSON-ready dict."""
        return {
            "min_dscr": self.min_dscr,
            "min_dscr_year": self.min_dscr_year,
            "avg_dscr": self.avg_dscr,
            "llcr": self.llcr,
        }


def debt_metrics(cfads_by_year: ArrayLike, schedule: DebtSchedule) -> DebtMetrics:
    """Minimum and average DSCR and LLCR of one CFADS case.

    Parameters
    ----------
    cfads_by_year : array_like
        CFADS per year [currency year-1], 1-D, length ``tenor_years``, finite.
    schedule : DebtSchedule
        Debt schedule.

    Returns
    -------
    DebtMetrics
    """
    c = _check_series("cfads_by_year", cfads_by_year, schedule.tenor_years)
    ratios = dscr(c, schedule)
    k = int(np.argmin(ratios))
    return DebtMetrics(
        min_dscr=float(ratios[k]),
        min_dscr_year=k + 1,
        avg_dscr=float(np.mean(ratios)),
        llcr=llcr(c, schedule),
    )


def _unit_debt_service(terms: FinanceTerms) -> FloatArray:
    """Debt service per unit of loan, k_t = DS_t / D, for annuity or equal principal."""
    unit = debt_service(replace(terms, loan_amount=1.0))
    return unit.debt_service


@dataclass(frozen=True, eq=False)
class DscrCovenant:
    """One minimum-DSCR constraint on the loan: a CFADS case and its target.

    Attributes
    ----------
    name : str
        What the constraint is, e.g. the policy rule id ``dscr_p99_1y``.
    case : str
        The energy case of ``cfads``, e.g. ``p50``, ``p90_1y``, ``p90_10y``, ``p99_1y``.
    cfads : ndarray
        CFADS per loan year of that case [currency year-1], finite.
    target : float
        Minimum DSCR required in every year [-], > 0.
    """

    name: str
    case: str
    cfads: FloatArray
    target: float

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "cfads", _frozen(_check_series(f"cfads of {self.name}", self.cfads))
        )
        object.__setattr__(
            self,
            "target",
            _check_real(f"target DSCR of {self.name}", self.target, low=0.0, low_open=True),
        )


@dataclass(frozen=True, eq=False)
class CovenantSizing:
    """Largest loan that meets every DSCR covenant (:func:`size_debt_covenants`).

    Attributes
    ----------
    max_loan_amount : float
        Largest debt meeting every covenant in every year [currency]; 0.0 when a covenant's
        CFADS is not positive in a year a positive debt service would fall in.
    repayment : str
        Repayment profile sized.
    covenants : tuple of DscrCovenant
        The constraints, in the order given.
    limits : tuple of float
        Largest debt each covenant allows on its own [currency], same order (for a sculpted
        loan: the loan sculpted on that covenant alone).
    binding : str
        Name of the covenant that sets the size (the first of equal ones); for a sculpted loan
        the one that sets the debt service in the most years.
    binding_year : int or None
        Loan year whose DSCR sets the size (annuity, equal principal); None for sculpted.
    binding_by_year : tuple of str
        For each loan year, the covenant with the smallest allowed debt service that year.
    dscr_min : tuple of float
        Minimum DSCR of the sized loan under each covenant's case [-]; NaN without debt.
    sculpting_cfads : ndarray or None
        For ``"sculpted"``: the profile to pass to :func:`debt_service` as
        ``cfads_for_sculpting`` with ``terms.target_dscr``,
        ``target_dscr · min_c(CFADS_c / DSCR_c)`` [currency]; None when any year's allowed
        debt service is not positive.
    terms : FinanceTerms or None
        Input terms with the sized loan amount; None without debt.
    schedule : DebtSchedule or None
        Schedule of the sized loan; None without debt.
    """

    max_loan_amount: float
    repayment: str
    covenants: tuple[DscrCovenant, ...]
    limits: tuple[float, ...]
    binding: str
    binding_year: int | None
    binding_by_year: tuple[str, ...]
    dscr_min: tuple[float, ...]
    sculpting_cfads: FloatArray | None = None
    terms: FinanceTerms | None = None
    schedule: DebtSchedule | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.sculpting_cfads is not None:
            object.__setattr__(self, "sculpting_cfads", _frozen(self.sculpting_cfads))

    @property
    def binding_covenant(self) -> DscrCovenant:
        """The covenant named by :attr:`binding`."""
        return next(c for c in self.covenants if c.name == self.binding)


def size_debt_covenants(
    covenants: list[DscrCovenant] | tuple[DscrCovenant, ...], terms: FinanceTerms
) -> CovenantSizing:
    r"""Largest loan whose DSCR meets *every* covenant in every year.

    Each covenant names an energy case (P50, 1-year P90, 10-year P90, 1-year P99, …) and a
    minimum DSCR; lenders size the debt to the tightest of them, each being a separate
    constraint [1]_ [2]_.

    Parameters
    ----------
    covenants : sequence of DscrCovenant
        At least one; each CFADS of length ``terms.tenor_years``.
    terms : FinanceTerms
        Tenor, rate and repayment profile; ``terms.loan_amount`` is ignored.

    Returns
    -------
    CovenantSizing

    Raises
    ------
    ValueError
        No covenant, duplicate names, or a CFADS of the wrong length.

    Notes
    -----
    With covenants :math:`c` (CFADS :math:`CFADS_{c,t}`, target :math:`DSCR_c`):

    * annuity and equal principal: debt service is linear in the loan, :math:`DS_t = D k_t`,
      so each covenant allows :math:`D_c = \min_t CFADS_{c,t} / (k_t DSCR_c)` and

      .. math:: D_{max} = \min_c D_c

      (0 when any :math:`CFADS_{c,t} \le 0`);
    * sculpted: the largest debt service allowed in year :math:`t` is
      :math:`DS_t^{max} = \min_c CFADS_{c,t} / DSCR_c`; the loan is the present value of its
      debt service, so :math:`D_{max} = \sum_t DS_t^{max} (1+r)^{-t}`, reached by sculpting
      on :math:`DS^{max}` (0 when any :math:`DS_t^{max} \le 0`).

    Re-computing the DSCRs of the sized loan gives :math:`DSCR_{c,t} \ge DSCR_c` for every
    covenant and year, with equality for the binding one.

    References
    ----------
    .. [1] Yescombe, E. R. (2014). *Principles of Project Finance*, 2nd ed., §12.3 (cover
       ratios) and §14 (debt sizing). doi:10.1016/C2010-0-67010-9
    .. [2] Gilman, P. et al. (2018). NREL/TP-6A20-67399, Single Owner debt sizing by DSCR.
       doi:10.2172/1429291
    """
    covs = tuple(covenants)
    if not covs:
        raise ModelInputError("debt sizing needs at least one DSCR covenant")
    names = [c.name for c in covs]
    if len(set(names)) != len(names):
        raise ModelInputError(f"covenant names must be unique, got {names}")
    n = int(terms.tenor_years)
    for c in covs:
        if c.cfads.size != n:
            raise ModelInputError(
                f"cfads of {c.name} has {c.cfads.size} years but the loan tenor is {n} years"
            )
    allowed = np.stack([c.cfads / c.target for c in covs])  # DS allowed per covenant and year
    by_year_idx = np.argmin(allowed, axis=0)
    by_year = tuple(names[int(i)] for i in by_year_idx)
    sculpting: FloatArray | None = None
    if terms.repayment == "sculpted":
        v = _discount_factors(terms.rate, n)
        limits_arr = np.where(np.all(allowed > 0.0, axis=1), allowed @ v, 0.0)
        ds_max = allowed.min(axis=0)
        counts = np.bincount(by_year_idx, minlength=len(covs))
        # most years first, then the smaller stand-alone limit
        order = sorted(range(len(covs)), key=lambda i: (-int(counts[i]), float(limits_arr[i])))
        binding, year = names[order[0]], None
        if np.all(ds_max > 0.0):
            amount = float(np.sum(ds_max * v))
            sculpting = ds_max * float(terms.target_dscr)
        else:
            amount = 0.0
    else:
        k = _unit_debt_service(terms)
        bounds = allowed / k  # debt allowed per covenant by each year
        limits_arr = np.maximum(bounds.min(axis=1), 0.0)
        i = int(np.argmin(bounds.min(axis=1)))
        binding, year = names[i], int(np.argmin(bounds[i])) + 1
        amount = float(limits_arr[i])
    limits = tuple(float(x) for x in limits_arr)
    if amount <= 0.0:
        return CovenantSizing(
            max_loan_amount=0.0,
            repayment=terms.repayment,
            covenants=covs,
            limits=limits,
            binding=binding,
            binding_year=year,
            binding_by_year=by_year,
            dscr_min=tuple(math.nan for _ in covs),
        )
    sized_terms = replace(terms, loan_amount=amount)
    schedule = debt_service(sized_terms, sculpting)
    return CovenantSizing(
        max_loan_amount=amount,
        repayment=terms.repayment,
        covenants=covs,
        limits=limits,
        binding=binding,
        binding_year=year,
        binding_by_year=by_year,
        dscr_min=tuple(float(np.min(dscr(c.cfads, schedule))) for c in covs),
        sculpting_cfads=sculpting,
        terms=sized_terms,
        schedule=schedule,
    )
