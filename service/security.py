"""Response security headers, web sessions ended server-side, and security events.

Headers (every response): ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
``Referrer-Policy: same-origin`` and a ``Content-Security-Policy``. HTML pages get
:data:`PAGE_CSP` — only this origin's scripts, styles and images, no plugins, no framing, forms
posting only here; the pages have no inline script or style (the API docs page's one inline
stylesheet is allowed by its hash). Everything else (JSON, PDF) gets :data:`DATA_CSP`.

Web sessions: the signed cookie holds a random session id besides the key id; the audit
database keeps the sha256 of that id (``web_sessions``). Logout ends the row, so a copied
cookie is refused after logout even though its signature is still valid.

Security events (failed and throttled sign-ins, bad or expired API keys, logins, logouts) are
logged by the ``climate_loan.security`` logger with an ``event`` field, one JSON line each.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from typing import Any

from flask import Flask, Response, request

from service.openapi import _CSS
from service.store import AuditStore

#: Policy of the HTML pages.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'{extra_style}; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Policy of every other response (nothing may load from it; no framing).
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"

_log = logging.getLogger("climate_loan.security")


def security_event(event: str, message: str, **fields: Any) -> None:
    """Log a security event as a warning with ``event`` and the client address."""
    extra = {"event": event, "remote_addr": client_address(), **fields}
    _log.warning(message, extra=extra)


def client_address() -> str:
    """The client's address as the server sees it (put ProxyFix in front behind a proxy)."""
    try:
        return str(request.remote_addr or "unknown")
    except RuntimeError:  # outside a request
        return "none"


def _style_hash(css: str) -> str:
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def install(app: Flask) -> None:
    """Add the security headers to every response of ``app``."""
    docs_csp = PAGE_CSP.format(extra_style=" " + _style_hash(_CSS))
    page_csp = PAGE_CSP.format(extra_style="")

    @app.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            h.setdefault(
                "Content-Security-Policy", docs_csp if request.path == "/docs" else page_csp
            )
            h.setdefault("Cache-Control", "no-store")  # pages show loan data of one officer
        else:
            h.setdefault("Content-Security-Policy", DATA_CSP)
        return response


# ----- web sessions --------------------------------------------------------------------------


def _sha(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start_web_session(store: AuditStore, key_id: str) -> str:
    """Record a new web session of ``key_id``; return its random id (for the cookie)."""
    session_id = secrets.token_urlsafe(32)
    store.add_web_session(_sha(session_id), key_id)
    return session_id


def web_session_valid(store: AuditStore, session_id: str | None, key_id: str) -> bool:
    """Whether the session exists, has not ended, and belongs to ``key_id``."""
    if not session_id or not isinstance(session_id, str) or len(session_id) > 100:
        return False
    return store.web_session_key(_sha(session_id)) == key_id


def end_web_session(store: AuditStore, session_id: str | None) -> None:
    """End the session (logout), if there is one."""
    if session_id and isinstance(session_id, str) and len(session_id) <= 100:
        store.end_web_session(_sha(session_id))
