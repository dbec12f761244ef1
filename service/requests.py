"""The assessment request of service contract v1, as pydantic models, and its model inputs.

The same models validate a request file for ``climate-loan assess`` and the body of
``POST /api/v1/assessments``. They are strict: unknown fields are an error, numbers must be
finite (NaN and infinity are rejected), strings are not coerced to numbers, and every range
is checked here so that a person sees one message naming the field (:func:`describe_error`).

Request shape (service contract v1; fields may be added, names stay)::

    {"site": {"lat": 44.1, "lon": 87.3, "name": "Changji North"},
     "project": {"technology": "wind", "capacity_mw": 49.5,
                 "turbine_type": "E-82/2300",       # or "power_curve": {...}
                 "hub_height_m": 100,
                 "losses": {"availability_pct": 3, "wake_pct": 7,
                            "electrical_pct": 2, "other_pct": 2}},
     "finance": {"loan_amount": 5530000, "currency": "CNY", "tenor_years": 10,
                 "interest_rate_pct": 4.2, "repayment": "annuity",
                 "tariff_per_mwh": 250, "opex_per_year": 3000000},
     "policy": "wind_changji_v1", "seed": 42,
     # optional risk drivers (README "Risk drivers"; omitted ones take the policy's default):
     # project.curtailment {"mean_pct", "sd_pct", "persistent_share"},
     # project.availability_sd_pct, project.ageing_pct_per_year (wind),
     # project.energy_trend_pct_per_year, finance.merchant_share_pct, finance.price_sd_pct,
     # finance.price_wind_corr, finance.opex_sd_pct
     "operating_history": {"monthly_energy_mwh": [{"month": "2014-01", "energy_mwh": 9000}]}}

Defaults, each documented on its field: wind losses take the values of
:class:`models.wind.Losses` (availability 3 %, wake 7 %, electrical 2 %, other 2 %) field by
field — an omitted field takes its default, an explicit ``0`` means zero. A solar project
takes :data:`models.solar.DEFAULT_LOSSES_PCT` (PVWatts 14.08 %),
:data:`models.solar.DEFAULT_DC_AC_RATIO` (1.2) and
:data:`models.solar.DEFAULT_DEGRADATION_PCT_PER_YEAR` (0.5 %/yr). The policy defaults to the
technology's default product (:data:`models.policy.DEFAULT_POLICY`).

:func:`to_model_inputs` turns a validated request into the frozen inputs of
:func:`models.assessment.assess`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.evidence import SiteEvidence
from models.finance import MAX_TENOR_YEARS, FinanceTerms
from models.longterm import OperatingHistory, OperatingHistoryError, check_energy_plausible
from models.policy import DEFAULT_POLICY, Policy, PolicyError, load_policy
from models.solar import (
    DEFAULT_DC_AC_RATIO,
    DEFAULT_DEGRADATION_PCT_PER_YEAR,
    DEFAULT_LOSSES_PCT,
    PlantConfiguration,
    SolarProject,
)
from models.turbines import PowerCurve, Turbine, get_turbine
from models.wind import Losses, WindProject
from service.errors import UsageError
from service.site_evidence import SiteEvidenceIn

__all__ = [
    "AssessmentInputs",
    "AssessmentRequest",
    "CurtailmentIn",
    "FinanceIn",
    "LossesIn",
    "MonthlyEnergyIn",
    "OperatingHistoryIn",
    "PowerCurveIn",
    "ProjectIn",
    "SiteIn",
    "TrackingIn",
    "describe_error",
    "driver_overrides",
    "parse_request",
    "to_model_inputs",
]

_DEFAULT_LOSSES = Losses()
_MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_WIND_ONLY = (
    "turbine_type",
    "power_curve",
    "hub_height_m",
    "losses",
    "ageing_pct_per_year",
    "site_evidence",
)
_SOLAR_ONLY = (
    "dc_ac_ratio",
    "losses_pct",
    "degradation_pct_per_year",
    "tilt_deg",
    "azimuth_deg",
    "tracking",
    "racking",
)
#: Largest seed accepted: seeds stay exact as JSON numbers (IEEE doubles).
MAX_SEED = 2**53 - 1


class _Strict(BaseModel):
    """Base: unknown fields forbidden, no NaN/inf, no str->number coercion, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


