r"""The assessment chain: from a site's climate years to a lending decision.

:func:`assess` only calls the pure functions of the other model modules, in order
(docs/conventions.rst, "Pure functions first"):

1. energy of every climate year at hub height (:func:`models.wind.wind_energy` or
   :func:`models.solar.solar_energy`), on wind corrected with site evidence (a mast MCP or a
   wind-atlas mean, :func:`models.evidence.apply_site_evidence`) when given; with an operating
   history, the long-term corrected energy per reference year
   (:func:`models.longterm.long_term_correction`) instead;
2. exceedance levels P50, P90, P99 for one and ten years (:func:`models.uncertainty.exceedance`);
3. CFADS over the tenor at P50, at one-year and ten-year P90 and at one-year P99
   (:func:`models.finance.cfads`), on the energy sold after the mean curtailment and with the
   deterministic output factors (degradation, ageing, trend);
4. the largest loan that meets *every* DSCR rule of the policy, each on its own case
   (:func:`dscr_covenants`, :func:`models.finance.size_debt_covenants`), and the debt
   schedule (:func:`models.finance.debt_service`; a sculpted loan is sculpted on the
   tightest covenant of each year, :math:`DS_t \propto \min_c CFADS_{c,t} / DSCR_c`, so
   that a loan of the sized amount meets every rule);
5. DSCR by year in each case, their minima and LLCR at P50;
6. Monte Carlo PD, expected loss and grade (:func:`models.risk.simulate_default`), with the
   non-weather risk drivers (:mod:`models.drivers`: curtailment, market price, availability,
   opex, ageing, trend; the request's values over the policy's ``risk_drivers`` defaults),
   then the stress cases and break-even values (:func:`models.sensitivity.sensitivities`);
7. the policy's rules on the assessment object (:func:`models.policy.evaluate`) → decision.

:meth:`Assessment.to_dict` returns the assessment object of service contract v1
(README, "API and web page").
It is JSON-safe (NaN and infinity become ``null``). Derived metrics added for the policy rules
(:data:`models.policy.METRICS`):

- ``climate.complete_years``: number of complete climate years;
- ``climate.wind.trailing_3y_min_ms``: lowest annual mean wind speed at hub height among the
  ``climate.wind.trailing_3y_years`` (so ``>= x`` reads "each of the three years reached x");
  null with fewer than three complete years;
- ``climate.solar.trailing_3y_min_sunshine_hours``: the same for sunshine duration;
- ``energy.capacity_factor_p50``;
- the minimum DSCR on each basis a covenant may name (:data:`DSCR_CASES`):
  ``repayment.dscr_p50_min``, ``dscr_p90_1y_min``, ``dscr_p90_10y_min``, ``dscr_p99_1y_min``;
  ``dscr_p90_min`` stays the ten-year P90 and ``dscr_p99_min`` the one-year P99 (aliases, the
  names of stored assessments and API clients), with ``dscr_p90_basis`` saying so;
- ``repayment.pd_scorecard``: lifetime PD from the PD scorecard passed as ``scorecard`` (a
  model card of :mod:`models.registry`, see :func:`scorecard_pd`), beside the Monte Carlo
  ``repayment.pd_tenor``; null without a card or when one of its features is unavailable.

Which basis a P90 covenant uses is the policy's choice: lenders quote 1.20–1.25 at the
one-year P90 (the stricter, usual sizing case for wind) or at the ten-year P90, and 1.00 at the
one-year P99; every basis is computed and each DSCR rule names its own.

Missing data (docs/conventions.rst, "Missing data is explicit, never filled"): a year that fails
its coverage rule, or whose energy could not be
computed, is ``null`` in ``energy.annual_mwh`` and takes no part in any figure. With fewer than
:data:`models.uncertainty.MIN_YEARS` usable years there are no exceedance, repayment or PD
figures: they are ``null``, and every policy rule on them refers with reason
``INSUFFICIENT_DATA`` — never a crash and never a filled value.

Reproducibility: the Monte Carlo and the long-term bootstrap use one seed. Given the same seed
and inputs, ``to_dict()`` is identical except ``id`` and ``provenance.created_at``, which the
caller may also pass in. Without a seed one is drawn from OS entropy and recorded.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from climate_data.site import TRAILING_YEARS, SiteClimate
from climate_data.version import code_version as package_code_version
from models import policy as policy_mod
from models.drivers import DriverDraws, RiskDrivers, draw_driver_normals, resolve_drivers
from models.errors import ModelInputError
from models.evidence import EvidenceResult, SiteEvidence, apply_site_evidence, model_basis
from models.finance import (
    CovenantSizing,
    DebtSchedule,
    DscrCovenant,
    FinanceTerms,
    cfads,
    debt_service,
    dscr,
    llcr,
    size_debt_covenants,
)
from models.longterm import (
    InsufficientData as LongTermInsufficientData,
)
from models.longterm import (
    LongTermResult,
    OperatingHistory,
    long_term_correction,
)
from models.policy import Decision, Policy, Reason, RuleResult
from models.registry import ModelCard, json_safe, software_versions
from models.risk import RiskResult, path_draws, simulate_default
from models.scorecard import LOAN_BOOK_COLUMNS, card_model, grade_bands_of, grade_of, predict_pd
from models.sensitivity import Sensitivities, sensitivities
from models.solar import SolarEnergy, SolarProject, degradation_factors, solar_energy
from models.uncertainty import (
    MIN_YEARS,
    SIGMA_MODEL_OPERATING,
    SIGMA_MODEL_REANALYSIS,
    Exceedance,
    exceedance,
)
from models.wind import WindEnergy, WindProject, wind_energy

__all__ = [
    "DEFAULT_N_PATHS",
    "DSCR_CASES",
    "SCORECARD_SOURCES",
    "Assessment",
    "AssessmentError",
    "ScorecardPD",
    "assess",
    "dscr_covenants",
    "scorecard_pd",
    "scorecard_version",
]

#: Monte Carlo paths per assessment.
DEFAULT_N_PATHS = 10_000
#: Hours of a (non-leap) year, for capacity factors [h].
HOURS_PER_YEAR = 8760.0
#: DSCR target at P50 used for loan sizing when the policy has no rule on the P50 DSCR [-]:
#: a loan must at least be repaid at median energy.
DEFAULT_SIZING_DSCR = 1.0
#: Energy case of each DSCR metric a policy rule may name (aliases included).
DSCR_CASES: Mapping[str, str] = {
    "repayment.dscr_p50_min": "p50",
    "repayment.dscr_p90_1y_min": "p90_1y",
    "repayment.dscr_p90_10y_min": "p90_10y",
    "repayment.dscr_p90_min": "p90_10y",
    "repayment.dscr_p99_1y_min": "p99_1y",
    "repayment.dscr_p99_min": "p99_1y",
}
#: Resolution of a reported DSCR (decimals); a strict ``>`` covenant is sized one unit above.
_DSCR_DIGITS = 4
_SEED_BITS = 53
#: Bootstrap block length of the Monte Carlo [years] (:func:`models.risk.simulate_default`).
_BLOCK_LENGTH = 2


class AssessmentError(ModelInputError):
    """The inputs of an assessment do not fit together (e.g. a solar policy for a wind farm)."""


def software_drift(recorded: Mapping[str, Any] | None) -> dict[str, tuple[str | None, str]]:
    """Return ``{name: (recorded, installed)}`` for each recorded version that differs now.

    ``recorded`` is an assessment's ``provenance.software``; an assessment made before the
    versions were recorded (``None``) differs in every entry, with ``None`` as recorded.
    """
    current = software_versions()
    recorded = recorded or {}
    return {
        name: (recorded.get(name), installed)
        for name, installed in current.items()
        if recorded.get(name) != installed
    }


def _num(value: float | None, digits: int) -> float | None:
    """Round for JSON; None, NaN and infinity become None."""
    if value is None:
        return None
    v = float(value)
    return round(v, digits) if math.isfinite(v) else None


#: Where each loan-book feature of a PD scorecard (:mod:`models.scorecard`) is read in the
#: assessment object; ``leverage`` is computed as loan amount / project cost.
SCORECARD_SOURCES: Mapping[str, str] = {
    "trailing_wind_mean_ms": "climate.wind.trailing_3y_mean_ms",
    "wind_iav": "climate.wind.iav",
    "sunshine_hours": "climate.solar.mean_sunshine_hours",
    "dscr_p90": "repayment.dscr_p90_min",
    "leverage": "repayment.loan_amount / project_cost",
    "tenor_years": "repayment.tenor_years",
}
_WIND_FEATURES = frozenset({"trailing_wind_mean_ms", "wind_iav"})
_NULL_REASONS: Mapping[str, str] = {
    "trailing_wind_mean_ms": "fewer than three complete climate years at the site",
    "wind_iav": "fewer than two complete climate years at the site",
    "sunshine_hours": "no complete climate year with sunshine duration at the site",
    "dscr_p90": "no P90 DSCR (too few usable climate years for energy figures)",
    "tenor_years": "no loan tenor",
}
_LOAN_BOOK_RANGES = {c.name: c for c in LOAN_BOOK_COLUMNS}


@dataclass(frozen=True)
class ScorecardPD:
    """The PD of one assessment from a scorecard model card.

    Attributes
    ----------
    card_id : str
        Id of the card, e.g. ``scorecard-v3``.
    card_sha256 : str
        SHA-256 of the card as it was used.
    synthetic : bool
        True when the card was trained on a synthetic loan book.
    features : mapping of str to float or None
        Raw value of each card feature for this loan (loan-book units,
        :data:`models.scorecard.LOAN_BOOK_COLUMNS`); None when unavailable.
    pd : float or None
        Lifetime PD [0-1]; None when any feature is unavailable (never filled).
    grade : str or None
        Grade of ``pd`` by the card's grade bands; None without bands or without a PD.
    notes : tuple of str
        Why a feature is unavailable, extrapolation warnings, the synthetic-data warning.
    """

    card_id: str
    card_sha256: str
    synthetic: bool
    features: Mapping[str, float | None]
    pd: float | None
    grade: str | None
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return ``repayment.scorecard`` of the assessment object."""
        return {
            "card": self.card_id,
            "sha256": self.card_sha256,
            "synthetic": self.synthetic,
            "features": {k: _num(v, 6) for k, v in self.features.items()},
            "notes": list(self.notes),
        }


