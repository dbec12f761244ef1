"""The project and loan form of the site page.

WTForms fields that read numbers in the page's locale and report errors in its language.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from pydantic import BaseModel
from wtforms import Field, FloatField, IntegerField, StringField
from wtforms import ValidationError as FormError
from wtforms.validators import InputRequired, Length, Optional, Regexp

from service.requests import CurtailmentIn, FinanceIn, LossesIn, ProjectIn, SiteIn
from service.site_evidence import AtlasIn, MastIn
from service.web.common import (
    app_state,
    fmt_num,
)

# ============================================================================ the form


class LocalFloat(FloatField):  # type: ignore[misc]
    """A number field whose parse error is in the page's language."""

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if isinstance(self.data, float) and self.data.is_integer() and abs(self.data) < 1e15:
            return str(int(self.data))
        return "" if self.data is None else str(self.data)

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse the number (a decimal comma is accepted), or record a translated error."""
        if not valuelist or str(valuelist[0]).strip() == "":
            self.data = None
            return
        text = str(valuelist[0]).strip().replace(" ", "").replace("\u00a0", "")
        text = (
            text.replace(",", "")
            if text.count(".") == 1 or text.count(",") > 1
            else text.replace(",", ".")
        )
        try:
            self.data = float(text)
        except ValueError:
            self.data = None
            raise ValueError(_("Enter a number.")) from None
        if not math.isfinite(self.data):
            self.data = None
            raise ValueError(_("Enter a finite number."))


class LocalInteger(IntegerField):  # type: ignore[misc]
    """A whole-number field whose parse error is in the page's language."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse a whole number, or record a translated error."""
        if not valuelist or str(valuelist[0]).strip() == "":
            self.data = None
            return
        try:
            self.data = int(str(valuelist[0]).strip())
        except ValueError:
            self.data = None
            raise ValueError(_("Enter a whole number.")) from None


def _required() -> InputRequired:
    return InputRequired(message=_l("This field is required."))


