"""The officer's portfolio page: upload a loan book, watch the run, read and download the result.

Pages (blueprint ``web_portfolio``; the officer signs in on the web pages first):

=====================================  ========================================================
``/app/portfolio``                     upload a book (CSV or Parquet) with paths, seed and the
                                       NPL tolerance; a bad book is shown cell by cell (422)
``/app/portfolio/<id>``                the run: progress while it is queued or running (the
                                       page reloads itself every two seconds), then the loss
                                       distribution chart, the NPL-tolerance probabilities, the
                                       contribution by region and the downloads
``/app/portfolio/<id>/map.json``       the map of a finished run: one point per loan site (per
                                       data cell when loans share one) with its exposure and
                                       its share of the 99th-percentile loss (problem+json 401,
                                       404 or 409 otherwise)
``/app/portfolio/<id>/export.csv``     one row per loan
``/app/portfolio/<id>/export.xlsx``    loans, portfolio figures, NPL by year, concentration
=====================================  ========================================================

The run is the API's (:mod:`service.portfolio_runs`): stored in the audit database and computed
by ``climate-loan portfolio worker``; the page only reads it, scoped to the signed-in key.

The map of a finished run is drawn by ``static/portfolio_map.js`` on the national map's base
(vendored Leaflet and province outlines, ``static/basemap.js``). A circle's area is
proportional to the exposure at the site; its fill and the number on it give the class of the
site's share of the Euler allocation of the 99th-percentile portfolio loss
(:data:`CONTRIBUTION_CLASSES`), so the map reads without colour. The contribution table by
region stays the text version.
"""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from markupsafe import Markup, escape
from wtforms.validators import ValidationError as FormError

from service import exports, portfolio_runs
from service.api import EXTENSION
from service.errors import UsageError
from service.portfolio import (
    LOAN_TABLE_COLUMNS,
    BookError,
    BookProblem,
    book_records,
    check_coverage,
    parse_book,
    result_sheets,
)
from service.problems import Problem
from service.requests import MAX_SEED
from service.store import StoreUnavailable
from service.web.common import signed_in_key

bp = Blueprint("web_portfolio", __name__)

#: Problems shown on the page (the rest are counted).
MAX_SHOWN = 50
#: Lower bounds of the classes of a site's share of the 99th-percentile loss [-]; class k
#: (numbered from 1) runs from the k-th bound to the next.
CONTRIBUTION_CLASSES: tuple[float, ...] = (0.0, 0.05, 0.15, 0.30)
#: Fill of each class (light to dark, one hue family: readable in grey as well).
CLASS_COLOURS: tuple[str, ...] = ("#fdd49e", "#fc8d59", "#d7301f", "#7f0000")
#: Colour of the class number on each fill (dark on the light fills, white on the dark ones).
CLASS_INKS: tuple[str, ...] = ("#111111", "#111111", "#ffffff", "#ffffff")
#: Radius of the circle of the largest exposure on the map [px]; the others scale with the
#: square root of their exposure, so that areas are proportional.
MAX_RADIUS_PX = 24.0


def register(app: Flask) -> None:
    """Install the portfolio blueprint on ``app`` (after :func:`service.web.register`)."""
    app.register_blueprint(bp)


def _state() -> Any:
    return current_app.extensions[EXTENSION]


@bp.before_request
def _signed_in() -> None:
    """Check the CSRF token of a POST; load the signed-in key into ``g.web_key`` (or None)."""
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except FormError as exc:
            raise CSRFError(str(exc)) from None
    g.web_key = signed_in_key()


def _login_redirect() -> Response:
    return redirect(url_for("web.login", next=request.full_path.rstrip("?")))  # type: ignore[return-value]


def _form_number(
    name: str, low: float, high: float, whole: bool
) -> tuple[float | None, str | None]:
    text = (request.form.get(name) or "").strip()
    if not text:
        return None, None
    try:
        value = float(text)
    except ValueError:
        return None, _("%(name)s must be a number", name=name)
    if whole and value != int(value):
        return None, _("%(name)s must be a whole number", name=name)
    if not low <= value <= high:
        return None, _("%(name)s must be from %(low)s to %(high)s", name=name, low=low, high=high)
    return value, None


