"""Shared pieces of the officer's pages.

The blueprint, the locale's number formats, the sign-in check of every request, CSRF and the
error pages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse
from wtforms import ValidationError as FormError

from models.policy import METRICS
from service import formatting, glossary
from service.security import (
    web_session_valid,
)
from service.store import ApiKeyRecord, StoreUnavailable

bp = Blueprint("web", __name__)

#: Languages of the page: Babel locale code -> its own name.
LANGUAGES: dict[str, str] = {"zh_CN": "中文", "en": "English"}
#: Metric of the Changji rule.
TRAILING_METRIC = "climate.wind.trailing_3y_mean_ms"


def app_state() -> Any:
    """The service state of the API (store, cube, policies, limiter)."""
    from service.api import state

    return state()


# ============================================================================ formatting


def fmt_num(value: float | None, digits: int = 2) -> str:
    """A number in the page's locale with ``digits`` decimals; an en dash for None."""
    return formatting.number(value, digits, get_locale())


def fmt_pct(value: float | None, digits: int = 2) -> str:
    """A fraction as a percentage in the page's locale (0.0123 -> 1.23 %)."""
    return formatting.percent(value, digits, get_locale())


def fmt_pd(value: float | None) -> str:
    """A probability with enough decimals to show values down to 0.01 %."""
    return formatting.probability(value, get_locale())


def fmt_ratio(value: float | None, digits: int = 2) -> str:
    """A coverage ratio (DSCR, LLCR) in the page's locale: 1.23×."""
    return formatting.ratio(value, digits, get_locale())


def fmt_iav(value: float | None) -> str:
    """Inter-annual variability (a fraction) as 4.1 %."""
    return formatting.iav(value, get_locale())


def fmt_mwh(value: float | None) -> str:
    """Annual energy in whole MWh."""
    return formatting.energy(value, get_locale())


def fmt_time(value: str | datetime | None) -> str:
    """An ISO time (or datetime) in the page's locale, in UTC."""
    if value is None or value == "":
        return "–"
    dt = value if isinstance(value, datetime) else _parse_time(str(value))
    if dt is None:
        return str(value)
    return f"{format_datetime(dt, 'medium')} UTC"


def _parse_time(text: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def lang() -> str:
    """``zh`` or ``en``: which text of a bilingual field to show."""
    return "zh" if str(get_locale()).startswith("zh") else "en"


def metric_label(metric: str) -> str:
    """Name of a metric in the page's language, from the one catalogue (:data:`METRICS`).

    The rule table, key figures, memo and history label a figure with the words the policy's
    reasons use (:data:`models.policy.METRICS`); an unknown path is shown as it is.
    """
    entry = METRICS.get(metric)
    if entry is None:
        return metric
    return entry.label_zh if lang() == "zh" else entry.label_en


def glossary_term(key: str, text: str, local: bool = False) -> Markup:
    """``text`` as a link to the glossary entry of ``key`` (a term id or a rule metric).

    The link goes to the glossary page (``/app/glossary#dscr``), or with ``local`` to the
    glossary printed at the end of the memo (``#g-dscr``); its title is the term's full name.
    Plain (escaped) text when ``key`` has no entry. Works without JavaScript.
    """
    term = glossary.term_for(key)
    if term is None:
        return Markup("{}").format(text)
    href = f"#g-{term.id}" if local else url_for("web.glossary_page") + f"#{term.id}"
    return Markup('<a class="term" href="{}" title="{}">{}</a>').format(
        href, term.name(lang()), text
    )


@bp.app_template_global()
def csrf_field() -> Markup:
    """Hidden input with this session's CSRF token."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {
        "fmt_num": fmt_num,
        "fmt_pct": fmt_pct,
        "fmt_pd": fmt_pd,
        "fmt_ratio": fmt_ratio,
        "fmt_iav": fmt_iav,
        "fmt_mwh": fmt_mwh,
        "fmt_time": fmt_time,
        "glossary_term": glossary_term,
        "metric_label": metric_label,
        "glossary_entries": glossary.entries(),
        "page_lang": lang(),
        "languages": LANGUAGES,
        "current_locale": "zh_CN" if lang() == "zh" else "en",
        "html_lang": "zh-CN" if lang() == "zh" else "en",
        "officer": g.get("web_key"),
    }


# ============================================================================ auth, CSRF


@bp.before_request
def _guard() -> BaseResponse | None:
    """Check the CSRF token of every POST; load the signed-in key (None if signed out)."""
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except FormError as exc:
            raise CSRFError(str(exc)) from None
    g.web_key = signed_in_key()
    if g.web_key is None and session.get("key_id"):
        session.pop("key_id", None)
        session.pop("sid", None)
    return None


def signed_in_key() -> ApiKeyRecord | None:
    """The signed-in officer's key; None when signed out, the key inactive or the session ended.

    The key is read again on every request and must be active, and the session must still be
    open server-side (a logout ends it). Used by every web page, the national map's too.
    """
    key_id = session.get("key_id")
    if not key_id:
        return None
    store = app_state().store
    try:
        record: ApiKeyRecord | None = store.get_key(str(key_id))
        if record is not None and not web_session_valid(store, session.get("sid"), record.id):
            record = None
    except StoreUnavailable:
        record = None
    return record if record is not None and record.active else None


def require_login() -> ApiKeyRecord:
    """The signed-in key; a page of a signed-out visitor redirects to the login page."""
    record: ApiKeyRecord | None = g.get("web_key")
    if record is None:
        abort(_redirect_to_login())
    return record


def _redirect_to_login() -> BaseResponse:
    nxt = request.full_path if request.method == "GET" else url_for("web.site")
    return redirect(url_for("web.login", next=nxt.rstrip("?")))


def safe_next(target: str | None) -> str:
    """Only local paths may be redirect targets (no open redirect)."""
    if not target:
        return url_for("web.site")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.site")
    return target


# ============================================================================ errors


def _error_page(status: int, message: str) -> tuple[str, int]:
    return render_template("error.html", status=status, message=message), status


@bp.errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    return _error_page(
        400,
        _(
            "The form has expired or did not come from this site. "
            "Go back, reload the page and send it again."
        ),
    )


@bp.errorhandler(StoreUnavailable)
def _store_error(exc: StoreUnavailable) -> tuple[str, int]:
    return _error_page(503, _("The audit database is not available; try again later."))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    if exc.response is not None:  # abort(redirect) of the login check
        return exc.response
    status = exc.code or 500
    messages = {
        400: _("The request could not be understood."),
        403: _("You may not open this page."),
        404: _("There is no such page or assessment, or it belongs to another officer."),
        405: _("This page cannot be opened that way."),
        413: _("The upload is larger than this server accepts."),
        503: _("The audit database is not available; try again later."),
    }
    return _error_page(status, messages.get(status, _("Something went wrong.")))