def scorecard_version(card: ModelCard) -> str:
    """Provenance entry of a card: ``"<id> (sha256 <first 12 hex digits>)"``."""
    return _version_entry(card.id, card.sha256)


def _version_entry(card_id: str, sha256: str) -> str:
    return f"{card_id} (sha256 {sha256[:12]})"


def _model_part(card: ModelCard) -> dict[str, Any]:
    """What prediction reads from a card, without the copy and hash of ``to_dict`` (0.6 ms)."""
    return {"kind": card.kind, "parameters": card.parameters, "features": card.features}


def _feature_value(
    name: str, assessment: Mapping[str, Any], technology: str, project_cost: float | None
) -> tuple[float | None, str | None]:
    """Raw value of one scorecard feature in an assessment object, or None and why."""
    if name not in SCORECARD_SOURCES:
        return None, (
            f"the assessment does not compute the feature {name!r} "
            f"(it provides {', '.join(SCORECARD_SOURCES)})"
        )
    if name in _WIND_FEATURES and technology != "wind":
        return None, f"{name} is wind at hub height, which a {technology} project does not have"
    if name == "leverage":
        if project_cost is None:
            return None, (
                "debt / total project cost needs the project cost, which the assessment was "
                "not given"
            )
        return float(assessment["repayment"]["loan_amount"]) / project_cost, None
    if name == "sunshine_hours" and assessment["climate"].get("solar") is None:
        return None, "the dataset has no sunshine duration (no radiation variables)"
    value = policy_mod.metric_value(assessment, SCORECARD_SOURCES[name])
    if value is None:
        return None, _NULL_REASONS[name]
    return value, None


def scorecard_pd(
    card: ModelCard,
    assessment: Mapping[str, Any],
    *,
    technology: str,
    project_cost: float | None = None,
) -> ScorecardPD:
    r"""PD of one loan from a scorecard card and the figures of its assessment.

    Parameters
    ----------
    card : ModelCard
        A ``scorecard`` card; its ``features`` say which figures are needed and how they are
        transformed.
    assessment : mapping
        The assessment object (contract v1) the features are read from, as reported (rounded),
        so the figures a person reads are the figures scored: see :data:`SCORECARD_SOURCES`.
    technology : {"wind", "solar"}
        The project's technology (wind features need a hub height).
    project_cost : float, optional
        Total project cost [currency], for ``leverage`` = loan amount / project cost [-].

    Returns
    -------
    ScorecardPD
        ``pd`` is None, with the reason in ``notes``, when a feature is unavailable or outside
        the domain of its transform (e.g. the log of a DSCR that is not positive).

    Raises
    ------
    models.scorecard.ScorecardError
        The card is not a usable logit scorecard.

    Notes
    -----
    With the card's standardised features :math:`z_j = (g_j(x_j) - c_j) / s_j` and
    coefficients :math:`\beta`, :math:`\mathrm{PD} = 1 / (1 + e^{-\eta})`,
    :math:`\eta = \beta_0 + \sum_j \beta_j z_j` (:func:`models.scorecard.predict_pd`). It is
    a *lifetime* PD, comparable with the Monte Carlo ``pd_tenor``. A feature outside the
    range of the loan-book schema is still scored, with a note that the PD extrapolates.
    """
    model = _model_part(card)
    features, _ = card_model(model)
    values: dict[str, float | None] = {}
    missing: list[str] = []
    notes: list[str] = []
    for f in features:
        value, why = _feature_value(f.name, assessment, technology, project_cost)
        if value is not None and not math.isfinite(value):
            value, why = None, f"{f.name} is not a finite number"
        if value is not None and f.transform == "log" and value <= 0:
            value, why = None, f"{f.name} = {value:g} is not positive, so its log is undefined"
        values[f.name] = value
        if why is not None:
            missing.append(f"{f.name}: {why}")
            continue
        rule = _LOAN_BOOK_RANGES.get(f.name)
        if rule is not None and value is not None:
            below = value <= rule.low if rule.low_open else value < rule.low
            if below or value > rule.high:
                notes.append(
                    f"scorecard feature {f.name} = {value:g} {rule.units} is outside the loan "
                    f"book's range {rule.low:g} to {rule.high:g}; the scorecard PD extrapolates"
                )
    pd_value: float | None = None
    grade: str | None = None
    if missing:
        notes.insert(
            0, f"scorecard PD ({card.id}) not computed: " + "; ".join(missing) + " (not filled)"
        )
    else:
        row = {k: np.array([v], dtype=np.float64) for k, v in values.items()}
        pd_value = float(predict_pd(model, row)[0])
        if "grade_bands" in card.parameters:
            grade = str(grade_of(pd_value, grade_bands_of(model)))
    synthetic = bool(card.training_data.get("synthetic", False))
    if synthetic:
        notes.append(
            f"scorecard {card.id} was trained on a SYNTHETIC loan book (demonstration only); "
            "its PD says nothing about real defaults"
        )
    return ScorecardPD(
        card_id=card.id,
        card_sha256=card.sha256,
        synthetic=synthetic,
        features=values,
        pd=pd_value,
        grade=grade,
        notes=tuple(notes),
    )


