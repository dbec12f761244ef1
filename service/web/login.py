"""Sign-in and sign-out with an API key, and the language switch.

Pages ``/``, ``/app/login``, ``/app/logout`` and ``/app/lang/<code>``.
"""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import StringField
from wtforms.validators import InputRequired

from service import auth
from service.security import (
    client_address,
    end_web_session,
    security_event,
    start_web_session,
)
from service.store import StoreUnavailable
from service.web.common import (
    LANGUAGES,
    app_state,
    bp,
    safe_next,
)


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
    nxt = safe_next(request.values.get("next"))
    status = 200
    st = app_state()
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
        end_web_session(app_state().store, session.get("sid"))
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
    return redirect(safe_next(request.args.get("next")))
