"""The charts of the result page and memo, drawn as SVG on the server (:mod:`service.charts`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from climate_data.errors import SiteOutsideCoverage
from service import charts
from service.store import AssessmentRecord
from service.web.common import (
    TRAILING_METRIC,
    app_state,
    fmt_num,
    fmt_pct,
    fmt_pd,
    lang,
    metric_label,
)
from service.web.texts import (
    GRADE_TEXT,
)


def _covenant(a: Mapping[str, Any], metric: str) -> float | None:
    for r in a.get("rules", []):
        if r.get("metric") == metric and isinstance(r.get("threshold"), int | float):
            return float(r["threshold"])
    return None


def _chart_fmt(value: float, digits: int) -> str:
    return fmt_num(value, digits)


def _month_names() -> list[str]:
    if lang() == "zh":
        return [f"{m}月" for m in range(1, 13)]
    return ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def monthly_profile(
    record: AssessmentRecord, tech: str, hub_height_m: float | None
) -> tuple[list[float | None], str] | None:
    """Mean of each calendar month over the complete months of the site's cell.

    The stored assessment object has no monthly figures; they are read from the loaded cube
    only when it is the very dataset the assessment used (same sha256), so the chart shows
    the data behind the decision. Returns None otherwise (the page says why).
    """
    st = app_state()
    if st.cube.sha256 != record.dataset_sha256:
        return None
    try:
        site = st.cube.site(record.site_lat, record.site_lon)
    except SiteOutsideCoverage:
        return None
    months = np.asarray(site.months).astype("datetime64[M]").astype(np.int64) % 12
    ok = np.asarray(site.monthly_complete, dtype=bool)
    if tech == "solar" and site.monthly_sunshine_hours is not None:
        values = np.asarray(site.monthly_sunshine_hours, dtype=float)
        unit = "h"
    else:
        factor = site.height_factor(hub_height_m) if hub_height_m else 1.0
        values = np.asarray(site.monthly_wind_mean_ms, dtype=float) * factor
        unit = "m/s"
    out: list[float | None] = []
    for m in range(12):
        sel = ok & (months == m) & np.isfinite(values)
        out.append(float(values[sel].mean()) if sel.any() else None)
    return out, unit


def build_charts(a: Mapping[str, Any], record: AssessmentRecord, tech: str) -> list[dict[str, Any]]:
    """The result charts, each ``{key, chart, svg, note}``."""
    from models.risk import GRADE_PD_UPPER_BOUNDS

    out: list[dict[str, Any]] = []
    climate = a.get("climate") or {}
    energy = a.get("energy") or {}
    rep = a.get("repayment") or {}
    na = {"na": _("n/a")}

    def add(key: str, chart: charts.Chart | None, note: str = "") -> None:
        # S704: to_svg escapes every text it writes (title, description, labels, id); the rest
        # is numbers it formats and colours of charts.PALETTE (test_svg_escapes_every_text).
        svg = Markup(charts.to_svg(chart, element_id=f"chart-{key}")) if chart else None  # noqa: S704
        out.append(
            {
                "key": key,
                "chart": chart,
                "svg": svg,
                "note": note,
                "title": chart.title if chart else "",
            }
        )

    if tech == "wind" and isinstance(climate.get("wind"), Mapping):
        add(
            "wind",
            charts.wind_years_chart(
                climate,
                threshold=_covenant(a, TRAILING_METRIC),
                title=_("Yearly mean wind speed at hub height"),
                labels={
                    **na,
                    "annual": _("Annual mean"),
                    "below": _("Below threshold"),
                    "threshold": _("Threshold"),
                    "trailing": _("Trailing 3-year mean"),
                },
                fmt=_chart_fmt,
            ),
        )
    elif isinstance(climate.get("solar"), Mapping):
        solar = climate["solar"]
        add(
            "sunshine",
            charts.years_chart(
                solar.get("annual_sunshine_hours") or {},
                title=_("Yearly sunshine hours"),
                unit="h",
                labels={
                    **na,
                    "annual": _("Sunshine hours"),
                    "below": _("Below threshold"),
                    "threshold": _("Threshold"),
                },
                fmt=_chart_fmt,
                threshold=_covenant(a, "climate.solar.mean_sunshine_hours"),
                digits=0,
            ),
        )
    hub = (a.get("project") or {}).get("hub_height_m")
    profile = monthly_profile(record, tech, float(hub) if isinstance(hub, int | float) else None)
    if profile is not None:
        values, unit = profile
        add(
            "monthly",
            charts.monthly_chart(
                values,
                title=_("Monthly mean wind speed at hub height")
                if unit == "m/s"
                else _("Mean sunshine hours by month"),
                unit=unit,
                month_names=_month_names(),
                labels=na,
                fmt=_chart_fmt,
                digits=2 if unit == "m/s" else 0,
            ),
        )
    else:
        out.append(
            {
                "key": "monthly",
                "chart": None,
                "svg": None,
                "title": _("Monthly profile"),
                "note": _(
                    "The monthly profile is not shown: the service now uses another "
                    "dataset than this assessment did."
                ),
            }
        )
    add(
        "energy",
        charts.energy_chart(
            energy.get("annual_mwh") or {},
            p50=energy.get("p50_mwh"),
            p90=energy.get("p90_mwh"),
            p99=energy.get("p99_mwh"),
            title=_("Net energy per climate year"),
            labels={
                **na,
                "annual": _("Net energy"),
                "p50": "P50",
                "p90": _("P90 (1-year)"),
                "p99": _("P99 (1-year)"),
            },
            fmt=_chart_fmt,
        ),
    )
    by_year = rep.get("dscr_by_year") or []
    if by_year:
        fan = rep.get("dscr_fan_by_year")
        add(
            "dscr",
            charts.dscr_chart(
                by_year,
                covenant=_covenant(a, "repayment.dscr_p90_min"),
                fan=fan if isinstance(fan, list) and fan else None,
                title=_("Debt service coverage ratio by loan year"),
                labels={
                    "p50": _("P50 energy"),
                    "p90": _("10-year P90 energy"),
                    "fan": _("Monte Carlo 10–90 %"),
                    "band": _("Range P99 to P50"),
                    "covenant": _("Covenant"),
                },
                fmt=_chart_fmt,
            ),
            "" if fan else _("Shaded: the range between the one-year P99 and P50 cases."),
        )
    pd_annual = rep.get("pd_annual")
    add(
        "pd",
        charts.pd_chart(
            float(pd_annual) if isinstance(pd_annual, int | float) else None,
            bounds=GRADE_PD_UPPER_BOUNDS,
            grade_names={k: str(v) for k, v in GRADE_TEXT.items()},
            title=_("Annual probability of default and grade"),
            fmt_pct=fmt_pd,
        ),
    )
    sens = a.get("sensitivities")
    if isinstance(sens, Mapping) and sens.get("cases"):
        add(
            "sensitivity",
            charts.tornado_chart(
                sens["cases"],
                title=_("Stress cases: probability of default over the tenor"),
                labels={
                    **na,
                    **{k: str(v) for k, v in _SENSITIVITY_TEXT.items()},
                    "pd": metric_label("repayment.pd_tenor"),
                    "dscr": _("PD · min DSCR at 10-year P90"),
                    "base": _("Base case"),
                    "worse": _("Higher PD"),
                    "better": _("Lower PD"),
                },
                fmt_pct=fmt_pd,
                fmt=_chart_fmt,
            ),
            _break_even_note(sens, str(rep.get("currency") or "")),
        )
    return out


_SENSITIVITY_TEXT = {
    "sigma_model_minus_50": _l("Model uncertainty −50 %"),
    "sigma_model_plus_50": _l("Model uncertainty +50 %"),
    "curtailment_plus_5": _l("Curtailment +5 points"),
    "curtailment_plus_10": _l("Curtailment +10 points"),
    "tariff_minus_10": _l("Tariff −10 %"),
    "trend_minus_0_5": _l("Energy trend −0.5 %/year"),
    "dsra_0": _l("No debt service reserve"),
    "dsra_12": _l("Reserve of 12 months"),
}


def _break_even_note(sens: Mapping[str, Any], currency: str) -> str:
    """One sentence with the break-even tariff and P50 energy, or why there is none."""
    be = sens.get("break_even") or {}
    tariff, p50 = be.get("tariff_per_mwh"), be.get("p50_mwh")
    paths = _("Changes measured on the same %(n)s simulated paths (common random numbers).") % {
        "n": fmt_num(sens.get("n_stress_paths"), 0)
    }
    if not isinstance(tariff, int | float) or not isinstance(p50, int | float):
        # outside the f-string: babel's extractor does not look into f-strings before 3.12
        none = _("No break-even values: the policy has no DSCR rule.")
        return f"{paths} {none}"
    text = _(
        "Break-even (every DSCR rule still met): tariff %(tariff)s %(currency)s/MWh "
        "(headroom %(th)s), P50 energy %(p50)s MWh a year (headroom %(ph)s)."
    ) % {
        "tariff": fmt_num(tariff, 2),
        "currency": currency,
        "th": fmt_pct((be.get("tariff_headroom_pct") or 0.0) / 100.0, 1),
        "p50": fmt_num(p50, 0),
        "ph": fmt_pct((be.get("p50_headroom_pct") or 0.0) / 100.0, 1),
    }
    return f"{text} {paths}"
