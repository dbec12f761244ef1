"""Lending policies: a lending product as a YAML rule set, and its evaluation.

A policy (lending product) is a list of rules. Each rule reads one *metric* of the assessment
object (a dotted path such as ``climate.wind.trailing_3y_mean_ms``), compares it with a
threshold, and names the outcome when the comparison fails: ``refer`` (a credit officer must
look at it) or ``decline``. The decision is the worst outcome among the failed rules
(``decline`` > ``refer`` > ``approve``).

Missing data is never a pass (docs/conventions.rst, "Missing data is explicit, never filled"): a
metric that is ``null`` in the assessment (for
example a trailing 3-year mean when fewer than three complete years exist) fails its rule with
outcome ``refer`` and reason code :data:`INSUFFICIENT_DATA`, whatever outcome the rule names.

Every metric a rule may use is listed once in :data:`METRICS`, with its unit and meaning
(docs/conventions.rst, "One nomenclature"); a policy naming any other metric is rejected when it is
loaded.

Policy file format (YAML, read with ``yaml.safe_load``)::

    id: wind_changji_v1          # lower-case letters, digits, underscores
    version: "1.0"
    name: {en: "...", zh: "..."}
    technology: wind             # wind | solar
    rules:
      - id: trailing_3y_wind     # unique within the policy
        metric: climate.wind.trailing_3y_mean_ms
        operator: ">="           # >=, >, <=, <, ==  (the condition to PASS)
        threshold: 6.5
        outcome: decline         # on failure: refer | decline
        code: WIND_TRAILING_3Y_LOW
        note:                    # optional advice, no numbers or outcomes
          en: "..."
          zh: "..."

There is no free-text ``description`` and no ``reason``: the policy's description and each
rule's failure reason, in English and Chinese, are generated from the rules
(:meth:`Rule.describe`, :meth:`Rule.reason_template`, :meth:`Policy.describe`) from the
metric's label (:data:`METRICS`), the operator, the threshold and the outcome, so that the
words cannot disagree with what the rule does. (Version 1.0 of the packaged policies had free
text; its wind comment said a PD beyond the Weak grade declines while the rule referred above
2 %.)

A value and a threshold in those texts are shown by the metric's unit in the catalogue
(:func:`format_value`): a PD as ``2.37 %``, an IAV as ``6.4 %``, a DSCR as ``1.35×``, a wind
speed as ``6.68 m/s``; the reasons are stored with the assessment, so the API, the web page,
the memo and the command line show the same words.

The packaged products live in ``models/policies/*.yaml``; :data:`DEFAULT_POLICY` names the
default per technology.
"""

from __future__ import annotations

import math
import operator as _op
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from models.drivers import DriverDefaults, parse_driver_defaults
from models.errors import ModelInputError
from models.risk import DEFAULT_LGD

Decision = Literal["approve", "refer", "decline"]
Outcome = Literal["refer", "decline"]
Technology = Literal["wind", "solar"]

#: Reason code of a rule whose metric is null (not enough complete data to compute it).
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"

#: Default policy id per technology.
DEFAULT_POLICY: Mapping[str, str] = {"wind": "wind_changji_v1", "solar": "solar_default_v1"}

#: Severity of each decision; the decision of a policy is the most severe failed outcome.
SEVERITY: Mapping[str, int] = {"approve": 0, "refer": 1, "decline": 2}

OPERATORS: Mapping[str, Callable[[float, float], bool]] = {
    ">=": _op.ge,
    ">": _op.gt,
    "<=": _op.le,
    "<": _op.lt,
    "==": _op.eq,
}

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_POLICY_KEYS = frozenset(
    {"id", "version", "name", "technology", "rules", "risk_drivers", "lgd_pct"}
)
_POLICY_REQUIRED = frozenset({"id", "version", "name", "technology", "rules"})
_RULE_KEYS = frozenset({"id", "metric", "operator", "threshold", "outcome", "code", "note"})
_RULE_REQUIRED = frozenset({"id", "metric", "operator", "threshold", "outcome", "code"})
#: Words a rule's note may not use: the outcome and numbers are the rule's, said once.
_NOTE_FORBIDDEN = re.compile(r"[0-9{}]|\b(approve|refer|decline)|批准|拒绝|审核", re.IGNORECASE)
_GENERATED = (
    "the texts of a policy are generated from its rules (metric, operator, threshold, "
    "outcome) so that they cannot disagree with them"
)


class PolicyError(ModelInputError):
    """A policy file is missing, malformed, or names an unknown metric or operator.

    A :class:`~models.errors.ModelInputError`: the caller can correct the file, and the service
    answers it as it answers the other models' input errors.
    """


