"""The loan officer's web pages: pick a site on the map, enter the loan, see the decision.

Server-rendered Jinja templates (``service/templates``), styles and a small script of our own
in ``service/static`` (no CDN, no network at run time), charts drawn on the server as SVG by
:mod:`service.charts`, messages in Flask-Babel catalogues (``service/translations``; the
page's ``zh_CN`` is catalogue ``zh_Hans_CN``, the name Babel gives that locale; compiled ``.mo``
files are shipped with the package so that a plain ``pip install`` has working translations).

Pages (blueprint ``web``):

=================================  ===========================================================
``/``                              redirects to the site page (or the login page)
``/app/login``, ``/app/logout``    sign in with an API key (session cookie), sign out
``/app/lang/<code>``               switch language (``zh_CN`` or ``en``)
``/app/site``                      map of the cube (layer, hub height), project and loan form
``/app/assess`` (POST)             validate the form and assess through the API's own view
``/app/assessments/<id>``          the STORED result: decision, rules, charts, provenance
``/app/history``                   the officer's past assessments, filtered and paged
``/app/assessments/<id>/memo``     credit memo, print-ready (A4)
``/app/assessments/<id>/memo.pdf`` the same memo as a PDF (:mod:`service.memo`)
``/app/assessments/<id>/export.*`` the result as ``.csv`` or ``.xlsx`` (:mod:`service.exports`)
``/app/history/export.*``          the filtered history (all pages) as ``.csv`` or ``.xlsx``
``/app/glossary``                  the terms of the result page and memo (:mod:`service.glossary`)
=================================  ===========================================================

Security: the API key is checked once at login (:func:`service.auth.check_key`) and only its
id and a random session id are kept in the signed session cookie (HttpOnly, SameSite=Lax,
Secure with ``CLIMATE_LOAN_SECURE_COOKIES=1``); every request re-reads the key so that a revoked
or expired key ends its sessions, and checks that the session was not ended by a logout
(:mod:`service.security`). Failed sign-ins are counted per client address and throttled.
Every POST carries a CSRF token (Flask-WTF), checked before the view runs. The session secret
comes from ``SECRET_KEY`` in the app config or, when unset, from a random file
``web-secret-key`` created once in the instance folder, so that all gunicorn workers of one
instance share it.

An assessment made here goes through :func:`service.api.make_assessment`, what the view behind
``POST /api/v1/assessments`` runs: the same validation, computation and audit record, stored
before the page shows it. A result page always shows the stored response, never a recomputation.
"""

from __future__ import annotations

import csv
import io
import math
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import Babel, format_datetime, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from flask_wtf.file import FileField
from markupsafe import Markup
from pydantic import ValidationError as PydanticValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse
from wtforms import Field, FloatField, IntegerField, StringField
from wtforms import ValidationError as FormError
from wtforms.validators import InputRequired, Length, Optional, Regexp

from service import assessments, auth, charts, formatting, glossary
from service.problems import Problem
from service.security import (
    client_address,
    end_web_session,
    security_event,
    start_web_session,
    web_session_valid,
)
from service.store import ApiKeyRecord, AssessmentRecord, StoreUnavailable

bp = Blueprint("web", __name__)

#: Languages of the page: Babel locale code -> its own name.
LANGUAGES: dict[str, str] = {"zh_CN": "中文", "en": "English"}
#: Name of the secret-key file created in the instance folder when SECRET_KEY is unset.
SECRET_FILE = "web-secret-key"
#: Map layers the site page offers (names of :meth:`climate_data.cube.Cube.layer`).
LAYERS: tuple[str, ...] = ("trailing_3y_wind_ms", "sunshine_hours", "iav")
#: Largest map drawn cell by cell; larger grids are thinned by a stride (noted on the page).
MAX_MAP_CELLS = 6400
#: Page size of the history.
HISTORY_PAGE = 20
#: Highest history page number asked of the database (a larger one shows this page).
MAX_HISTORY_PAGE = 100_000
#: Wind-speed threshold used for the map when the default wind policy has no such rule [m s-1].
DEFAULT_WIND_THRESHOLD_MS = 6.5
#: Metric of the Changji rule.
TRAILING_METRIC = "climate.wind.trailing_3y_mean_ms"

_TRANSLATIONS = Path(__file__).with_name("translations")


# ============================================================================ app wiring


def register(app: Flask) -> None:
    """Install the web pages on ``app``: secret key, Babel, session settings, blueprint.

    Called once by :func:`service.app.create_app`.
    """
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(_TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=8)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(bp)


def _instance_secret(folder: Path) -> str:
    """Read the instance's session secret, creating it once (safe when workers race)."""
    path = folder / SECRET_FILE
    folder.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    for _attempt in range(50):  # another worker may be writing it this instant
        text = path.read_text().strip()
        if len(text) >= 32:
            return text
        time.sleep(0.01)
    raise RuntimeError(f"{path}: session secret is empty; delete the file and restart")


def select_locale() -> str:
    """Locale of this request: the session's choice, else the browser's, else English."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"])
    return "zh_CN" if best in ("zh_CN", "zh") else "en"


def _state() -> Any:
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
    g.web_key = None
    key_id = session.get("key_id")
    if key_id:
        store = _state().store
        try:
            record = store.get_key(str(key_id))
            # the session must still be open server-side (ended at logout)
            if record is not None and not web_session_valid(store, session.get("sid"), record.id):
                record = None
        except StoreUnavailable:
            record = None
        if record is None or not record.active:
            session.pop("key_id", None)
            session.pop("sid", None)
        else:
            g.web_key = record
    return None


def _require_login() -> ApiKeyRecord:
    record: ApiKeyRecord | None = g.get("web_key")
    if record is None:
        abort(_redirect_to_login())
    return record


def _redirect_to_login() -> BaseResponse:
    nxt = request.full_path if request.method == "GET" else url_for("web.site")
    return redirect(url_for("web.login", next=nxt.rstrip("?")))


def _safe_next(target: str | None) -> str:
    """Only local paths may be redirect targets (no open redirect)."""
    if not target:
        return url_for("web.site")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.site")
    return target


class LoginForm(FlaskForm):  # type: ignore[misc]
    """Sign-in form: the officer's API key."""

    class Meta:
        """Form options: CSRF is checked for every POST in ``_guard``."""

        csrf = False

    api_key = StringField(
        _l("API key"), validators=[InputRequired(message=_l("Enter your API key."))]
    )


