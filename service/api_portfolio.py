"""``/api/v1/portfolio-runs``: a loan book assessed and simulated by the portfolio worker.

``POST`` takes the book as JSON (``{"loans": [{"loan_id": ..., "site.lat": ..., ...}],
"paths": N, "seed": S, "npl_tolerance_pct": T}``; the row objects have the dotted columns of
a book file, :mod:`service.portfolio`) or as a ``multipart/form-data`` upload (field ``book``:
a ``.csv`` or ``.parquet`` file; fields ``paths``, ``seed``, ``npl_tolerance_pct``
optional). The whole book is validated here, against the service's cube too; a bad book is
422 with one entry in ``errors`` per bad cell (``field`` "row N, column C", ``pointer``
``/loans/<N-1>/<column>``). A clean book is stored as a run and answered ``202`` with its URL;
``GET`` on that URL gives the status (``queued``, ``running``, ``done``, ``failed``), the
progress and, when done, the result (:mod:`service.portfolio_runs`); ``export.csv`` (one row
per loan) and ``export.xlsx`` (loans, portfolio figures, NPL by year, concentration) download
a finished run. The computation runs in ``climate-loan portfolio worker``, never in a web
worker.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from flask import Response, g, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service import exports, portfolio_runs
from service.api import (
    API_PREFIX,
    _json_body,
    endpoint,
    json_response,
    state,
    store_problem,
)
from service.errors import UsageError
from service.portfolio import (
    LOAN_TABLE_COLUMNS,
    MAX_LOANS,
    BookError,
    book_records,
    check_coverage,
    parse_book,
    result_sheets,
)
from service.problems import Problem, validation_problem
from service.requests import MAX_SEED
from service.store import StoreUnavailable

RUNS = "/portfolio-runs"


class PortfolioOptions(BaseModel):
    """Options of a run (JSON body fields besides ``loans``, or form fields)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    paths: int | None = Field(
        default=None, ge=2, le=1_000_000, description="Monte Carlo paths (default: the service's)."
    )
    seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED, description="Run seed (default: drawn and recorded)."
    )
    npl_tolerance_pct: float = Field(
        default=3.0, ge=0.0, lt=100.0, description="The bank's NPL-ratio tolerance [%]."
    )


class PortfolioRunAccepted(BaseModel):
    """A run accepted for the worker."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: str
    url: str


class PortfolioRunOut(BaseModel):
    """A run's status, progress and (when done) result."""

    model_config = ConfigDict(extra="allow")

    id: str
    status: str = Field(description="queued, running, done or failed.")
    progress: dict[str, int]
    result: dict[str, Any] | None = None


def _book_problem(exc: BookError) -> Problem:
    errors = [
        {
            "field": "header" if p.row == 0 else f"row {p.row}, column {p.column}",
            "pointer": f"/loans/{p.row - 1}/{p.column}" if p.row else f"/columns/{p.column}",
            "message": p.message,
            "type": "value_error",
        }
        for p in exc.problems
    ]
    return Problem(422, str(exc), errors=errors)


def _from_json() -> tuple[list[str], list[dict[str, Any]], PortfolioOptions]:
    body = _json_body()
    if not isinstance(body, dict) or not isinstance(body.get("loans"), list):
        raise Problem(
            422,
            'loans: send the book as {"loans": [{...one object per loan...}]}',
            errors=[
                {
                    "field": "loans",
                    "pointer": "/loans",
                    "message": "a list of row objects is required",
                    "type": "missing",
                }
            ],
        )
    loans = body["loans"]
    if len(loans) > MAX_LOANS:
        raise Problem(422, f"loans: more than {MAX_LOANS:,} loans in one book")
    columns: list[str] = []
    for i, row in enumerate(loans):
        if not isinstance(row, dict):
            raise Problem(422, f"loans: row {i + 1} is not an object of column: value")
        for key in row:
            if key not in columns:
                columns.append(key)
    try:
        options = PortfolioOptions.model_validate({k: v for k, v in body.items() if k != "loans"})
    except ValidationError as exc:
        raise validation_problem(exc) from None
    return columns, loans, options


def _from_upload() -> tuple[list[str], list[dict[str, Any]], PortfolioOptions]:
    upload = request.files.get("book")
    if upload is None or not upload.filename:
        raise Problem(
            422,
            "book: upload the loan book as the form field 'book' (a .csv or .parquet file)",
            errors=[
                {"field": "book", "pointer": "/book", "message": "file missing", "type": "missing"}
            ],
        )
    name = PurePosixPath(upload.filename.replace("\\", "/")).name
    try:
        columns, records = book_records(upload.read(), PurePosixPath(name).suffix, name)
    except BookError as exc:
        raise _book_problem(exc) from None
    except UsageError as exc:
        raise Problem(422, str(exc)) from None
    raw: dict[str, Any] = {}
    for key, value in request.form.items():
        text = value.strip()
        if key in ("paths", "seed"):
            raw[key] = int(text) if text.isdigit() else text
        elif key == "npl_tolerance_pct":
            try:
                raw[key] = float(text)
            except ValueError:
                raw[key] = text
        else:
            raw[key] = text
    try:
        options = PortfolioOptions.model_validate(raw)
    except ValidationError as exc:
        raise validation_problem(exc) from None
    return columns, records, options


