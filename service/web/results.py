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
    fmt_pct,
    fmt_time,
    lang,
    metric_label,
    require_login,
)
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


#: A wind trend with a Mann-Kendall p-value below this is reported as a falling (or rising)
#: series in the memo: 10 %, a lenient level because a trailing 3-year mean on a falling
#: series overstates the loan's years, and missing that costs more than a false alarm.
TREND_P_VALUE_NOTE = 0.10
_CASE_TEXT = {
    "p50": _l("P50 energy"),
    "p90_1y": _l("1-year P90 energy"),
    "p90_10y": _l("10-year P90 energy"),
    "p99_1y": _l("1-year P99 energy"),
}


_MCP_METHOD_TEXT = {
    "variance_ratio": _l("variance ratio"),
    "linear_regression": _l("linear regression"),
}


def _short_num(value: Any) -> str:
    """A height or count as written: no decimals when whole (80 m), else one (80.5 m)."""
    v = float(value)
    return fmt_num(v, 0 if v.is_integer() else 1)


def model_basis_text(ev: Mapping[str, Any], hub_height_m: float | None) -> str:
    """Where the energy-model uncertainty comes from, in the page's language.

    Made from the stored figures of ``energy.evidence`` (``sigma_parts``, ``mcp``, heights)
    by its ``method``, with the words :mod:`models.evidence` uses for ``model_basis``; the
    stored (English) text when the method is another or a figure is missing.
    """
    stored = str(ev.get("model_basis") or "")
    parts = ev.get("sigma_parts") or {}
    try:
        if ev.get("method") == "atlas_scaled":
            text = str(
                _(
                    "scaled to a wind-atlas mean: default %(sigma)s (Davis et al. 2023; Lee "
                    "and Fields 2021)",
                    sigma=fmt_pct(parts["atlas"], 1),
                )
            )
            if float(parts["vertical"]) > 0:
                text += str(
                    _(
                        ", with %(vertical)s of wind speed for moving the atlas mean from "
                        "%(height)s m to %(hub)s m (sensitivity %(g)s)",
                        vertical=fmt_pct(parts["vertical"], 1),
                        height=_short_num(ev["height_m"]),
                        hub=_short_num(hub_height_m),
                        g=fmt_num(parts["energy_sensitivity"], 2),
                    )
                )
            return text
        if ev.get("method") == "mcp":
            m = ev["mcp"]
            return str(
                _(
                    "on-site mast, MCP (%(method)s, %(n)s months, R² %(r2)s): wind speed "
                    "%(measurement)s measurement (IEC 61400-12-1), %(mcp)s MCP fit, "
                    "%(vertical)s vertical extrapolation, times energy sensitivity %(g)s; "
                    "%(plant)s power curve and losses (IEC 61400-15; Lee and Fields 2021)",
                    method=_MCP_METHOD_TEXT[str(m["method"])],
                    n=int(m["concurrent_months"]),
                    r2=fmt_num(m["r_squared"], 2),
                    measurement=fmt_pct(parts["measurement"], 1),
                    mcp=fmt_pct(parts["mcp"], 1),
                    vertical=fmt_pct(parts["vertical"], 1),
                    g=fmt_num(parts["energy_sensitivity"], 2),
                    plant=fmt_pct(parts["plant"], 1),
                )
            )
    except (KeyError, TypeError, ValueError):
        return stored
    return stored


def evidence_figures(
    energy: Mapping[str, Any], hub_height_m: float | None = None
) -> list[tuple[str, str]]:
    """Figures of ``energy.evidence`` (site evidence: atlas scaling or mast MCP), if any."""
    ev = energy.get("evidence") or {}
    if not ev:
        return []
    out: list[tuple[str, str]] = []
    unused = "" if ev.get("used", True) else " " + str(_("(not used: operating history)"))
    if ev.get("method") == "atlas_scaled":
        out.append(
            (
                str(_("Wind-atlas scaling")),
                str(
                    _(
                        "reanalysis wind × %(factor)s to %(mean)s m/s at %(height)s m (%(source)s)",
                        factor=fmt_num(ev.get("scale_factor"), 4),
                        mean=fmt_num(ev.get("corrected_mean_ms"), 2),
                        height=fmt_num(ev.get("height_m"), 0),
                        source=ev.get("source"),
                    )
                )
                + unused,
            )
        )
    elif ev.get("mcp"):
        m = ev["mcp"]
        method = _MCP_METHOD_TEXT.get(str(m.get("method")), m.get("method"))
        out.append(
            (
                str(_("On-site mast (MCP)")),
                str(
                    _(
                        "%(method)s on %(n)s months (%(start)s to %(end)s), R² %(r2)s: "
                        "long-term mean %(mean)s m/s at %(height)s m (reanalysis %(re)s m/s, "
                        "× %(factor)s)",
                        method=method,
                        n=m.get("concurrent_months"),
                        start=m.get("concurrent_start"),
                        end=m.get("concurrent_end"),
                        r2=fmt_num(m.get("r_squared"), 3),
                        mean=fmt_num(ev.get("corrected_mean_ms"), 2),
                        height=fmt_num(ev.get("height_m"), 0),
                        re=fmt_num(ev.get("reanalysis_mean_ms"), 2),
                        factor=fmt_num(ev.get("scale_factor"), 4),
                    )
                )
                + unused,
            )
        )
    if ev.get("model_basis"):
        out.append(
            (str(_("Basis of the energy-model uncertainty")), model_basis_text(ev, hub_height_m))
        )
    return out


