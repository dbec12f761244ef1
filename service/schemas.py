"""Pydantic models of API contract v1: query parameters, responses and errors.

The assessment *request* lives in :mod:`service.requests` (shared with ``climate-loan assess``).
The OpenAPI document (:mod:`service.openapi`) is generated from these same classes, so the
document cannot drift from what the views validate.

Response models allow extra fields (contract v1: "fields may be added; these names stay").
Query models forbid unknown parameters, so that a misspelt parameter (``hub_height`` for
``hub_height_m``) is a 422 naming it instead of being silently ignored. Numbers must be finite.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Decision = Literal["approve", "refer", "decline"]
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Role = Literal["officer", "modeller", "admin"]


class _Out(BaseModel):
    """Base of response objects: extra fields are allowed and kept."""

    model_config = ConfigDict(extra="allow")


class _Query(BaseModel):
    """Base of query-parameter models: unknown parameters and NaN/inf are rejected."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# ----- errors --------------------------------------------------------------------------------


class FieldError(BaseModel):
    """One field problem of a 422 response."""

    field: str = Field(description="Dotted path of the field, e.g. `project.capacity_mw`.")
    pointer: str = Field(description="JSON pointer (RFC 6901) to the field in the request.")
    message: str
    type: str = Field(description="Machine-readable kind of problem.")


class ProblemOut(BaseModel):
    """An error (RFC 9457 problem details, media type `application/problem+json`)."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="URI reference of the problem type (a section of /docs).")
    title: str
    status: int
    detail: str
    instance: str | None = Field(None, description="`urn:request:<request id>`.")
    errors: list[FieldError] | None = Field(None, description="Field problems (422 only).")


# ----- health --------------------------------------------------------------------------------


class CubeStatus(_Out):
    """State of the indicator cube loaded by this worker."""

    status: Literal["ok"]
    id: str
    sha256: str
    synthetic: bool
    start: str | None = None
    end: str | None = None


class DatabaseStatus(_Out):
    """State of the audit database."""

    status: Literal["ok", "unavailable"]
    backend: str
    revision: str | None
    detail: str | None = None


class ScorecardStatus(_Out):
    """The PD scorecard this worker serves; `degraded` when the registry's card is refused."""

    status: Literal["ok", "degraded"]
    serving: str | None = Field(description="Id of the card in use (the last good one).")
    detail: str | None = None


class HealthOut(_Out):
    """Service health: `ok` when the cube is loaded and the audit store takes writes.

    HTTP 503 when the audit store is unavailable; a damaged model registry makes the status
    `degraded` with HTTP 200 (the worker keeps lending with the last good scorecard).
    """

    status: Literal["ok", "degraded"]
    version: str
    cube: CubeStatus
    database: DatabaseStatus
    scorecard: ScorecardStatus | None = None


# ----- site climate --------------------------------------------------------------------------


class SiteClimateQuery(_Query):
    """Query of `GET /api/v1/sites/climate`."""

    lat: float = Field(ge=-90, le=90, description="Site latitude [degrees north].")
    lon: float = Field(ge=-180, le=180, description="Site longitude [degrees east].")
    hub_height_m: float | None = Field(
        None,
        ge=10,
        le=250,
        description="Height of the wind figures [m]; the cube's reference height if omitted.",
    )


class LatLon(_Out):
    """A requested site [degrees]."""

    lat: float
    lon: float


class CellOut(_Out):
    """The grid cell nearest to the site."""

    lat: float
    lon: float
    distance_km: float | None


class DatasetOut(_Out):
    """Provenance of the cube."""

    id: str
    sha256: str
    synthetic: bool
    start: str
    end: str


class WindClimateOut(_Out):
    """Wind figures at `height_m`; years failing coverage are null and excluded."""

    height_m: float | None
    annual_mean_ms: dict[str, float | None]
    trailing_3y_mean_ms: float | None
    trailing_3y_years: list[int]
    long_term_mean_ms: float | None
    iav: float | None
    monthly_cv: float | None
    weibull_k: float | None
    weibull_c_ms: float | None
    shear_exponent: float | None
    trend_pct_per_decade: float | None = Field(
        None,
        description="Sen's slope of the complete years' annual mean wind [% of the mean per "
        "decade]; null with fewer than 4 complete years.",
    )
    trend_p_value: float | None = Field(
        None, description="Mann-Kendall two-sided p-value of that trend [-]."
    )


