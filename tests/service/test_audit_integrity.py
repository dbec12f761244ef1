"""The audit records cannot be rewritten: REPLACE on SQLite, upserts, and a least-privilege role."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.store import AuditStore, app_role_grants
from tests.service.conftest import PG_ENV, WIND_REQUEST, make_config
from tests.service.test_store import record


@pytest.fixture
def store(db_url: str) -> Iterator[AuditStore]:
    s = AuditStore(db_url, timeout_s=2.0)
    s.migrate()
    s.add_key("0123456789abcdef", "Ana", "officer", "f" * 64)
    s.add_assessment(record(1, key_id="0123456789abcdef", decision="refer"))
    yield s
    s.dispose()


_COLUMNS = (
    "id, created_at, request_id, api_key_id, decision, technology, site_lat, site_lon, "
    "site_name, dataset_sha256, policy_id, policy_version, model_versions, code_version, seed, "
    "request_json, response_json"
)
_FORGED = (
    "'a0001', '2026-01-01 13:00:00', 'req', '0123456789abcdef', 'approve', 'wind', 44.1, 87.3, "
    "'Changji', 'ab', 'p', '1', '{}', '0', 1, '{}', '{\"decision\": \"approve\"}'"
)


@pytest.mark.parametrize(
    "statement",
    [
        f"INSERT OR REPLACE INTO assessments ({_COLUMNS}) VALUES ({_FORGED})",
        f"REPLACE INTO assessments ({_COLUMNS}) VALUES ({_FORGED})",
        f"INSERT INTO assessments ({_COLUMNS}) VALUES ({_FORGED}) "
        "ON CONFLICT(id) DO UPDATE SET decision = 'approve'",
    ],
    ids=["insert-or-replace", "replace-into", "upsert"],
)
def test_sqlite_replace_cannot_rewrite_a_record(tmp_path: Path, statement: str) -> None:
    path = tmp_path / "audit.sqlite3"
    s = AuditStore(f"sqlite:///{path}")
    s.migrate()
    s.add_key("0123456789abcdef", "Ana", "officer", "f" * 64)
    s.add_assessment(record(1, key_id="0123456789abcdef", decision="refer"))
    s.dispose()
    # the attack, on a plain connection to the file (no SQLAlchemy, default pragmas)
    conn = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(statement)
        conn.commit()
        assert conn.execute("SELECT decision FROM assessments").fetchall() == [("refer",)]
    finally:
        conn.close()


def test_postgresql_upsert_cannot_rewrite_a_record(store: AuditStore) -> None:
    if store.dialect != "postgresql":
        pytest.skip("the SQLite variants are tested above")
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
        conn.execute(
            sa.text(
                f"INSERT INTO assessments ({_COLUMNS}) VALUES ({_FORGED}) "
                "ON CONFLICT (id) DO UPDATE SET decision = 'approve'"
            )
        )
    assert store.get_assessment("a0001").decision == "refer"  # type: ignore[union-attr]


@pytest.fixture
def pg_app_role() -> Iterator[dict[str, str]]:
    """A fresh schema migrated by its owner and a login role with only the app's grants."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} not set")
    tag = uuid.uuid4().hex[:10]
    schema, role = f"t_{tag}", f"clr_app_{tag}"
    owner = sa.create_engine(base)
    with owner.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
    sep = "&" if "?" in base else "?"
    owner_url = f"{base}{sep}options=-csearch_path%3D{schema}"
    s = AuditStore(owner_url)
    s.migrate()
    s.dispose()
    with owner.begin() as conn:
        for statement in app_role_grants(role, schema):
            conn.execute(sa.text(statement))
    url = sa.engine.make_url(owner_url).set(username=role, password=None)
    try:
        yield {
            "owner_url": owner_url,
            "url": url.render_as_string(hide_password=False),
            "schema": schema,
            "role": role,
        }
    finally:
        with owner.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            conn.execute(sa.text(f'DROP ROLE "{role}"'))
        owner.dispose()


def test_postgresql_app_role_can_only_insert_and_select_audit_records(
    pg_app_role: dict[str, str], cube_path: Path, tmp_path: Path
) -> None:
    from service.app import create_app
    from service.auth import create_key

    app = create_app(make_config(cube_path, pg_app_role["url"], tmp_path))
    store = app.extensions["climate_loan"].store
    try:
        key = create_key(store, "officer", "Ana").key
        client = app.test_client()
        assert client.get("/api/v1/health").status_code == 200
        r = client.post("/api/v1/assessments", json=WIND_REQUEST, headers={"X-API-Key": key})
        assert r.status_code == 201, r.get_data(as_text=True)
        aid = r.get_json()["id"]
        got = client.get(f"/api/v1/assessments/{aid}", headers={"X-API-Key": key})
        assert got.status_code == 200 and got.data == r.data
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar() == pg_app_role["role"]
        for statement in (
            "UPDATE assessments SET decision = 'approve'",
            "DELETE FROM assessments",
            "TRUNCATE assessments",
            "UPDATE idempotency_keys SET key = 'x'",
            "DELETE FROM idempotency_keys",
            "DROP TRIGGER assessments_append_only ON assessments",
            "ALTER TABLE assessments DISABLE TRIGGER ALL",
        ):
            with (
                pytest.raises(sa.exc.ProgrammingError, match=r"permission denied|must be owner"),
                store.engine.begin() as conn,
            ):
                conn.execute(sa.text(statement))
        assert store.get_assessment(aid) is not None
    finally:
        store.dispose()


def test_grants_refuse_odd_identifiers() -> None:
    with pytest.raises(ValueError):
        app_role_grants('x"; DROP TABLE assessments; --')