def risk_figures(a: Mapping[str, Any]) -> dict[str, Any]:
    """Extra figures of the result page and memo: DSCR bases, sigma parts, sizing, wind trend.

    Returns ``extra_figures`` (label, text) pairs and ``climate_notes`` (sentences), read
    from the stored assessment object only (older objects without these fields show none).
    """
    rep = a.get("repayment") or {}
    energy = a.get("energy") or {}
    wind = (a.get("climate") or {}).get("wind") or {}
    figures: list[tuple[str, str]] = []
    for key in ("dscr_p90_1y_min", "dscr_p99_1y_min"):
        if rep.get(key) is not None:
            figures.append((metric_label(f"repayment.{key}"), f"{fmt_num(rep[key], 2)}×"))
    sizing = rep.get("sizing") or {}
    if sizing.get("binding_rule"):
        case = str(_CASE_TEXT.get(str(sizing.get("binding_case")), sizing.get("binding_case")))
        figures.append(
            (
                str(_("DSCR rule that limits the loan")),
                str(
                    _(
                        "%(rule)s: DSCR %(target)s× at %(case)s",
                        rule=sizing["binding_rule"],
                        target=fmt_num(sizing.get("binding_target"), 2),
                        case=case,
                    )
                ),
            )
        )
    sc = energy.get("sigma_components") or {}
    if sc.get("lt_mean") is not None:
        figures += [
            (
                str(_("Uncertainty: inter-annual variability (1 year)")),
                fmt_pct(sc.get("iav_1y"), 1),
            ),
            (
                str(
                    _(
                        "Uncertainty: long-term mean of %(n)s record years",
                        n=sc.get("n_record_years"),
                    )
                ),
                fmt_pct(sc.get("lt_mean"), 1),
            ),
            (str(_("Uncertainty: energy model")), fmt_pct(sc.get("model"), 1)),
            (
                str(_("Total uncertainty (1 year / 10 years)")),
                f"{fmt_pct(sc.get('total_1y'), 1)} / {fmt_pct(sc.get('total_10y'), 1)}",
            ),
        ]
    hub = (a.get("project") or {}).get("hub_height_m")
    figures += evidence_figures(energy, float(hub) if isinstance(hub, int | float) else None)
    ol = energy.get("operating_losses") or {}
    if ol:
        figures += [
            (
                str(_("Availability loss (operating history)")),
                fmt_pct(ol.get("availability_fraction"), 1),
            ),
            (
                str(_("Curtailment loss (operating history)")),
                fmt_pct(ol.get("curtailment_fraction"), 1),
            ),
            (
                str(_("Months dropped for high losses")),
                f"{ol.get('months_dropped_high_loss')} / {ol.get('months_input')}",
            ),
        ]
    notes: list[str] = []
    trend, p_value = wind.get("trend_pct_per_decade"), wind.get("trend_p_value")
    if trend is not None and p_value is not None:
        figures.append(
            (
                metric_label("climate.wind.trend_pct_per_decade"),
                str(
                    _(
                        "%(trend)s %% per decade (Mann–Kendall p = %(p)s)",
                        trend=fmt_num(trend, 1),
                        p=fmt_num(p_value, 2),
                    )
                ),
            )
        )
        if trend < 0 and p_value < TREND_P_VALUE_NOTE:
            notes.append(
                str(
                    _(
                        "Annual mean wind speed falls by %(trend)s %% per decade (Mann–Kendall "
                        "p = %(p)s): the trailing 3-year mean sits on a falling series and is "
                        "optimistic for the years of the loan.",
                        trend=fmt_num(-trend, 1),
                        p=fmt_num(p_value, 2),
                    )
                )
            )
    return {"extra_figures": figures, "climate_notes": notes}


@bp.route("/app/assessments/<assessment_id>")
def result(assessment_id: str) -> Any:
    """The stored result of one assessment."""
    record = load_record(assessment_id)
    return render_template("result.html", v=result_view(record))