@dataclass(frozen=True, eq=False)
class Assessment:
    """One assessment: every intermediate result, the rule results and the decision.

    Attributes
    ----------
    id : str
        Identifier (uuid4 hex unless the caller gave one).
    created_at : str
        ISO 8601 UTC time of the assessment.
    site : SiteClimate
        The site's climate years.
    project : WindProject or SolarProject
        The plant.
    terms : FinanceTerms
        The loan.
    policy : Policy
        The lending product applied.
    energy : WindEnergy or SolarEnergy
        Energy per climate year from the reanalysis.
    method : {'reanalysis', 'atlas_scaled', 'mcp', 'operating_history'}
        Source of the annual energies behind the exceedance figures (site evidence,
        :mod:`models.evidence`, or the operating history).
    annual_energy_mwh : ndarray, shape (Y,)
        Net energy per year of ``years`` used for the exceedance [MWh]; NaN where unusable.
    energy_years : ndarray of int, shape (Y,)
        Years of ``annual_energy_mwh``.
    long_term : LongTermResult or None
        Long-term correction on the operating history, when one was used.
    exceedance : Exceedance or None
        None with fewer than :data:`models.uncertainty.MIN_YEARS` usable years.
    degradation : ndarray or None
        Deterministic output factor per loan year: solar module degradation times the
        drivers' ageing and energy trend (:meth:`models.drivers.RiskDrivers.output_factors`);
        None for none.
    cfads_p50, cfads_p90, cfads_p99 : ndarray or None
        CFADS per loan year at P50, ten-year P90, one-year P99 [currency].
    cfads_p90_1y, dscr_p90_1y : ndarray or None
        CFADS and DSCR per loan year at one-year P90 [currency], [-].
    schedule : DebtSchedule or None
        Debt schedule.
    dscr_p50, dscr_p90, dscr_p99 : ndarray or None
        DSCR per loan year in each case [-].
    llcr : float or None
        LLCR at P50 [-].
    sizing : CovenantSizing or None
        Largest loan meeting every DSCR rule of the policy (:func:`dscr_covenants`).
    risk : RiskResult or None
        Monte Carlo PD, EL and grade.
    decision : {'approve', 'refer', 'decline'}
        Worst outcome among failed rules.
    reasons : tuple of Reason
        One per failed rule.
    rule_results : tuple of RuleResult
        One per policy rule.
    seed : int
        Seed of the Monte Carlo and the long-term bootstrap.
    n_paths : int
        Monte Carlo paths.
    sigma_model : float
        Model uncertainty used [-].
    code_version : str
        Version of this package.
    model_versions : mapping of str to str
        Which function produced each step, at which version.
    notes : tuple of str
        Assumptions and adjustments a reader should know about.
    scorecard : ScorecardPD or None
        PD from the scorecard card passed to :func:`assess`; None without one.
    software : mapping of str to str
        Versions of Python, this package and the scientific stack
        (:func:`software_versions`), recorded as ``provenance.software``.
    drivers : RiskDrivers or None
        Non-weather risk drivers applied (:mod:`models.drivers`); None for none.
    driver_sources : mapping of str to str
        Where each driver's value came from (request, policy default and its source).
    sensitivities : Sensitivities or None
        Stress cases and break-even values (:mod:`models.sensitivity`); None without
        repayment figures or when not asked for.
    evidence : EvidenceResult or None
        Site evidence (mast MCP or atlas scaling) applied to the wind, when given
        (``energy.evidence``).
    """

    id: str
    created_at: str
    site: SiteClimate
    project: WindProject | SolarProject
    terms: FinanceTerms
    policy: Policy
    energy: WindEnergy | SolarEnergy
    method: str
    annual_energy_mwh: NDArray[np.float64]
    energy_years: NDArray[np.int64]
    long_term: LongTermResult | None
    exceedance: Exceedance | None
    degradation: NDArray[np.float64] | None
    cfads_p50: NDArray[np.float64] | None
    cfads_p90: NDArray[np.float64] | None
    cfads_p99: NDArray[np.float64] | None
    schedule: DebtSchedule | None
    dscr_p50: NDArray[np.float64] | None
    dscr_p90: NDArray[np.float64] | None
    dscr_p99: NDArray[np.float64] | None
    llcr: float | None
    sizing: CovenantSizing | None
    risk: RiskResult | None
    decision: Decision
    reasons: tuple[Reason, ...]
    rule_results: tuple[RuleResult, ...]
    seed: int
    n_paths: int
    sigma_model: float
    code_version: str
    model_versions: Mapping[str, str]
    notes: tuple[str, ...]
    scorecard: ScorecardPD | None = None
    software: Mapping[str, str] = field(default_factory=software_versions)
    cfads_p90_1y: NDArray[np.float64] | None = None
    dscr_p90_1y: NDArray[np.float64] | None = None
    drivers: RiskDrivers | None = None
    driver_sources: Mapping[str, str] | None = None
    sensitivities: Sensitivities | None = None
    evidence: EvidenceResult | None = None
    #: The assessment object, once :func:`assess` has built it (None for one built otherwise,
    #: or by ``dataclasses.replace``, which does not carry it over).
    _body: dict[str, Any] | None = field(default=None, init=False, repr=False)

    @property
    def technology(self) -> str:
        """``'wind'`` or ``'solar'``."""
        return "wind" if isinstance(self.project, WindProject) else "solar"

    @property
    def hub_height_m(self) -> float | None:
        """Hub height of a wind project [m]; None for solar."""
        return self.project.hub_height_m if isinstance(self.project, WindProject) else None

    # ----------------------------------------------------------------------- JSON object

    def _climate(self) -> dict[str, Any]:
        c = self.site.summary(self.hub_height_m)
        complete = self.site.complete if self.hub_height_m is not None else self.site.solar_complete
        c["complete_years"] = int(np.count_nonzero(complete))
        wind = c["wind"]
        trailing = [str(y) for y in wind["trailing_3y_years"]]
        vals = [wind["annual_mean_ms"].get(y) for y in trailing]
        wind["trailing_3y_min_ms"] = (
            min(v for v in vals if v is not None)
            if len(trailing) == TRAILING_YEARS and None not in vals
            else None
        )
        if c["solar"] is not None:
            sun = c["solar"]["annual_sunshine_hours"]
            svals = [sun.get(y) for y in trailing]
            c["solar"]["trailing_3y_min_sunshine_hours"] = (
                min(v for v in svals if v is not None)
                if len(trailing) == TRAILING_YEARS and None not in svals
                else None
            )
        return c

    def _energy(self) -> dict[str, Any]:
        ex = self.exceedance
        e = self.energy
        annual = {
            str(int(y)): _num(v, 3)
            for y, v in zip(self.energy_years, self.annual_energy_mwh, strict=True)
        }
        if isinstance(e, WindEnergy):
            capacity = e.installed_capacity_mw
            extra: dict[str, Any] = {
                "turbine_type": e.turbine_type,
                "turbine_count": e.turbine_count,
                "installed_capacity_mw": e.installed_capacity_mw,
                "hub_height_m": e.hub_height_m,
                "height_factor": _num(e.height_factor, 6),
                "capacity_basis": "installed",
            }
        else:
            capacity = e.capacity_ac_mw
            extra = {
                "capacity_mw": e.capacity_mw,
                "capacity_ac_mw": _num(e.capacity_ac_mw, 6),
                "capacity_basis": "ac",
                "plant": dict(e.plant),  # mounting and its ratio to the cube's reference
            }
        reanalysis_mwh = {
            str(int(y)): (_num(v, 3) if ok else None)
            for y, v, ok in zip(e.years, e.net_mwh, e.complete, strict=True)
        }
        out: dict[str, Any] = {
            "method": self.method,
            "annual_mwh": annual,
            "loss_factor": _num(e.loss_factor, 6),
            "p50_mwh": _num(ex.p50, 3) if ex else None,
            "p90_mwh": _num(ex.p90, 3) if ex else None,
            "p99_mwh": _num(ex.p99, 3) if ex else None,
            "p90_10y_mwh": _num(ex.p90_10y, 3) if ex else None,
            "p99_10y_mwh": _num(ex.p99_10y, 3) if ex else None,
            "sigma": _num(ex.sigma_1y, 6) if ex else None,
            "sigma_components": (
                {
                    "iav": _num(ex.sigma_iav, 6),
                    "iav_1y": _num(ex.sigma_iav, 6),
                    "lt_mean": _num(ex.sigma_lt_mean, 6),
                    "model": _num(ex.sigma_model, 6),
                    "total_1y": _num(ex.sigma_1y, 6),
                    "total_10y": _num(ex.sigma_10y, 6),
                    "n_record_years": ex.n_years,
                    "model_basis": self._model_basis(),
                }
                if ex
                else None
            ),
            "n_years": ex.n_years
            if ex
            else int(np.count_nonzero(np.isfinite(self.annual_energy_mwh))),
            "capacity_factor_p50": (
                _num(ex.p50 / (capacity * HOURS_PER_YEAR), 4) if ex and capacity > 0 else None
            ),
            **extra,
            "reanalysis_annual_mwh": reanalysis_mwh,
            "long_term": self.long_term.to_dict() if self.long_term is not None else None,
            "operating_losses": self._operating_losses(),
            "evidence": self.evidence.to_dict() if self.evidence is not None else None,
            "notes": list(self.notes),
        }
        if out["long_term"] is not None:
            out["long_term"] = json_safe(out["long_term"], 10)
        return out

    def _repayment(self) -> dict[str, Any]:
        t = self.terms
        r = self.risk
        s = self.schedule
        sc = self.scorecard
        by_year: list[dict[str, Any]] = []
        if (
            s is not None
            and self.dscr_p50 is not None
            and self.dscr_p90 is not None
            and self.dscr_p99 is not None
            and self.cfads_p50 is not None
        ):
            for k in range(s.tenor_years):
                by_year.append(
                    {
                        "year": k + 1,
                        "p50": _num(self.dscr_p50[k], 4),
                        "p90": _num(self.dscr_p90[k], 4),
                        "p90_1y": (
                            _num(self.dscr_p90_1y[k], 4) if self.dscr_p90_1y is not None else None
                        ),
                        "p99": _num(self.dscr_p99[k], 4),
                        "cfads_p50": _num(self.cfads_p50[k], 2),
                        "debt_service": _num(s.debt_service[k], 2),
                        "closing_balance": _num(s.closing_balance[k], 2),
                    }
                )

        def minimum(a: NDArray[np.float64] | None) -> float | None:
            return _num(float(np.min(a)), 4) if a is not None and a.size else None

        sizing = self._sizing()
        return {
            "loan_amount": t.loan_amount,
            "currency": t.currency,
            "tenor_years": t.tenor_years,
            "interest_rate_pct": t.interest_rate_pct,
            "repayment": t.repayment,
            "dscr_by_year": by_year,
            "dscr_p50_min": minimum(self.dscr_p50),
            "dscr_p90_min": minimum(self.dscr_p90),
            "dscr_p99_min": minimum(self.dscr_p99),
            "dscr_p90_basis": "10y",
            "dscr_p90_1y_min": minimum(self.dscr_p90_1y),
            "dscr_p90_10y_min": minimum(self.dscr_p90),
            "dscr_p99_1y_min": minimum(self.dscr_p99),
            "llcr": _num(self.llcr, 4),
            "pd_tenor": _num(r.pd_tenor, 6) if r else None,
            "pd_tenor_se": _num(r.pd_tenor_se, 6) if r else None,
            "pd_annual": _num(r.pd_annual, 6) if r else None,
            "expected_loss": _num(r.expected_loss, 2) if r else None,
            "expected_loss_tenor": _num(r.expected_loss_tenor, 2) if r else None,
            "lgd": r.lgd if r else None,
            "grade": r.grade if r else None,
            "pd_scorecard": _num(sc.pd, 6) if sc is not None else None,
            "scorecard_grade": sc.grade if sc is not None else None,
            "scorecard": sc.to_dict() if sc is not None else None,
            "risk_weight_pct": r.risk_weight_pct if r else None,
            "min_dscr_quantiles": (
                {
                    "q01": _num(r.min_dscr_q01, 4),
                    "q05": _num(r.min_dscr_q05, 4),
                    "q10": _num(r.min_dscr_q10, 4),
                    "q50": _num(r.min_dscr_q50, 4),
                }
                if r
                else None
            ),
            "dscr_fan_by_year": (
                [
                    {"year": i + 1, "q10": _num(a, 4), "q50": _num(b, 4), "q90": _num(c, 4)}
                    for i, (a, b, c) in enumerate(
                        zip(
                            r.dscr_q10_by_year.tolist(),
                            r.dscr_q50_by_year.tolist(),
                            r.dscr_q90_by_year.tolist(),
                            strict=True,
                        )
                    )
                ]
                if r
                else None
            ),
            "cumulative_pd_by_year": (
                [_num(x, 6) for x in r.cumulative_pd_by_year.tolist()] if r else None
            ),
            "sizing": sizing,
        }

    def _model_basis(self) -> str:
        """Where σ_model comes from (:data:`models.evidence.MODEL_BASIS`)."""
        if self.evidence is not None and self.evidence.used:
            return self.evidence.model_basis
        return model_basis(self.method)

    def _operating_losses(self) -> dict[str, Any] | None:
        """``energy.operating_losses``: the loss fractions the long-term correction removed."""
        lt = self.long_term
        if lt is None or lt.quantity != "energy_mwh":
            return None
        return {
            "availability_fraction": _num(lt.mean_availability_loss_fraction, 6),
            "curtailment_fraction": _num(lt.mean_curtailment_loss_fraction, 6),
            "total_fraction": _num(lt.mean_loss_fraction, 6),
            "loss_threshold_fraction": lt.max_loss_fraction,
            "loss_threshold_range": list(lt.loss_threshold_range),
            "months_input": lt.n_months_input,
            "months_used": lt.n_months_used,
            "months_dropped_high_loss": lt.n_dropped_loss,
        }

    def _sizing(self) -> dict[str, Any] | None:
        """``repayment.sizing``: the largest loan meeting every DSCR rule, and which binds."""
        z = self.sizing
        if z is None:
            return None
        metric_of = {r.id: r.metric for r in self.policy.rules}

        def target(case: str) -> float | None:
            found = [c.target for c in z.covenants if c.case == case]
            return max(found) if found else None

        binding = z.binding_covenant
        return {
            "max_loan_amount": _num(z.max_loan_amount, 2),
            "binding_rule": z.binding,
            "binding_metric": metric_of.get(z.binding, "repayment.dscr_p50_min"),
            "binding_case": binding.case,
            "binding_target": binding.target,
            "binding_year": z.binding_year,
            # the P50 and 10-year P90 targets of contract v1 (null without such a rule)
            "target_dscr_p50": target("p50"),
            "target_dscr_p90": target("p90_10y"),
            "covenants": [
                {
                    "rule": c.name,
                    "metric": metric_of.get(c.name, "repayment.dscr_p50_min"),
                    "case": c.case,
                    "target": c.target,
                    "max_loan_amount": _num(limit, 2),
                    "dscr_min_at_max_loan": _num(d, 4),
                    "binding": c.name == z.binding,
                }
                for c, limit, d in zip(z.covenants, z.limits, z.dscr_min, strict=True)
            ],
        }

    def _project(self) -> dict[str, Any]:
        p = self.project
        if isinstance(p, WindProject):
            return {
                "technology": "wind",
                "capacity_mw": p.capacity_mw,
                "hub_height_m": p.hub_height_m,
                "turbine_type": p.turbine.turbine_type,
                "custom_power_curve": p.turbine.manufacturer == "custom",
                "losses": p.losses.to_dict(),
            }
        return {
            "technology": "solar",
            "capacity_mw": p.capacity_mw,
            "dc_ac_ratio": p.dc_ac_ratio,
            "losses_pct": p.losses_pct,
            "degradation_pct_per_year": p.degradation_pct_per_year,
        }

    def _verdict(self) -> dict[str, Any]:
        """``decision``, ``reasons`` and ``rules`` of the assessment object."""
        return {
            "decision": self.decision,
            "reasons": [r.to_dict() for r in self.reasons],
            "rules": [r.to_dict() for r in self.rule_results],
        }

    def _provenance(self) -> dict[str, Any]:
        """``provenance`` of the assessment object."""
        return {
            "dataset_id": self.site.dataset.id,
            "dataset_sha256": self.site.dataset.sha256,
            "synthetic": self.site.dataset.synthetic,
            "policy_id": self.policy.id,
            "policy_version": self.policy.version,
            "model_versions": dict(self.model_versions),
            "code_version": self.code_version,
            "software": dict(self.software),
            "seed": self.seed,
            "n_paths": self.n_paths,
            "sigma_model": self.sigma_model,
            "created_at": self.created_at,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the assessment object of service contract v1 (JSON-safe, new dict each call).

        An assessment made by :func:`assess` hands out copies of the object it built while
        deciding, instead of building it again.
        """
        if self._body is not None:
            kept: dict[str, Any] = _copy_tree(self._body)
            return kept
        return {
            "id": self.id,
            **self._verdict(),
            "climate": self._climate(),
            "energy": self._energy(),
            "repayment": self._repayment(),
            "project": self._project(),
            "risk_drivers": _drivers_dict(self.drivers, self.driver_sources),
            "sensitivities": (
                self.sensitivities.to_dict() if self.sensitivities is not None else None
            ),
            "provenance": self._provenance(),
        }


def _copy_tree(value: Any) -> Any:
    """A copy of a tree of dicts and lists (their leaves, immutable values, are shared)."""
    if isinstance(value, dict):
        return {k: _copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_tree(v) for v in value]
    return value


def _drivers_dict(
    drivers: RiskDrivers | None, sources: Mapping[str, str] | None
) -> dict[str, Any] | None:
    """``risk_drivers`` of the assessment object: sizes, the mean applied, and sources."""
    if drivers is None:
        return None
    return {
        **drivers.to_dict(),
        "sold_fraction": _num(drivers.sold_fraction(), 6),
        "sources": dict(sources or {}),
    }


def _dscr_rules(policy: Policy) -> tuple[policy_mod.Rule, ...]:
    """The policy's rules on a DSCR metric (``repayment.dscr*``)."""
    return tuple(r for r in policy.rules if r.metric.startswith("repayment.dscr"))


def _timestamp(value: str | datetime | None) -> str:
    """ISO 8601 UTC text of ``value`` (now when None)."""
    if isinstance(value, str):
        return value
    if value is None:
        value = datetime.now(UTC).replace(microsecond=0)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _draw_seed() -> int:
    state = np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0]
    return int(state >> np.uint64(64 - _SEED_BITS))


