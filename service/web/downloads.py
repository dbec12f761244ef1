"""CSV and Excel downloads of one result and of the filtered history (:mod:`service.exports`)."""

from __future__ import annotations

from typing import Any

from flask import (
    Response,
    abort,
)

from service import assessments
from service.store import ApiKeyRecord, AssessmentRecord, StoreUnavailable
from service.web.common import (
    app_state,
    bp,
    require_login,
)
from service.web.history import HistoryFilter, history_filter, query_history
from service.web.results import load_record


def export_response(data: bytes, fmt: str, name: str) -> Response:
    """A CSV or Excel download named ``name.<fmt>``."""
    from service import exports

    mime = "text/csv; charset=utf-8" if fmt == "csv" else exports.XLSX_MIME
    return Response(
        data,
        mimetype=None,
        content_type=mime,
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def export_assessment(record: AssessmentRecord, fmt: str) -> Response:
    """One stored assessment as CSV or Excel (:mod:`service.exports`)."""
    from service import exports

    data = exports.assessment_file(
        record.response, "csv" if fmt == "csv" else "xlsx", site_name=record.site_name
    )
    return export_response(data, fmt, f"assessment-{record.id[:12]}")


def export_history_rows(store: Any, key: ApiKeyRecord, f: HistoryFilter) -> list[list[Any]]:
    """The rows of a history export, with key figures.

    The history page's query (same filters and scoping), all pages up to
    :data:`service.exports.MAX_HISTORY_ROWS`.

    Raises
    ------
    StoreUnavailable
        The database cannot be read.
    """
    from service import exports

    rows, _total = query_history(store, key, f, limit=exports.MAX_HISTORY_ROWS)
    responses = assessments.responses(store, key, [str(r["id"]) for r in rows])
    return [exports.history_row(r, responses.get(str(r["id"]), {})) for r in rows]


@bp.route("/app/assessments/<assessment_id>/export.<any(csv, xlsx):fmt>")
def export_result(assessment_id: str, fmt: str) -> Response:
    """One stored result as CSV or Excel."""
    return export_assessment(load_record(assessment_id), fmt)


@bp.route("/app/history/export.<any(csv, xlsx):fmt>")
def export_history(fmt: str) -> Response:
    """The history as CSV or Excel, with the filters of the history page (all pages)."""
    from service import exports

    key = require_login()
    try:
        rows = export_history_rows(app_state().store, key, history_filter())
    except StoreUnavailable:
        abort(503)
    return export_response(
        exports.history_file(rows, "csv" if fmt == "csv" else "xlsx"), fmt, "history"
    )