@bp.route("/")
def index() -> BaseResponse:
    """Start page: the site map, or the login page first."""
    return redirect(url_for("web.site"))


@bp.route("/app/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with an API key."""
    form = LoginForm()
    nxt = _safe_next(request.values.get("next"))
    status = 200
    st = _state()
    address = client_address()
    blocked = st.auth_throttle.blocked(address) if st.auth_throttle is not None else None
    if request.method == "POST" and blocked is not None:
        security_event("login_throttled", "web sign-in refused: too many failures from address")
        form.api_key.errors = [_("Too many requests; try again in %(s)s s.", s=blocked)]
        status = 429
    elif request.method == "POST" and form.validate():
        try:
            record, reason = auth.check_key(st.store, form.api_key.data)
            sid = start_web_session(st.store, record.id) if record is not None else None
        except StoreUnavailable:
            form.api_key.errors = [_("The audit database is not available; try again later.")]
            status = 503
        else:
            if record is None or sid is None:
                if st.auth_throttle is not None:
                    st.auth_throttle.failed(address)
                security_event(
                    "login_failed",
                    f"web sign-in refused: {reason}",
                    api_key_id=auth.key_id_of(str(form.api_key.data or "").strip()),
                )
                form.api_key.errors = [_("This API key is not valid or was revoked.")]
                status = 401
            else:
                keep_lang = session.get("lang")
                session.clear()
                session.permanent = True
                session["key_id"] = record.id
                session["sid"] = sid
                if keep_lang:
                    session["lang"] = keep_lang
                security_event("login", "web sign-in", api_key_id=record.id)
                return redirect(nxt, 303)
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form, next=nxt), status


@bp.route("/app/logout", methods=["POST"])
def logout() -> BaseResponse:
    """Sign out: the session ends server-side too (the language choice is kept)."""
    keep_lang = session.get("lang")
    try:
        end_web_session(_state().store, session.get("sid"))
    except StoreUnavailable:
        abort(503)  # the cookie would stay valid: say so rather than pretend
    if g.get("web_key") is not None:
        security_event("logout", "web sign-out", api_key_id=g.web_key.id)
    session.clear()
    if keep_lang:
        session["lang"] = keep_lang
    return redirect(url_for("web.login"), 303)


@bp.route("/app/lang/<code>")
def set_language(code: str) -> BaseResponse:
    """Switch the page language and go back to where the officer was."""
    if code not in LANGUAGES:
        abort(404)
    session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))


# ============================================================================ site map


@dataclass(frozen=True)
class MapCell:
    """One drawn cell of the map."""

    x: float
    y: float
    w: float
    h: float
    lat: float
    lon: float
    color: str
    label: str
    status: str  # "pass", "fail", "none" (no threshold), "nodata"
    href: str


#: Viridis colour map at nine stops (values of the matplotlib colour map, CC0).
_VIRIDIS = (
    (0.267, 0.005, 0.329),
    (0.283, 0.141, 0.458),
    (0.254, 0.265, 0.530),
    (0.207, 0.372, 0.553),
    (0.164, 0.471, 0.558),
    (0.128, 0.567, 0.551),
    (0.135, 0.659, 0.518),
    (0.267, 0.749, 0.441),
    (0.478, 0.821, 0.318),
    (0.741, 0.873, 0.150),
    (0.993, 0.906, 0.144),
)


def colour(t: float) -> str:
    """Viridis colour of ``t`` in [0, 1] as ``#rrggbb`` (clipped)."""
    t = min(1.0, max(0.0, t))
    pos = t * (len(_VIRIDIS) - 1)
    k = min(int(pos), len(_VIRIDIS) - 2)
    f = pos - k
    rgb = [a + (b - a) * f for a, b in zip(_VIRIDIS[k], _VIRIDIS[k + 1], strict=True)]
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgb)


def wind_threshold() -> float:
    """The trailing 3-year wind threshold of the default wind policy [m s-1]."""
    st = _state()
    policy = st.policies.get(st.default_policies.get("wind", ""))
    if policy is not None:
        for rule in policy.rules:
            if rule.metric == TRAILING_METRIC:
                return float(rule.threshold)
    return DEFAULT_WIND_THRESHOLD_MS