@dataclass(frozen=True)
class Limits:
    """Bounds of a number: ``ge``/``gt`` below, ``le``/``lt`` above (None: no such bound)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def contains(self, v: float) -> bool:
        """True when ``v`` is within every bound."""
        return (
            (self.ge is None or v >= self.ge)
            and (self.gt is None or v > self.gt)
            and (self.le is None or v <= self.le)
            and (self.lt is None or v < self.lt)
        )


def _constraints(annotation: Any) -> list[Any]:
    """The constraint objects inside an annotation (``Annotated`` aliases within unions)."""
    out: list[Any] = []
    if get_origin(annotation) is Annotated:
        for meta in get_args(annotation)[1:]:
            out += list(getattr(meta, "metadata", [meta]))
    for arg in get_args(annotation):
        if get_origin(arg) is Annotated or get_args(arg):
            out += _constraints(arg)
    return out


def request_limits(model: type[BaseModel], name: str) -> Limits:
    """The bounds of field ``name`` of a request model, read from its pydantic constraints.

    Reads the ``Ge``/``Gt``/``Le``/``Lt`` constraints of ``model.model_fields[name]``, also
    those of an ``Annotated`` alias inside an optional type (``Pct | None``), so that the
    form has no bound of its own: changing the request model changes the form.
    """
    info = model.model_fields[name]
    found: dict[str, float] = {}
    for meta in [*info.metadata, *_constraints(info.annotation)]:
        for bound in ("ge", "gt", "le", "lt"):
            value = getattr(meta, bound, None)
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[bound] = float(value)
    return Limits(**found)


class InRange:
    """Validator: the bounds of a request field; an empty or unparsable field is left to others.

    Attributes
    ----------
    model, name
        The request model and field whose bounds these are (:func:`request_limits`).
    limits : Limits
        The bounds.
    """

    def __init__(self, model: type[BaseModel], name: str) -> None:
        self.model, self.name = model, name
        self.limits = request_limits(model, name)

    def __call__(self, form: Any, field: Field) -> None:
        """Raise a translated error naming the bound that ``field`` breaks."""
        v = field.data
        if v is None or field.process_errors or self.limits.contains(v):
            return
        b = self.limits
        lo, hi = (b.ge if b.ge is not None else b.gt), (b.le if b.le is not None else b.lt)
        lo_text = fmt_num(lo, 0 if lo is None or float(lo).is_integer() else 2)
        hi_text = fmt_num(hi, 0 if hi is None or float(hi).is_integer() else 2)
        if b.gt is not None and v <= b.gt:
            if b.gt == 0:
                raise FormError(_("Enter a value greater than zero."))
            raise FormError(_("Enter a value greater than %(min)s.", min=lo_text))
        if b.lt is not None and v >= b.lt:
            raise FormError(_("Enter a value below %(max)s.", max=hi_text))
        if b.ge is not None and b.le is not None:
            raise FormError(_("Enter a value from %(min)s to %(max)s.", min=lo_text, max=hi_text))
        if b.ge is not None and v < b.ge:
            raise FormError(_("Enter a value of at least %(min)s.", min=lo_text))
        raise FormError(_("Enter a value of at most %(max)s.", max=hi_text))


class ChoiceField(StringField):  # type: ignore[misc]
    """A value from a fixed list, rendered by the templates as radio buttons or a select.

    ``choices`` is a list of ``(value, label)`` pairs; WTForms' own select fields are not
    used because their tuple choices are deprecated in WTForms 3.3 and their replacement
    does not exist in older releases.
    """

    def __init__(self, label: Any, choices: Sequence[tuple[str, Any]] = (), **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.choices: list[tuple[str, Any]] = list(choices)

    def pre_validate(self, form: Any) -> None:
        """Refuse a value that is not one of the choices (a forged or stale form)."""
        if self.data not in {value for value, _label in self.choices}:
            raise FormError(_("Choose one of the listed options."))


@dataclass(frozen=True)
class DriverInput:
    """A risk-driver field of the form: its label, request field, and the value used.

    Attributes
    ----------
    field : str
        Name of the form field (made from this row, after :class:`AssessmentForm`).
    label
        Its translatable label, with the unit.
    model : type
        Request model holding the field (its bounds are the form's, :class:`InRange`).
    request : tuple of str
        Location in the assessment request; the last part is the model's field.
    attr : str
        Dotted path in :class:`models.drivers.RiskDrivers` and in the assessment's
        ``risk_drivers`` (``curtailment.mean_pct``).
    source : str
        Key of the assessment's ``risk_drivers.sources``.
    wind_only : bool
        Only a wind project takes it (solar modules have their own degradation).
    """

    field: str
    label: Any
    model: type[BaseModel]
    request: tuple[str, ...]
    attr: str
    source: str
    wind_only: bool = False


def _driver(
    field: str, label: Any, model: type[BaseModel], *request: str, **kw: Any
) -> DriverInput:
    attr = kw.pop("attr", request[-1])
    return DriverInput(field, label, model, request, attr, kw.pop("source", attr), **kw)


#: The risk drivers the form offers, in the order shown (``models/drivers.py``).
DRIVER_INPUTS: tuple[DriverInput, ...] = (
    _driver(
        "curtailment_mean_pct",
        _l("Curtailment, mean [%]"),
        CurtailmentIn,
        *("project", "curtailment", "mean_pct"),
        attr="curtailment.mean_pct",
        source="curtailment",
    ),
    _driver(
        "curtailment_sd_pct",
        _l("Curtailment, yearly standard deviation [percentage points]"),
        CurtailmentIn,
        *("project", "curtailment", "sd_pct"),
        attr="curtailment.sd_pct",
        source="curtailment",
    ),
    _driver(
        "curtailment_persistent_share",
        _l("Curtailment, share of the variance that persists [0 to 1]"),
        CurtailmentIn,
        *("project", "curtailment", "persistent_share"),
        attr="curtailment.persistent_share",
        source="curtailment",
    ),
    _driver(
        "merchant_share_pct",
        _l("Share sold at market price [%]"),
        FinanceIn,
        *("finance", "merchant_share_pct"),
    ),
    _driver(
        "price_sd_pct",
        _l("Market price, yearly standard deviation [%]"),
        FinanceIn,
        *("finance", "price_sd_pct"),
    ),
    _driver(
        "price_wind_corr",
        _l("Correlation of market price with energy [−1 to 1]"),
        FinanceIn,
        *("finance", "price_wind_corr"),
    ),
    _driver(
        "availability_sd_pct",
        _l("Availability, yearly standard deviation [percentage points]"),
        ProjectIn,
        *("project", "availability_sd_pct"),
    ),
    _driver(
        "opex_sd_pct",
        _l("Operating cost, yearly standard deviation [%]"),
        FinanceIn,
        *("finance", "opex_sd_pct"),
    ),
    _driver(
        "ageing_pct_per_year",
        _l("Ageing of the turbines [% per year]"),
        ProjectIn,
        *("project", "ageing_pct_per_year"),
        wind_only=True,
    ),
    _driver(
        "energy_trend_pct_per_year",
        _l("Energy trend over the loan [% per year]"),
        ProjectIn,
        *("project", "energy_trend_pct_per_year"),
    ),
)


def driver_value(drivers: Any, attr: str) -> float | None:
    """The value at dotted ``attr`` of :class:`RiskDrivers` or its ``to_dict()``, else None."""
    node = drivers
    for part in attr.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
        if node is None:
            return None
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


class AssessmentForm(FlaskForm):  # type: ignore[misc]
    """The project and loan form; field names follow the request model (service/requests.py)."""

    class Meta:
        """Form options: CSRF is checked for every POST in ``_guard``."""

        csrf = False

    site_name = StringField(_l("Site name"), validators=[Optional(), Length(max=200)])
    lat = LocalFloat(_l("Latitude [°N]"), validators=[_required(), InRange(SiteIn, "lat")])
    lon = LocalFloat(_l("Longitude [°E]"), validators=[_required(), InRange(SiteIn, "lon")])
    technology = ChoiceField(
        _l("Technology"),
        choices=[("wind", _l("Wind")), ("solar", _l("Solar"))],
        default="wind",
        validators=[InputRequired(message=_l("Choose wind or solar."))],
    )
    capacity_mw = LocalFloat(
        _l("Capacity [MW]"), validators=[_required(), InRange(ProjectIn, "capacity_mw")]
    )
    turbine_type = StringField(_l("Turbine type"), validators=[Length(max=100)])
    power_curve_csv = FileField(_l("or upload a power curve (CSV)"))
    hub_height_m = LocalFloat(_l("Hub height [m]"), validators=[InRange(ProjectIn, "hub_height_m")])
    availability_pct = LocalFloat(
        _l("Availability loss [%]"), validators=[Optional(), InRange(LossesIn, "availability_pct")]
    )
    wake_pct = LocalFloat(
        _l("Wake loss [%]"), validators=[Optional(), InRange(LossesIn, "wake_pct")]
    )
    electrical_pct = LocalFloat(
        _l("Electrical loss [%]"), validators=[Optional(), InRange(LossesIn, "electrical_pct")]
    )
    other_pct = LocalFloat(
        _l("Other losses [%]"), validators=[Optional(), InRange(LossesIn, "other_pct")]
    )
    dc_ac_ratio = LocalFloat(
        _l("DC/AC ratio"), validators=[Optional(), InRange(ProjectIn, "dc_ac_ratio")]
    )
    losses_pct = LocalFloat(
        _l("System losses [%]"), validators=[Optional(), InRange(ProjectIn, "losses_pct")]
    )
    degradation_pct_per_year = LocalFloat(
        _l("Degradation [% per year]"),
        validators=[Optional(), InRange(ProjectIn, "degradation_pct_per_year")],
    )
    loan_amount = LocalFloat(
        _l("Loan amount"), validators=[_required(), InRange(FinanceIn, "loan_amount")]
    )
    currency = StringField(
        _l("Currency"),
        default="CNY",
        validators=[
            _required(),
            Regexp(r"^[A-Z]{3}$", message=_l("Use a three-letter ISO 4217 code such as CNY.")),
        ],
    )
    tenor_years = LocalInteger(
        _l("Tenor [years]"), validators=[_required(), InRange(FinanceIn, "tenor_years")]
    )
    interest_rate_pct = LocalFloat(
        _l("Interest rate [% per year]"),
        validators=[_required(), InRange(FinanceIn, "interest_rate_pct")],
    )
    repayment = ChoiceField(
        _l("Repayment"),
        choices=[
            ("annuity", _l("Annuity (level payments)")),
            ("equal_principal", _l("Equal principal")),
            ("sculpted", _l("Sculpted to the P50 cash flow")),
        ],
        default="annuity",
    )
    tariff_per_mwh = LocalFloat(
        _l("Tariff [currency per MWh]"),
        validators=[_required(), InRange(FinanceIn, "tariff_per_mwh")],
    )
    opex_per_year = LocalFloat(
        _l("Operating cost [currency per year]"),
        validators=[_required(), InRange(FinanceIn, "opex_per_year")],
    )
    policy = ChoiceField(_l("Lending product"), default="")
    project_cost = LocalFloat(
        _l("Total project cost"),
        validators=[Optional(), InRange(FinanceIn, "project_cost")],
    )
    # site evidence for wind (service/site_evidence.py): an atlas mean or a mast CSV
    atlas_mean_wind_ms = LocalFloat(
        _l("Atlas long-term mean wind speed [m/s]"),
        validators=[Optional(), InRange(AtlasIn, "mean_wind_ms")],
    )
    atlas_height_m = LocalFloat(
        _l("Atlas height [m]"), validators=[Optional(), InRange(AtlasIn, "height_m")]
    )
    atlas_source = StringField(_l("Atlas source"), validators=[Optional(), Length(max=300)])
    mast_csv = FileField(_l("or upload an on-site mast (CSV)"))
    mast_height_m = LocalFloat(
        _l("Mast height [m]"), validators=[Optional(), InRange(MastIn, "height_m")]
    )

    def validate_turbine_type(self, field: Field) -> None:
        """A wind project needs a library turbine with a power curve, or an uploaded curve."""
        if self.technology.data != "wind":
            return
        has_file = bool(getattr(self.power_curve_csv.data, "filename", ""))
        if not field.data and not has_file:
            raise FormError(_("Choose a turbine from the list or upload a power curve."))
        if field.data and has_file:
            raise FormError(_("Give either a turbine type or a power curve file, not both."))
        if field.data:
            from models.turbines import get_turbine

            try:
                turbine = get_turbine(field.data)
            except ValueError:
                raise FormError(
                    _("Unknown turbine type %(name)s; pick one from the list.", name=field.data)
                ) from None
            if turbine.power_curve is None:
                raise FormError(
                    _(
                        "The library has no power curve for %(name)s; choose another type.",
                        name=field.data,
                    )
                )

    def validate_curtailment_sd_pct(self, field: Field) -> None:
        """The curtailment's spread describes a mean, which must be given too."""
        if field.data is not None and self.curtailment_mean_pct.data is None:
            raise FormError(_("Enter the mean curtailment too (the other figures describe it)."))

    def validate_curtailment_persistent_share(self, field: Field) -> None:
        """The curtailment's persistence describes a mean, which must be given too."""
        self.validate_curtailment_sd_pct(field)

    def validate_hub_height_m(self, field: Field) -> None:
        """Wind projects need a hub height."""
        if self.technology.data == "wind" and field.data is None:
            raise FormError(_("Enter the hub height of the turbines."))

    def validate_project_cost(self, field: Field) -> None:
        """The project cost covers the loan (leverage cannot exceed 100 %)."""
        loan = self.loan_amount.data
        if field.data is not None and isinstance(loan, float) and field.data < loan:
            raise FormError(_("The project cost must be at least the loan amount."))

    def validate_policy(self, field: Field) -> None:
        """The product must exist and be for the project's technology."""
        if not field.data:
            return
        policy = app_state().policies.get(field.data)
        if policy is None:
            raise FormError(_("Unknown lending product."))
        if policy.technology != self.technology.data:
            raise FormError(_("This lending product is for another technology."))


# the driver fields, one per row of DRIVER_INPUTS (empty: the lending product's default)
for _d in DRIVER_INPUTS:
    setattr(
        AssessmentForm,
        _d.field,
        LocalFloat(_d.label, validators=[Optional(), InRange(_d.model, _d.request[-1])]),
    )