@dataclass(frozen=True)
class Metric:
    """One row of the metric nomenclature.

    Attributes
    ----------
    path : str
        Dotted path into the assessment object, e.g. ``climate.wind.iav``.
    unit : str
        Unit of the value (UDUNITS style; ``1`` for dimensionless ratios, ``count`` for counts).
    description : str
        What the value means and where it comes from.
    label_en, label_zh : str
        Short name of the value, in English and Chinese, from which every rule's text is
        generated (:meth:`Rule.describe`, :meth:`Rule.reason_template`).
    display : str
        How a dimensionless value (unit ``1``) is shown (:func:`format_value`): ``spread``
        (a relative spread, ``6.4 %``), ``fraction`` (``31.25 %``), ``probability``
        (``2.37 %``; whole percent from 10 %), ``ratio`` (``1.35×``) or ``p_value``
        (``0.03``). Empty for a value with a physical unit, shown by its unit.
    """

    path: str
    unit: str
    description: str
    label_en: str = ""
    label_zh: str = ""
    display: str = ""


_METRIC_ROWS: tuple[Metric, ...] = (
    Metric(
        "climate.complete_years",
        "count",
        "Number of complete climate years (coverage >= 95 % of hours) at the site's cell.",
        "Complete climate years",
        "完整气候年数",
    ),
    Metric(
        "climate.cell.distance_km",
        "km",
        "Great-circle distance from the site to the centre of the nearest data cell.",
        "Distance to the data cell",
        "到数据网格的距离",
    ),
    Metric(
        "climate.wind.trailing_3y_mean_ms",
        "m s-1",
        "Mean wind speed at hub height over the latest three complete years; null when fewer "
        "than three complete years exist (the Changji rule).",
        "Mean wind speed at hub height, latest 3 complete years",
        "轮毂高度近三个完整年平均风速",
    ),
    Metric(
        "climate.wind.trailing_3y_min_ms",
        "m s-1",
        "Lowest annual mean wind speed at hub height among the latest three complete years, so "
        "that '>= x' means each of those years reached x; null with fewer than three.",
        "Lowest annual wind speed at hub height, latest 3 years",
        "轮毂高度近三年最低年平均风速",
    ),
    Metric(
        "climate.wind.long_term_mean_ms",
        "m s-1",
        "Mean wind speed at hub height over every complete year.",
        "Long-term mean wind speed",
        "长期平均风速",
    ),
    Metric(
        "climate.wind.iav",
        "1",
        "Inter-annual variability: sample standard deviation (ddof 1) of the complete years' "
        "annual mean wind speeds divided by their mean.",
        "Inter-annual variability of wind speed",
        "风速年际变率",
        display="spread",
    ),
    Metric(
        "climate.wind.monthly_cv",
        "1",
        "Coefficient of variation of the complete months' mean wind speeds.",
        "Month-to-month variability of wind speed",
        "风速月际变率",
        display="spread",
    ),
    Metric(
        "climate.wind.trend_pct_per_decade",
        "% decade-1",
        "Trend of the complete years' annual mean wind speed: Sen's slope, in percent of the "
        "mean per decade; null with fewer than four complete years.",
        "Trend of annual mean wind speed",
        "年平均风速趋势",
    ),
    Metric(
        "climate.wind.trend_p_value",
        "1",
        "Mann-Kendall (Kendall's tau of year and annual mean wind) two-sided p-value of that "
        "trend; small values mean the trend is unlikely to be chance.",
        "p-value of the wind-speed trend",
        "风速趋势的检验概率（p值）",
        display="p_value",
    ),
    Metric(
        "climate.solar.mean_sunshine_hours",
        "h",
        "Mean annual sunshine duration (WMO: direct normal irradiance >= 120 W m-2) over the "
        "complete years.",
        "Mean annual sunshine hours",
        "年平均日照时数",
    ),
    Metric(
        "climate.solar.trailing_3y_min_sunshine_hours",
        "h",
        "Lowest annual sunshine duration among the latest three complete years; null with "
        "fewer than three.",
        "Lowest annual sunshine hours, latest 3 years",
        "近三年最低年日照时数",
    ),
    Metric(
        "climate.solar.mean_ghi_kwh_m2",
        "kWh m-2",
        "Mean annual global horizontal irradiation over the complete years.",
        "Mean annual global horizontal irradiation",
        "年平均水平面总辐射量",
    ),
    Metric(
        "energy.p50_mwh",
        "MWh",
        "Median (P50) net annual energy.",
        "P50 annual energy",
        "P50年发电量",
    ),
    Metric(
        "energy.p90_mwh",
        "MWh",
        "Net annual energy exceeded with 90 % probability, one year.",
        "P90 annual energy (1 year)",
        "P90年发电量（一年）",
    ),
    Metric(
        "energy.p99_mwh",
        "MWh",
        "Net annual energy exceeded with 99 % probability, one year.",
        "P99 annual energy (1 year)",
        "P99年发电量（一年）",
    ),
    Metric(
        "energy.p90_10y_mwh",
        "MWh",
        "Net annual energy exceeded with 90 % probability as a ten-year average.",
        "P90 annual energy (10-year average)",
        "P90年发电量（十年平均）",
    ),
    Metric(
        "energy.sigma",
        "1",
        "Total relative uncertainty of one year's net energy.",
        "Energy uncertainty (1 year)",
        "发电量不确定性（一年）",
        display="spread",
    ),
    Metric(
        "energy.capacity_factor_p50",
        "1",
        "P50 net energy divided by capacity times 8760 h.",
        "P50 capacity factor",
        "P50容量系数",
        display="fraction",
    ),
    Metric(
        "repayment.dscr_p50_min",
        "1",
        "Lowest debt service coverage ratio over the tenor with P50 energy every year.",
        "Minimum DSCR at P50 energy",
        "P50发电量下最低DSCR",
        display="ratio",
    ),
    Metric(
        "repayment.dscr_p90_1y_min",
        "1",
        "Lowest debt service coverage ratio over the tenor with one-year P90 energy every "
        "year (the usual sizing case for wind).",
        "Minimum DSCR at 1-year P90 energy",
        "一年P90发电量下最低DSCR",
        display="ratio",
    ),
    Metric(
        "repayment.dscr_p90_10y_min",
        "1",
        "Lowest debt service coverage ratio over the tenor with ten-year P90 energy every year.",
        "Minimum DSCR at 10-year P90 energy",
        "十年P90发电量下最低DSCR",
        display="ratio",
    ),
    Metric(
        "repayment.dscr_p90_min",
        "1",
        "Alias of repayment.dscr_p90_10y_min (ten-year P90), the name of contract v1.",
        "Minimum DSCR at 10-year P90 energy",
        "十年P90发电量下最低DSCR",
        display="ratio",
    ),
    Metric(
        "repayment.dscr_p99_1y_min",
        "1",
        "Lowest debt service coverage ratio over the tenor with one-year P99 energy every year.",
        "Minimum DSCR at 1-year P99 energy",
        "一年P99发电量下最低DSCR",
        display="ratio",
    ),
    Metric(
        "repayment.dscr_p99_min",
        "1",
        "Alias of repayment.dscr_p99_1y_min (one-year P99), the name of contract v1.",
        "Minimum DSCR at 1-year P99 energy",
        "一年P99发电量下最低DSCR",
        display="ratio",
    ),
    Metric(
        "repayment.llcr",
        "1",
        "Loan life coverage ratio at P50: NPV of CFADS over the tenor at the loan rate "
        "divided by the loan amount.",
        "Loan life coverage ratio",
        "贷款期覆盖率（LLCR）",
        display="ratio",
    ),
    Metric(
        "repayment.pd_tenor",
        "1",
        "Monte Carlo probability of default over the whole tenor (fraction, not percent).",
        "Probability of default over the tenor",
        "贷款期内违约概率",
        display="probability",
    ),
    Metric(
        "repayment.pd_annual",
        "1",
        "Annualised probability of default (fraction, not percent; Basel III floor 0.0005).",
        "Annual probability of default",
        "年化违约概率",
        display="probability",
    ),
    Metric(
        "repayment.pd_scorecard",
        "1",
        "Lifetime probability of default from the production PD scorecard (a logit on a loan "
        "book, models.scorecard; fraction, not percent), beside the Monte Carlo pd_tenor; null "
        "when no scorecard was used or one of its features is unavailable.",
        "Scorecard probability of default (lifetime)",
        "评分卡违约概率（贷款期）",
        display="probability",
    ),
    Metric(
        "repayment.expected_loss",
        "currency",
        "Expected loss PD x LGD x EAD, in the loan currency.",
        "Expected loss (1 year)",
        "预期损失（一年）",
    ),
)