def build_map(
    cube: Any,
    layer: str,
    hub_height_m: float,
    selected: tuple[float, float] | None,
    link: Callable[[float, float], str],
    width: float = 640.0,
) -> dict[str, Any]:
    """Cells, legend and axes of the map of ``layer`` (SVG coordinates, north up).

    The grid is drawn equirectangular with the east-west scale shrunk by cos(mid latitude), so
    cells keep their true shape near the cube's centre.
    """
    da = cube.layer(layer, hub_height_m if layer == "trailing_3y_wind_ms" else None)
    values = np.asarray(da.values, dtype=float)
    lats = np.asarray(cube.lats, dtype=float)
    lons = np.asarray(cube.lons, dtype=float)
    stride = max(1, math.ceil(math.sqrt(values.size / MAX_MAP_CELLS)))
    lat_idx = list(range(0, lats.size, stride))
    lon_idx = list(range(0, lons.size, stride))
    dlat = float(np.median(np.abs(np.diff(lats)))) * stride if lats.size > 1 else 0.25
    dlon = float(np.median(np.abs(np.diff(lons)))) * stride if lons.size > 1 else 0.25
    mid = math.radians(float(np.mean(lats)))
    cw = min(width / max(1, len(lon_idx)), 120.0)
    ch = cw * dlat / (dlon * max(0.2, math.cos(mid)))
    ch = min(ch, 560.0 / max(1, len(lat_idx)))
    finite = values[np.isfinite(values)]
    vmin = float(finite.min()) if finite.size else 0.0
    vmax = float(finite.max()) if finite.size else 1.0
    threshold = wind_threshold() if layer == "trailing_3y_wind_ms" else None
    if threshold is not None and finite.size:
        vmin, vmax = min(vmin, threshold - 0.25), max(vmax, threshold + 0.25)
    span = (vmax - vmin) or 1.0
    unit, digits, scale = _layer_unit(layer)
    order = sorted(lat_idx, key=lambda i: -lats[i])  # north at the top
    cells: list[MapCell] = []
    for row, i in enumerate(order):
        for col, j in enumerate(sorted(lon_idx, key=lambda j: lons[j])):
            v = float(values[i, j])
            where = f"{_deg(lats[i], 'N', 'S')} {_deg(lons[j], 'E', 'W')}"
            if not math.isfinite(v):
                status, color = "nodata", "#bdbdbd"
                nodata = _("no complete data")
                label = f"{where}: {nodata}"
            else:
                color = colour((v - vmin) / span)
                shown = fmt_num(v * scale, digits) + unit
                if threshold is None:
                    status, label = "none", f"{where}: {shown}"
                elif v >= threshold:
                    status = "pass"
                    verdict = _("meets %(t)s m/s", t=fmt_num(threshold, 1))
                    label = f"{where}: {shown} — {verdict}"
                else:
                    status = "fail"
                    verdict = _("below %(t)s m/s", t=fmt_num(threshold, 1))
                    label = f"{where}: {shown} — {verdict}"
            cells.append(
                MapCell(
                    x=col * cw,
                    y=row * ch,
                    w=cw,
                    h=ch,
                    lat=float(lats[i]),
                    lon=float(lons[j]),
                    color=color,
                    label=label,
                    status=status,
                    href=link(float(lats[i]), float(lons[j])),
                )
            )
    ncols = len(lon_idx)
    height = ch * len(lat_idx)
    marker = None
    if selected is not None:
        lat, lon = selected
        lat_top = float(lats[order[0]]) + dlat / 2
        lon_left = float(lons[min(lon_idx, key=lambda j: lons[j])]) - dlon / 2
        mx = (lon - lon_left) / dlon * cw
        my = (lat_top - lat) / dlat * ch
        if -cw <= mx <= ncols * cw + cw and -ch <= my <= height + ch:
            marker = {"x": mx, "y": my}
    legend_stops = [{"offset": k / 10, "color": colour(k / 10)} for k in range(11)]
    ticks = charts.nice_ticks(vmin * scale, vmax * scale, 5)
    ticks = [t for t in ticks if vmin * scale <= t <= vmax * scale]
    legend_ticks = [{"x": (t / scale - vmin) / span, "label": fmt_num(t, digits)} for t in ticks]
    threshold_x = (threshold - vmin) / span if threshold is not None else None
    return {
        "width": ncols * cw,
        "height": height,
        "cells": cells,
        "cell_w": cw,
        "cell_h": ch,
        "glyphs": cw >= 26 and ch >= 20,
        "marker": marker,
        "stops": legend_stops,
        "ticks": legend_ticks,
        "unit": unit.strip(),
        "threshold": threshold,
        "threshold_x": threshold_x,
        "stride": stride,
        "n_cells": int(values.size),
        "n_pass": sum(c.status == "pass" for c in cells),
        "n_fail": sum(c.status == "fail" for c in cells),
    }


def _layer_unit(layer: str) -> tuple[str, int, float]:
    """Unit suffix, decimals and display scale of a layer."""
    if layer == "trailing_3y_wind_ms":
        return " m/s", 2, 1.0
    if layer == "sunshine_hours":
        return " h", 0, 1.0
    return " %", 1, 100.0


def _deg(value: float, pos: str, neg: str) -> str:
    return f"{abs(value):.2f}°{pos if value >= 0 else neg}"


def layer_names() -> dict[str, str]:
    """Translated names of the map layers."""
    return {
        "trailing_3y_wind_ms": _("Trailing 3-year mean wind speed at hub height"),
        "sunshine_hours": _("Mean annual sunshine hours"),
        "iav": _("Inter-annual variability of wind speed"),
    }


# ============================================================================ the form


class LocalFloat(FloatField):  # type: ignore[misc]
    """A number field whose parse error is in the page's language."""

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if isinstance(self.data, float) and self.data.is_integer() and abs(self.data) < 1e15:
            return str(int(self.data))
        return "" if self.data is None else str(self.data)

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse the number (a decimal comma is accepted), or record a translated error."""
        if not valuelist or str(valuelist[0]).strip() == "":
            self.data = None
            return
        text = str(valuelist[0]).strip().replace(" ", "").replace("\u00a0", "")
        text = (
            text.replace(",", "")
            if text.count(".") == 1 or text.count(",") > 1
            else text.replace(",", ".")
        )
        try:
            self.data = float(text)
        except ValueError:
            self.data = None
            raise ValueError(_("Enter a number.")) from None
        if not math.isfinite(self.data):
            self.data = None
            raise ValueError(_("Enter a finite number."))


class LocalInteger(IntegerField):  # type: ignore[misc]
    """A whole-number field whose parse error is in the page's language."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Parse a whole number, or record a translated error."""
        if not valuelist or str(valuelist[0]).strip() == "":
            self.data = None
            return
        try:
            self.data = int(str(valuelist[0]).strip())
        except ValueError:
            self.data = None
            raise ValueError(_("Enter a whole number.")) from None


def _required() -> InputRequired:
    return InputRequired(message=_l("This field is required."))


class _Range:
    """Validator: ``lo <= value <= hi``; an empty or unparsable field is left to others."""

    def __init__(self, lo: float | None, hi: float | None) -> None:
        self.lo, self.hi = lo, hi

    def __call__(self, form: Any, field: Field) -> None:
        v = field.data
        if v is None or field.process_errors:
            return
        if (self.lo is None or v >= self.lo) and (self.hi is None or v <= self.hi):
            return
        lo = fmt_num(self.lo, 0 if self.lo is None or float(self.lo).is_integer() else 2)
        hi = fmt_num(self.hi, 0 if self.hi is None or float(self.hi).is_integer() else 2)
        if self.lo is not None and self.hi is not None:
            raise FormError(_("Enter a value from %(min)s to %(max)s.", min=lo, max=hi))
        if self.lo is not None:
            raise FormError(_("Enter a value of at least %(min)s.", min=lo))
        raise FormError(_("Enter a value of at most %(max)s.", max=hi))


