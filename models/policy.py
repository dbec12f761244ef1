"""Lending policies: a lending product as a YAML rule set, and its evaluation.

A policy (lending product) is a list of rules. Each rule reads one *metric* of the assessment
object (a dotted path such as ``climate.wind.trailing_3y_mean_ms``), compares it with a
threshold, and names the outcome when the comparison fails: ``refer`` (a credit officer must
look at it) or ``decline``. The decision is the worst outcome among the failed rules
(``decline`` > ``refer`` > ``approve``).

Missing data is never a pass (STYLE.md §5): a metric that is ``null`` in the assessment (for
example a trailing 3-year mean when fewer than three complete years exist) fails its rule with
outcome ``refer`` and reason code :data:`INSUFFICIENT_DATA`, whatever outcome the rule names.

Every metric a rule may use is listed once in :data:`METRICS`, with its unit and meaning
(STYLE.md §4); a policy naming any other metric is rejected when it is loaded.

Policy file format (YAML, read with ``yaml.safe_load``)::

    id: wind_changji_v1          # lower-case letters, digits, underscores
    version: "1.0"
    name: {en: "...", zh: "..."}
    technology: wind             # wind | solar
    description: "..."           # optional
    rules:
      - id: trailing_3y_wind     # unique within the policy
        metric: climate.wind.trailing_3y_mean_ms
        operator: ">="           # >=, >, <=, <, ==  (the condition to PASS)
        threshold: 6.5
        outcome: decline         # on failure: refer | decline
        code: WIND_TRAILING_3Y_LOW
        reason:                  # shown on failure; {value}, {threshold}, {unit} are filled in
          en: "..."
          zh: "..."

The packaged products live in ``models/policies/*.yaml``; :data:`DEFAULT_POLICY` names the
default per technology.
"""

from __future__ import annotations

import math
import operator as _op
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from models.drivers import DriverDefaults, parse_driver_defaults

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
_REASON_FIELDS = frozenset({"value", "threshold", "unit"})
_POLICY_KEYS = frozenset(
    {"id", "version", "name", "technology", "description", "rules", "risk_drivers"}
)
_POLICY_REQUIRED = frozenset({"id", "version", "name", "technology", "rules"})
_RULE_KEYS = frozenset({"id", "metric", "operator", "threshold", "outcome", "code", "reason"})