Pct = Annotated[float, Field(ge=0.0, lt=100.0)]


class SiteIn(_Strict):
    """Where the project is."""

    lat: float = Field(ge=-90.0, le=90.0, description="Latitude [degrees north], -90 to 90.")
    lon: float = Field(ge=-180.0, le=180.0, description="Longitude [degrees east], -180 to 180.")
    name: str | None = Field(
        default=None,
        max_length=200,
        description="Label for the memo (no control characters).",
    )

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        # NUL cannot be stored in PostgreSQL text; other control characters break the memo
        if value is not None and any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
            raise ValueError("must not contain control characters")
        return value


class LossesIn(_Strict):
    """Wind-farm losses, each a percentage of the energy before it [%]; see models.wind.Losses."""

    availability_pct: Pct = Field(
        default=_DEFAULT_LOSSES.availability_pct,
        description="Turbine, balance-of-plant and grid downtime [%], 0 to <100; default 3.",
    )
    wake_pct: Pct = Field(
        default=_DEFAULT_LOSSES.wake_pct,
        description="Wake losses [%], 0 to <100; default 7.",
    )
    electrical_pct: Pct = Field(
        default=_DEFAULT_LOSSES.electrical_pct,
        description="Collection and transformer losses [%], 0 to <100; default 2.",
    )
    other_pct: Pct = Field(
        default=_DEFAULT_LOSSES.other_pct,
        description="Performance, icing, curtailment and other losses [%], 0 to <100; default 2.",
    )


class CurtailmentIn(_Strict):
    """Grid curtailment of the project's output, in persistent regimes.

    See :class:`models.drivers.Curtailment`; an omitted field takes the policy's default.
    """

    mean_pct: float = Field(
        ge=0.0,
        lt=100.0,
        description="Mean yearly curtailment [% of the energy], 0 to <100 (location of the "
        "normal before clipping to [0, 100] %).",
    )
    sd_pct: float | None = Field(
        default=None,
        ge=0.0,
        le=50.0,
        description="Standard deviation of yearly curtailment [percentage points], 0 to 50; "
        "policy default if omitted.",
    )
    persistent_share: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Share of the variance that persists over the tenor (a regime), 0 to 1; "
        "policy default if omitted.",
    )


class PowerCurveIn(_Strict):
    """A custom power curve at standard air density (1.225 kg m-3)."""

    wind_speed_ms: list[float] = Field(
        min_length=2, max_length=500, description="Wind speeds, strictly increasing [m s-1]."
    )
    power_kw: list[float] = Field(
        min_length=2, max_length=500, description="Power of one turbine at each speed [kW]."
    )
    rated_power_kw: float | None = Field(
        default=None, gt=0.0, description="Nameplate power [kW]; the curve's peak if omitted."
    )

    @model_validator(mode="after")
    def _valid_curve(self) -> PowerCurveIn:
        # the turbine library's own checks (ordering, sign, length, rated power vs peak)
        PowerCurve.from_points(self.wind_speed_ms, self.power_kw, self.rated_power_kw)
        return self

    def to_turbine(self) -> Turbine:
        """Return the custom turbine this curve describes."""
        curve = PowerCurve.from_points(self.wind_speed_ms, self.power_kw, self.rated_power_kw)
        return Turbine.custom("custom power curve", curve, self.rated_power_kw)


class TrackingIn(_Strict):
    """A horizontal single-axis tracker (pvlib.tracking.singleaxis)."""

    type: Literal["single_axis"] = Field(description="'single_axis'.")
    max_angle_deg: float = Field(
        default=60.0, gt=0.0, le=90.0, description="Largest rotation [degrees]; default 60."
    )
    gcr: float = Field(
        default=0.35, gt=0.0, lt=1.0, description="Ground coverage ratio [-]; default 0.35."
    )
    backtrack: bool = Field(default=True, description="Backtracking; default true.")
    axis_azimuth_deg: float = Field(
        default=180.0,
        ge=0.0,
        le=360.0,
        description="Axis direction [degrees east of north]; default 180 (north-south).",
    )