def _range(lo: float | None, hi: float | None) -> _Range:
    return _Range(lo, hi)


class _Below:
    """Validator: strictly below ``limit`` (percentages must stay under 100)."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, form: Any, field: Field) -> None:
        if field.data is not None and field.data >= self.limit:
            raise FormError(_("Enter a value below %(max)s.", max=fmt_num(self.limit, 0)))


class _Positive:
    """Validator: strictly greater than zero."""

    def __call__(self, form: Any, field: Field) -> None:
        if field.data is not None and field.data <= 0:
            raise FormError(_("Enter a value greater than zero."))


class ChoiceField(StringField):  # type: ignore[misc]
    """A value from a fixed list, rendered by the templates as radio buttons or a select.

    ``choices`` is a list of ``(value, label)`` pairs; WTForms' own select fields are not
    used because their tuple choices are deprecated in WTForms 3.3 and their replacement
    does not exist in older releases.
    """

    def __init__(self, label: Any, choices: Sequence[tuple[str, Any]] = (), **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.choices: list[tuple[str, Any]] = list(choices)

    def pre_validate(self, form: Any) -> None:
        """Refuse a value that is not one of the choices (a forged or stale form)."""
        if self.data not in {value for value, _label in self.choices}:
            raise FormError(_("Choose one of the listed options."))


class AssessmentForm(FlaskForm):  # type: ignore[misc]
    """The project and loan form; field names follow the request model (service/requests.py)."""

    class Meta:
        """Form options: CSRF is checked for every POST in ``_guard``."""

        csrf = False

    site_name = StringField(_l("Site name"), validators=[Optional(), Length(max=200)])
    lat = LocalFloat(_l("Latitude [°N]"), validators=[_required(), _range(-90, 90)])
    lon = LocalFloat(_l("Longitude [°E]"), validators=[_required(), _range(-180, 180)])
    technology = ChoiceField(
        _l("Technology"),
        choices=[("wind", _l("Wind")), ("solar", _l("Solar"))],
        default="wind",
        validators=[InputRequired(message=_l("Choose wind or solar."))],
    )
    capacity_mw = LocalFloat(
        _l("Capacity [MW]"), validators=[_required(), _Positive(), _range(None, 10_000)]
    )
    turbine_type = StringField(_l("Turbine type"), validators=[Length(max=100)])
    power_curve_csv = FileField(_l("or upload a power curve (CSV)"))
    hub_height_m = LocalFloat(_l("Hub height [m]"), validators=[_range(10, 250)])
    availability_pct = LocalFloat(
        _l("Availability loss [%]"), validators=[Optional(), _range(0, None), _Below(100)]
    )
    wake_pct = LocalFloat(
        _l("Wake loss [%]"), validators=[Optional(), _range(0, None), _Below(100)]
    )
    electrical_pct = LocalFloat(
        _l("Electrical loss [%]"), validators=[Optional(), _range(0, None), _Below(100)]
    )
    other_pct = LocalFloat(
        _l("Other losses [%]"), validators=[Optional(), _range(0, None), _Below(100)]
    )
    dc_ac_ratio = LocalFloat(_l("DC/AC ratio"), validators=[Optional(), _range(0.5, 2.0)])
    losses_pct = LocalFloat(
        _l("System losses [%]"), validators=[Optional(), _range(0, None), _Below(100)]
    )
    degradation_pct_per_year = LocalFloat(
        _l("Degradation [% per year]"), validators=[Optional(), _range(0, None), _Below(10)]
    )
    loan_amount = LocalFloat(
        _l("Loan amount"), validators=[_required(), _Positive(), _range(None, 1e13)]
    )
    currency = StringField(
        _l("Currency"),
        default="CNY",
        validators=[
            _required(),
            Regexp(r"^[A-Z]{3}$", message=_l("Use a three-letter ISO 4217 code such as CNY.")),
        ],
    )
    tenor_years = LocalInteger(_l("Tenor [years]"), validators=[_required(), _range(1, 30)])
    interest_rate_pct = LocalFloat(
        _l("Interest rate [% per year]"), validators=[_required(), _range(0, None), _Below(100)]
    )
    repayment = ChoiceField(
        _l("Repayment"),
        choices=[
            ("annuity", _l("Annuity (level payments)")),
            ("equal_principal", _l("Equal principal")),
            ("sculpted", _l("Sculpted to the P50 cash flow")),
        ],
        default="annuity",
    )
    tariff_per_mwh = LocalFloat(
        _l("Tariff [currency per MWh]"), validators=[_required(), _range(0, 1e7)]
    )
    opex_per_year = LocalFloat(
        _l("Operating cost [currency per year]"), validators=[_required(), _range(0, 1e12)]
    )
    policy = ChoiceField(_l("Lending product"), default="")
    project_cost = LocalFloat(
        _l("Total project cost"),
        validators=[Optional(), _Positive(), _range(None, 1e13)],
    )
    # site evidence for wind (service/site_evidence.py): an atlas mean or a mast CSV
    atlas_mean_wind_ms = LocalFloat(
        _l("Atlas long-term mean wind speed [m/s]"), validators=[Optional(), _range(0, 30)]
    )
    atlas_height_m = LocalFloat(_l("Atlas height [m]"), validators=[Optional(), _range(1, 300)])
    atlas_source = StringField(_l("Atlas source"), validators=[Optional(), Length(max=300)])
    mast_csv = FileField(_l("or upload an on-site mast (CSV)"))
    mast_height_m = LocalFloat(_l("Mast height [m]"), validators=[Optional(), _range(1, 300)])

    def validate_turbine_type(self, field: Field) -> None:
        """A wind project needs a library turbine with a power curve, or an uploaded curve."""
        if self.technology.data != "wind":
            return
        has_file = bool(getattr(self.power_curve_csv.data, "filename", ""))
        if not field.data and not has_file:
            raise FormError(_("Choose a turbine from the list or upload a power curve."))
        if field.data and has_file:
            raise FormError(_("Give either a turbine type or a power curve file, not both."))
        if field.data:
            from models.turbines import get_turbine

            try:
                turbine = get_turbine(field.data)
            except ValueError:
                raise FormError(
                    _("Unknown turbine type %(name)s; pick one from the list.", name=field.data)
                ) from None
            if turbine.power_curve is None:
                raise FormError(
                    _(
                        "The library has no power curve for %(name)s; choose another type.",
                        name=field.data,
                    )
                )

    def validate_hub_height_m(self, field: Field) -> None:
        """Wind projects need a hub height."""
        if self.technology.data == "wind" and field.data is None:
            raise FormError(_("Enter the hub height of the turbines."))

    def validate_project_cost(self, field: Field) -> None:
        """The project cost covers the loan (leverage cannot exceed 100 %)."""
        loan = self.loan_amount.data
        if field.data is not None and isinstance(loan, float) and field.data < loan:
            raise FormError(_("The project cost must be at least the loan amount."))

    def validate_policy(self, field: Field) -> None:
        """The product must exist and be for the project's technology."""
        if not field.data:
            return
        policy = _state().policies.get(field.data)
        if policy is None:
            raise FormError(_("Unknown lending product."))
        if policy.technology != self.technology.data:
            raise FormError(_("This lending product is for another technology."))


