"""Translatable labels shared by the result page, the memo, the history and the charts."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

DECISION_TEXT = {
    "approve": _l("Approve"),
    "refer": _l("Refer to credit committee"),
    "decline": _l("Decline"),
}
REPAYMENT_TEXT = {
    "annuity": _l("Annuity (level payments)"),
    "equal_principal": _l("Equal principal"),
    "sculpted": _l("Sculpted to the P50 cash flow"),
}
DECISION_ICON = {"approve": "✔", "refer": "⚠", "decline": "✘"}
OUTCOME_TEXT = {"approve": _l("pass"), "refer": _l("refer"), "decline": _l("decline")}
GRADE_TEXT = {
    "Strong": _l("Strong"),
    "Good": _l("Good"),
    "Satisfactory": _l("Satisfactory"),
    "Weak": _l("Weak"),
}
METRIC_TEXT = {
    "climate.complete_years": _l("Complete climate years"),
    "climate.cell.distance_km": _l("Distance to the data cell"),
    "climate.wind.trailing_3y_mean_ms": _l("Mean wind speed, latest 3 complete years"),
    "climate.wind.trailing_3y_min_ms": _l("Lowest annual wind speed, latest 3 years"),
    "climate.wind.long_term_mean_ms": _l("Long-term mean wind speed"),
    "climate.wind.iav": _l("Inter-annual variability of wind speed"),
    "climate.wind.monthly_cv": _l("Month-to-month variability of wind speed"),
    "climate.solar.mean_sunshine_hours": _l("Mean annual sunshine hours"),
    "climate.solar.trailing_3y_min_sunshine_hours": _l(
        "Lowest annual sunshine hours, latest 3 years"
    ),
    "climate.solar.mean_ghi_kwh_m2": _l("Mean annual global irradiation"),
    "energy.p50_mwh": _l("P50 annual energy"),
    "energy.p90_mwh": _l("P90 annual energy (1 year)"),
    "energy.p99_mwh": _l("P99 annual energy (1 year)"),
    "energy.p90_10y_mwh": _l("P90 annual energy (10-year average)"),
    "energy.sigma": _l("Energy uncertainty (1 year)"),
    "energy.capacity_factor_p50": _l("P50 capacity factor"),
    "repayment.dscr_p50_min": _l("Minimum DSCR at P50 energy"),
    "repayment.dscr_p90_min": _l("Minimum DSCR at 10-year P90 energy"),
    "repayment.dscr_p99_min": _l("Minimum DSCR at 1-year P99 energy"),
    "repayment.dscr_p90_1y_min": _l("Minimum DSCR at 1-year P90 energy"),
    "repayment.dscr_p90_10y_min": _l("Minimum DSCR at 10-year P90 energy"),
    "repayment.dscr_p99_1y_min": _l("Minimum DSCR at 1-year P99 energy"),
    "climate.wind.trend_pct_per_decade": _l("Trend of annual mean wind speed"),
    "climate.wind.trend_p_value": _l("p-value of the wind-speed trend"),
    "repayment.llcr": _l("Loan life coverage ratio"),
    "repayment.pd_tenor": _l("Probability of default over the tenor"),
    "repayment.pd_annual": _l("Annual probability of default"),
    "repayment.expected_loss": _l("Expected loss (1 year)"),
    "repayment.pd_scorecard": _l("Probability of default from the scorecard"),
}
PCT_METRICS = frozenset(
    {
        "climate.wind.iav",
        "climate.wind.monthly_cv",
        "energy.sigma",
        "energy.capacity_factor_p50",
        "repayment.pd_tenor",
        "repayment.pd_annual",
    }
)
OPERATOR_TEXT = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}