#: The metric nomenclature: every path a policy rule may name, with unit and meaning.
METRICS: Mapping[str, Metric] = {m.path: m for m in _METRIC_ROWS}


#: How each operator reads in a rule's text (the condition to PASS).
OPERATOR_TEXT: Mapping[str, Mapping[str, str]] = {
    "en": {">=": "at least", ">": "above", "<=": "at most", "<": "below", "==": "exactly"},
    "zh": {">=": "不低于", ">": "高于", "<=": "不高于", "<": "低于", "==": "等于"},
}
#: What happens when a rule fails, as a rule's text says it.
OUTCOME_TEXT: Mapping[str, Mapping[str, str]] = {
    "en": {"refer": "refer to a credit officer", "decline": "decline"},
    "zh": {"refer": "转交信贷人员审核", "decline": "拒绝"},
}
#: The same, said of an application that failed.
OUTCOME_DONE_TEXT: Mapping[str, Mapping[str, str]] = {
    "en": {
        "refer": "the application is referred to a credit officer",
        "decline": "the application is declined",
    },
    "zh": {"refer": "转交信贷人员审核", "decline": "予以拒绝"},
}
_UNIT_TEXT: Mapping[str, Mapping[str, str]] = {
    "en": {
        "1": "",
        "count": "",
        "currency": "",
        "m s-1": " m/s",
        "% decade-1": " % per decade",
        "h": " h",
        "MWh": " MWh",
        "km": " km",
        "kWh m-2": " kWh/m²",
    },
    "zh": {
        "1": "",
        "count": "",
        "currency": "",
        "m s-1": " 米/秒",
        "% decade-1": " %/十年",
        "h": " 小时",
        "MWh": " 兆瓦时",
        "km": " 公里",
        "kWh m-2": " 千瓦时/平方米",
    },
}
Language = Literal["en", "zh"]

