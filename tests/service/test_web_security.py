"""Security headers, session cookies, server-side logout, throttled failures, key expiry."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from service import auth
from service.app import create_app
from service.cli import main
from service.store import utcnow
from tests.service.conftest import make_config, new_key
from tests.service.test_web import EN, csrf, login

V1 = "/api/v1"


class Events(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def events(self) -> list[str]:
        return [str(getattr(r, "event", "")) for r in self.records]


@pytest.fixture
def events() -> Iterator[Events]:
    handler = Events()
    logger = logging.getLogger("climate_loan.security")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def make_app(cube_path: Path, tmp_path: Path, **overrides: Any) -> Any:
    return create_app(
        make_config(cube_path, f"sqlite:///{tmp_path / 'audit.sqlite3'}", tmp_path, **overrides)
    )


# ----------------------------------------------------------------------------- headers


def test_pages_send_security_headers(app: Any, client: Any) -> None:
    for path in ("/app/login", "/docs"):
        r = client.get(path, headers=EN)
        assert r.status_code == 200 and r.mimetype == "text/html"
        h = r.headers
        assert h["X-Frame-Options"] == "DENY"
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "same-origin"
        csp = h["Content-Security-Policy"]
        for part in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"):
            assert part in csp, (path, csp)
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        html = r.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
        assert " style=" not in html
    # the docs page's one inline stylesheet is allowed by its hash, nothing else
    docs_csp = client.get("/docs").headers["Content-Security-Policy"]
    assert re.search(r"style-src 'self' 'sha256-[A-Za-z0-9+/=]+'", docs_csp)
    r = client.get(f"{V1}/health")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.parametrize("secure", [False, True])
def test_session_cookie_flags(cube_path: Path, tmp_path: Path, secure: bool) -> None:
    app = make_app(cube_path, tmp_path, secure_cookies=secure)
    client = app.test_client()
    token = csrf(client)
    r = client.post("/app/login", data={"api_key": new_key(app, "officer"), "csrf_token": token})
    assert r.status_code == 303
    cookie = next(v for k, v in r.headers.items() if k == "Set-Cookie" and "session=" in v)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is secure


def test_secure_cookies_from_the_environment() -> None:
    from service.config import ConfigError, config_from_env

    assert config_from_env({"CLIMATE_LOAN_SECURE_COOKIES": "1"}).secure_cookies is True
    assert config_from_env({}).secure_cookies is False
    with pytest.raises(ConfigError, match="CLIMATE_LOAN_SECURE_COOKIES"):
        config_from_env({"CLIMATE_LOAN_SECURE_COOKIES": "maybe"})


# ----------------------------------------------------------------------------- logout


def test_logout_ends_the_session_on_the_server(app: Any, events: Events) -> None:
    web = app.test_client()
    login(web, new_key(app, "officer"))
    assert web.get("/app/history").status_code == 200
    stolen = web.get_cookie("session").value  # a copy of the cookie, e.g. from a shared PC
    r = web.post("/app/logout", data={"csrf_token": csrf(web, "/app/site")})
    assert r.status_code == 303
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    r = thief.get("/app/history")
    assert r.status_code == 302 and "/app/login" in r.location
    assert {"login", "logout"} <= set(events.events())


# ----------------------------------------------------------------------------- throttling


def test_failed_logins_are_throttled_and_logged(
    cube_path: Path, tmp_path: Path, events: Events
) -> None:
    app = make_app(cube_path, tmp_path, auth_failures_per_minute=3)
    good = new_key(app, "officer")
    web = app.test_client()
    token = csrf(web)
    bad = good[:-4] + "AAAA"
    for _ in range(3):
        r = web.post("/app/login", data={"api_key": bad, "csrf_token": token}, headers=EN)
        assert r.status_code == 401
    r = web.post("/app/login", data={"api_key": good, "csrf_token": token}, headers=EN)
    assert r.status_code == 429 and "Too many requests" in r.get_data(as_text=True)
    assert events.events().count("login_failed") == 3 and "login_throttled" in events.events()
    failed = next(r for r in events.records if getattr(r, "event", "") == "login_failed")
    assert "wrong-secret" in failed.getMessage() and bad not in failed.getMessage()


def test_bad_api_keys_are_throttled_and_logged(
    cube_path: Path, tmp_path: Path, events: Events
) -> None:
    app = make_app(cube_path, tmp_path, auth_failures_per_minute=3)
    good = new_key(app, "officer")
    client = app.test_client()
    for bad in ("nonsense", "clr_0123456789abcdef_" + "A" * 43, good[:-4] + "AAAA"):
        assert client.get(f"{V1}/policies", headers={"X-API-Key": bad}).status_code == 401
    r = client.get(f"{V1}/policies", headers={"X-API-Key": good})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.mimetype == "application/problem+json"
    reasons = [r.getMessage() for r in events.records if r.event == "api_key_refused"]  # type: ignore[attr-defined]
    assert [m.rsplit(" ", 1)[-1] for m in reasons] == ["malformed", "unknown", "wrong-secret"]
    assert "auth_throttled" in events.events()
    # another address is not affected
    ok = client.get(
        f"{V1}/policies", headers={"X-API-Key": good}, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert ok.status_code == 200


# ----------------------------------------------------------------------------- expiry, names


def test_expired_keys_are_refused(app: Any, client: Any, events: Events) -> None:
    store = app.extensions["climate_loan"].store
    key_id, key = auth.generate_key()
    store.add_key(key_id, "Old", "officer", auth.hash_key(key), expires_at=utcnow() - timedelta(1))
    r = client.get(f"{V1}/policies", headers={"X-API-Key": key})
    assert r.status_code == 401 and "expired" in r.get_json()["detail"]
    web = app.test_client()
    r = web.post("/app/login", data={"api_key": key, "csrf_token": csrf(web)}, headers=EN)
    assert r.status_code == 401
    assert any("expired" in r.getMessage() for r in events.records)
    fresh = auth.create_key(store, "officer", "New", expires_days=30)
    assert fresh.record.expires_at is not None
    assert client.get(f"{V1}/policies", headers={"X-API-Key": fresh.key}).status_code == 200
    with pytest.raises(ValueError, match="expires_days"):
        auth.create_key(store, "officer", "x", expires_days=0)


def test_keys_create_expires_days_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CLIMATE_LOAN_DATABASE_URL", "CLIMATE_LOAN_CUBE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLIMATE_LOAN_INSTANCE_PATH", str(tmp_path / "instance"))
    assert (
        main(["keys", "create", "--role", "officer", "--name", "Tmp", "--expires-days", "7"]) == 0
    )
    out = capsys.readouterr().out
    assert "valid for 7 days" in out
    assert main(["keys", "list"]) == 0
    assert "expires " in capsys.readouterr().out
    assert main(["keys", "create", "--role", "officer", "--name", "X", "--expires-days", "0"]) == 2
    assert "expires_days" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["Ana\nadmin  2026-01-01  active", "Ana\x1b[31m", "A\x00", "A\u2028B"]
)
def test_key_names_with_control_characters_are_refused(
    app: Any, admin: dict[str, str], name: str
) -> None:
    store = app.extensions["climate_loan"].store
    with pytest.raises(ValueError, match="control characters"):
        auth.create_key(store, "officer", name)
    r = app.test_client().post(f"{V1}/keys", json={"role": "officer", "name": name}, headers=admin)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
