"""The officer's past assessments (``/app/history``): filters, pages, key figures."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import (
    abort,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale

from service import assessments, formatting
from service.store import ApiKeyRecord, AssessmentRecord, StoreUnavailable
from service.web.common import (
    app_state,
    bp,
    fmt_pd,
    fmt_ratio,
    require_login,
)
from service.web.texts import (
    DECISION_ICON,
    DECISION_TEXT,
)

#: Page size of the history.
HISTORY_PAGE = 20
#: Highest history page number asked of the database (a larger one shows this page).
MAX_HISTORY_PAGE = 100_000


@dataclass(frozen=True)
class HistoryFilter:
    """Filters of the history page, parsed from the query string."""

    decision: str | None
    technology: str | None
    text: str
    date_from: date | None
    date_to: date | None
    page: int


def history_filter() -> HistoryFilter:
    """The history filters of this request's query string (bad values are dropped)."""
    args = request.args
    decision = args.get("decision") or None
    technology = args.get("technology") or None

    def day(name: str) -> date | None:
        try:
            d = date.fromisoformat(args.get(name, ""))
        except ValueError:
            return None
        return d if 1900 <= d.year <= 9998 else None  # 9999-12-31 + 1 day overflows

    try:
        page = min(max(1, int(args.get("page", "1"))), MAX_HISTORY_PAGE)
    except ValueError:
        page = 1
    return HistoryFilter(
        decision=decision if decision in ("approve", "refer", "decline") else None,
        technology=technology if technology in ("wind", "solar") else None,
        text="".join(c for c in args.get("q", "") if c.isprintable()).strip()[:100],
        date_from=day("from"),
        date_to=day("to"),
        page=page,
    )


def query_history(
    store: Any, key: ApiKeyRecord, f: HistoryFilter, limit: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """A page of the officer's own assessments (an admin sees all), newest first, and the count.

    Reads only the listing columns of the audit table, through :mod:`service.assessments`
    (which applies the scope); a row opens the stored response. With ``limit`` the first
    ``limit`` rows of every page (an export) instead of page ``f.page``.

    Raises
    ------
    StoreUnavailable
        The database cannot be read.
    """

    def bound(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=UTC)

    return assessments.search(
        store,
        key,
        decision=f.decision,
        technology=f.technology,
        text=f.text,
        created_from=bound(f.date_from) if f.date_from else None,
        created_to=bound(f.date_to + timedelta(days=1)) if f.date_to else None,
        limit=HISTORY_PAGE if limit is None else limit,
        offset=(f.page - 1) * HISTORY_PAGE if limit is None else 0,
    )


def history_figures(store: Any, key: ApiKeyRecord, assessment_id: str) -> dict[str, str]:
    """Key figures of one history row, formatted as on the result page (en dash if absent)."""
    record: AssessmentRecord | None
    try:
        record = assessments.get(store, key, assessment_id)
    except (StoreUnavailable, assessments.AssessmentNotFound):
        record = None
    a = record.response if record is not None else {}
    rep = a.get("repayment") or {}
    return {
        "dscr_p90_min": fmt_ratio(rep.get("dscr_p90_min")),
        "pd_annual": fmt_pd(rep.get("pd_annual")),
        "loan": formatting.money(
            rep.get("loan_amount"), str(rep.get("currency") or ""), get_locale()
        ),
    }


@bp.route("/app/history")
def history() -> Any:
    """The officer's past assessments; each opens its stored result."""
    key = require_login()
    f = history_filter()
    try:
        rows, total = query_history(app_state().store, key, f)
    except StoreUnavailable:
        abort(503)
    pages = max(1, math.ceil(total / HISTORY_PAGE))
    for r in rows:
        r["figures"] = history_figures(app_state().store, key, str(r["id"]))
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "history.html",
        rows=rows,
        total=total,
        f=f,
        page=f.page,
        pages=pages,
        prev_url=url_for("web.history", **args, page=f.page - 1) if f.page > 1 else None,
        next_url=url_for("web.history", **args, page=f.page + 1) if f.page < pages else None,
        decision_text={k: str(v) for k, v in DECISION_TEXT.items()},
        decision_icon=DECISION_ICON,
        export_urls={
            fmt: url_for("web.export_history", fmt=fmt, **args) for fmt in ("csv", "xlsx")
        },
    )