def dscr_covenants(
    policy: Policy, cfads_by_case: Mapping[str, NDArray[np.float64]]
) -> list[DscrCovenant]:
    """The DSCR covenants of a policy, one per DSCR rule, for :func:`size_debt_covenants`.

    Parameters
    ----------
    policy : Policy
        Its rules on a metric of :data:`DSCR_CASES` with operator ``>=`` or ``>`` are
        minimum-DSCR covenants, each on its own energy case and threshold (rules with ``<``,
        ``<=`` or ``==`` do not limit the loan from above and are left out).
    cfads_by_case : mapping
        CFADS per loan year of each case of :data:`DSCR_CASES` [currency].

    Returns
    -------
    list of DscrCovenant
        Named by rule id, in rule order; with no rule on the P50 DSCR, a covenant
        ``default_p50`` at :data:`DEFAULT_SIZING_DSCR` is added (a loan must be repaid at
        median energy).

    Notes
    -----
    Rules compare the DSCR as reported, rounded to four decimals. A ``>=`` covenant is sized
    at its threshold (the sized loan's DSCR rounds to at least the threshold); a strict ``>``
    covenant at the threshold plus 0.0001, the smallest reported DSCR that passes it.
    """
    out: list[DscrCovenant] = []
    for rule in policy.rules:
        case = DSCR_CASES.get(rule.metric)
        if case is None or rule.operator not in (">=", ">"):
            continue
        step = 10.0**-_DSCR_DIGITS if rule.operator == ">" else 0.0
        target = rule.threshold + step
        if target <= 0:
            continue  # a covenant at or below zero DSCR does not limit a loan
        out.append(DscrCovenant(rule.id, case, cfads_by_case[case], target))
    if not any(c.case == "p50" for c in out):
        out.append(DscrCovenant("default_p50", "p50", cfads_by_case["p50"], DEFAULT_SIZING_DSCR))
    return out