class SolarClimateOut(_Out):
    """Sunshine hours (WMO, DNI >= 120 W m-2) and irradiation."""

    annual_sunshine_hours: dict[str, float | None]
    mean_sunshine_hours: float | None
    annual_ghi_kwh_m2: dict[str, float | None]
    sunshine_method: str | None = Field(
        default=None,
        description="How the cube counted sunshine: 'era5_sund' (the source's sunshine "
        "duration), 'dni_fraction' (clear-sky-ratio fraction of each hour from direct "
        "irradiance), 'ghi_erbs_fraction', or 'unrecorded' (a cube built before the method "
        "was recorded).",
    )
    sunshine_method_bias_pct: float | None = Field(
        default=None,
        description="Measured bias of that method against sunshine counted minute by minute "
        "from one-minute DNI (BSRN Payerne, June 2016) [%]: -3.9 for 'dni_fraction', +17.9 "
        "for 'ghi_erbs_fraction'; null where not measured ('era5_sund', 'unrecorded').",
    )


class SiteClimateOut(_Out):
    """The site-climate object of contract v1."""

    site: LatLon
    cell: CellOut
    dataset: DatasetOut
    wind: WindClimateOut
    solar: SolarClimateOut | None
    coverage: dict[str, float | None]


# ----- assessments ---------------------------------------------------------------------------


class ReasonOut(_Out):
    """Why the decision is not `approve`: a reason code and a message."""

    code: str
    message: str


class RuleOut(_Out):
    """One policy rule as evaluated."""

    id: str
    metric: str
    value: float | None
    operator: str
    threshold: float
    passed: bool
    outcome: str


class SigmaComponentsOut(_Out):
    """Relative standard deviations of annual energy [fractions], combined in quadrature.

    total_N = sqrt(iav_1y^2 / N + lt_mean^2 + model^2), lt_mean = iav_1y / sqrt(n_record_years).
    """

    iav_1y: float | None = Field(description="Inter-annual variability of one year's energy.")
    lt_mean: float | None = Field(description="Uncertainty of the long-term mean of the record.")
    model: float | None = Field(description="Model (energy estimate) uncertainty.")
    total_1y: float | None
    total_10y: float | None
    n_record_years: int | None = None
    model_basis: str | None = Field(
        None, description="Where the model uncertainty comes from (evidence level, sources)."
    )


class OperatingLossesOut(_Out):
    """Losses the long-term correction on operating data removed (OpenOA convention)."""

    availability_fraction: float | None = Field(description="Mean availability loss of gross.")
    curtailment_fraction: float | None = Field(description="Mean curtailment loss of gross.")
    total_fraction: float | None
    loss_threshold_fraction: float = Field(description="Months above it were dropped.")
    loss_threshold_range: list[float] = Field(description="Range drawn by the bootstrap.")
    months_input: int
    months_used: int
    months_dropped_high_loss: int


class McpOut(_Out):
    """Measure-correlate-predict of a mast on the reanalysis cell's monthly means."""

    method: Literal["variance_ratio", "linear_regression"]
    r_squared: float | None = Field(description="R² of concurrent monthly means (OLS).")
    slope: float | None = Field(description="Slope b of the map used, y = a + b x [-].")
    intercept_ms: float | None = Field(description="Intercept a [m s-1].")
    concurrent_months: int
    concurrent_start: str = Field(description="First concurrent month, YYYY-MM.")
    concurrent_end: str = Field(description="Last concurrent month, YYYY-MM.")


class EvidenceOut(_Out):
    """Site evidence applied to the reanalysis wind (models.evidence)."""

    method: Literal["atlas_scaled", "mcp"]
    used: bool = Field(description="False when an operating history took precedence.")
    height_m: float = Field(description="Height of the mast or atlas mean [m].")
    reanalysis_mean_ms: float | None = Field(description="Cell's long-term mean at height_m.")
    corrected_mean_ms: float | None = Field(description="Corrected long-term mean at height_m.")
    scale_factor: float | None = Field(description="corrected / reanalysis mean [-].")
    sigma_model: float | None
    model_basis: str
    source: str | None = Field(description="The atlas's source; null for a mast.")
    mcp: McpOut | None = None