#: Decimals of a shown value, by the metric's display kind or unit (:func:`format_value`).
_DIGITS: Mapping[str, int] = {
    "spread": 1,
    "fraction": 2,
    "probability": 2,
    "ratio": 2,
    "p_value": 2,
    "count": 0,
    "currency": 0,
    "m s-1": 2,
    "% decade-1": 1,
    "h": 0,
    "MWh": 0,
    "km": 1,
    "kWh m-2": 0,
}
#: Display kinds shown as a percentage of the fraction.
_PERCENT_KINDS = frozenset({"spread", "fraction", "probability"})


def _digits(metric: str, value: float) -> int:
    m = METRICS[metric]
    kind = m.display or m.unit
    if kind == "probability" and abs(value) >= 0.1:
        return 0  # 31 %, as a PD is read; below 10 % two decimals (2.37 %)
    return _DIGITS.get(kind, 3)


def _number(x: float, digits: int) -> str:
    text = f"{x:,.{digits}f}"
    return text.lstrip("-") if float(text.replace(",", "")) == 0.0 else text  # no "-0.00"


def format_value(
    metric: str, value: float, lang: Language = "en", digits: int | None = None
) -> str:
    """A value of ``metric`` as a person reads it, with its unit, for a rule's texts.

    By the catalogue (:data:`METRICS`): a spread, fraction or probability as a percentage
    (``6.4 %``, ``31.25 %``, ``2.37 %``), a coverage ratio with the times sign (``1.35×``), a
    p-value bare (``0.03``), a count whole, other values with their unit (``6.68 m/s``,
    ``1,200 h``; Chinese unit names in ``zh``). ``digits`` overrides the decimals.
    """
    m = METRICS[metric]
    kind = m.display or m.unit
    d = _digits(metric, value) if digits is None else digits
    if kind in _PERCENT_KINDS:
        return f"{_number(value * 100.0, d)} %"
    if kind == "ratio":
        return f"{_number(value, d)}×"
    return f"{_number(value, d)}{_UNIT_TEXT[lang].get(m.unit, '')}"


def format_pair(
    metric: str, value: float, threshold: float, lang: Language = "en"
) -> tuple[str, str]:
    """A rule's value and threshold, formatted so that they never read alike when they differ.

    Each takes its usual decimals (:func:`format_value`); when the two texts would be the same
    although the numbers differ (a wind of 6.496 m/s against 6.5 m/s), both get more
    decimals, up to six more, so that a failed rule never shows a value that seems to meet it.
    """
    v, t = format_value(metric, value, lang), format_value(metric, threshold, lang)
    if value == threshold:
        return v, t
    base = max(_digits(metric, value), _digits(metric, threshold))
    for extra in range(1, 7):
        if v != t:
            break
        v = format_value(metric, value, lang, base + extra)
        t = format_value(metric, threshold, lang, base + extra)
    return v, t


