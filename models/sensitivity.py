r"""Stress cases and break-even values of an assessment, on common random numbers.

Each case changes one input of the assessment and reports the Monte Carlo PD over the tenor
and the minimum DSCR at P90 energy (:data:`P90_BASIS`); the debt schedule stays the one fixed
at financial close (a sculpted loan keeps its sculpting). Cases (:data:`CASES`):

========================  ==============================================================
``base``                  the assessment itself
``sigma_model_minus_50``  energy-model uncertainty σ_model × 0.5
``sigma_model_plus_50``   σ_model × 1.5
``curtailment_plus_5``    mean curtailment + 5 percentage points
``curtailment_plus_10``   mean curtailment + 10 percentage points
``tariff_minus_10``       tariff × 0.9 (every year)
``trend_minus_0_5``       energy trend − 0.5 % per year (compound, from year 2)
``dsra_0``                no debt service reserve
``dsra_12``               a reserve of 12 months of debt service
========================  ==============================================================

Common random numbers: every case uses the seed of the assessment, so the climate years, the
model-error draws (:func:`models.risk.energy_paths`, whose random numbers do not depend on
σ_model) and the drivers' draws (:func:`models.drivers.draw_driver_normals`, independent of
the drivers' sizes) are the same paths in every case; a difference between two cases is the
effect of the change, not Monte Carlo noise. The ``base`` case is computed with the same
operations as :func:`models.risk.simulate_default`, element by element, and equals its PD
exactly. The cases share
one set of draws and differ only in a few array operations, so the whole block costs a few
default loops rather than a Monte Carlo each.

Break-even values (:func:`break_even`): the lowest year-1 tariff and the lowest P50 energy at
which every DSCR rule of the policy (its rules on a metric ``repayment.dscr_*``) still
passes, in closed form on the deterministic cash flows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.drivers import (
    Curtailment,
    DriverDraws,
    PathFactors,
    RiskDrivers,
    climate_anomaly,
    combine_factors,
    curtailed_fraction,
    draw_driver_normals,
    market_and_operations,
)
from models.errors import ModelInputError
from models.finance import DebtSchedule, FinanceTerms, cfads, dscr, opex_by_year
from models.finance import revenue_per_mwh_by_year as revenue_by_year
from models.policy import Rule
from models.risk import _years_in_default, model_errors, path_draws
from models.uncertainty import Exceedance

__all__ = [
    "CASES",
    "DSCR_CASE_OF_METRIC",
    "P90_BASIS",
    "STRESS_PATHS",
    "BreakEven",
    "CaseSpec",
    "Sensitivities",
    "SensitivityCase",
    "break_even",
    "defaults_within_tenor",
    "sensitivities",
]

FloatArray = NDArray[np.float64]

#: Energy case of the "min P90 DSCR" of each stress case: the ten-year P90, as
#: ``repayment.dscr_p90_min`` of the assessment.
P90_BASIS = "p90_10y"

#: Energy case behind each DSCR metric a policy may have a rule on.
DSCR_CASE_OF_METRIC: dict[str, Callable[[Exceedance], float]] = {
    "repayment.dscr_p50_min": lambda ex: ex.p50,
    "repayment.dscr_p90_min": lambda ex: ex.p90_10y,
    "repayment.dscr_p90_10y_min": lambda ex: ex.p90_10y,
    "repayment.dscr_p90_1y_min": lambda ex: ex.p90,
    "repayment.dscr_p99_min": lambda ex: ex.p99,
    "repayment.dscr_p99_1y_min": lambda ex: ex.p99,
}


@dataclass(frozen=True)
class CaseSpec:
    """One stress case: what it changes.

    Attributes
    ----------
    id : str
        Identifier (stable; used by the page's translations).
    label : str
        English label.
    sigma_factor : float
        σ_model multiplier.
    curtailment_add_pct : float
        Percentage points added to the mean curtailment.
    tariff_factor : float
        Tariff multiplier.
    trend_add_pct_per_year : float
        Added to the energy trend [% per year].
    reserve_months : float or None
        Reserve size [months]; None keeps the assessment's.
    """

    id: str
    label: str
    sigma_factor: float = 1.0
    curtailment_add_pct: float = 0.0
    tariff_factor: float = 1.0
    trend_add_pct_per_year: float = 0.0
    reserve_months: float | None = None

    def direction(self, base_reserve_months: float) -> str | None:
        """Which way the case moves every path's cash and reserve, if it is one way.

        ``"worse"`` when it lowers them (never raises one), ``"better"`` when it raises them,
        None when it moves paths both ways (σ_model) or changes nothing.
        """
        if self.sigma_factor != 1.0:
            return None
        reserve = base_reserve_months if self.reserve_months is None else self.reserve_months
        lower = (
            self.curtailment_add_pct >= 0.0
            and self.tariff_factor <= 1.0
            and self.trend_add_pct_per_year <= 0.0
            and reserve <= base_reserve_months
        )
        higher = (
            self.curtailment_add_pct <= 0.0
            and self.tariff_factor >= 1.0
            and self.trend_add_pct_per_year >= 0.0
            and reserve >= base_reserve_months
        )
        if lower and not higher:
            return "worse"
        if higher and not lower:
            return "better"
        return None


#: The cases of every assessment, base first.
CASES: tuple[CaseSpec, ...] = (
    CaseSpec("base", "Base case"),
    CaseSpec("sigma_model_minus_50", "σ_model −50 %", sigma_factor=0.5),
    CaseSpec("sigma_model_plus_50", "σ_model +50 %", sigma_factor=1.5),
    CaseSpec("curtailment_plus_5", "Curtailment +5 points", curtailment_add_pct=5.0),
    CaseSpec("curtailment_plus_10", "Curtailment +10 points", curtailment_add_pct=10.0),
    CaseSpec("tariff_minus_10", "Tariff −10 %", tariff_factor=0.9),
    CaseSpec("trend_minus_0_5", "Energy trend −0.5 %/year", trend_add_pct_per_year=-0.5),
    CaseSpec("dsra_0", "DSRA 0 months", reserve_months=0.0),
    CaseSpec("dsra_12", "DSRA 12 months", reserve_months=12.0),
)

#: Paths on which each stress case's change is measured (the first of the assessment's own).
#: 1,000 of 10,000: the eight cases together cost less than one Monte Carlo (the benchmark's
#: 20 ms budget); on common random numbers the standard error of a change of 1 point of PD is
#: about 0.3 points, and a one-way change is never of the wrong sign.
STRESS_PATHS = 1_000

_DRAW_FIELDS = ("curtailment", "price", "operations")

#: Largest mean curtailment a stress may reach [%] (the model needs < 100).
_MAX_CURTAILMENT_PCT = 99.0


@dataclass(frozen=True)
class SensitivityCase:
    r"""Outcome of one stress case.

    Attributes
    ----------
    id, label : str
        From :class:`CaseSpec`.
    pd_tenor : float
        Share of paths that default within the tenor [-].
    pd_tenor_se : float
        Binomial standard error of the level, :math:`\sqrt{p(1-p)/N}` [-].
    delta_pd_tenor_se : float
        Standard error of the change from the base case on common random numbers [-] (0 for
        the base case).
    dscr_p90_min : float or None
        Minimum DSCR at P90 energy in the case [-]; None when not finite.
    """

    id: str
    label: str
    pd_tenor: float
    pd_tenor_se: float
    delta_pd_tenor_se: float
    dscr_p90_min: float | None

    def to_dict(self, base: SensitivityCase | None = None) -> dict[str, Any]:
        """JSON-ready case; with ``base``, the changes from it."""
        out: dict[str, Any] = {
            "id": self.id,
            "label": self.label,
            "pd_tenor": round(self.pd_tenor, 6),
            "pd_tenor_se": round(self.pd_tenor_se, 6),
            "dscr_p90_min": None if self.dscr_p90_min is None else round(self.dscr_p90_min, 4),
        }
        if base is not None:
            out["delta_pd_tenor"] = round(self.pd_tenor - base.pd_tenor, 6)
            out["delta_pd_tenor_se"] = round(self.delta_pd_tenor_se, 6)
            out["delta_dscr_p90_min"] = (
                None
                if self.dscr_p90_min is None or base.dscr_p90_min is None
                else round(self.dscr_p90_min - base.dscr_p90_min, 4)
            )
        return out


@dataclass(frozen=True)
class BreakEven:
    """Lowest tariff and P50 energy at which every DSCR rule of the policy passes.

    Attributes
    ----------
    tariff_per_mwh : float or None
        Break-even year-1 tariff [currency MWh-1]; None without DSCR rules or when no tariff
        suffices (no output in some year).
    tariff_headroom_pct : float or None
        How far the tariff may fall before a rule fails, ``(1 - T*/T) × 100`` [%]; negative
        when a rule fails already.
    p50_mwh : float or None
        Break-even P50 energy (before curtailment; the other cases scale with it) [MWh year-1].
    p50_headroom_pct : float or None
        ``(1 - P50*/P50) × 100`` [%].
    binding_rule : str or None
        Id of the rule that sets both values.
    binding_year : int or None
        Loan year where it binds.
    rules : tuple of str
        Ids of the DSCR rules taken into account.
    notes : tuple of str
        DSCR rules left out (a metric without a known energy case, an upper bound).
    """

    tariff_per_mwh: float | None
    tariff_headroom_pct: float | None
    p50_mwh: float | None
    p50_headroom_pct: float | None
    binding_rule: str | None
    binding_year: int | None
    rules: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""

        def r(v: float | None, digits: int) -> float | None:
            return None if v is None or not math.isfinite(v) else round(v, digits)

        return {
            "tariff_per_mwh": r(self.tariff_per_mwh, 4),
            "tariff_headroom_pct": r(self.tariff_headroom_pct, 3),
            "p50_mwh": r(self.p50_mwh, 3),
            "p50_headroom_pct": r(self.p50_headroom_pct, 3),
            "binding_rule": self.binding_rule,
            "binding_year": self.binding_year,
            "rules": list(self.rules),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Sensitivities:
    """The sensitivity block of an assessment.

    Attributes
    ----------
    cases : tuple of SensitivityCase
        Base first, then :data:`CASES` in order.
    break_even : BreakEven
        Break-even tariff and P50 energy.
    seed, n_paths : int
        Common random numbers of every case: the assessment's seed and paths.
    n_stress_paths : int
        Paths on which each case's change from the base was measured (the first ones).
    stress_base_pd_tenor : float
        The base case's PD on those paths, recomputed here; equal to the assessment's PD
        when ``n_stress_paths == n_paths`` (a check that the paths are the same).
    """

    cases: tuple[SensitivityCase, ...]
    break_even: BreakEven
    seed: int
    n_paths: int
    n_stress_paths: int
    stress_base_pd_tenor: float

    @property
    def base(self) -> SensitivityCase:
        """The base case."""
        return self.cases[0]

    def case(self, case_id: str) -> SensitivityCase:
        """The case with id ``case_id`` (KeyError if absent)."""
        for c in self.cases:
            if c.id == case_id:
                return c
        raise KeyError(case_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready block (``sensitivities`` of the assessment object)."""
        return {
            "method": (
                "common random numbers: the assessment's seed and paths in every case; each "
                "case's PD is the assessment's PD plus its change on the first "
                f"{self.n_stress_paths} paths; debt schedule fixed at financial close; min "
                "DSCR at ten-year P90 energy"
            ),
            "seed": self.seed,
            "n_paths": self.n_paths,
            "n_stress_paths": self.n_stress_paths,
            "cases": [c.to_dict(self.base) for c in self.cases],
            "break_even": self.break_even.to_dict(),
        }


def _min_dscr(
    energy_mwh: float,
    sold: float,
    terms: FinanceTerms,
    factors: FloatArray | None,
    schedule: DebtSchedule,
) -> float | None:
    n = int(terms.tenor_years)
    value = float(np.min(dscr(cfads(np.full(n, energy_mwh * sold), terms, factors), schedule)))
    return value if math.isfinite(value) else None


def _stressed_curtailment(c: Curtailment, add_pct: float) -> Curtailment:
    return replace(c, mean_pct=min(float(c.mean_pct) + add_pct, _MAX_CURTAILMENT_PCT))


def sensitivities(
    climate_year_energy_mwh: FloatArray,
    terms: FinanceTerms,
    schedule: DebtSchedule,
    sigma_model: float,
    exceedance_at: Callable[[float], Exceedance],
    drivers: RiskDrivers,
    *,
    seed: int,
    n_paths: int,
    base_pd_tenor: float,
    sigma_lt_mean: float = 0.0,
    block_length: int = 2,
    reserve_months: float = 6.0,
    degradation_factors: FloatArray | None = None,
    dscr_rules: Sequence[Rule] = (),
    cases: Sequence[CaseSpec] = CASES,
    n_stress_paths: int = STRESS_PATHS,
    driver_draws: DriverDraws | None = None,
    path_random: tuple[NDArray[np.int32], FloatArray] | None = None,
) -> Sensitivities:
    r"""PD and minimum P90 DSCR in each stress case, and the break-even values.

    Parameters
    ----------
    climate_year_energy_mwh : ndarray
        Energy of the usable climate years, as given to :func:`models.risk.simulate_default`.
    terms : FinanceTerms
        The loan.
    schedule : DebtSchedule
        The debt schedule of the assessment (fixed in every case).
    sigma_model : float
        Model uncertainty of the assessment [-].
    exceedance_at : callable
        Exceedance figures for a given σ_model (``lambda s: exceedance(years, s)``).
    drivers : RiskDrivers
        The assessment's drivers.
    seed, n_paths, block_length, reserve_months
        As given to :func:`models.risk.simulate_default` for the assessment.
    base_pd_tenor : float
        The assessment's own PD over the tenor (``RiskResult.pd_tenor``): the base case.
    sigma_lt_mean : float
        Error of the record's long-term mean [-], as given to
        :func:`models.risk.simulate_default`; persistent per path with the model error, and
        not scaled by the σ_model cases.
    degradation_factors : ndarray, optional
        Module degradation (solar), before the drivers' ageing and trend.
    dscr_rules : sequence of Rule
        The policy's rules; those on ``repayment.dscr_*`` set the break-even values.
    cases : sequence of CaseSpec
        The cases; the first must be the base case (no change).
    n_stress_paths : int
        Paths on which the change of each stress case is measured: the first
        ``min(n_stress_paths, n_paths)`` paths of the assessment's own.
    driver_draws : DriverDraws, optional
        The drivers' standard normals of the assessment's Monte Carlo, when already drawn
        (``draw_driver_normals(drivers, seed, tenor_years, n_paths)``); drawn here otherwise.
    path_random : (ndarray, ndarray), optional
        Likewise the weather and model-error random numbers (:func:`models.risk.path_draws`).

    Returns
    -------
    Sensitivities

    Notes
    -----
    Difference estimator on common random numbers. On the first :math:`K` paths of the
    assessment (the same climate years, model errors and driver draws), each case's
    default indicator :math:`D^{(k)}_j` is set against the base's :math:`D^{(0)}_j`, and

    .. math:: PD^{(k)} = PD^{(0)} + \frac{1}{K} \sum_{j \le K} (D^{(k)}_j - D^{(0)}_j),
              \qquad SE = \frac{sd(D^{(k)} - D^{(0)})}{\sqrt{K}}

    with :math:`PD^{(0)}` the assessment's PD on all its paths. Because the paths are
    shared, :math:`D^{(k)} - D^{(0)}` is zero on most paths and the difference is far more
    precise than two independent estimates; for a change that lowers every path's cash (more
    curtailment, lower tariff, a negative trend) it is never negative. Each case recomputes
    only what it changes: path energies for σ_model (same random numbers, scaled), the
    curtailment factor, the revenue per MWh for tariff and trend, the reserve.

    The minimum P90 DSCR of a case is deterministic: :math:`\min_t CFADS_t / DS_t` at
    ten-year P90 energy (recomputed for a σ_model case) with the case's mean curtailment,
    output factors and tariff.
    """
    if not cases or cases[0] != CaseSpec(cases[0].id, cases[0].label):
        raise ModelInputError("the first sensitivity case must be the unchanged base case")
    energy = np.asarray(climate_year_energy_mwh, dtype=np.float64)
    n = int(terms.tenor_years)
    k = max(1, min(int(n_stress_paths), int(n_paths)))
    shared = _stress_paths(
        energy,
        drivers,
        n,
        k,
        seed=seed,
        n_paths=n_paths,
        block_length=block_length,
        driver_draws=driver_draws,
        path_random=path_random,
    )
    factors = {
        add: _curtailment_factors(drivers, shared, add)
        for add in {spec.curtailment_add_pct for spec in cases}
    }
    inputs = [
        _case_inputs(spec, drivers, terms, degradation_factors, reserve_months) for spec in cases
    ]
    cash = _stress_cash(
        shared,
        cases,
        [factors[spec.curtailment_add_pct] for spec in cases],
        np.stack([revenue_by_year(c.terms, n, c.output_factors) for c in inputs], axis=1),
        opex_by_year(terms, n),
        sigma_model=sigma_model,
        sigma_lt_mean=sigma_lt_mean,
    )
    ds = np.asarray(schedule.debt_service, dtype=np.float64)
    defaulted = _defaults_by_case(
        cash, ds, cases, [c.reserve_months for c in inputs], reserve_months
    )
    ex_at = {f: exceedance_at(sigma_model * f) for f in {1.0, *(c.sigma_factor for c in cases)}}
    out = tuple(
        _case_outcome(
            spec,
            defaulted[i],
            defaulted[0],
            is_base=i == 0,
            base_pd_tenor=base_pd_tenor,
            n_paths=n_paths,
            dscr_p90_min=_min_dscr(
                float(ex_at[spec.sigma_factor].p90_10y),
                case.drivers.sold_fraction(),
                case.terms,
                case.output_factors,
                schedule,
            ),
        )
        for i, (spec, case) in enumerate(zip(cases, inputs, strict=True))
    )
    be = break_even(
        ex_at[1.0],
        terms,
        schedule,
        sold_fraction=drivers.sold_fraction(),
        output_factors=inputs[0].output_factors,
        rules=dscr_rules,
    )
    return Sensitivities(
        cases=out,
        break_even=be,
        seed=int(seed),
        n_paths=int(n_paths),
        n_stress_paths=k,
        stress_base_pd_tenor=float(np.count_nonzero(defaulted[0])) / k,
    )


# ------------------------------------------------------------------ the steps of sensitivities


@dataclass(frozen=True, eq=False)
class _StressPaths:
    """What every stress case shares: the first K paths of the assessment's Monte Carlo.

    Attributes
    ----------
    climate : ndarray, shape (years, K)
        Climate-year energy of each path-year [MWh year-1].
    z : ndarray, shape (K,)
        Standard normal of each path's model error.
    draws : DriverDraws
        The drivers' standard normals on these paths.
    other, opex_factor : ndarray or None
        Revenue multiplier of availability and market price, and the opex multiplier
        (:func:`models.drivers.market_and_operations`); None for 1.
    """

    climate: FloatArray
    z: FloatArray
    draws: DriverDraws
    other: FloatArray | None
    opex_factor: FloatArray | None


def _stress_paths(
    energy: FloatArray,
    drivers: RiskDrivers,
    n_years: int,
    k: int,
    *,
    seed: int,
    n_paths: int,
    block_length: int,
    driver_draws: DriverDraws | None,
    path_random: tuple[NDArray[np.int32], FloatArray] | None,
) -> _StressPaths:
    """The random numbers of the assessment (given, or drawn again), cut to the first K paths."""
    full_idx, z = path_random or path_draws(seed, int(energy.size), n_years, n_paths, block_length)
    idx = np.ascontiguousarray(full_idx[:, :k])
    all_draws = driver_draws or draw_driver_normals(drivers, seed, n_years, n_paths)
    draws = DriverDraws(
        *(None if x is None else x[:, :k] for x in (getattr(all_draws, f) for f in _DRAW_FIELDS))
    )
    anomaly: FloatArray | None = None
    if drivers.price_risk and drivers.price_wind_corr != 0.0:
        anomaly = climate_anomaly(energy).take(idx)
    other, opex_factor = (
        (None, None) if drivers.is_zero else market_and_operations(drivers, draws, anomaly)
    )
    return _StressPaths(energy.take(idx), z[:k], draws, other, opex_factor)


def _curtailment_factors(
    drivers: RiskDrivers, shared: _StressPaths, add_pct: float
) -> PathFactors | None:
    """The drivers' multipliers on the shared paths, mean curtailment ``add_pct`` points up.

    None when there is nothing to multiply (no drivers and no added curtailment).
    """
    if drivers.is_zero and add_pct == 0.0:
        return None
    curt = drivers.curtailment
    if add_pct:
        curt = _stressed_curtailment(curt, add_pct)
    return combine_factors(curtailed_fraction(curt, shared.draws), shared.other, shared.opex_factor)


def _stress_cash(
    shared: _StressPaths,
    cases: Sequence[CaseSpec],
    case_factors: Sequence[PathFactors | None],
    price: FloatArray,
    opex: FloatArray,
    *,
    sigma_model: float,
    sigma_lt_mean: float,
) -> FloatArray:
    """CFADS of every case on the shared paths, (years, cases × K): case i in columns i K on.

    The operations of :func:`models.risk.energy_paths` and :func:`models.risk.cash_paths`,
    element by element and in their order (climate energy × model error × revenue multiplier
    × revenue per MWh − opex × opex multiplier; a multiplier of 1 where a case has none,
    exact), so the base case is the assessment's own paths bit for bit; but on all cases at
    once, a few operations on one (years, cases, K) array instead of a few per case.
    ``price`` is the revenue per MWh of each case, (years, cases). Every case has the shared
    opex multiplier: the cases change the curtailment, never the opex draws.
    """
    n, k = shared.climate.shape
    errors = {
        f: model_errors(shared.z, math.hypot(sigma_model * f, sigma_lt_mean))
        for f in {spec.sigma_factor for spec in cases}
    }
    cash = np.empty((n, len(cases), k))
    np.multiply(
        shared.climate[:, None, :],
        np.stack([errors[spec.sigma_factor] for spec in cases]),
        out=cash,
    )
    revenue = [None if f is None else f.revenue for f in case_factors]
    if any(r is not None for r in revenue):
        multiplier = np.empty_like(cash)
        for i, r in enumerate(revenue):
            multiplier[:, i, :] = 1.0 if r is None else r
        cash *= multiplier
    cash *= price[:, :, None]
    if shared.opex_factor is None:
        cash -= opex[:, None, None]
    else:
        cash -= (opex[:, None] * shared.opex_factor)[:, None, :]
    return cash.reshape(n, len(cases) * k)


@dataclass(frozen=True, eq=False)
class _CaseInputs:
    """The inputs of one stress case: drivers, terms, deterministic output factors, reserve."""

    drivers: RiskDrivers
    terms: FinanceTerms
    output_factors: FloatArray | None
    reserve_months: float


def _case_inputs(
    spec: CaseSpec,
    drivers: RiskDrivers,
    terms: FinanceTerms,
    degradation_factors: FloatArray | None,
    reserve_months: float,
) -> _CaseInputs:
    """The assessment's drivers, terms and reserve with the change of ``spec`` applied."""
    case_drivers = drivers
    if spec.trend_add_pct_per_year:
        case_drivers = replace(
            case_drivers,
            energy_trend_pct_per_year=drivers.energy_trend_pct_per_year
            + spec.trend_add_pct_per_year,
        )
    if spec.curtailment_add_pct:
        case_drivers = replace(
            case_drivers,
            curtailment=_stressed_curtailment(drivers.curtailment, spec.curtailment_add_pct),
        )
    case_terms = (
        terms
        if spec.tariff_factor == 1.0
        else replace(terms, tariff_per_mwh=float(terms.tariff_per_mwh) * spec.tariff_factor)
    )
    out_factors = (
        degradation_factors
        if case_drivers.is_zero
        else case_drivers.output_factors(int(terms.tenor_years), degradation_factors)
    )
    reserve = reserve_months if spec.reserve_months is None else spec.reserve_months
    return _CaseInputs(case_drivers, case_terms, out_factors, reserve)


def _defaults_by_case(
    cash: FloatArray,
    ds: FloatArray,
    cases: Sequence[CaseSpec],
    reserves: Sequence[float],
    base_reserve_months: float,
) -> NDArray[np.bool_]:
    """Whether each path defaults in each case, shape (cases, K), from the cases' cash side by side.

    The base first; then each case only on the paths whose outcome it can change: a case
    that lowers every path's cash (or the reserve) keeps the base's defaults, one that
    raises them keeps its survivors (exact, not an approximation). The remaining paths of
    all cases go through one default loop, each with its case's reserve.
    """
    n_cases = len(cases)
    k = cash.shape[1] // n_cases
    defaulted = np.empty(n_cases * k, dtype=bool)
    defaulted[:k] = defaults_within_tenor(cash[:, :k], ds, reserves[0])
    base_dead = defaulted[:k]
    cols: list[NDArray[np.intp]] = []
    shares: list[FloatArray] = []
    for i, spec in enumerate(cases[1:], start=1):
        direction = spec.direction(base_reserve_months)
        if direction is None:
            paths = np.arange(k)
        else:
            defaulted[i * k : (i + 1) * k] = base_dead
            paths = np.flatnonzero(~base_dead if direction == "worse" else base_dead)
        cols.append(paths + i * k)
        shares.append(np.full(paths.size, float(reserves[i]) / 12.0))
    todo = np.concatenate(cols) if cols else np.empty(0, dtype=np.intp)
    if todo.size:
        years = _years_in_default(cash[:, todo], ds, np.concatenate(shares), True)
        defaulted[todo] = years > 0
    return defaulted.reshape(n_cases, k)


def _case_outcome(
    spec: CaseSpec,
    case_dead: NDArray[np.bool_],
    base_dead: NDArray[np.bool_],
    *,
    is_base: bool,
    base_pd_tenor: float,
    n_paths: int,
    dscr_p90_min: float | None,
) -> SensitivityCase:
    """PD of one case: the assessment's PD plus the change on the shared paths, with its SE."""
    k = base_dead.size
    up = int(np.count_nonzero(case_dead & ~base_dead))  # paths that default only here
    down = int(np.count_nonzero(base_dead & ~case_dead))  # paths saved by the change
    delta = (up - down) / k
    pd_case = float(base_pd_tenor) if is_base else min(max(base_pd_tenor + delta, 0.0), 1.0)
    # sd of D = 1[case] - 1[base] in {-1, 0, 1}: E[D^2] - E[D]^2
    delta_se = math.sqrt(max((up + down) / k - delta * delta, 0.0) / k)
    return SensitivityCase(
        id=spec.id,
        label=spec.label,
        pd_tenor=pd_case,
        pd_tenor_se=math.sqrt(pd_case * (1.0 - pd_case) / n_paths),
        delta_pd_tenor_se=delta_se,
        dscr_p90_min=dscr_p90_min,
    )


def defaults_within_tenor(
    cash: FloatArray, debt_service: FloatArray, reserve_months: float
) -> NDArray[np.bool_]:
    """Whether each path defaults within the tenor (reserve refilled from surpluses).

    The rules and the code of :func:`models.risk.default_years` (so the same decisions),
    without the year of default.

    Parameters
    ----------
    cash : ndarray, shape (years, paths)
        CFADS [currency year-1].
    debt_service : ndarray, shape (years,)
        Debt service [currency year-1], > 0.
    reserve_months : float
        Reserve size [months of debt service], ≥ 0.
    """
    ds = np.asarray(debt_service, dtype=np.float64)
    defaulted: NDArray[np.bool_] = (
        _years_in_default(cash, ds, float(reserve_months) / 12.0, True) > 0
    )
    return defaulted


def break_even(
    ex: Exceedance,
    terms: FinanceTerms,
    schedule: DebtSchedule,
    *,
    sold_fraction: float = 1.0,
    output_factors: FloatArray | None = None,
    rules: Sequence[Rule] = (),
) -> BreakEven:
    r"""Lowest year-1 tariff and P50 energy at which every DSCR rule still passes.

    Parameters
    ----------
    ex : Exceedance
        The assessment's energy figures.
    terms : FinanceTerms
        The loan, tariff and opex.
    schedule : DebtSchedule
        Debt service (fixed).
    sold_fraction : float
        Expected share of energy sold after curtailment [-].
    output_factors : ndarray, optional
        Deterministic output factor per year (degradation, ageing, trend) [-].
    rules : sequence of Rule
        Policy rules; those whose metric starts with ``repayment.dscr`` and whose operator is
        ``>=`` or ``>`` are used (:data:`DSCR_CASE_OF_METRIC` names their energy case).

    Returns
    -------
    BreakEven

    Notes
    -----
    With energy :math:`E_c` of the rule's case, sold fraction :math:`s`, revenue factor
    :math:`k_t = (1+e)^{t-1} d_t` per unit tariff, opex :math:`O_t`, debt service
    :math:`DS_t` and threshold :math:`\theta`, the rule passes in year :math:`t` iff
    :math:`E_c s k_t T - O_t \ge \theta DS_t`, so

    .. math:: T^* = \max_{rules,\ t} \frac{\theta DS_t + O_t}{E_c s k_t}, \qquad
              P50^* = \max_{rules,\ t} \frac{\theta DS_t + O_t}{q_c s k_t T}

    with :math:`q_c = E_c / P50` (the cases keep their ratio to P50 when P50 moves). A rule
    with ``>`` has the same boundary value (its infimum). The debt schedule is held fixed
    (for a sculpted loan: as sculpted at financial close).
    """
    n = int(terms.tenor_years)
    ds = np.asarray(schedule.debt_service, dtype=np.float64)
    opex = opex_by_year(terms, n)
    unit = replace(terms, tariff_per_mwh=1.0)
    k = revenue_by_year(unit, n, output_factors) * float(sold_fraction)
    used: list[str] = []
    notes: list[str] = []
    best_t = -math.inf
    best_rule: str | None = None
    best_year: int | None = None
    p50 = float(ex.p50)
    tariff = float(terms.tariff_per_mwh)
    for rule in rules:
        if not rule.metric.startswith("repayment.dscr"):
            continue
        if rule.operator not in (">=", ">"):
            notes.append(f"rule {rule.id}: operator {rule.operator} is not a lower bound; left out")
            continue
        case = DSCR_CASE_OF_METRIC.get(rule.metric)
        if case is None:
            notes.append(f"rule {rule.id}: no energy case known for {rule.metric}; left out")
            continue
        used.append(rule.id)
        e_c = float(case(ex))
        need = float(rule.threshold) * ds + opex
        with np.errstate(divide="ignore", invalid="ignore"):
            t_star = np.where(e_c * k > 0.0, need / (e_c * k), math.inf)
        year = int(np.argmax(t_star))
        if float(t_star[year]) > best_t:
            best_t, best_rule, best_year = float(t_star[year]), rule.id, year + 1
    if not used:
        return BreakEven(None, None, None, None, None, None, (), tuple(notes))
    be_tariff: float | None = best_t if math.isfinite(best_t) else None
    be_p50: float | None = None
    if be_tariff is not None and tariff > 0.0:
        # same binding rule and year: P50* / P50 = T* / T (CFADS is linear in E_c·T)
        be_p50 = p50 * be_tariff / tariff
    return BreakEven(
        tariff_per_mwh=be_tariff,
        tariff_headroom_pct=None
        if be_tariff is None or tariff <= 0
        else 100 * (1 - be_tariff / tariff),
        p50_mwh=be_p50,
        p50_headroom_pct=None if be_p50 is None or p50 <= 0 else 100.0 * (1.0 - be_p50 / p50),
        binding_rule=best_rule,
        binding_year=best_year,
        rules=tuple(used),
        notes=tuple(notes),
    )