class EnergyOut(_Out):
    """Energy yield [MWh per year] from the climate years."""

    method: Literal["reanalysis", "atlas_scaled", "mcp", "operating_history"]
    annual_mwh: dict[str, float | None]
    loss_factor: float | None
    p50_mwh: float | None
    p90_mwh: float | None
    p99_mwh: float | None
    p90_10y_mwh: float | None
    sigma: float | None
    sigma_components: SigmaComponentsOut | None = None
    operating_losses: OperatingLossesOut | None = None
    evidence: EvidenceOut | None = None


class DscrYear(_Out):
    """Debt service cover ratio of one loan year at P50, 10-year P90, 1-year P90 and P99."""

    year: int
    p50: float | None
    p90: float | None = Field(description="At ten-year P90 energy.")
    p90_1y: float | None = Field(None, description="At one-year P90 energy.")
    p99: float | None = Field(None, description="At one-year P99 energy.")


class CovenantOut(_Out):
    """One DSCR rule of the policy as a sizing constraint."""

    rule: str
    metric: str
    case: Literal["p50", "p90_1y", "p90_10y", "p99_1y"]
    target: float
    max_loan_amount: float | None = Field(description="Largest loan this rule alone allows.")
    dscr_min_at_max_loan: float | None
    binding: bool


class SizingOut(_Out):
    """The largest loan that meets every DSCR rule of the policy, and which rule binds."""

    max_loan_amount: float | None
    binding_rule: str
    binding_metric: str
    binding_case: str
    binding_target: float
    binding_year: int | None
    target_dscr_p50: float | None
    target_dscr_p90: float | None = Field(description="Ten-year P90 target (contract v1).")
    covenants: list[CovenantOut]


class RepaymentOut(_Out):
    """Repayment capacity and default risk."""

    dscr_by_year: list[DscrYear]
    dscr_p50_min: float | None
    dscr_p90_min: float | None = Field(description="Alias of dscr_p90_10y_min (contract v1).")
    dscr_p90_1y_min: float | None = None
    dscr_p90_10y_min: float | None = None
    dscr_p99_min: float | None = Field(None, description="Alias of dscr_p99_1y_min.")
    dscr_p99_1y_min: float | None = None
    sizing: SizingOut | None = None
    llcr: float | None
    pd_tenor: float | None
    pd_annual: float | None
    expected_loss: float | None
    grade: str | None


class ProvenanceOut(_Out):
    """What the decision was made from."""

    dataset_sha256: str
    policy_id: str
    policy_version: str
    model_versions: dict[str, Any]
    code_version: str
    software: dict[str, str] | None = Field(
        default=None,
        description="Versions of Python, this package and numpy, scipy, statsmodels, pandas, "
        "xarray and pvlib that made the figures (absent in assessments made before 0.2)",
    )
    seed: int
    created_at: str


class CurtailmentOut(_Out):
    """Curtailment applied (models.drivers.Curtailment)."""

    mean_pct: float = Field(description="Location of yearly curtailment [%].")
    sd_pct: float = Field(description="Standard deviation before clipping [points].")
    persistent_share: float = Field(description="Share of variance persistent over the tenor.")
    effective_mean_pct: float = Field(
        description="Mean curtailment after clipping to [0, 100] %: what the P50/P90 use [%]."
    )


class RiskDriversOut(_Out):
    """Non-weather risk drivers of the assessment, their values and sources."""

    curtailment: CurtailmentOut
    merchant_share_pct: float = Field(description="Output sold at market price [%].")
    price_sd_pct: float = Field(description="Yearly sd of market price / tariff [%].")
    price_wind_corr: float = Field(description="Correlation of price with the energy anomaly.")
    availability_sd_pct: float = Field(description="Yearly sd of availability [points].")
    opex_sd_pct: float = Field(description="Yearly sd of opex [%] (lognormal).")
    ageing_pct_per_year: float = Field(description="Output lost per year of age [%/yr].")
    energy_trend_pct_per_year: float = Field(description="Energy trend [%/yr, compound].")
    sold_fraction: float | None = Field(description="Expected share of energy sold [-].")
    sources: dict[str, str] = Field(
        description="Where each value came from: 'request', 'policy <id>: <source>', 'none (0)'."
    )