class ProjectIn(_Strict):
    """The plant: wind (turbine and hub height) or solar (DC capacity and losses).

    Wind needs ``hub_height_m`` and exactly one of ``turbine_type`` or ``power_curve``;
    ``losses`` is optional. Solar takes ``dc_ac_ratio``, ``losses_pct``,
    ``degradation_pct_per_year``, ``tilt_deg``, ``azimuth_deg``, ``tracking`` and ``racking``,
    all optional (models.pvplant). A field of the other technology is an error.
    """

    technology: Literal["wind", "solar"] = Field(description="'wind' or 'solar'.")
    capacity_mw: float = Field(
        gt=0.0, le=10_000.0, description="Capacity [MW]; for solar the DC rating [MWp]."
    )
    turbine_type: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Turbine type from the library (GET /api/v1/turbines), e.g. 'E-82/2300'.",
    )
    power_curve: PowerCurveIn | None = Field(default=None, description="Custom power curve.")
    hub_height_m: float | None = Field(
        default=None, ge=10.0, le=250.0, description="Hub height above ground [m], 10 to 250."
    )
    losses: LossesIn | None = Field(
        default=None, description="Wind losses; each omitted field takes its default."
    )
    dc_ac_ratio: float | None = Field(
        default=None, ge=0.5, le=2.0, description="Solar DC/AC ratio [-], 0.5 to 2; default 1.2."
    )
    losses_pct: Pct | None = Field(
        default=None,
        description="Solar system losses (PVWatts) [%], 0 to <100; default 14.08.",
    )
    degradation_pct_per_year: float | None = Field(
        default=None, ge=0.0, lt=10.0, description="Solar degradation [% per year]; default 0.5."
    )
    tilt_deg: float | None = Field(
        default=None,
        ge=0.0,
        le=90.0,
        description="Solar fixed tilt [degrees], 0 to 90; default latitude, at most 40.",
    )
    azimuth_deg: float | None = Field(
        default=None,
        ge=0.0,
        le=360.0,
        description="Solar fixed azimuth [degrees east of north]; default equator-facing.",
    )
    tracking: TrackingIn | None = Field(
        default=None, description="Solar single-axis tracker; fixed tilt if omitted."
    )
    racking: Literal["open_rack", "close_mount"] | None = Field(
        default=None,
        description="Solar racking (SAPM cell temperature): 'open_rack' (default) or "
        "'close_mount' (roof).",
    )
    curtailment: CurtailmentIn | None = Field(
        default=None,
        description="Grid curtailment; the policy's regional default if omitted (Xinjiang "
        "wind: NEA statistics, see README 'Risk drivers').",
    )
    availability_sd_pct: float | None = Field(
        default=None,
        ge=0.0,
        le=10.0,
        description="Yearly standard deviation of availability [percentage points], 0 to 10; "
        "policy default if omitted.",
    )
    ageing_pct_per_year: float | None = Field(
        default=None,
        ge=0.0,
        lt=10.0,
        description="Wind output lost per year of age [% of first-year output], 0 to <10; "
        "policy default if omitted (Staffell and Green 2014 measured 1.6).",
    )
    energy_trend_pct_per_year: float | None = Field(
        default=None,
        ge=-10.0,
        le=10.0,
        description="Trend of energy over the tenor [% per year, compound], -10 to 10; default 0.",
    )
    site_evidence: SiteEvidenceIn | None = Field(
        default=None,
        description="Wind only: an on-site mast (MCP) or a wind-atlas mean that corrects the "
        "reanalysis wind (service/site_evidence.py, models/evidence.py).",
    )

    @field_validator("turbine_type")
    @classmethod
    def _known_turbine(cls, value: str | None) -> str | None:
        if value is None:
            return None
        turbine = get_turbine(value)  # UnknownTurbineError (a ValueError) lists close matches
        if turbine.power_curve is None:
            raise ValueError(
                f"turbine {turbine.turbine_type!r} has no power curve in the library; choose "
                "another type or give a custom power_curve"
            )
        return turbine.turbine_type

    @field_validator(*_WIND_ONLY, *_SOLAR_ONLY)
    @classmethod
    def _field_matches_technology(cls, value: Any, info: ValidationInfo) -> Any:
        # runs only for fields present in the request; technology is validated first
        tech = info.data.get("technology")
        own = "wind" if info.field_name in _WIND_ONLY else "solar"
        if value is not None and tech is not None and tech != own:
            raise ValueError(f"applies to {own} projects only, and this project is {tech}")
        return value

    @model_validator(mode="after")
    def _technology_needs(self) -> ProjectIn:
        if self.technology == "wind":
            if (self.turbine_type is None) == (self.power_curve is None):
                raise ValueError("a wind project needs exactly one of turbine_type or power_curve")
            if self.hub_height_m is None:
                raise ValueError("a wind project needs hub_height_m [m]")
        elif self.tracking is not None and (
            self.tilt_deg is not None or self.azimuth_deg is not None
        ):
            raise ValueError(
                "tilt_deg and azimuth_deg describe a fixed plant; a tracker's orientation "
                "follows the sun (give tracking.axis_azimuth_deg instead)"
            )
        return self