def parse_power_curve(data: bytes) -> dict[str, list[float]]:
    """Read an uploaded power curve: two columns, wind speed [m/s] and power [kW].

    A header row is allowed; commas, semicolons or tabs separate the columns.

    Raises
    ------
    ValueError
        With a translated message naming the line at fault.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(_("The file is not UTF-8 text.")) from None
    try:
        dialect: Any = csv.Sniffer().sniff(text[:2048], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    speeds: list[float] = []
    powers: list[float] = []
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise ValueError(_("The power curve is not valid: %(detail)s", detail=str(exc))) from None
    for n, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row if c.strip() != ""]
        if not cells:
            continue
        if len(cells) < 2:
            raise ValueError(_("Line %(n)s: expected two columns, wind speed and power.", n=n))
        try:
            ws, pw = float(cells[0]), float(cells[1])
        except ValueError:
            if n == 1 and not speeds:
                continue  # header
            raise ValueError(_("Line %(n)s: not a number.", n=n)) from None
        if not (math.isfinite(ws) and math.isfinite(pw)):
            raise ValueError(_("Line %(n)s: not a number.", n=n))
        speeds.append(ws)
        powers.append(pw)
    if len(speeds) < 2:
        raise ValueError(_("The power curve needs at least two rows."))
    if len(speeds) > 500:
        raise ValueError(_("The power curve has more than 500 rows."))
    from models.turbines import PowerCurve

    try:
        PowerCurve.from_points(speeds, powers, None)
    except ValueError as exc:
        raise ValueError(_("The power curve is not valid: %(detail)s", detail=str(exc))) from None
    return {"wind_speed_ms": speeds, "power_kw": powers}


def site_evidence_of(form: AssessmentForm) -> dict[str, Any] | None:
    """``project.site_evidence`` from the form's atlas fields or mast CSV (wind), or None.

    Raises
    ------
    ValueError
        Incomplete evidence or an unreadable mast CSV; the message is for the officer.
    """
    from service.errors import UsageError
    from service.site_evidence import parse_mast_csv

    if form.technology.data != "wind":
        return None
    upload = form.mast_csv.data
    has_mast = bool(getattr(upload, "filename", ""))
    atlas = form.atlas_mean_wind_ms.data
    if has_mast and atlas is not None:
        raise ValueError(_("Give either an atlas mean or a mast, not both."))
    if has_mast:
        if form.mast_height_m.data is None:
            raise ValueError(_("Give the height of the mast [m]."))
        try:
            text = upload.read().decode("utf-8-sig")
            mast = parse_mast_csv(text, float(form.mast_height_m.data), upload.filename)
        except UnicodeDecodeError:
            raise ValueError(_("The mast file is not UTF-8 text.")) from None
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        return {"mast": mast}
    if atlas is not None:
        height = form.atlas_height_m.data
        if height is None:
            height = form.hub_height_m.data
        return {
            "atlas": {
                "mean_wind_ms": atlas,
                "height_m": height,
                "source": (form.atlas_source.data or "").strip(),
            }
        }
    return None


def build_request(
    form: AssessmentForm,
    curve: Mapping[str, list[float]] | None,
    evidence: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The assessment request (contract v1, service/requests.py) from a validated form."""
    tech = form.technology.data
    project: dict[str, Any] = {"technology": tech, "capacity_mw": form.capacity_mw.data}
    if tech == "wind":
        if curve is not None:
            project["power_curve"] = dict(curve)
        else:
            from models.turbines import get_turbine

            project["turbine_type"] = get_turbine(str(form.turbine_type.data)).turbine_type
        project["hub_height_m"] = form.hub_height_m.data
        losses = {
            name: getattr(form, name).data
            for name in ("availability_pct", "wake_pct", "electrical_pct", "other_pct")
            if getattr(form, name).data is not None
        }
        if losses:
            project["losses"] = losses
        if evidence is not None:
            project["site_evidence"] = dict(evidence)
    else:
        for name in ("dc_ac_ratio", "losses_pct", "degradation_pct_per_year"):
            if getattr(form, name).data is not None:
                project[name] = getattr(form, name).data
    site: dict[str, Any] = {"lat": form.lat.data, "lon": form.lon.data}
    if form.site_name.data:
        site["name"] = form.site_name.data.strip()
    out: dict[str, Any] = {
        "site": site,
        "project": project,
        "finance": {
            "loan_amount": form.loan_amount.data,
            "currency": form.currency.data,
            "tenor_years": form.tenor_years.data,
            "interest_rate_pct": form.interest_rate_pct.data,
            "repayment": form.repayment.data,
            "tariff_per_mwh": form.tariff_per_mwh.data,
            "opex_per_year": form.opex_per_year.data,
        },
    }
    if form.project_cost.data is not None:
        out["finance"]["project_cost"] = form.project_cost.data
    if form.policy.data:
        out["policy"] = form.policy.data
    return out


