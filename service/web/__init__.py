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

Modules, one per page or concern (this package installs them with :func:`register`):
:mod:`~service.web.common` (blueprint, locale formats, sign-in check, CSRF, error pages),
:mod:`~service.web.login`, :mod:`~service.web.assess` (site page and its form,
:mod:`~service.web.forms`, :mod:`~service.web.site_map`), :mod:`~service.web.results` (result
page, :mod:`~service.web.figures`, :mod:`~service.web.result_charts`,
:mod:`~service.web.texts`),
:mod:`~service.web.memo_page` (memo, PDF, glossary), :mod:`~service.web.history` and
:mod:`~service.web.downloads` (CSV and Excel).

An assessment made here goes through :func:`service.api.make_assessment`, what the view behind
``POST /api/v1/assessments`` runs: the same validation, computation and audit record, stored
before the page shows it. A result page always shows the stored response, never a recomputation.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

from flask import Flask, request, session
from flask_babel import Babel

# the page modules register their views on the blueprint when imported
from service.web import assess, downloads, history, login, memo_page, results
from service.web.common import (
    LANGUAGES,
    bp,
    fmt_iav,
    fmt_mwh,
    fmt_num,
    fmt_pct,
    fmt_pd,
    fmt_ratio,
    fmt_time,
)
from service.web.downloads import export_assessment, export_history_rows, export_response
from service.web.history import HistoryFilter
from service.web.memo_page import memo_pdf_response
from service.web.results import format_metric

__all__ = [
    "LANGUAGES",
    "SECRET_FILE",
    "HistoryFilter",
    "assess",
    "bp",
    "downloads",
    "export_assessment",
    "export_history_rows",
    "export_response",
    "fmt_iav",
    "fmt_mwh",
    "fmt_num",
    "fmt_pct",
    "fmt_pd",
    "fmt_ratio",
    "fmt_time",
    "format_metric",
    "history",
    "login",
    "memo_page",
    "memo_pdf_response",
    "register",
    "results",
]

#: Name of the secret-key file created in the instance folder when SECRET_KEY is unset.
#: (S105: the name of the file that holds the key, not a key.)
SECRET_FILE = "web-secret-key"  # noqa: S105
_TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"


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