@endpoint(
    "POST",
    RUNS,
    summary="Queue a loan book: every loan assessed and the book simulated with shared years",
    description=(
        'Body: JSON `{"loans": [{"loan_id": "L1", "site.lat": 44.0, ...}], "paths": '
        '10000, "seed": 1, "npl_tolerance_pct": 3}` (row objects with the dotted columns of '
        "a loan-book file), or `multipart/form-data` with the file field `book` (.csv or "
        ".parquet) and optional fields `paths`, `seed`, `npl_tolerance_pct`. The book is "
        "validated in full first (422 lists every bad cell by row and column). Answers 202 "
        "with the run's URL; the portfolio worker computes it."
    ),
    tag="portfolio",
    responses={202: (PortfolioRunAccepted, "Run stored and queued")},
    extra_errors=(415,),
)
def create_portfolio_run() -> Response:
    """Validate the book, store the run, queue it (202)."""
    st = state()
    mimetype = request.mimetype or ""
    if mimetype == "multipart/form-data":
        columns, records, options = _from_upload()
    elif mimetype == "application/json" or mimetype.endswith("+json"):
        columns, records, options = _from_json()
    else:
        raise Problem(
            415,
            "send the book as application/json or as multipart/form-data with the file field "
            f"'book' (Content-Type was {mimetype or 'none'})",
        )
    try:
        book = parse_book(records, columns, "(request)")
        check_coverage(book, st.cube)
    except BookError as exc:
        raise _book_problem(exc) from None
    paths = options.paths or st.config.mc_paths or 10_000
    seed = options.seed if options.seed is not None else portfolio_runs.draw_seed()
    try:
        run = portfolio_runs.create_run(
            st.store,
            g.api_key,
            columns=columns,
            records=records,
            book=book,
            n_paths=paths,
            seed=seed,
            npl_tolerance_pct=options.npl_tolerance_pct,
            dataset_sha256=st.cube.dataset.sha256,
            request_id=g.get("request_id", ""),
        )
    except StoreUnavailable as exc:
        raise store_problem(exc) from None
    url = f"{API_PREFIX}{RUNS}/{run.id}"
    return json_response(
        {"id": run.id, "status": "queued", "url": url, "loans": run.n_loans},
        202,
        {"Location": url},
    )


@endpoint(
    "GET",
    RUNS + "/<run_id>",
    summary="A portfolio run: status, progress and, when done, the results",
    tag="portfolio",
    responses={200: (PortfolioRunOut, "The run")},
    path_params={"run_id": "Run id (from the 202 of POST /portfolio-runs)."},
)
def get_portfolio_run(run_id: str) -> Response:
    """Status, progress and results of a run of the caller (an admin: of any key)."""
    return json_response(_run_body(run_id))


def _run_body(run_id: str) -> dict[str, Any]:
    """:func:`service.portfolio_runs.get_run` for the caller; 404 or 503 as problems."""
    try:
        return portfolio_runs.get_run(state().store, g.api_key, run_id)
    except portfolio_runs.RunNotFound as exc:
        raise Problem(404, str(exc)) from None
    except StoreUnavailable as exc:
        raise store_problem(exc) from None


def _done_result(run_id: str) -> dict[str, Any]:
    body = _run_body(run_id)
    if body["status"] != "done":
        raise Problem(409, f"portfolio run {body['id']} is {body['status']}: it has no results yet")
    result: dict[str, Any] = body["result"]
    return result


def _download(data: bytes, content_type: str, name: str) -> Response:
    return Response(
        data,
        mimetype=None,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@endpoint(
    "GET",
    RUNS + "/<run_id>/export.csv",
    summary="A finished portfolio run's loan-level table as CSV",
    tag="portfolio",
    path_params={"run_id": "Run id"},
    responses={200: (None, "CSV file (text/csv, UTF-8 with BOM), one row per loan")},
    media_type="text/csv",
    extra_errors=(409,),
)
def export_portfolio_run_csv(run_id: str) -> Response:
    """One row per loan: its assessment's figures and its portfolio figures."""
    result = _done_result(run_id)
    rows = [[r.get(c) for c in LOAN_TABLE_COLUMNS] for r in result["loans"]]
    data = exports.to_csv(LOAN_TABLE_COLUMNS, rows)
    return _download(data, "text/csv; charset=utf-8", f"portfolio-{run_id[:12]}.csv")


@endpoint(
    "GET",
    RUNS + "/<run_id>/export.xlsx",
    summary="A finished portfolio run as an Excel workbook: loans, portfolio, NPL, concentration",
    tag="portfolio",
    path_params={"run_id": "Run id"},
    responses={200: (None, "Excel workbook (.xlsx)")},
    media_type=exports.XLSX_MIME,
    extra_errors=(409,),
)
def export_portfolio_run_xlsx(run_id: str) -> Response:
    """The sheets of :func:`service.portfolio.result_sheets`."""
    data = exports.to_xlsx(result_sheets(_done_result(run_id)))
    return _download(data, exports.XLSX_MIME, f"portfolio-{run_id[:12]}.xlsx")