#: Form field that shows an error at each request location (first two path parts).
_FIELD_OF: dict[tuple[str, ...], str] = {
    ("site", "lat"): "lat",
    ("site", "lon"): "lon",
    ("site", "name"): "site_name",
    ("site",): "lat",
    ("project", "power_curve"): "power_curve_csv",
    ("project", "site_evidence", "mast"): "mast_csv",
    ("project", "site_evidence", "atlas"): "atlas_mean_wind_ms",
    ("project", "site_evidence"): "atlas_mean_wind_ms",
    ("project", "losses"): "availability_pct",
    ("project",): "turbine_type",
    ("policy",): "policy",
    ("(body)",): "",
}


def _field_for(loc: Sequence[str], form: AssessmentForm) -> str:
    parts = tuple(p for p in loc if p)
    if parts[:3] == ("project", "site_evidence", "atlas") and parts[-1] == "source":
        return "atlas_source"
    for n in (3, 2, 1):
        if parts[:n] in _FIELD_OF:
            return _FIELD_OF[parts[:n]]
    name = parts[-1] if parts else ""
    if name in ("availability_pct", "wake_pct", "electrical_pct", "other_pct"):
        return name
    return name if name in form._fields else ""


def _attach(form: AssessmentForm, loc: Sequence[str], message: str) -> str | None:
    """Put ``message`` next to the field of ``loc``; return it when no field fits."""
    name = _field_for(loc, form)
    field = form._fields.get(name) if name else None
    if field is None:
        return message
    field.errors = [*list(field.errors or []), message]
    return None


def _form_defaults(form: AssessmentForm) -> None:
    """Fill an empty form with a typical wind project (the officer edits it)."""
    defaults = {
        "capacity_mw": 49.5,
        "turbine_type": "E-82/2300",
        "hub_height_m": 100.0,
        "loan_amount": 200_000_000.0,
        "tenor_years": 15,
        "interest_rate_pct": 4.2,
        "tariff_per_mwh": 250.0,
        "opex_per_year": 6_000_000.0,
    }
    for name, value in defaults.items():
        field = form._fields[name]
        if field.data is None or field.data == "":
            field.data = value


def _policy_choices(form: AssessmentForm) -> None:
    st = _state()
    key = "name_zh" if lang() == "zh" else "name_en"
    choices = [("", _("Default product for the technology"))]
    for pid, policy in sorted(st.policies.items()):
        tech = _("Wind") if policy.technology == "wind" else _("Solar")
        choices.append((pid, f"{getattr(policy, key)} ({tech}, v{policy.version})"))
    form.policy.choices = choices


def _turbine_options() -> list[dict[str, str]]:
    from models.turbines import list_turbines

    out = []
    for t in list_turbines(with_curve_only=True):
        out.append(
            {
                "value": t.turbine_type,
                "label": f"{t.manufacturer} · {fmt_num(t.rated_power_kw, 0)} kW",
            }
        )
    return out


def _number_arg(name: str, lo: float, hi: float) -> float | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        v = float(raw)
    except ValueError:
        return None
    return v if math.isfinite(v) and lo <= v <= hi else None


def _site_page(form: AssessmentForm, status: int = 200, general: Sequence[str] = ()) -> Any:
    st = _state()
    layer = request.args.get("layer", "trailing_3y_wind_ms")
    if layer not in LAYERS:
        layer = "trailing_3y_wind_ms"
    has_solar = "sunshine_hours" in st.cube._v
    if layer == "sunshine_hours" and not has_solar:
        layer = "trailing_3y_wind_ms"
    hub = _number_arg("hub_height_m", 10, 250)
    if hub is None:
        typed = form.hub_height_m.data
        hub = float(typed) if isinstance(typed, int | float) and 10 <= typed <= 250 else 100.0
    selected = None
    if isinstance(form.lat.data, float) and isinstance(form.lon.data, float):
        selected = (form.lat.data, form.lon.data)

    def link(lat: float, lon: float) -> str:
        return (
            url_for("web.site", layer=layer, hub_height_m=_short(hub), lat=lat, lon=lon)
            + "#project"
        )

    grid = build_map(st.cube, layer, float(hub), selected, link)
    cell_info = None
    if selected is not None:
        try:
            site = st.cube.site(*selected)
        except Exception:
            cell_info = {"outside": True}
        else:
            cell_info = {
                "outside": False,
                "lat": site.cell_lat,
                "lon": site.cell_lon,
                "distance_km": site.distance_km,
            }
    _policy_choices(form)
    return (
        render_template(
            "site.html",
            form=form,
            grid=grid,
            layer=layer,
            layers=[
                (name, layer_names()[name])
                for name in LAYERS
                if name != "sunshine_hours" or has_solar
            ],
            hub_height_m=hub,
            cell_info=cell_info,
            turbines=_turbine_options(),
            general_errors=list(general),
            dataset=st.cube.dataset,
            bounds={
                "lat": (float(np.min(st.cube.lats)), float(np.max(st.cube.lats))),
                "lon": (float(np.min(st.cube.lons)), float(np.max(st.cube.lons))),
            },
        ),
        status,
    )


def _short(v: float) -> str:
    return f"{v:g}"


@bp.route("/app/site")
def site() -> Any:
    """The map and the project and loan form."""
    _require_login()
    form = AssessmentForm(formdata=None)
    form.lat.data = _number_arg("lat", -90, 90)
    form.lon.data = _number_arg("lon", -180, 180)
    hub = _number_arg("hub_height_m", 10, 250)
    if hub is not None:
        form.hub_height_m.data = hub
    _form_defaults(form)
    return _site_page(form)