class SensitivityCaseOut(_Out):
    """One stress case (models.sensitivity.CASES)."""

    id: str = Field(description="Case id, e.g. 'curtailment_plus_5'; 'base' first.")
    label: str = Field(description="English label.")
    pd_tenor: float = Field(description="PD over the tenor in the case [-].")
    pd_tenor_se: float = Field(description="Binomial standard error of the level [-].")
    dscr_p90_min: float | None = Field(description="Minimum DSCR at ten-year P90 energy [-].")
    delta_pd_tenor: float = Field(description="Change of PD from the base case [-].")
    delta_pd_tenor_se: float = Field(
        description="Standard error of that change on common random numbers [-]."
    )
    delta_dscr_p90_min: float | None = Field(description="Change of the min P90 DSCR [-].")


class BreakEvenOut(_Out):
    """Lowest values at which every DSCR rule of the policy still passes."""

    tariff_per_mwh: float | None = Field(description="Break-even year-1 tariff [currency/MWh].")
    tariff_headroom_pct: float | None = Field(description="How far the tariff may fall [%].")
    p50_mwh: float | None = Field(description="Break-even P50 energy [MWh/yr].")
    p50_headroom_pct: float | None = Field(description="How far P50 may fall [%].")
    binding_rule: str | None
    binding_year: int | None
    rules: list[str] = Field(description="DSCR rules taken into account.")
    notes: list[str]


class SensitivitiesOut(_Out):
    """Stress cases on common random numbers and break-even values."""

    method: str
    seed: int
    n_paths: int
    n_stress_paths: int = Field(description="Paths on which each case's change is measured.")
    cases: list[SensitivityCaseOut]
    break_even: BreakEvenOut


class AssessmentOut(_Out):
    """The assessment object of contract v1 (stored before it is returned)."""

    id: str
    decision: Decision
    reasons: list[ReasonOut]
    rules: list[RuleOut]
    climate: SiteClimateOut
    energy: EnergyOut
    repayment: RepaymentOut
    risk_drivers: RiskDriversOut | None = Field(
        default=None, description="Non-weather risk drivers applied (null in older records)."
    )
    sensitivities: SensitivitiesOut | None = Field(
        default=None,
        description="Stress cases and break-even values; null without repayment figures.",
    )
    provenance: ProvenanceOut


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AssessmentListQuery(_Query):
    """Query of `GET /api/v1/assessments`: paging and filters."""

    limit: int = Field(20, ge=1, le=100, description="Page size.")
    offset: int = Field(0, ge=0, le=10_000_000, description="Records to skip.")
    decision: Decision | None = Field(None, description="Only this decision.")
    created_from: datetime | date | None = Field(
        None,
        description="Only records created at or after this time (a date means its 00:00 UTC).",
    )
    created_to: datetime | date | None = Field(
        None,
        description="Only records created before this time (a date means the end of that day).",
    )

    @field_validator("created_from", "created_to", mode="before")
    @classmethod
    def _date_or_time(cls, value: Any) -> Any:
        # A bare date means a whole day; anything longer is an instant (naive = UTC).
        if isinstance(value, str):
            text = value.strip()
            try:
                if _DATE_RE.match(text):
                    return date.fromisoformat(text)
                return datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a date (2026-11-01) or ISO 8601 time (2026-11-01T08:30Z)"
                ) from None
        return value

    @field_validator("created_from", "created_to")
    @classmethod
    def _range(cls, value: datetime | date | None) -> datetime | date | None:
        if value is not None and not 1900 <= value.year <= 9998:
            raise ValueError("year must be between 1900 and 9998")
        return value

    def window(self) -> tuple[datetime | None, datetime | None]:
        """Return the filter as aware UTC datetimes ``[start, end)``."""
        start: datetime | None = None
        end: datetime | None = None
        if isinstance(self.created_from, datetime):
            start = _utc(self.created_from)
        elif isinstance(self.created_from, date):
            start = datetime.combine(self.created_from, time(0), UTC)
        if isinstance(self.created_to, datetime):
            end = _utc(self.created_to)
        elif isinstance(self.created_to, date):
            end = datetime.combine(self.created_to, time(0), UTC) + timedelta(days=1)
        return start, end