def _problems(exc: BookError) -> list[str]:
    def where(p: BookProblem) -> str:
        if p.row == 0:
            return str(_("header, column %(c)s", c=p.column))
        return str(_("row %(r)s, column %(c)s", r=p.row, c=p.column))

    return [f"{where(p)}: {p.message}" for p in exc.problems]


@bp.route("/app/portfolio", methods=["GET", "POST"])
def upload() -> Any:
    """The upload form; a POST validates the book and queues a run."""
    if g.web_key is None:
        return _login_redirect()
    if request.method == "GET":
        return render_template("portfolio.html", problems=[], form={})
    st = _state()
    problems: list[str] = []
    paths, why_paths = _form_number("paths", 2, 1_000_000, True)
    seed, why_seed = _form_number("seed", 0, MAX_SEED, True)
    tol, why_tol = _form_number("npl_tolerance_pct", 0, 99.99, False)
    problems += [w for w in (why_paths, why_seed, why_tol) if w]
    upload_file = request.files.get("book")
    book = None
    columns: list[str] = []
    records: list[dict[str, Any]] = []
    if upload_file is None or not upload_file.filename:
        problems.append(_("Choose a loan book file (.csv or .parquet)."))
    else:
        name = PurePosixPath(upload_file.filename.replace("\\", "/")).name
        try:
            columns, records = book_records(upload_file.read(), PurePosixPath(name).suffix, name)
            book = parse_book(records, columns, name)
            check_coverage(book, st.cube)
        except BookError as exc:
            problems += _problems(exc)
        except UsageError as exc:
            problems.append(str(exc))
    if problems or book is None:
        shown = problems[:MAX_SHOWN]
        more = len(problems) - len(shown)
        return (
            render_template("portfolio.html", problems=shown, more=more, form=request.form),
            422,
        )
    try:
        run = portfolio_runs.create_run(
            st.store,
            g.web_key,
            columns=columns,
            records=records,
            book=book,
            n_paths=int(paths or st.config.mc_paths or 10_000),
            seed=int(seed) if seed is not None else portfolio_runs.draw_seed(),
            npl_tolerance_pct=3.0 if tol is None else float(tol),
            dataset_sha256=st.cube.dataset.sha256,
            request_id=g.get("request_id", ""),
        )
    except StoreUnavailable:
        abort(503)
    return redirect(url_for("web_portfolio.run_page", run_id=run.id), 303)


def _run(run_id: str) -> dict[str, Any]:
    try:
        return portfolio_runs.get_run(_state().store, g.web_key, run_id)
    except portfolio_runs.RunNotFound:
        abort(404)
    except StoreUnavailable:
        abort(503)


