"""Extra figures of the result page and memo, read from the stored assessment.

DSCR bases, the loan-sizing rule, the parts of the energy uncertainty, the site evidence
(atlas scaling or mast MCP) with the basis of the model uncertainty in the page's language,
and the wind trend with its note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from service.web.common import fmt_num, fmt_pct, metric_label

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