@dataclass(frozen=True)
class Rule:
    """One lending rule: pass when ``value <operator> threshold``.

    Every text of a rule — its description and the reason shown when it fails, in English
    and Chinese — is generated from the rule itself (metric label, operator, threshold,
    outcome), so that the text cannot say something the rule does not do. A policy file may
    add a ``note`` (advice without numbers or outcomes, e.g. "consider a smaller loan").

    Attributes
    ----------
    id : str
        Identifier, unique within its policy.
    metric : str
        Key of :data:`METRICS`.
    operator : str
        One of ``>=``, ``>``, ``<=``, ``<``, ``==`` — the condition for the rule to pass.
    threshold : float
        Threshold, in the metric's unit.
    outcome : {'refer', 'decline'}
        Decision contributed when the rule fails on a known value.
    code : str
        Reason code (upper-case) reported when the rule fails.
    note_en, note_zh : str
        Optional advice appended to the reason ("" for none).
    """

    id: str
    metric: str
    operator: str
    threshold: float
    outcome: Outcome
    code: str
    note_en: str = ""
    note_zh: str = ""

    @property
    def unit(self) -> str:
        """Unit of the metric."""
        return METRICS[self.metric].unit

    def _parts(self, lang: Language) -> tuple[str, str]:
        m = METRICS[self.metric]
        label = m.label_en if lang == "en" else m.label_zh
        return label, OPERATOR_TEXT[lang][self.operator]

    def describe(self, lang: Language = "en") -> str:
        """The rule in words, e.g. "Minimum DSCR at P50 energy at least 1.35× (otherwise ...)"."""
        label, op = self._parts(lang)
        thr = format_value(self.metric, self.threshold, lang)
        outcome = OUTCOME_TEXT[lang][self.outcome]
        if lang == "en":
            return f"{label} {op} {thr} (otherwise {outcome})"
        return f"{label}须{op} {thr}（否则{outcome}）"

    def reason_template(self, lang: Language = "en") -> str:
        """Reason shown on failure, with ``{value}`` and ``{threshold}`` to fill in.

        Both are filled with the value and threshold formatted with the metric's unit
        (:func:`format_pair`), e.g. ``2.37 %`` and ``2.00 %`` for a PD.
        """
        label, op = self._parts(lang)
        done = OUTCOME_DONE_TEXT[lang][self.outcome]
        note = self.note_en if lang == "en" else self.note_zh
        if lang == "en":
            text = f"{label} is {{value}}; the product requires {op} {{threshold}}, so {done}."
            return f"{text} {note}" if note else text
        text = f"{label}为 {{value}}，本产品要求{op} {{threshold}}，因此{done}。"
        return f"{text}{note}" if note else text

    @property
    def reason_en(self) -> str:
        """English reason template (:meth:`reason_template`)."""
        return self.reason_template("en")

    @property
    def reason_zh(self) -> str:
        """Chinese reason template (:meth:`reason_template`)."""
        return self.reason_template("zh")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the rule (for listings such as ``GET /policies``)."""
        return {
            "id": self.id,
            "metric": self.metric,
            "unit": self.unit,
            "operator": self.operator,
            "threshold": self.threshold,
            "outcome": self.outcome,
            "code": self.code,
            "description": {"en": self.describe("en"), "zh": self.describe("zh")},
            "reason": {"en": self.reason_en, "zh": self.reason_zh},
            "note": {"en": self.note_en, "zh": self.note_zh} if self.note_en else None,
        }


@dataclass(frozen=True)
class Policy:
    """A lending product: an identified, versioned set of rules for one technology.

    Its description is generated from the rules (:attr:`description`), never written apart.
    """

    id: str
    version: str
    name_en: str
    name_zh: str
    technology: Technology
    rules: tuple[Rule, ...]
    #: Product defaults of the non-weather risk drivers and their sources (``risk_drivers``
    #: block of the YAML, :func:`models.drivers.parse_driver_defaults`); None for none.
    risk_drivers: DriverDefaults | None = None
    #: Loss given default of the product's loans [%] (``lgd_pct`` of the YAML): the single
    #: assessment's expected loss and the portfolio's default for a loan without its own.
    #: None (policies before version 2.1) means :data:`models.risk.DEFAULT_LGD`.
    lgd_pct: float | None = None

    @property
    def lgd(self) -> float:
        """The product's loss given default [-] (:data:`models.risk.DEFAULT_LGD` when unset)."""
        return DEFAULT_LGD if self.lgd_pct is None else self.lgd_pct / 100.0

    def describe(self, lang: Language = "en") -> str:
        """Every rule in words, joined: the policy's description."""
        sep = "; " if lang == "en" else "；"
        end = "." if lang == "en" else "。"
        return sep.join(r.describe(lang) for r in self.rules) + end

    @property
    def description(self) -> str:
        """English description generated from the rules (:meth:`describe`)."""
        return self.describe("en")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the policy."""
        return {
            "id": self.id,
            "version": self.version,
            "name": {"en": self.name_en, "zh": self.name_zh},
            "technology": self.technology,
            "description": self.description,
            "description_zh": self.describe("zh"),
            "rules": [r.to_dict() for r in self.rules],
            **(
                {"risk_drivers": self.risk_drivers.to_policy_dict()}
                if self.risk_drivers is not None
                else {}
            ),
            **({"lgd_pct": self.lgd_pct} if self.lgd_pct is not None else {}),
        }


@dataclass(frozen=True)
class Reason:
    """Why a rule failed: a code and a message in English and Chinese."""

    code: str
    message: str
    message_zh: str
    rule_id: str

    def to_dict(self) -> dict[str, str]:
        """Return the ``reasons[]`` entry (adds ``rule`` and ``message_zh``)."""
        return {
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "rule": self.rule_id,
        }


@dataclass(frozen=True)
class RuleResult:
    """Outcome of one rule on one assessment.

    Attributes
    ----------
    rule : Rule
        The rule evaluated.
    value : float or None
        The metric's value in the assessment; None when it could not be computed.
    passed : bool
        True when the value is known and meets the condition.
    outcome : {'approve', 'refer', 'decline'}
        ``approve`` when passed; the rule's outcome when the value failed; ``refer`` when the
        value is None.
    reason : Reason or None
        Set when the rule failed.
    """

    rule: Rule
    value: float | None
    passed: bool
    outcome: Decision
    reason: Reason | None

    def to_dict(self) -> dict[str, Any]:
        """Return the ``rules[]`` entry of the assessment object (adds ``code`` and ``unit``)."""
        return {
            "id": self.rule.id,
            "metric": self.rule.metric,
            "value": (
                int(self.value)
                if self.value is not None and self.rule.unit == "count" and self.value.is_integer()
                else self.value
            ),
            "unit": self.rule.unit,
            "operator": self.rule.operator,
            "threshold": self.rule.threshold,
            "passed": self.passed,
            "outcome": self.outcome,
            "code": self.reason.code if self.reason is not None else None,
        }


# --------------------------------------------------------------------------------- loading


def _fail(where: str, msg: str) -> PolicyError:
    return PolicyError(f"{where}: {msg}")


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    val = raw.get(key)
    if not isinstance(val, str) or not val.strip():
        raise _fail(where, f"'{key}' must be a non-empty string, got {val!r}")
    return val


def _bilingual(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, str]:
    val = raw.get(key)
    if not isinstance(val, Mapping) or set(val) != {"en", "zh"}:
        raise _fail(where, f"'{key}' must be a mapping with exactly the keys 'en' and 'zh'")
    return _text(val, "en", f"{where} {key}"), _text(val, "zh", f"{where} {key}")


def _note(raw: Mapping[str, Any], where: str) -> tuple[str, str]:
    """The optional advice of a rule, which may not state numbers or outcomes."""
    if raw.get("note") is None:
        return "", ""
    en, zh = _bilingual(raw, "note", where)
    for text in (en, zh):
        found = _NOTE_FORBIDDEN.search(text)
        if found:
            raise _fail(
                where,
                f"'note' may not contain {found.group(0)!r}: numbers and outcomes are the "
                f"rule's own ({_GENERATED}); keep the note to advice",
            )
    return en.strip(), zh.strip()


def _check_keys(
    raw: Mapping[str, Any], required: frozenset[str], allowed: frozenset[str], where: str
) -> None:
    """Every required key present, no key outside ``allowed``."""
    missing = sorted(required - set(raw))
    if missing:
        raise _fail(where, f"missing field(s) {missing}")
    extra = sorted(set(raw) - allowed)
    if extra:
        raise _fail(where, f"unknown field(s) {extra}; allowed: {sorted(allowed)}")


def _rule_where(raw: Any, index: int, policy_where: str) -> tuple[Mapping[str, Any], str]:
    """The rule as a mapping with a valid id, and its place for messages (``rule 'id'``)."""
    if not isinstance(raw, Mapping):
        raise _fail(f"{policy_where} rule #{index + 1}", "each rule must be a mapping")
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise _fail(
            f"{policy_where} rule #{index + 1}",
            f"'id' must be lower-case letters, digits and underscores, got {rid!r}",
        )
    where = f"{policy_where} rule '{rid}'"
    if "reason" in raw:
        raise _fail(where, f"'reason' is not allowed: {_GENERATED}; use 'note' for advice")
    _check_keys(raw, _RULE_REQUIRED, _RULE_KEYS, where)
    return raw, where


def _rule_test(raw: Mapping[str, Any], where: str) -> tuple[str, str, float]:
    """The rule's metric, operator and threshold, each checked."""
    metric = raw["metric"]
    if metric not in METRICS:
        raise _fail(
            where, f"unknown metric {metric!r}; known metrics: {', '.join(sorted(METRICS))}"
        )
    oper = raw["operator"]
    if oper not in OPERATORS:
        raise _fail(where, f"bad operator {oper!r}; use one of {', '.join(OPERATORS)}")
    thr = raw["threshold"]
    if isinstance(thr, bool) or not isinstance(thr, int | float) or not math.isfinite(thr):
        raise _fail(where, f"'threshold' must be a finite number, got {thr!r}")
    return metric, oper, float(thr)