class PolicyError(ValueError):
    """A policy file is missing, malformed, or names an unknown metric or operator."""


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
    """

    path: str
    unit: str
    description: str


_METRIC_ROWS: tuple[Metric, ...] = (
    Metric(
        "climate.complete_years",
        "count",
        "Number of complete climate years (coverage >= 95 % of hours) at the site's cell.",
    ),
    Metric(
        "climate.cell.distance_km",
        "km",
        "Great-circle distance from the site to the centre of the nearest data cell.",
    ),
    Metric(
        "climate.wind.trailing_3y_mean_ms",
        "m s-1",
        "Mean wind speed at hub height over the latest three complete years; null when fewer "
        "than three complete years exist (the Changji rule).",
    ),
    Metric(
        "climate.wind.trailing_3y_min_ms",
        "m s-1",
        "Lowest annual mean wind speed at hub height among the latest three complete years, so "
        "that '>= x' means each of those years reached x; null with fewer than three.",
    ),
    Metric(
        "climate.wind.long_term_mean_ms",
        "m s-1",
        "Mean wind speed at hub height over every complete year.",
    ),
    Metric(
        "climate.wind.iav",
        "1",
        "Inter-annual variability: sample standard deviation (ddof 1) of the complete years' "
        "annual mean wind speeds divided by their mean.",
    ),
    Metric(
        "climate.wind.monthly_cv",
        "1",
        "Coefficient of variation of the complete months' mean wind speeds.",
    ),
    Metric(
        "climate.solar.mean_sunshine_hours",
        "h",
        "Mean annual sunshine duration (WMO: direct normal irradiance >= 120 W m-2) over the "
        "complete years.",
    ),
    Metric(
        "climate.solar.trailing_3y_min_sunshine_hours",
        "h",
        "Lowest annual sunshine duration among the latest three complete years; null with "
        "fewer than three.",
    ),
    Metric(
        "climate.solar.mean_ghi_kwh_m2",
        "kWh m-2",
        "Mean annual global horizontal irradiation over the complete years.",
    ),
    Metric("energy.p50_mwh", "MWh", "Median (P50) net annual energy."),
    Metric("energy.p90_mwh", "MWh", "Net annual energy exceeded with 90 % probability, one year."),
    Metric("energy.p99_mwh", "MWh", "Net annual energy exceeded with 99 % probability, one year."),
    Metric(
        "energy.p90_10y_mwh",
        "MWh",
        "Net annual energy exceeded with 90 % probability as a ten-year average.",
    ),
    Metric("energy.sigma", "1", "Total relative uncertainty of one year's net energy."),
    Metric(
        "energy.capacity_factor_p50",
        "1",
        "P50 net energy divided by capacity times 8760 h.",
    ),
    Metric(
        "repayment.dscr_p50_min",
        "1",
        "Lowest debt service coverage ratio over the tenor with P50 energy every year.",
    ),
    Metric(
        "repayment.dscr_p90_min",
        "1",
        "Lowest debt service coverage ratio over the tenor with ten-year P90 energy every year.",
    ),
    Metric(
        "repayment.dscr_p99_min",
        "1",
        "Lowest debt service coverage ratio over the tenor with one-year P99 energy every year.",
    ),
    Metric(
        "repayment.llcr",
        "1",
        "Loan life coverage ratio at P50: NPV of CFADS over the tenor at the loan rate "
        "divided by the loan amount.",
    ),
    Metric(
        "repayment.pd_tenor",
        "1",
        "Monte Carlo probability of default over the whole tenor (fraction, not percent).",
    ),
    Metric(
        "repayment.pd_annual",
        "1",
        "Annualised probability of default (fraction, not percent; floor 0.0003).",
    ),
    Metric(
        "repayment.pd_scorecard",
        "1",
        "Lifetime probability of default from the production PD scorecard (a logit on a loan "
        "book, models.scorecard; fraction, not percent), beside the Monte Carlo pd_tenor; null "
        "when no scorecard was used or one of its features is unavailable.",
    ),
    Metric(
        "repayment.expected_loss",
        "currency",
        "Expected loss PD x LGD x EAD, in the loan currency.",
    ),
)

#: The metric nomenclature: every path a policy rule may name, with unit and meaning.
METRICS: Mapping[str, Metric] = {m.path: m for m in _METRIC_ROWS}


@dataclass(frozen=True)
class Rule:
    """One lending rule: pass when ``value <operator> threshold``.

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
    reason_en, reason_zh : str
        Reason shown when the rule fails, in English and Chinese; may contain ``{value}``,
        ``{threshold}`` and ``{unit}``.
    """

    id: str
    metric: str
    operator: str
    threshold: float
    outcome: Outcome
    code: str
    reason_en: str
    reason_zh: str

    @property
    def unit(self) -> str:
        """Unit of the metric."""
        return METRICS[self.metric].unit

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
            "reason": {"en": self.reason_en, "zh": self.reason_zh},
        }


@dataclass(frozen=True)
class Policy:
    """A lending product: an identified, versioned set of rules for one technology."""

    id: str
    version: str
    name_en: str
    name_zh: str
    technology: Technology
    rules: tuple[Rule, ...]
    description: str = ""
    #: Product defaults of the non-weather risk drivers and their sources (``risk_drivers``
    #: block of the YAML, :func:`models.drivers.parse_driver_defaults`); None for none.
    risk_drivers: DriverDefaults | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description of the policy."""
        return {
            "id": self.id,
            "version": self.version,
            "name": {"en": self.name_en, "zh": self.name_zh},
            "technology": self.technology,
            "description": self.description,
            "rules": [r.to_dict() for r in self.rules],
            **(
                {"risk_drivers": self.risk_drivers.to_policy_dict()}
                if self.risk_drivers is not None
                else {}
            ),
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


def _check_template(text: str, where: str) -> None:
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise _fail(where, f"reason text is not a valid template ({exc})") from None
    unknown = fields - _REASON_FIELDS
    if unknown:
        raise _fail(
            where,
            f"reason uses unknown placeholder(s) {sorted(unknown)}; allowed: "
            f"{sorted(_REASON_FIELDS)}",
        )


def _parse_rule(raw: Any, index: int, policy_where: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise _fail(f"{policy_where} rule #{index + 1}", "each rule must be a mapping")
    rid = raw.get("id")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise _fail(
            f"{policy_where} rule #{index + 1}",
            f"'id' must be lower-case letters, digits and underscores, got {rid!r}",
        )
    where = f"{policy_where} rule '{rid}'"
    missing = sorted(_RULE_KEYS - set(raw))
    if missing:
        raise _fail(where, f"missing field(s) {missing}")
    extra = sorted(set(raw) - _RULE_KEYS)
    if extra:
        raise _fail(where, f"unknown field(s) {extra}; allowed: {sorted(_RULE_KEYS)}")
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
    outcome = raw["outcome"]
    if outcome not in ("refer", "decline"):
        raise _fail(where, f"'outcome' must be 'refer' or 'decline', got {outcome!r}")
    code = raw["code"]
    if not isinstance(code, str) or not _CODE_RE.match(code):
        raise _fail(where, f"'code' must be upper-case letters, digits, underscores: {code!r}")
    if code == INSUFFICIENT_DATA:
        raise _fail(where, f"code {INSUFFICIENT_DATA} is reserved for missing data")
    en, zh = _bilingual(raw, "reason", where)
    _check_template(en, where)
    _check_template(zh, where)
    return Rule(
        id=rid,
        metric=metric,
        operator=oper,
        threshold=float(thr),
        outcome=cast(Outcome, outcome),
        code=code,
        reason_en=en,
        reason_zh=zh,
    )


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
    if not isinstance(raw, Mapping):
        raise _fail(source, "a policy must be a YAML mapping at the top level")
    missing = sorted(_POLICY_REQUIRED - set(raw))
    if missing:
        raise _fail(source, f"missing field(s) {missing}")
    extra = sorted(set(raw) - _POLICY_KEYS)
    if extra:
        raise _fail(source, f"unknown field(s) {extra}; allowed: {sorted(_POLICY_KEYS)}")
    pid = raw["id"]
    if not isinstance(pid, str) or not _ID_RE.match(pid):
        raise _fail(source, f"'id' must be lower-case letters, digits, underscores: {pid!r}")
    where = f"policy '{pid}' ({source})"
    version = raw["version"]
    if isinstance(version, bool) or not isinstance(version, str | int | float):
        raise _fail(where, f"'version' must be a string or number, got {version!r}")
    name_en, name_zh = _bilingual(raw, "name", where)
    tech = raw["technology"]
    if tech not in ("wind", "solar"):
        raise _fail(where, f"'technology' must be 'wind' or 'solar', got {tech!r}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise _fail(where, "'description' must be a string")
    rules_raw = raw["rules"]
    if not isinstance(rules_raw, list) or not rules_raw:
        raise _fail(where, "'rules' must be a non-empty list")
    rules = tuple(_parse_rule(r, i, where) for i, r in enumerate(rules_raw))
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise _fail(where, f"duplicate rule id '{r.id}'")
        seen.add(r.id)
    risk_drivers = None
    if raw.get("risk_drivers") is not None:
        try:
            risk_drivers = parse_driver_defaults(raw["risk_drivers"], where)
        except ValueError as exc:
            raise PolicyError(str(exc)) from None
    return Policy(
        id=pid,
        version=str(version),
        name_en=name_en,
        name_zh=name_zh,
        technology=cast(Technology, tech),
        rules=rules,
        description=description.strip(),
        risk_drivers=risk_drivers,
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


def _fmt(x: float) -> str:
    return f"{x:g}"


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
                    f"needs {rule.operator} {_fmt(rule.threshold)} {rule.unit}); a credit "
                    "officer must review the data sufficiency."
                ),
                message_zh=(
                    f"数据不足，无法计算指标 {rule.metric}（规则 '{rule.id}' 要求 "
                    f"{rule.operator} {_fmt(rule.threshold)} {rule.unit}），需人工复核数据充分性。"
                ),
                rule_id=rule.id,
            ),
        )
    passed = bool(OPERATORS[rule.operator](value, rule.threshold))
    if passed:
        return RuleResult(rule=rule, value=value, passed=True, outcome="approve", reason=None)
    fields = {"value": _fmt(value), "threshold": _fmt(rule.threshold), "unit": rule.unit}
    return RuleResult(
        rule=rule,
        value=value,
        passed=False,
        outcome=rule.outcome,
        reason=Reason(
            code=rule.code,
            message=rule.reason_en.format(**fields),
            message_zh=rule.reason_zh.format(**fields),
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
        The assessment object (DESIGN.md, service contract v1), or at least the parts the
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
