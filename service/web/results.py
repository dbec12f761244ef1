"""The result page of a stored assessment (``/app/assessments/<id>``).

:func:`result_view` is what the result page, the memo and the PDF show, read from the stored
response only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import (
    abort,
    render_template,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from service import assessments, formatting
from service.store import AssessmentRecord, StoreUnavailable
from service.web.common import (
    app_state,
    bp,
    fmt_num,
    fmt_time,
    lang,
    metric_label,
    require_login,
)
from service.web.figures import risk_figures
from service.web.forms import DRIVER_INPUTS, driver_value
from service.web.result_charts import build_charts
from service.web.texts import (
    DECISION_ICON,
    DECISION_TEXT,
    GRADE_TEXT,
    OPERATOR_TEXT,
    OUTCOME_TEXT,
    REPAYMENT_TEXT,
)


def load_record(assessment_id: str) -> AssessmentRecord:
    """The stored record, if the signed-in officer may see it (own, or an admin key)."""
    key = require_login()
    try:
        return assessments.get(app_state().store, key, assessment_id)
    except assessments.AssessmentNotFound:
        abort(404)
    except StoreUnavailable:
        abort(503)


def format_metric(metric: str, unit: str, value: float | None, currency: str = "") -> str:
    """A rule value or threshold with its unit, for the page's locale (:mod:`formatting`)."""
    if value is None:
        return str(_("not available"))
    return formatting.metric_value(metric, unit, value, currency, get_locale())


def result_view(record: AssessmentRecord) -> dict[str, Any]:
    """Everything the result page and the memo show, from the stored response only."""
    a = record.response
    req = record.request
    zh = lang() == "zh"
    rep = a.get("repayment") or {}
    energy = a.get("energy") or {}
    climate = a.get("climate") or {}
    prov = a.get("provenance") or {}
    currency = str(rep.get("currency") or req.get("finance", {}).get("currency", ""))
    reasons = [
        {
            "code": r.get("code", ""),
            "text": (r.get("message_zh") if zh else None) or r.get("message", ""),
        }
        for r in a.get("reasons", [])
    ]
    rules = []
    for r in a.get("rules", []):
        metric = str(r.get("metric", ""))
        passed = bool(r.get("passed"))
        outcome = str(r.get("outcome", "approve"))
        rules.append(
            {
                "id": r.get("id"),
                "label": metric_label(metric),
                "metric": metric,
                "value": format_metric(metric, str(r.get("unit", "")), r.get("value"), currency),
                "threshold": f"{OPERATOR_TEXT.get(str(r.get('operator')), r.get('operator'))} "
                + format_metric(metric, str(r.get("unit", "")), r.get("threshold"), currency),
                "passed": passed,
                "outcome": outcome,
                "outcome_text": str(_("pass") if passed else OUTCOME_TEXT.get(outcome, outcome)),
                "icon": "✔" if passed else ("✘" if outcome == "decline" else "⚠"),
            }
        )
    decision = str(a.get("decision", "refer"))
    policy = app_state().policies.get(str(prov.get("policy_id", "")))
    policy_name = (
        (policy.name_zh if zh else policy.name_en)
        if policy is not None
        else str(prov.get("policy_id", ""))
    )
    tech = str((a.get("project") or {}).get("technology") or record.technology)
    return {
        "record": record,
        "a": a,
        "req": req,
        "id": record.id,
        "site_name": record.site_name or "",
        "decision": decision,
        "decision_text": str(DECISION_TEXT.get(decision, decision)),
        "decision_icon": DECISION_ICON.get(decision, "?"),
        "reasons": reasons,
        "rules": rules,
        "currency": currency,
        "technology": tech,
        "policy_name": policy_name,
        "grade": rep.get("grade"),
        "grade_text": str(GRADE_TEXT.get(str(rep.get("grade")), rep.get("grade") or "–")),
        "energy": energy,
        "repayment": rep,
        "climate": climate,
        "provenance": prov,
        "charts": build_charts(a, record, tech),
        "drivers": drivers_view(a, req, tech),
        "created_text": fmt_time(prov.get("created_at")),
        "repayment_text": str(
            REPAYMENT_TEXT.get(str(rep.get("repayment")), rep.get("repayment") or "–")
        ),
        **result_extras(record, a),
        **risk_figures(a),
    }