def loss_chart(portfolio: dict[str, Any]) -> Markup:
    """SVG bar chart of the loss-rate distribution, shared years beside independence."""
    hj = portfolio["joint"]["loss_rate_histogram"]
    hi = portfolio["independent"]["loss_rate_histogram"]
    edges, cj, ci = hj["edges"], hj["counts"], hi["counts"]
    n = max(sum(cj), 1)
    top = max(max(cj), max(ci), 1) / n
    w, h, left, bottom = 640.0, 240.0, 48.0, 28.0
    bw = (w - left - 8) / len(cj)
    title = escape(_("Distribution of the portfolio loss rate"))
    shared = escape(_("Shared climate years"))
    independent = escape(_("Independent loans"))
    parts = [
        f'<svg viewBox="0 0 {w:g} {h:g}" role="img" aria-labelledby="loss-chart-t" '
        'class="chart" id="loss-chart">',
        f'<title id="loss-chart-t">{title}</title>',
    ]
    for k, (a, b) in enumerate(zip(cj, ci, strict=True)):
        for j, (count, colour) in enumerate(((a, "#b03a2e"), (b, "#5d6d7e"))):
            hh = (h - bottom - 8) * (count / n) / top
            x = left + k * bw + j * bw / 2
            parts.append(
                f'<rect x="{x:.1f}" y="{h - bottom - hh:.1f}" width="{bw / 2:.1f}" '
                f'height="{hh:.1f}" fill="{colour}"/>'
            )
    parts.append(
        f'<line x1="{left}" y1="{h - bottom}" x2="{w - 8}" y2="{h - bottom}" stroke="#333"/>'
    )
    for frac in (0.0, 0.5, 1.0):
        x = left + frac * (w - left - 8)
        value = edges[0] + frac * (edges[-1] - edges[0])
        parts.append(
            f'<text x="{x:.1f}" y="{h - 10}" font-size="11" text-anchor="middle">'
            f"{100 * value:.1f} %</text>"
        )
    parts.append(
        f'<text x="{left}" y="14" font-size="11" fill="#b03a2e">■ {shared}</text>'
        f'<text x="{left + 220}" y="14" font-size="11" fill="#5d6d7e">■ {independent}</text>'
        "</svg>"
    )
    # S704: the only texts are the three escaped translations above; everything else is a
    # number formatted with a float format, so nothing from the request reaches the markup.
    return Markup("".join(parts))  # noqa: S704


@bp.route("/app/portfolio/<run_id>")
def run_page(run_id: str) -> Any:
    """A run: progress, then its figures."""
    if g.web_key is None:
        return _login_redirect()
    run = _run(run_id)
    result = run["result"] or {}
    portfolio = result.get("portfolio")
    sizes: list[dict[str, float]] = []
    if portfolio and run["status"] == "done":
        try:
            points = _points(run)
        except portfolio_runs.RunNotFound:
            abort(404)
        except StoreUnavailable:
            abort(503)
        if points:
            sizes = size_legend(points[0]["exposure"])
    return render_template(
        "portfolio_run.html",
        run=run,
        portfolio=portfolio,
        map_sizes=sizes,
        map_classes=class_labels(),
        max_radius_px=MAX_RADIUS_PX,
        loans=result.get("loans", []),
        notes=result.get("notes", []),
        chart=loss_chart(portfolio) if portfolio else None,
    )


def contribution_class(share: float) -> int:
    """Class (1 to ``len(CONTRIBUTION_CLASSES)``) of a share of the 99th-percentile loss."""
    return sum(1 for low in CONTRIBUTION_CLASSES[1:] if share >= low) + 1


def class_labels() -> list[dict[str, Any]]:
    """The contribution classes for the legend: number, colour and range in words."""
    rows = []
    for k, low in enumerate(CONTRIBUTION_CLASSES):
        high = CONTRIBUTION_CLASSES[k + 1] if k + 1 < len(CONTRIBUTION_CLASSES) else None
        if high is None:
            text = _("%(low)s %% or more", low=f"{100 * low:g}")
        else:
            text = _("%(low)s to %(high)s %%", low=f"{100 * low:g}", high=f"{100 * high:g}")
        rows.append(
            {"number": k + 1, "colour": CLASS_COLOURS[k], "ink": CLASS_INKS[k], "text": str(text)}
        )
    return rows