@bp.route("/app/assess", methods=["POST"])
def assess() -> Any:
    """Validate the form, assess through the API view (stored first), show the stored result."""
    record = _require_login()
    form = AssessmentForm()
    _policy_choices(form)
    ok = form.validate()
    curve = None
    upload = form.power_curve_csv.data
    if form.technology.data == "wind" and getattr(upload, "filename", ""):
        try:
            curve = parse_power_curve(upload.read())
        except ValueError as exc:
            form.power_curve_csv.errors = [*list(form.power_curve_csv.errors or []), str(exc)]
            ok = False
    evidence = None
    try:
        evidence = site_evidence_of(form)
    except ValueError as exc:
        target = form.mast_csv if getattr(form.mast_csv.data, "filename", "") else None
        target = target or form.atlas_mean_wind_ms
        target.errors = [*list(target.errors or []), str(exc)]
        ok = False
    if not ok:
        return _site_page(form, 400)
    raw = build_request(form, curve, evidence)
    from service.api import make_assessment
    from service.requests import AssessmentRequest

    general: list[str] = []
    try:
        parsed = AssessmentRequest.model_validate(raw)
    except PydanticValidationError as exc:
        for err in exc.errors(include_url=False):
            msg = str(err["msg"]).removeprefix("Value error, ")
            left = _attach(form, [str(p) for p in err["loc"]], msg)
            if left:
                general.append(left)
        return _site_page(form, 400, general)
    wait = _state().limiter.check(record.id)
    if wait is not None:
        return _site_page(form, 429, [_("Too many requests; try again in %(s)s s.", s=wait)])
    g.api_key = record
    try:
        stored, _replayed = make_assessment(_state(), parsed, raw, record)
    except Problem as problem:
        if problem.status == 422 and problem.errors:
            for perr in problem.errors:
                loc = str(perr.get("field", "")).split(".")
                text = str(perr.get("message", problem.detail))
                if loc and loc[0] == "site":
                    text = _("This site is outside the data or lacks usable years: %(d)s", d=text)
                left = _attach(form, loc, text)
                if left:
                    general.append(left)
        elif problem.status == 503:
            general.append(
                _(
                    "The assessment could not be recorded, so no decision was given. "
                    "Try again later."
                )
            )
        else:
            general.append(problem.detail)
        return _site_page(form, problem.status, general)
    return redirect(url_for("web.result", assessment_id=stored.id), 303)


# ============================================================================ results


def _load(assessment_id: str) -> AssessmentRecord:
    """The stored record, if the signed-in officer may see it (own, or an admin key)."""
    key = _require_login()
    try:
        return assessments.get(_state().store, key, assessment_id)
    except assessments.AssessmentNotFound:
        abort(404)
    except StoreUnavailable:
        abort(503)


_DECISION_TEXT = {
    "approve": _l("Approve"),
    "refer": _l("Refer to credit committee"),
    "decline": _l("Decline"),
}
_REPAYMENT_TEXT = {
    "annuity": _l("Annuity (level payments)"),
    "equal_principal": _l("Equal principal"),
    "sculpted": _l("Sculpted to the P50 cash flow"),
}
_DECISION_ICON = {"approve": "✔", "refer": "⚠", "decline": "✘"}
_OUTCOME_TEXT = {"approve": _l("pass"), "refer": _l("refer"), "decline": _l("decline")}
_GRADE_TEXT = {
    "Strong": _l("Strong"),
    "Good": _l("Good"),
    "Satisfactory": _l("Satisfactory"),
    "Weak": _l("Weak"),
}
_METRIC_TEXT = {
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
_PCT_METRICS = frozenset(
    {
        "climate.wind.iav",
        "climate.wind.monthly_cv",
        "energy.sigma",
        "energy.capacity_factor_p50",
        "repayment.pd_tenor",
        "repayment.pd_annual",
    }
)
_OPERATOR_TEXT = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}


def format_metric(metric: str, unit: str, value: float | None, currency: str = "") -> str:
    """A rule value or threshold with its unit, for the page's locale (:mod:`formatting`)."""
    if value is None:
        return str(_("not available"))
    known = formatting.SPREAD_METRICS | formatting.PD_METRICS | formatting.FRACTION_METRICS
    if metric in _PCT_METRICS and metric not in known:  # a fraction formatting does not list
        return fmt_pct(value, 2)
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
                "label": str(_METRIC_TEXT.get(metric, metric)),
                "metric": metric,
                "value": format_metric(metric, str(r.get("unit", "")), r.get("value"), currency),
                "threshold": f"{_OPERATOR_TEXT.get(str(r.get('operator')), r.get('operator'))} "
                + format_metric(metric, str(r.get("unit", "")), r.get("threshold"), currency),
                "passed": passed,
                "outcome": outcome,
                "outcome_text": str(_("pass") if passed else _OUTCOME_TEXT.get(outcome, outcome)),
                "icon": "✔" if passed else ("✘" if outcome == "decline" else "⚠"),
            }
        )
    decision = str(a.get("decision", "refer"))
    policy = _state().policies.get(str(prov.get("policy_id", "")))
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
        "decision_text": str(_DECISION_TEXT.get(decision, decision)),
        "decision_icon": _DECISION_ICON.get(decision, "?"),
        "reasons": reasons,
        "rules": rules,
        "currency": currency,
        "technology": tech,
        "policy_name": policy_name,
        "grade": rep.get("grade"),
        "grade_text": str(_GRADE_TEXT.get(str(rep.get("grade")), rep.get("grade") or "–")),
        "energy": energy,
        "repayment": rep,
        "climate": climate,
        "provenance": prov,
        "charts": build_charts(a, record, tech),
        "created_text": fmt_time(prov.get("created_at")),
        "repayment_text": str(
            _REPAYMENT_TEXT.get(str(rep.get("repayment")), rep.get("repayment") or "–")
        ),
        **result_extras(record, a),
        **risk_figures(a),
    }


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
        key = _state().store.get_key(record.api_key_id)
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
        "grade_text": str(_GRADE_TEXT.get(str(rep.get("scorecard_grade")), "–"))
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


def evidence_figures(energy: Mapping[str, Any]) -> list[tuple[str, str]]:
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
        out.append((str(_("Basis of the energy-model uncertainty")), str(ev["model_basis"])))
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
            figures.append((str(_METRIC_TEXT[f"repayment.{key}"]), f"{fmt_num(rep[key], 2)}×"))
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
    figures += evidence_figures(energy)
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
                str(_METRIC_TEXT["climate.wind.trend_pct_per_decade"]),
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
    st = _state()
    if st.cube.sha256 != record.dataset_sha256:
        return None
    try:
        site = st.cube.site(record.site_lat, record.site_lon)
    except Exception:
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
        svg = Markup(charts.to_svg(chart, element_id=f"chart-{key}")) if chart else None
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
            grade_names={k: str(v) for k, v in _GRADE_TEXT.items()},
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
                    "pd": _("Probability of default over the tenor"),
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
        return f"{paths} {_('No break-even values: the policy has no DSCR rule.')}"
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