def assess(
    site: SiteClimate,
    project: WindProject | SolarProject,
    terms: FinanceTerms,
    policy: Policy,
    seed: int | None = None,
    *,
    n_paths: int = DEFAULT_N_PATHS,
    code_version: str | None = None,
    created_at: str | datetime | None = None,
    assessment_id: str | None = None,
    operating_history: OperatingHistory | None = None,
    model_versions: Mapping[str, str] | None = None,
    scorecard: ModelCard | None = None,
    project_cost: float | None = None,
    driver_overrides: Mapping[str, Any] | None = None,
    with_sensitivities: bool = True,
    site_evidence: SiteEvidence | None = None,
) -> Assessment:
    r"""Assess whether ``project`` at ``site`` can repay the loan ``terms`` under ``policy``.

    Parameters
    ----------
    site : SiteClimate
        Climate years of the site (from :meth:`climate_data.cube.Cube.site`).
    project : WindProject or SolarProject
        The plant; its technology must match ``policy.technology``.
    terms : FinanceTerms
        Loan, tariff and opex.
    policy : Policy
        Lending product.
    seed : int, optional
        Seed of the Monte Carlo (and the long-term bootstrap); drawn and recorded if omitted.
    n_paths : int
        Monte Carlo paths.
    code_version : str, optional
        Version recorded in the provenance; the installed package version by default.
    created_at : str or datetime, optional
        Time recorded: a string is kept as given, a datetime is written as ISO 8601 in UTC
        (naive means UTC); now (UTC, whole seconds) by default.
    assessment_id : str, optional
        Identifier; a uuid4 hex by default.
    operating_history : OperatingHistory, optional
        Monthly metered energy of an operating wind farm; when given (and usable), the annual
        energies come from the long-term correction and σ_model from its bootstrap, floored
        at :data:`models.uncertainty.SIGMA_MODEL_OPERATING`. The long-term-mean term of σ
        (:math:`\sigma_{IAV}/\sqrt{N_{rec}}`, over the reference years) is kept as well; the
        bootstrap's draw of the long-term window overlaps it in part, so this errs on the
        conservative side.
    model_versions : mapping, optional
        Extra entries for ``provenance.model_versions`` (e.g. model-registry card ids).
    scorecard : ModelCard, optional
        A PD scorecard card (the production one, or for a replay the one recorded). When
        given, ``repayment.pd_scorecard`` and ``repayment.scorecard_grade`` are computed from
        this assessment's own figures (:func:`scorecard_pd`) before the policy is applied, and
        ``provenance.model_versions.scorecard`` records ``"<id> (sha256 <12 hex>)"``
        (:func:`scorecard_version`). The card is passed in, never loaded here.
    project_cost : float, optional
        Total project cost [currency] (> 0, at least the loan amount), for the scorecard's
        ``leverage`` feature; without it that feature is unavailable.
    driver_overrides : mapping, optional
        The request's values of the non-weather risk drivers (fields of
        :class:`models.drivers.RiskDrivers`; ``curtailment`` a mapping); each one not given
        takes the policy's default (``risk_drivers`` of its YAML), else zero
        (:func:`models.drivers.resolve_drivers`). The deterministic cash flows use each
        driver's mean (mean curtailment actually applied, ageing and trend factors); the Monte
        Carlo draws them per path and year.
    with_sensitivities : bool, default True
        Compute the stress cases and break-even values (:func:`models.sensitivity.
        sensitivities`), on the Monte Carlo's seed and paths.
    site_evidence : SiteEvidence, optional
        A mast (MCP) or a wind-atlas mean for a wind project: the wind histograms are
        corrected with it and σ_model follows the evidence
        (:func:`models.evidence.apply_site_evidence`); ``energy.method`` becomes
        ``mcp`` or ``atlas_scaled``. A usable operating history takes precedence (the
        evidence is then reported with ``used`` false). The ``climate`` block stays the
        reanalysis cell's.

    Returns
    -------
    Assessment

    Raises
    ------
    AssessmentError
        Technology of project and policy differ, an operating history for a solar plant, or
        a project cost that is not positive or below the loan amount, or site evidence
        for a solar plant.
    models.evidence.EvidenceError
        Site evidence that cannot be used (too few concurrent mast months, poor
        correlation); its ``field`` names the request field.
    models.scorecard.ScorecardError
        ``scorecard`` is not a usable logit scorecard card.
    ValueError
        From the finance model, e.g. a sculpted loan on a P50 cash flow that is not positive
        in every year (the message names the year).
    """
    tech = _check_request(project, terms, policy, operating_history, site_evidence, project_cost)
    if scorecard is not None:
        card_model(_model_part(scorecard))  # an unusable card fails before any computation
    used_seed = _draw_seed() if seed is None else int(seed)
    version = package_code_version() if code_version is None else code_version
    drivers, driver_sources = _request_drivers(policy, driver_overrides, tech)

    # 1. energy per climate year; 2. exceedance
    basis = _energy_basis(site, project, site_evidence, operating_history, used_seed)
    good = basis.annual[basis.usable]
    ex = _exceedance_step(good, basis)

    # 3.-6. cash flow, debt, cover ratios, PD
    n = int(terms.tenor_years)
    deg = (
        degradation_factors(n, project.degradation_pct_per_year)
        if isinstance(project, SolarProject)
        else None
    )
    # deterministic cases: mean curtailment, ageing and trend (exactly deg without drivers)
    out_factors = deg if drivers.is_zero else drivers.output_factors(n, deg)
    cases = _Cases()
    risk: RiskResult | None = None
    sens: Sensitivities | None = None
    if ex is not None:
        cases = _deterministic_cases(ex, terms, policy, out_factors, drivers.sold_fraction())
        if cases.schedule is None:  # pragma: no cover - _deterministic_cases always sets it
            raise RuntimeError("the deterministic cases have no debt schedule")
        # the random numbers, drawn once for the Monte Carlo and the sensitivities
        draws, weather = _shared_draws(drivers, used_seed, n, n_paths, int(good.size))
        risk = simulate_default(
            good,
            terms,
            cases.schedule,
            basis.sigma_model,
            n_paths=n_paths,
            seed=used_seed,
            lgd=policy.lgd,
            degradation_factors=deg,
            sigma_lt_mean=ex.sigma_lt_mean,
            drivers=drivers,
            driver_draws=draws,
            block_length=_BLOCK_LENGTH,
            path_random=weather,
        )
        if with_sensitivities:
            sens = sensitivities(
                good,
                terms,
                cases.schedule,
                basis.sigma_model,
                lambda s: exceedance(good, s),
                drivers,
                sigma_lt_mean=ex.sigma_lt_mean,
                seed=risk.seed,
                n_paths=n_paths,
                base_pd_tenor=risk.pd_tenor,
                block_length=risk.block_length,
                reserve_months=risk.reserve_months,
                degradation_factors=deg,
                dscr_rules=_dscr_rules(policy),
                driver_draws=draws,
                path_random=weather,
            )
            basis.versions["sensitivity"] = "models.sensitivity.sensitivities"
        basis.versions.update(
            {
                "finance": "models.finance.cfads+debt_service+dscr+llcr",
                "risk": "models.risk.simulate_default",
            }
        )
    versions = {k: f"{v}@{version}" for k, v in basis.versions.items()}
    versions.update(model_versions or {})

    provisional = Assessment(
        id=assessment_id or uuid.uuid4().hex,
        created_at=_timestamp(created_at),
        site=site,
        project=project,
        terms=terms,
        policy=policy,
        energy=basis.energy,
        method=basis.method,
        annual_energy_mwh=basis.annual,
        energy_years=basis.years,
        long_term=basis.long_term,
        exceedance=ex,
        degradation=out_factors,
        cfads_p50=cases.c50,
        cfads_p90=cases.c90,
        cfads_p99=cases.c99,
        schedule=cases.schedule,
        dscr_p50=cases.d50,
        dscr_p90=cases.d90,
        dscr_p99=cases.d99,
        llcr=cases.llcr,
        sizing=cases.sizing,
        risk=risk,
        cfads_p90_1y=cases.c90_1y,
        dscr_p90_1y=cases.d90_1y,
        decision="approve",
        reasons=(),
        rule_results=(),
        seed=risk.seed if risk is not None else used_seed,
        n_paths=n_paths,
        sigma_model=basis.sigma_model,
        code_version=version,
        model_versions=versions,
        notes=tuple(basis.notes),
        drivers=drivers,
        driver_sources=driver_sources,
        sensitivities=sens,
        evidence=basis.evidence,
    )
    # 7. scorecard PD from this assessment's own figures, then the policy
    return _decide(provisional, scorecard, project_cost)