def _rule_outcome(raw: Mapping[str, Any], where: str) -> tuple[Outcome, str]:
    """The rule's outcome and reason code, each checked."""
    outcome = raw["outcome"]
    if outcome not in ("refer", "decline"):
        raise _fail(where, f"'outcome' must be 'refer' or 'decline', got {outcome!r}")
    code = raw["code"]
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise _fail(where, f"'code' must be upper-case letters, digits, underscores: {code!r}")
    if code == INSUFFICIENT_DATA:
        raise _fail(where, f"code {INSUFFICIENT_DATA} is reserved for missing data")
    return cast(Outcome, outcome), code


def _parse_rule(raw: Any, index: int, policy_where: str) -> Rule:
    """Rule ``index`` of a policy: its id and fields, test, outcome and note, each checked."""
    rule, where = _rule_where(raw, index, policy_where)
    metric, oper, threshold = _rule_test(rule, where)
    outcome, code = _rule_outcome(rule, where)
    note_en, note_zh = _note(rule, where)
    return Rule(
        id=rule["id"],
        metric=metric,
        operator=oper,
        threshold=threshold,
        outcome=outcome,
        code=code,
        note_en=note_en,
        note_zh=note_zh,
    )


def _policy_where(raw: Any, source: str) -> tuple[Mapping[str, Any], str]:
    """The policy as a mapping with the known keys and a valid id, and its place for messages."""
    if not isinstance(raw, Mapping):
        raise _fail(source, "a policy must be a YAML mapping at the top level")
    if "description" in raw:
        raise _fail(source, f"'description' is not allowed: {_GENERATED}")
    _check_keys(raw, _POLICY_REQUIRED, _POLICY_KEYS, source)
    pid = raw["id"]
    if not isinstance(pid, str) or not _ID_RE.match(pid):
        raise _fail(source, f"'id' must be lower-case letters, digits, underscores: {pid!r}")
    return raw, f"policy '{pid}' ({source})"


