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
OPERATOR_TEXT = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}