# ----------------------------------------------------------------------- the steps of assess


def _check_request(
    project: WindProject | SolarProject,
    terms: FinanceTerms,
    policy: Policy,
    operating_history: OperatingHistory | None,
    site_evidence: SiteEvidence | None,
    project_cost: float | None,
) -> str:
    """The project's technology (``"wind"`` or ``"solar"``); AssessmentError on a misfit."""
    is_wind = isinstance(project, WindProject)
    tech = "wind" if is_wind else "solar"
    if policy.technology != tech:
        raise AssessmentError(
            f"policy {policy.id!r} is for {policy.technology} projects but the project is {tech}"
        )
    if operating_history is not None and not is_wind:
        raise AssessmentError("an operating history can only be used for a wind project")
    if site_evidence is not None and not is_wind:
        raise AssessmentError("site evidence (mast or atlas) applies to wind projects only")
    if project_cost is not None and not (
        math.isfinite(project_cost) and project_cost >= terms.loan_amount
    ):
        raise AssessmentError(
            f"project_cost must be a finite amount at least the loan amount "
            f"({terms.loan_amount:g} {terms.currency}), got {project_cost!r}"
        )
    return tech


def _request_drivers(
    policy: Policy, driver_overrides: Mapping[str, Any] | None, tech: str
) -> tuple[RiskDrivers, dict[str, str]]:
    """The request's drivers over the policy's defaults, and their sources; AssessmentError."""
    try:
        drivers, driver_sources = resolve_drivers(policy.risk_drivers, driver_overrides, policy.id)
    except ModelInputError as exc:
        raise AssessmentError(str(exc)) from None
    if tech != "wind" and drivers.ageing_pct_per_year > 0.0:
        raise AssessmentError(
            "ageing_pct_per_year applies to wind projects; a solar project's output decline "
            "is its degradation_pct_per_year"
        )
    return drivers, driver_sources