def map_points(loans: list[dict[str, Any]], book: Any, cube: Any) -> list[dict[str, Any]]:
    """One point per loan site of a finished run, or per data cell when loans share one.

    Parameters
    ----------
    loans : list of dict
        The run's loan table (``exposure``, ``var_contribution`` per ``loan_id``); a loan whose
        assessment failed has no exposure and is left off.
    book : service.portfolio.LoanBook
        The run's book (the sites' coordinates).
    cube : climate_data.cube.Cube
        The service's cube (which loans share a data cell).

    Returns
    -------
    list of dict
        ``lat``, ``lon``, ``loan_ids``, ``exposure``, ``var_contribution``, ``share`` of the
        portfolio's total contribution, contribution ``class`` and ``colour``; largest exposure
        first.
    """
    by_id = {r["loan_id"]: r for r in loans if r.get("exposure") is not None}
    total = sum(float(r.get("var_contribution") or 0.0) for r in by_id.values())
    cells: dict[tuple[int, int], list[Any]] = {}
    for loan in book.loans:
        if loan.loan_id in by_id:
            i, j, _km = cube.nearest(loan.request.site.lat, loan.request.site.lon)
            cells.setdefault((i, j), []).append(loan)
    points: list[dict[str, Any]] = []
    for (i, j), group in cells.items():
        if len(group) == 1:
            lat, lon = group[0].request.site.lat, group[0].request.site.lon
        else:
            lat, lon = float(cube.lats[i]), float(cube.lons[j])
        rows = [by_id[loan.loan_id] for loan in group]
        contribution = sum(float(r.get("var_contribution") or 0.0) for r in rows)
        share = contribution / total if total > 0.0 else 0.0
        k = contribution_class(share)
        points.append(
            {
                "lat": round(float(lat), 4),
                "lon": round(float(lon), 4),
                "loan_ids": [loan.loan_id for loan in group],
                "exposure": sum(float(r["exposure"]) for r in rows),
                "var_contribution": contribution,
                "share": share,
                "class": k,
                "colour": CLASS_COLOURS[k - 1],
            }
        )
    points.sort(key=lambda p: (-p["exposure"], p["loan_ids"][0]))
    return points


def size_legend(max_exposure: float) -> list[dict[str, float]]:
    """Reference circles of the legend: the largest exposure, a quarter and a sixteenth of it."""
    return [
        {"exposure": max_exposure * f, "radius": MAX_RADIUS_PX * math.sqrt(f)}
        for f in (1.0, 0.25, 0.0625)
    ]


def _points(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The map points of a finished run the signed-in key may see."""
    st = _state()
    book = portfolio_runs.get_book(st.store, g.web_key, run["id"])
    return map_points(run["result"]["loans"], book, st.cube)


@bp.route("/app/portfolio/<run_id>/map.json")
def map_data(run_id: str) -> Response:
    """The points of a finished run's map (JSON), scoped to the signed-in key."""
    if g.web_key is None:
        raise Problem(401, "sign in on the web page first (/app/login)")
    try:
        run = portfolio_runs.get_run(_state().store, g.web_key, run_id)
        if run["status"] != "done":
            raise Problem(
                409, f"portfolio run {run_id} is {run['status']}; its map comes when done"
            )
        points = _points(run)
    except portfolio_runs.RunNotFound:
        raise Problem(404, f"no portfolio run {run_id} of this key") from None
    except StoreUnavailable:
        raise Problem(503, "the audit database is unavailable; try again shortly") from None
    return jsonify(
        {
            "run_id": run["id"],
            "max_radius_px": MAX_RADIUS_PX,
            "euler_quantile": run["result"]["portfolio"]["concentration"]["euler_quantile"],
            "classes": class_labels(),
            "points": points,
        }
    )


@bp.route("/app/portfolio/<run_id>/export.<fmt>")
def export(run_id: str, fmt: str) -> Response:
    """A finished run as CSV (loans) or Excel (every table)."""
    if g.web_key is None:
        return _login_redirect()
    if fmt not in ("csv", "xlsx"):
        abort(404)
    run = _run(run_id)
    if run["status"] != "done":
        abort(409)
    if fmt == "csv":
        rows = [[r.get(c) for c in LOAN_TABLE_COLUMNS] for r in run["result"]["loans"]]
        data = exports.to_csv(LOAN_TABLE_COLUMNS, rows)
        mime = "text/csv; charset=utf-8"
    else:
        data = exports.to_xlsx(result_sheets(run["result"]))
        mime = exports.XLSX_MIME
    return Response(
        data,
        mimetype=None,
        content_type=mime,
        headers={"Content-Disposition": f'attachment; filename="portfolio-{run_id[:12]}.{fmt}"'},
    )