class FinanceIn(_Strict):
    """Loan and revenue terms; see :class:`models.finance.FinanceTerms`."""

    loan_amount: float = Field(gt=0.0, le=1e13, description="Senior debt [currency].")
    currency: str = Field(
        pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. 'CNY', 'EUR', 'USD'."
    )
    tenor_years: int = Field(ge=1, le=MAX_TENOR_YEARS, description="Loan life [years], 1 to 30.")
    interest_rate_pct: float = Field(ge=0.0, lt=100.0, description="Fixed annual rate [%].")
    repayment: Literal["annuity", "equal_principal", "sculpted"] = Field(
        description="Repayment profile; 'sculpted' follows the P50 cash flow."
    )
    tariff_per_mwh: float = Field(ge=0.0, le=1e7, description="Year-1 price [currency MWh-1].")
    opex_per_year: float = Field(ge=0.0, le=1e12, description="Year-1 opex [currency year-1].")
    tariff_escalation_pct: float = Field(
        default=0.0, gt=-100.0, le=100.0, description="Tariff escalation [% per year]; default 0."
    )
    opex_inflation_pct: float = Field(
        default=0.0, gt=-100.0, le=100.0, description="Opex inflation [% per year]; default 0."
    )
    target_dscr: float = Field(
        default=1.30,
        ge=1.0,
        le=10.0,
        description="Target DSCR of a sculpted profile [-]; default 1.30.",
    )
    project_cost: float | None = Field(
        default=None,
        gt=0.0,
        le=1e13,
        description=(
            "Total project cost [currency]; optional. Gives leverage = loan / cost, a feature "
            "of the PD scorecard; without it the scorecard PD is null (never guessed)."
        ),
    )

    merchant_share_pct: float | None = Field(
        default=None,
        ge=0.0,
        le=100.0,
        description="Share of output sold at market price [%], 0 to 100; the rest earns "
        "tariff_per_mwh (a fixed or mechanism price, NDRC/NEA Document 136). Policy default "
        "(0) if omitted.",
    )
    price_sd_pct: float | None = Field(
        default=None,
        ge=0.0,
        le=100.0,
        description="Yearly standard deviation of the market price relative to the tariff "
        "[%], 0 to 100; policy default if omitted.",
    )
    price_wind_corr: float | None = Field(
        default=None,
        ge=-1.0,
        le=1.0,
        description="Correlation of the market price with the year's energy anomaly [-], "
        "-1 to 1 (negative: windy years sell lower); policy default if omitted.",
    )
    opex_sd_pct: float | None = Field(
        default=None,
        ge=0.0,
        le=100.0,
        description="Yearly standard deviation of opex [% of plan], 0 to 100 (lognormal, "
        "mean 1); policy default if omitted.",
    )

    @model_validator(mode="after")
    def _cost_covers_loan(self) -> FinanceIn:
        if self.project_cost is not None and self.project_cost < self.loan_amount:
            raise ValueError(
                f"project_cost ({self.project_cost:g}) is below loan_amount "
                f"({self.loan_amount:g}); leverage cannot exceed 100 %"
            )
        return self