@dataclass(eq=False)
class _EnergyBasis:
    """The annual energies behind every figure, where they come from, and what was noted.

    ``notes`` and ``versions`` (step name → function) are added to by the later steps.
    """

    energy: WindEnergy | SolarEnergy
    evidence: EvidenceResult | None
    method: str
    sigma_model: float
    years: NDArray[np.int64]
    annual: NDArray[np.float64]
    usable: NDArray[np.bool_]
    notes: list[str]
    versions: dict[str, str]
    long_term: LongTermResult | None = None


def _energy_basis(
    site: SiteClimate,
    project: WindProject | SolarProject,
    site_evidence: SiteEvidence | None,
    operating_history: OperatingHistory | None,
    seed: int,
) -> _EnergyBasis:
    """Step 1: energy per climate year, and where it comes from.

    From the reanalysis (corrected with site evidence when given), or from the long-term
    correction of an operating history when one is given and usable.
    """
    notes: list[str] = []
    evidence: EvidenceResult | None = None
    energy: WindEnergy | SolarEnergy
    if isinstance(project, WindProject):
        if site_evidence is not None:
            evidence = apply_site_evidence(site, project, site_evidence)
            notes.extend(evidence.notes)
        energy = wind_energy(site if evidence is None else evidence.site, project)
        versions = {"energy": "models.wind.wind_energy"}
        if evidence is not None:
            versions["evidence"] = "models.evidence.apply_site_evidence"
    else:
        energy = solar_energy(site, project)
        versions = {"energy": "models.solar.solar_energy"}
    notes.extend(energy.notes)
    usable = np.asarray(energy.complete) & np.isfinite(energy.net_mwh)
    basis = _EnergyBasis(
        energy=energy,
        evidence=evidence,
        method="reanalysis" if evidence is None else evidence.method,
        sigma_model=SIGMA_MODEL_REANALYSIS if evidence is None else evidence.sigma_model,
        years=np.asarray(energy.years, dtype=np.int64),
        annual=np.where(usable, energy.net_mwh, np.nan),
        usable=usable,
        notes=notes,
        versions=versions,
    )
    if operating_history is not None and isinstance(project, WindProject):
        _use_operating_history(basis, operating_history, site, project.hub_height_m, seed)
    return basis