@bp.route("/app/assessments/<assessment_id>")
def result(assessment_id: str) -> Any:
    """The stored result of one assessment."""
    record = _load(assessment_id)
    return render_template("result.html", v=result_view(record))


@bp.route("/app/assessments/<assessment_id>/memo")
def memo(assessment_id: str) -> Any:
    """The credit memo, ready to print on A4."""
    record = _load(assessment_id)
    return render_template("memo.html", v=result_view(record), now=datetime.now(UTC), in_memo=True)


@bp.route("/app/assessments/<assessment_id>/memo.pdf")
def memo_pdf(assessment_id: str) -> Response:
    """The credit memo as a PDF with the same content and charts."""
    return memo_pdf_response(_load(assessment_id))


def memo_pdf_response(record: AssessmentRecord) -> Response:
    """The PDF memo of a stored record, in the request's language, as a download.

    Shared by the web page and ``GET /api/v1/assessments/<id>/memo.pdf`` (the caller checks
    that the key may see the record).
    """
    from service.memo import render_pdf

    view = result_view(record)
    pdf = render_pdf(
        view,
        lang=lang(),
        labels=memo_labels(),
        fmt=fmt_num,
        glossary=[(t.id, t.abbr, t.name(lang()), t.text(lang())) for t in glossary.entries()],
        now=datetime.now(UTC),
    )
    name = f"credit-memo-{record.id[:12]}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/app/glossary")
def glossary_page() -> Any:
    """The glossary of the result page and the memo (open to everyone: no figures on it)."""
    return render_template("glossary.html")


# ============================================================================ exports


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
    return export_assessment(_load(assessment_id), fmt)


@bp.route("/app/history/export.<any(csv, xlsx):fmt>")
def export_history(fmt: str) -> Response:
    """The history as CSV or Excel, with the filters of the history page (all pages)."""
    from service import exports

    key = _require_login()
    try:
        rows = export_history_rows(_state().store, key, _history_filter())
    except StoreUnavailable:
        abort(503)
    return export_response(
        exports.history_file(rows, "csv" if fmt == "csv" else "xlsx"), fmt, "history"
    )


def memo_labels() -> dict[str, str]:
    """Translated headings and words of the PDF memo."""
    return {
        "title": _("Credit memo"),
        "decision": _("Decision"),
        "reasons": _("Reasons"),
        "no_reasons": _("Every rule of the lending product is met."),
        "rules": _("Rules of the lending product"),
        "rule": _("Rule"),
        "value": _("Value"),
        "threshold": _("Threshold"),
        "result": _("Result"),
        "site": _("Site"),
        "project": _("Project"),
        "loan": _("Loan"),
        "figures": _("Key figures"),
        "charts": _("Charts"),
        "provenance": _("Provenance"),
        "assessment_id": _("Assessment id"),
        "dataset": _("Dataset"),
        "policy": _("Lending product"),
        "models": _("Model versions"),
        "code": _("Code version"),
        "seed": _("Monte Carlo seed"),
        "created": _("Assessed at"),
        "synthetic": _("Synthetic demonstration data"),
        "printed": _("Printed"),
        "page": _("Page %(n)s", n="{n}"),
        "capacity": _("Capacity"),
        "technology": _("Technology"),
        "turbine": _("Turbine"),
        "hub_height": _("Hub height"),
        "amount": _("Loan amount"),
        "tenor": _("Tenor"),
        "rate": _("Interest rate"),
        "repayment": _("Repayment"),
        "tariff": _("Tariff"),
        "opex": _("Operating cost"),
        "years": _("years"),
        "p50": _("P50 annual energy"),
        "p90": _("P90 annual energy (10-year average)"),
        "dscr_p50": _("Minimum DSCR at P50 energy"),
        "dscr_p90": _("Minimum DSCR at 10-year P90 energy"),
        "llcr": _("Loan life coverage ratio"),
        "pd": _("Annual probability of default"),
        "grade": _("Grade"),
        "el": _("Expected loss (1 year)"),
        "cell": _("Data cell"),
        "wind": _("Wind"),
        "solar": _("Solar"),
        "generated_by": _("Generated by Climate Loan Risk"),
        "p90_1y": _("P90 annual energy (1 year)"),
        "p99": _("P99 annual energy (1 year)"),
        "iav": _("Inter-annual variability of wind speed"),
        "pd_scorecard": _("Probability of default from the scorecard"),
        "not_computed": _("The scorecard PD could not be computed:"),
        "signoff": _("Sign-off"),
        "officer": _("Credit officer"),
        "date": _("Date"),
        "signature": _("Signature"),
        "glossary": _("Glossary"),
        "watermark": _("Synthetic data — not for lending"),
        "synthetic_warning": _("this result is computed from made-up weather; never lend on it."),
        "climate_notes": _("Climate notes"),
    }


# ============================================================================ history


@dataclass(frozen=True)
class HistoryFilter:
    """Filters of the history page, parsed from the query string."""

    decision: str | None
    technology: str | None
    text: str
    date_from: date | None
    date_to: date | None
    page: int


def _history_filter() -> HistoryFilter:
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
    key = _require_login()
    f = _history_filter()
    try:
        rows, total = query_history(_state().store, key, f)
    except StoreUnavailable:
        abort(503)
    pages = max(1, math.ceil(total / HISTORY_PAGE))
    for r in rows:
        r["figures"] = history_figures(_state().store, key, str(r["id"]))
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
        decision_text={k: str(v) for k, v in _DECISION_TEXT.items()},
        decision_icon=_DECISION_ICON,
        export_urls={
            fmt: url_for("web.export_history", fmt=fmt, **args) for fmt in ("csv", "xlsx")
        },
    )


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