def _policy_rules(raw: Mapping[str, Any], where: str) -> tuple[Rule, ...]:
    """The policy's rules, each checked, with distinct ids."""
    rules_raw = raw["rules"]
    if not isinstance(rules_raw, list) or not rules_raw:
        raise _fail(where, "'rules' must be a non-empty list")
    rules = tuple(_parse_rule(r, i, where) for i, r in enumerate(rules_raw))
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise _fail(where, f"duplicate rule id '{r.id}'")
        seen.add(r.id)
    return rules


def _policy_drivers(raw: Mapping[str, Any], where: str) -> DriverDefaults | None:
    """The product's default risk drivers, or None when it names none."""
    if raw.get("risk_drivers") is None:
        return None
    try:
        return parse_driver_defaults(raw["risk_drivers"], where)
    except ModelInputError as exc:
        raise PolicyError(str(exc)) from None


def _policy_lgd(raw: Mapping[str, Any], where: str) -> float | None:
    """The product's loss given default [%], or None when it names none."""
    value = raw.get("lgd_pct")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(where, f"'lgd_pct' must be a number, got {value!r}")
    if not 0.0 <= value <= 100.0:
        raise _fail(where, f"'lgd_pct' must be from 0 to 100 %, got {value:g}")
    return float(value)


def parse_policy(raw: Any, source: str = "<policy>") -> Policy:
    """Validate a policy mapping (as read from YAML) and return it as a :class:`Policy`.

    Parameters
    ----------
    raw : mapping
        The parsed YAML document.
    source : str
        Where it came from, for error messages.

    Raises
    ------
    PolicyError
        With the policy source and, for a rule problem, the rule id in the message.
    """
    policy, where = _policy_where(raw, source)
    version = policy["version"]
    if isinstance(version, bool) or not isinstance(version, str | int | float):
        raise _fail(where, f"'version' must be a string or number, got {version!r}")
    name_en, name_zh = _bilingual(policy, "name", where)
    tech = policy["technology"]
    if tech not in ("wind", "solar"):
        raise _fail(where, f"'technology' must be 'wind' or 'solar', got {tech!r}")
    return Policy(
        id=policy["id"],
        version=str(version),
        name_en=name_en,
        name_zh=name_zh,
        technology=cast(Technology, tech),
        rules=_policy_rules(policy, where),
        risk_drivers=_policy_drivers(policy, where),
        lgd_pct=_policy_lgd(policy, where),
    )


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _fail(source, f"not valid YAML ({exc})") from None


@cache
def _packaged(policy_id: str) -> Policy:
    res = resources.files("models").joinpath("policies", f"{policy_id}.yaml")
    if not res.is_file():
        known = ", ".join(p for p in _packaged_ids()) or "none"
        raise PolicyError(f"unknown policy {policy_id!r}; packaged policies: {known}")
    source = f"models/policies/{policy_id}.yaml"
    policy = parse_policy(_read_yaml(res.read_text(encoding="utf-8"), source), source)
    if policy.id != policy_id:
        raise _fail(source, f"file name and 'id' differ ({policy.id!r})")
    return policy


