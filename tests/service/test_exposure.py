"""What the service gives away: file modes of the audit database, words of 503 and health."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from service.app import create_app
from tests.service.conftest import WIND_REQUEST, make_config, new_key


def test_sqlite_audit_database_is_private(app: Any, tmp_path: Path) -> None:
    client = app.test_client()
    key = new_key(app, "officer")
    r = client.post("/api/v1/assessments", json=WIND_REQUEST, headers={"X-API-Key": key})
    assert r.status_code == 201
    files = sorted(tmp_path.glob("audit.sqlite3*"))
    assert "audit.sqlite3" in {f.name for f in files}
    for f in files:  # the database and its -wal and -shm files
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_health_and_503_name_no_host_port_or_driver(cube_path: Path, tmp_path: Path) -> None:
    url = "postgresql+psycopg://clr_secret_user@127.0.0.1:9/secretdb"
    app = create_app(make_config(cube_path, url, tmp_path, db_timeout_s=1.0))
    client = app.test_client()
    health = client.get("/api/v1/health")
    r = client.get("/api/v1/policies", headers={"X-API-Key": "clr_0123456789abcdef_" + "A" * 43})
    assert health.status_code == 503 and r.status_code == 503
    for resp in (health, r):
        # the problem's instance is the random request id (urn:request:9f...), whose hex digits
        # could look like the port; everything else must not name the database
        body = json.dumps({k: v for k, v in resp.get_json().items() if k != "instance"})
        for secret in ("127.0.0.1", ":9", "port 9", "clr_secret_user", "secretdb", "psycopg"):
            assert secret not in body, (secret, body)
        assert "connection" not in body.lower()
    assert health.get_json()["database"]["detail"] == "the audit database is not reachable"
    app.extensions["climate_loan"].store.dispose()