def drivers_view(a: Mapping[str, Any], req: Mapping[str, Any], tech: str) -> list[dict[str, str]]:
    """The risk drivers an assessment used: label, value and its source, one row per driver.

    The value is the stored ``risk_drivers``; the source is ``request`` when the stored request
    gave the field, else the lending product's default (its source text as ``source_title``),
    else none (zero). Empty for an assessment stored without drivers.
    """
    used = a.get("risk_drivers")
    if not isinstance(used, Mapping):
        return []
    sources = used.get("sources") or {}
    policy = app_state().policies.get(str((a.get("provenance") or {}).get("policy_id", "")))
    has_defaults = policy is not None and policy.risk_drivers is not None
    words = {
        "request": _("Request"),
        "policy": _("Lending product default"),
        "none": _("None (zero)"),
    }
    rows = []
    for d in DRIVER_INPUTS:
        if d.wind_only and tech != "wind":
            continue
        value = driver_value(used, d.attr)
        given: Any = req
        for part in d.request:
            given = given.get(part) if isinstance(given, Mapping) else None
        text = str(sources.get(d.source, ""))
        if given is not None:
            kind = "request"
        elif text.startswith("policy") or (text == "request" and has_defaults):
            kind = "policy"
        else:
            kind = "none"
        digits = 0 if value is None or value.is_integer() else 2
        rows.append(
            {
                "field": d.field,
                "label": str(d.label),
                "value": fmt_num(value, digits),
                "source": kind,
                "source_text": str(words[kind]),
                "source_title": text if kind == "policy" else "",
            }
        )
    return rows


def result_extras(record: AssessmentRecord, a: Mapping[str, Any]) -> dict[str, Any]:
    """What the result page and the memo show beyond the figures.

    The scorecard PD and which PD the product uses, the synthetic-data flag and the officer
    who made the assessment (the holder of its API key).
    """
    climate = a.get("climate") or {}
    prov = a.get("provenance") or {}
    dataset = climate.get("dataset") or {}
    officer_name = ""
    try:
        key = app_state().store.get_key(record.api_key_id)
    except StoreUnavailable:
        key = None
    if key is not None:
        officer_name = key.name
    return {
        "scorecard": scorecard_view(a),
        "synthetic": bool(dataset.get("synthetic") or prov.get("synthetic")),
        "officer_name": officer_name,
        "officer_key_id": record.api_key_id,
        "lang": lang(),
    }


#: Why a scorecard feature can be unavailable (``repayment.scorecard.features`` is null).
_SCORECARD_MISSING = {
    "leverage": _l(
        "no total project cost was given, so the leverage (loan ÷ project cost) is unknown"
    ),
    "sunshine_hours": _l("the climate data has no complete year of sunshine duration here"),
    "trailing_wind_mean_ms": _l("the site has fewer than three complete climate years"),
    "wind_iav": _l("the site has fewer than two complete climate years"),
    "dscr_p90": _l("there is no P90 DSCR (too few usable climate years)"),
    "tenor_years": _l("the loan has no tenor"),
}
#: Rule metrics that use the Monte Carlo PD, and the scorecard PD.
_MC_PD_METRICS = frozenset({"repayment.pd_annual", "repayment.pd_tenor"})
_SC_PD_METRIC = "repayment.pd_scorecard"


def scorecard_view(a: Mapping[str, Any]) -> dict[str, Any]:
    """The scorecard PD of a stored assessment for the page.

    Its value, why it is missing, and which PD the lending product's rules use.

    ``policy_uses`` is ``"monte_carlo"``, ``"scorecard"``, ``"both"`` or ``"none"``, read
    from the metrics of the stored rules (``repayment.pd_annual``/``pd_tenor`` versus
    ``repayment.pd_scorecard``); ``policy_text`` says it in words.
    """
    rep = a.get("repayment") or {}
    sc = rep.get("scorecard")
    metrics = {str(r.get("metric", "")) for r in a.get("rules", [])}
    mc, scr = bool(metrics & _MC_PD_METRICS), _SC_PD_METRIC in metrics
    uses = "both" if mc and scr else "monte_carlo" if mc else "scorecard" if scr else "none"
    texts = {
        "both": _("The lending product's rules use both the Monte Carlo PD and the scorecard PD."),
        "monte_carlo": _(
            "The lending product's rules use the Monte Carlo PD; the scorecard PD is shown "
            "for information."
        ),
        "scorecard": _(
            "The lending product's rules use the scorecard PD; the Monte Carlo PD is shown "
            "for information."
        ),
        "none": _("The lending product has no PD rule; both PDs are shown for information."),
    }
    missing: list[str] = []
    notes: list[str] = []
    if isinstance(sc, Mapping):
        for name, value in (sc.get("features") or {}).items():
            if value is None:
                missing.append(str(_SCORECARD_MISSING.get(name, name)))
        notes = [str(n) for n in sc.get("notes") or []]
    pd_sc = rep.get("pd_scorecard")
    return {
        "present": isinstance(sc, Mapping),
        "card": sc.get("card") if isinstance(sc, Mapping) else None,
        "synthetic": bool(sc.get("synthetic")) if isinstance(sc, Mapping) else False,
        "pd": pd_sc,
        "grade_text": str(GRADE_TEXT.get(str(rep.get("scorecard_grade")), "–"))
        if rep.get("scorecard_grade")
        else "–",
        "missing": missing if pd_sc is None else [],
        "notes": notes,
        "both": pd_sc is not None and rep.get("pd_annual") is not None,
        "policy_uses": uses,
        "policy_text": texts[uses],
    }


@bp.route("/app/assessments/<assessment_id>")
def result(assessment_id: str) -> Any:
    """The stored result of one assessment."""
    record = load_record(assessment_id)
    return render_template("result.html", v=result_view(record))