def _use_operating_history(
    basis: _EnergyBasis,
    history: OperatingHistory,
    site: SiteClimate,
    hub_height_m: float,
    seed: int,
) -> None:
    """Replace the basis's annual energies by the long-term corrected ones, if usable."""
    try:
        lt = long_term_correction(history, site, hub_height_m=hub_height_m, seed=seed)
    except LongTermInsufficientData as exc:
        basis.notes.append(f"operating history not used: {exc}; energy from reanalysis alone")
        return
    basis.long_term = lt
    basis.method = "operating_history"
    basis.versions["long_term"] = "models.longterm.long_term_correction"
    basis.years = np.array([int(y) for y in lt.annual_by_year], dtype=np.int64)
    basis.annual = np.array(
        [np.nan if v is None else v for v in lt.annual_by_year.values()], dtype=np.float64
    )
    basis.usable = np.isfinite(basis.annual)
    basis.sigma_model = max(lt.sigma_fraction, SIGMA_MODEL_OPERATING)
    if basis.evidence is not None:
        basis.evidence = replace(basis.evidence, used=False)
        basis.notes.append("site evidence reported but not used: the operating history rules")
    basis.notes.append(
        f"annual energy from a long-term correction on {lt.n_months_used} "
        f"operating months (R2 {lt.fit.r_squared:.3f}); model uncertainty "
        f"{basis.sigma_model:.3f}"
    )


def _exceedance_step(good: NDArray[np.float64], basis: _EnergyBasis) -> Exceedance | None:
    """Step 2: P50, P90, P99 of the usable years; None (and a note) with too few of them."""
    if good.size >= MIN_YEARS and float(good.mean()) > 0:
        basis.versions["uncertainty"] = "models.uncertainty.exceedance"
        return exceedance(good, basis.sigma_model)
    basis.notes.append(
        f"{good.size} usable climate year(s) with energy: at least {MIN_YEARS} are needed "
        "for exceedance, repayment and default figures, which are therefore null"
    )
    return None


@dataclass(frozen=True, eq=False)
class _Cases:
    """Steps 3-5: CFADS and DSCR per loan year in each energy case, sizing, schedule, LLCR.

    All None without exceedance figures.
    """

    c50: NDArray[np.float64] | None = None
    c90: NDArray[np.float64] | None = None
    c90_1y: NDArray[np.float64] | None = None
    c99: NDArray[np.float64] | None = None
    schedule: DebtSchedule | None = None
    sizing: CovenantSizing | None = None
    d50: NDArray[np.float64] | None = None
    d90: NDArray[np.float64] | None = None
    d90_1y: NDArray[np.float64] | None = None
    d99: NDArray[np.float64] | None = None
    llcr: float | None = None


def _deterministic_cases(
    ex: Exceedance,
    terms: FinanceTerms,
    policy: Policy,
    out_factors: NDArray[np.float64] | None,
    sold: float,
) -> _Cases:
    """Steps 3-5: the cash flow of each energy case, the sized loan's schedule, its ratios."""
    n = int(terms.tenor_years)
    c50 = cfads(np.full(n, ex.p50 * sold), terms, out_factors)
    c90 = cfads(np.full(n, ex.p90_10y * sold), terms, out_factors)
    c90_1y = cfads(np.full(n, ex.p90 * sold), terms, out_factors)
    c99 = cfads(np.full(n, ex.p99 * sold), terms, out_factors)
    by_case = {"p50": c50, "p90_1y": c90_1y, "p90_10y": c90, "p99_1y": c99}
    sizing = size_debt_covenants(dscr_covenants(policy, by_case), terms)
    sculpt_on = None
    if terms.repayment == "sculpted":
        # the tightest covenant of each year (its shape only; the schedule repays D)
        sculpt_on = sizing.sculpting_cfads if sizing.sculpting_cfads is not None else c50
    schedule = debt_service(terms, sculpt_on)
    return _Cases(
        c50=c50,
        c90=c90,
        c90_1y=c90_1y,
        c99=c99,
        schedule=schedule,
        sizing=sizing,
        d50=dscr(c50, schedule),
        d90=dscr(c90, schedule),
        d90_1y=dscr(c90_1y, schedule),
        d99=dscr(c99, schedule),
        llcr=llcr(c50, schedule),
    )


def _shared_draws(
    drivers: RiskDrivers, seed: int, n_years: int, n_paths: int, n_climate: int
) -> tuple[DriverDraws | None, tuple[NDArray[np.int32], NDArray[np.float64]]]:
    """The random numbers of the Monte Carlo, drawn once for it and the sensitivities."""
    draws = None if drivers.is_zero else draw_driver_normals(drivers, seed, n_years, n_paths)
    return draws, path_draws(seed, n_climate, n_years, n_paths, _BLOCK_LENGTH)


def _decide(
    provisional: Assessment, scorecard: ModelCard | None, project_cost: float | None
) -> Assessment:
    """Step 7: the scorecard PD from the assessment's own figures, then the policy's rules.

    The assessment object is built once: the scorecard changes only its notes (in
    ``energy``), ``repayment`` and the model versions (in ``provenance``), and the policy
    only the verdict, so just those parts are built again. The decided assessment keeps
    the object for :meth:`Assessment.to_dict`.
    """
    body = provisional.to_dict()
    if scorecard is not None:
        sc = scorecard_pd(
            scorecard,
            body,
            technology=provisional.technology,
            project_cost=project_cost,
        )
        provisional = replace(
            provisional,
            scorecard=sc,
            notes=(*provisional.notes, *sc.notes),
            model_versions={
                **provisional.model_versions,
                "scorecard": _version_entry(sc.card_id, sc.card_sha256),
            },
        )
        body["energy"] = provisional._energy()
        body["repayment"] = provisional._repayment()
        body["provenance"] = provisional._provenance()
    decision, reasons, results = policy_mod.evaluate(provisional.policy, body)
    decided = replace(provisional, decision=decision, reasons=reasons, rule_results=results)
    body.update(decided._verdict())
    object.__setattr__(decided, "_body", body)
    return decided