def _packaged_ids() -> list[str]:
    folder = resources.files("models").joinpath("policies")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_policy(id_or_path: str | Path) -> Policy:
    """Load a packaged policy by id, or a policy file by path.

    Parameters
    ----------
    id_or_path : str or Path
        A packaged policy id (e.g. ``wind_changji_v1``) or the path of a YAML file (any string
        ending in ``.yaml``/``.yml`` or containing a path separator is read as a path).

    Raises
    ------
    PolicyError
        Unknown id, unreadable file, or invalid content (message names the rule).
    """
    text = str(id_or_path)
    if isinstance(id_or_path, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        path = Path(text)
        try:
            content = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from None
        return parse_policy(_read_yaml(content, str(path)), str(path))
    if not _ID_RE.match(text):
        raise PolicyError(f"{text!r} is neither a policy id nor a .yaml path")
    return _packaged(text)


_VERSION_RE = re.compile(r"^[0-9A-Za-z._-]+$")


@cache
def load_policy_version(policy_id: str, version: str) -> Policy:
    """A packaged policy at a given version: the current one, or an archived earlier one.

    Earlier versions of the packaged policies are kept in
    ``models/policies/archive/<id>@<version>.yaml`` so that a stored assessment can be
    replayed under the rules that made it.

    Raises
    ------
    PolicyError
        Unknown id, or no such version (the message lists the versions there are).
    """
    current = load_policy(policy_id)
    if current.version == str(version):
        return current
    if not _VERSION_RE.match(str(version)):
        raise PolicyError(f"{version!r} is not a policy version")
    folder = resources.files("models").joinpath("policies", "archive")
    res = folder.joinpath(f"{policy_id}@{version}.yaml")
    if not res.is_file():
        known = sorted(
            [current.version]
            + [
                p.name.removesuffix(".yaml").split("@", 1)[1]
                for p in folder.iterdir()
                if p.name.startswith(f"{policy_id}@") and p.name.endswith(".yaml")
            ]
        )
        raise PolicyError(
            f"policy {policy_id!r} has no version {version!r}; versions: {', '.join(known)}"
        )
    source = f"models/policies/archive/{policy_id}@{version}.yaml"
    policy = parse_policy(_read_yaml(res.read_text(encoding="utf-8"), source), source)
    if policy.id != policy_id or policy.version != str(version):
        raise _fail(source, f"file name and id/version differ ({policy.id!r} {policy.version!r})")
    return policy


def list_policies() -> tuple[Policy, ...]:
    """Every packaged policy, sorted by id."""
    return tuple(_packaged(pid) for pid in _packaged_ids())


def default_policy(technology: str) -> Policy:
    """Return the packaged default policy of ``technology`` (see :data:`DEFAULT_POLICY`)."""
    try:
        return load_policy(DEFAULT_POLICY[technology])
    except KeyError:
        raise PolicyError(
            f"no default policy for technology {technology!r}; known: {sorted(DEFAULT_POLICY)}"
        ) from None


# ------------------------------------------------------------------------------ evaluation

_MISSING = object()


def metric_value(assessment: Mapping[str, Any], path: str) -> float | None:
    """Read the metric at dotted ``path`` from an assessment object.

    A ``null`` anywhere along the path gives None (not enough data). A key that is absent is
    a bug in whoever built the object, not missing data, and raises ``KeyError``.

    Raises
    ------
    KeyError
        A key on the path is absent.
    PolicyError
        The value is not a number.
    """
    node: Any = assessment
    for i, key in enumerate(path.split(".")):
        if node is None:
            return None
        if not isinstance(node, Mapping):
            raise KeyError(f"{'.'.join(path.split('.')[:i])} is not an object in the assessment")
        node = node.get(key, _MISSING)
        if node is _MISSING:
            raise KeyError(f"the assessment has no metric {path!r} (missing key {key!r})")
    if node is None:
        return None
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise PolicyError(f"metric {path!r} is not a number: {node!r}")
    value = float(node)
    return value if math.isfinite(value) else None


def evaluate_rule(rule: Rule, value: float | None) -> RuleResult:
    """Evaluate one rule on one metric value.

    The value is compared exactly as reported in the assessment object (already rounded
    there), so the figure a person reads is the figure that was judged: 6.5 passes
    ``>= 6.5``, 6.49 does not.
    """
    if value is None:
        return RuleResult(
            rule=rule,
            value=None,
            passed=False,
            outcome="refer",
            reason=Reason(
                code=INSUFFICIENT_DATA,
                message=(
                    f"Not enough complete data to compute {rule.metric} (rule '{rule.id}' "
                    f"needs {rule.operator} {format_value(rule.metric, rule.threshold, 'en')}); "
                    "a credit officer must review the data sufficiency."
                ),
                message_zh=(
                    f"数据不足，无法计算指标 {rule.metric}（规则 '{rule.id}' 要求 "
                    f"{rule.operator} {format_value(rule.metric, rule.threshold, 'zh')}），"
                    "需人工复核数据充分性。"
                ),
                rule_id=rule.id,
            ),
        )
    passed = bool(OPERATORS[rule.operator](value, rule.threshold))
    if passed:
        return RuleResult(rule=rule, value=value, passed=True, outcome="approve", reason=None)
    en = format_pair(rule.metric, value, rule.threshold, "en")
    zh = format_pair(rule.metric, value, rule.threshold, "zh")
    return RuleResult(
        rule=rule,
        value=value,
        passed=False,
        outcome=rule.outcome,
        reason=Reason(
            code=rule.code,
            message=rule.reason_en.format(value=en[0], threshold=en[1]),
            message_zh=rule.reason_zh.format(value=zh[0], threshold=zh[1]),
            rule_id=rule.id,
        ),
    )


def evaluate(
    policy: Policy, assessment: Mapping[str, Any]
) -> tuple[Decision, tuple[Reason, ...], tuple[RuleResult, ...]]:
    """Apply every rule of ``policy`` to an assessment object.

    Parameters
    ----------
    policy : Policy
        The lending product.
    assessment : mapping
        The assessment object (service contract v1), or at least the parts the
        rules name; null metrics are allowed.

    Returns
    -------
    decision : {'approve', 'refer', 'decline'}
        The most severe outcome among the failed rules; ``approve`` when all pass.
    reasons : tuple of Reason
        One per failed rule, in rule order.
    rule_results : tuple of RuleResult
        One per rule, in rule order.

    Notes
    -----
    decision = argmax over failed rules of severity(outcome), with severity
    approve 0 < refer 1 < decline 2.
    """
    results = tuple(evaluate_rule(r, metric_value(assessment, r.metric)) for r in policy.rules)
    decision: Decision = "approve"
    for res in results:
        if SEVERITY[res.outcome] > SEVERITY[decision]:
            decision = res.outcome
    reasons = tuple(res.reason for res in results if res.reason is not None)
    return decision, reasons, results