class MonthlyEnergyIn(_Strict):
    """One month of metered net energy, with the energy lost to unavailability and curtailment.

    The losses follow OpenOA's ``MonteCarloAEP`` convention: energy in MWh, gross = net +
    availability loss + curtailment loss (models.longterm.OperatingHistory.from_energy_mwh).
    """

    month: str = Field(description="Calendar month 'YYYY-MM'.")
    energy_mwh: float | None = Field(
        ge=0.0, le=1e9, description="Net energy [MWh]; null marks a missing month (not filled)."
    )
    availability_loss_mwh: float | None = Field(
        default=None,
        ge=0.0,
        le=1e9,
        description="Energy lost to turbine, balance-of-plant and grid downtime [MWh]; optional "
        "(omitted or null: none reported).",
    )
    curtailment_loss_mwh: float | None = Field(
        default=None,
        ge=0.0,
        le=1e9,
        description="Energy lost to curtailment by the grid operator [MWh]; optional.",
    )

    @field_validator("month")
    @classmethod
    def _month_format(cls, value: str) -> str:
        if not _MONTH_RE.match(value):
            raise ValueError(f"month must be 'YYYY-MM', got {value!r}")
        return value


#: The one quantity an operating history may hold today.
HISTORY_QUANTITIES = ("energy_mwh",)