class SiteRef(_Out):
    """The site of a stored assessment."""

    lat: float
    lon: float
    name: str | None


class AssessmentSummary(_Out):
    """One row of the assessment list."""

    id: str
    created_at: datetime
    decision: Decision
    technology: str
    site: SiteRef
    policy_id: str
    policy_version: str
    dataset_sha256: str
    api_key_id: str
    request_id: str


class AssessmentList(_Out):
    """A page of stored assessments, newest first."""

    items: list[AssessmentSummary]
    total: int = Field(description="Records matching the filters.")
    limit: int
    offset: int
    next: str | None = Field(description="Path of the next page, null on the last page.")


# ----- policies, turbines, models ------------------------------------------------------------


class PolicyRuleOut(_Out):
    """A rule of a lending policy."""

    id: str
    metric: str
    unit: str
    operator: str
    threshold: float
    outcome: str
    code: str
    description: dict[str, str] | None = Field(
        None, description="The rule in words (en, zh), generated from the rule."
    )
    reason: dict[str, str] = Field(
        description="Reason shown on failure (en, zh), generated from the rule; {value} and "
        "{threshold} are filled in."
    )
    note: dict[str, str] | None = None


class PolicyOut(_Out):
    """A lending product: its rules and version."""

    id: str
    version: str
    name: dict[str, str]
    technology: str
    description: str = Field(description="Generated from the rules (never free text).")
    description_zh: str | None = None
    rules: list[PolicyRuleOut]
    lgd_pct: float | None = Field(
        default=None,
        description="Loss given default of the product's loans [%] (absent before version 2.1: "
        "20 %).",
    )


class PolicyList(_Out):
    """Lending policies shipped with the service."""

    items: list[PolicyOut]
    defaults: dict[str, str] = Field(description="Default policy id per technology.")


class TurbineQuery(_Query):
    """Query of `GET /api/v1/turbines`."""

    q: str | None = Field(None, max_length=100, description="Search text (type or maker).")
    with_curve_only: bool = Field(True, description="Only turbines with a power curve.")


class TurbineOut(_Out):
    """A turbine of the library (oedb data shipped with windpowerlib)."""

    turbine_type: str
    manufacturer: str
    rated_power_kw: float
    rotor_diameter_m: float | None
    hub_heights_m: list[float]
    has_power_curve: bool


class TurbineList(_Out):
    """Turbines matching the query."""

    items: list[TurbineOut]
    count: int


class ModelCardOut(_Out):
    """A statistical model version from the registry."""

    id: str = Field(description="`<kind>-v<version>`, e.g. `scorecard-v3`.")
    kind: str
    version: int | None
    status: Literal["candidate", "production", "retired"]
    created_at: str
    author: str
    sha256: str
    source: str | None = Field(None, description="`registry` or `shipped` (default card).")
    in_use: bool | None = Field(None, description="True for the card assessments use now.")


class ModelStatusChange(BaseModel):
    """Body of `POST /api/v1/models/{card_id}/promote` and `/retire`."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=500, description="Why (kept in the card's history).")


class ModelList(_Out):
    """Model cards known to the registry."""

    items: list[ModelCardOut]


# ----- keys ----------------------------------------------------------------------------------


class KeyCreate(BaseModel):
    """Body of `POST /api/v1/keys`."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    expires_days: int | None = Field(
        None, ge=1, le=3650, description="Days until the key is refused; never if omitted."
    )


class KeyOut(_Out):
    """A stored API key (never the key itself)."""

    id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None


class KeyCreated(KeyOut):
    """A new key: `key` is shown this once and stored only as a hash."""

    key: str


class KeyList(_Out):
    """Every API key."""

    items: list[KeyOut]