class OperatingHistoryIn(_Strict):
    """Monthly operating record of an existing plant: metered net energy in MWh.

    Only energy is read. A series of another quantity (a mast's wind speed, power in MW, …)
    is rejected, never read as MWh: ``quantity`` must be ``energy_mwh`` when given, and the
    values must be plausible for the plant's capacity (see
    :func:`models.longterm.check_energy_plausible`).
    """

    quantity: str = Field(
        default="energy_mwh",
        max_length=50,
        description="What the monthly values are: only 'energy_mwh' (metered net energy "
        "[MWh]) is accepted; a mast's wind speeds go in project.site_evidence.mast (MCP).",
    )
    monthly_energy_mwh: list[MonthlyEnergyIn] = Field(min_length=1, max_length=1200)

    @model_validator(mode="before")
    @classmethod
    def _no_wind_series(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key != "monthly_energy_mwh" and str(key).startswith("monthly_"):
                    raise ValueError(
                        f"{key}: only monthly net energy ('monthly_energy_mwh', MWh) can be "
                        "used here; send a mast's wind speeds as project.site_evidence.mast "
                        "(MCP)"
                    )
        return data

    @field_validator("quantity")
    @classmethod
    def _energy_only(cls, value: str) -> str:
        if value not in HISTORY_QUANTITIES:
            wind = "wind" in value.lower() or value.lower().endswith(("_ms", "m/s", "ms-1"))
            what = "a wind-speed series (a mast)" if wind else f"{value!r}"
            raise ValueError(
                f"{what} cannot be used: the operating history must be monthly net energy "
                f"(quantity 'energy_mwh', values in MWh); send a mast's wind speeds as "
                "project.site_evidence.mast (MCP)"
            )
        return value

    @field_validator("monthly_energy_mwh")
    @classmethod
    def _unique_months(cls, value: list[MonthlyEnergyIn]) -> list[MonthlyEnergyIn]:
        seen: set[str] = set()
        for m in value:
            if m.month in seen:
                raise ValueError(f"month {m.month} appears more than once")
            seen.add(m.month)
        if not any(m.energy_mwh is not None and m.energy_mwh > 0 for m in value):
            # a regression on all-zero production has no variance: NaN fit, not a decision
            raise ValueError(
                "every month's energy is zero or missing; the long-term correction needs the "
                "plant's metered production (leave operating_history out for a new plant)"
            )
        return value

    def to_model(self) -> OperatingHistory:
        """Return the record as :class:`models.longterm.OperatingHistory` (null -> NaN).

        Losses in MWh become fractions of the gross energy
        (:meth:`models.longterm.OperatingHistory.from_energy_mwh`); a record without any loss
        is the same history as before losses were accepted.
        """
        rows = self.monthly_energy_mwh

        def column(values: list[float | None]) -> NDArray[np.float64] | None:
            if all(v is None for v in values):
                return None
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

        return OperatingHistory.from_energy_mwh(
            np.array([m.month for m in rows], dtype="datetime64[M]"),
            np.array([np.nan if m.energy_mwh is None else m.energy_mwh for m in rows]),
            availability_loss_mwh=column([m.availability_loss_mwh for m in rows]),
            curtailment_loss_mwh=column([m.curtailment_loss_mwh for m in rows]),
        )


class AssessmentRequest(_Strict):
    """Body of ``POST /api/v1/assessments`` and of ``climate-loan assess --request``."""

    site: SiteIn
    project: ProjectIn
    finance: FinanceIn
    policy: str | None = Field(
        default=None,
        max_length=100,
        description="Packaged policy id (GET /api/v1/policies); the technology's default if "
        "omitted.",
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEED,
        description="Monte Carlo seed; same seed and inputs give the same assessment.",
    )
    operating_history: OperatingHistoryIn | None = Field(
        default=None,
        description="Metered monthly net energy of an operating wind farm; when usable, the "
        "energy comes from a long-term correction on it (models.longterm).",
    )

    @field_validator("operating_history")
    @classmethod
    def _history_for_wind(
        cls, value: OperatingHistoryIn | None, info: ValidationInfo
    ) -> OperatingHistoryIn | None:
        project = info.data.get("project")
        if value is not None and project is not None and project.technology != "wind":
            # the long-term correction regresses on the site's wind (models.longterm)
            raise ValueError("applies to wind projects only (the correction regresses on wind)")
        if value is not None and project is not None:
            try:
                check_energy_plausible(value.to_model(), project.capacity_mw)
            except OperatingHistoryError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            # ids only: a request must never make the service read a file of its choosing
            raise ValueError(f"policy must be a policy id such as 'wind_changji_v1', got {value!r}")
        try:
            load_policy(value)
        except PolicyError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _policy_matches_technology(self) -> AssessmentRequest:
        if self.policy is not None:
            tech = load_policy(self.policy).technology
            if tech != self.project.technology:
                raise ValueError(
                    f"policy {self.policy!r} is for {tech} projects but the project is "
                    f"{self.project.technology}; choose a {self.project.technology} policy"
                )
        return self


@dataclass(frozen=True)
class AssessmentInputs:
    """The model inputs of one request (arguments of :func:`models.assessment.assess`)."""

    lat: float
    lon: float
    site_name: str | None
    project: WindProject | SolarProject
    terms: FinanceTerms
    policy: Policy
    seed: int | None
    operating_history: OperatingHistory | None
    project_cost: float | None = None
    #: Risk drivers the request gives (:func:`models.drivers.resolve_drivers`); the policy's
    #: defaults fill the rest.
    driver_overrides: dict[str, Any] | None = None
    site_evidence: SiteEvidence | None = None


def to_model_inputs(request: AssessmentRequest) -> AssessmentInputs:
    """Turn a validated request into the frozen model inputs.

    Omitted optional values take the defaults documented in the module docstring.
    """
    p = request.project
    project: WindProject | SolarProject
    if p.technology == "wind":
        # ProjectIn refuses a wind project without these; the checks only narrow the types
        if p.hub_height_m is None:
            raise UsageError("a wind project needs hub_height_m [m]")
        if p.power_curve is not None:
            turbine = p.power_curve.to_turbine()
        elif p.turbine_type is not None:
            turbine = get_turbine(p.turbine_type)
        else:
            raise UsageError("a wind project needs exactly one of turbine_type or power_curve")
        losses_in = p.losses or LossesIn()
        project = WindProject(
            capacity_mw=p.capacity_mw,
            hub_height_m=p.hub_height_m,
            turbine=turbine,
            losses=Losses(**losses_in.model_dump()),
        )
    else:
        fixed = PlantConfiguration(
            tilt_deg=p.tilt_deg, azimuth_deg=p.azimuth_deg, racking=p.racking or "open_rack"
        )
        tr = p.tracking
        configuration = (
            fixed
            if tr is None
            else PlantConfiguration(
                tracking="single_axis",
                max_angle_deg=tr.max_angle_deg,
                gcr=tr.gcr,
                backtrack=tr.backtrack,
                axis_azimuth_deg=tr.axis_azimuth_deg,
                racking=fixed.racking,
            )
        )
        project = SolarProject(
            capacity_mw=p.capacity_mw,
            configuration=configuration,
            dc_ac_ratio=DEFAULT_DC_AC_RATIO if p.dc_ac_ratio is None else p.dc_ac_ratio,
            losses_pct=DEFAULT_LOSSES_PCT if p.losses_pct is None else p.losses_pct,
            degradation_pct_per_year=(
                DEFAULT_DEGRADATION_PCT_PER_YEAR
                if p.degradation_pct_per_year is None
                else p.degradation_pct_per_year
            ),
        )
    f = request.finance
    terms = FinanceTerms(**f.model_dump(exclude={"project_cost", *_FINANCE_DRIVERS}))
    policy = load_policy(request.policy or DEFAULT_POLICY[p.technology])
    history = request.operating_history.to_model() if request.operating_history else None
    return AssessmentInputs(
        lat=request.site.lat,
        lon=request.site.lon,
        site_name=request.site.name,
        project=project,
        terms=terms,
        policy=policy,
        seed=request.seed,
        operating_history=history,
        project_cost=f.project_cost,
        driver_overrides=driver_overrides(request),
        site_evidence=p.site_evidence.to_model() if p.site_evidence is not None else None,
    )


#: Request fields that are risk drivers (:class:`models.drivers.RiskDrivers` fields).
_PROJECT_DRIVERS = ("availability_sd_pct", "ageing_pct_per_year", "energy_trend_pct_per_year")
_FINANCE_DRIVERS = ("merchant_share_pct", "price_sd_pct", "price_wind_corr", "opex_sd_pct")


def driver_overrides(request: AssessmentRequest) -> dict[str, Any]:
    """The risk drivers a request gives, by :class:`models.drivers.RiskDrivers` field.

    Omitted fields are left out, so that the policy's defaults apply to them
    (:func:`models.drivers.resolve_drivers`).
    """
    out: dict[str, Any] = {}
    p, f = request.project, request.finance
    if p.curtailment is not None:
        out["curtailment"] = p.curtailment.model_dump(exclude_none=True)
    for name in _PROJECT_DRIVERS:
        if getattr(p, name) is not None:
            out[name] = getattr(p, name)
    for name in _FINANCE_DRIVERS:
        if getattr(f, name) is not None:
            out[name] = getattr(f, name)
    return out


#: At most this many problems are spelled out by :func:`describe_error`; the rest are counted.
MAX_LISTED_PROBLEMS = 20


def _problem_text(error: Any) -> str:
    loc = ".".join(str(p) for p in error["loc"]) or "request"
    msg = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        msg = "unknown field (not part of the request format)"
    elif error["type"] == "missing":
        msg = "required field is missing"
    return f"{loc}: {msg}"


def describe_error(exc: ValidationError) -> str:
    """One line naming every failing field, e.g. ``site.lat: ...; project.hub_height_m: ...``.

    Beyond :data:`MAX_LISTED_PROBLEMS` problems the rest are counted, not listed.
    """
    errors = exc.errors(include_url=False)
    if not errors:
        return "request is not valid"
    listed = "; ".join(_problem_text(e) for e in errors[:MAX_LISTED_PROBLEMS])
    more = len(errors) - MAX_LISTED_PROBLEMS
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else ""
    return f"{listed}{tail}"


def parse_request(data: Any) -> AssessmentRequest:
    """Validate a decoded JSON document as an :class:`AssessmentRequest`.

    Raises
    ------
    UsageError
        With :func:`describe_error`'s one line.
    """
    try:
        return AssessmentRequest.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"bad request: {describe_error(exc)}") from None
