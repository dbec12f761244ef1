"""Audit store: the same tests on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.store import (
    SCHEMA_REVISION,
    AssessmentRecord,
    AuditStore,
    StoreUnavailable,
)


@pytest.fixture
def store(db_url: str) -> Any:
    s = AuditStore(db_url, timeout_s=2.0)
    s.migrate()
    yield s
    s.dispose()


def record(
    n: int, *, key_id: str, decision: str = "approve", created_at: datetime | None = None
) -> AssessmentRecord:
    response = {"id": f"a{n:04d}", "decision": decision, "value": 0.1 + n, "name": "风电 Changji"}
    return AssessmentRecord(
        id=f"a{n:04d}",
        created_at=created_at or datetime(2026, 1, 1, 12, 0, tzinfo=UTC) + timedelta(hours=n),
        request_id=f"req{n:08d}",
        api_key_id=key_id,
        decision=decision,
        technology="wind",
        site_lat=44.1,
        site_lon=87.3,
        site_name="Changji",
        dataset_sha256="ab" * 32,
        policy_id="wind_changji_v1",
        policy_version="1.0.0",
        model_versions={"scorecard": "1", "wind": "2"},
        code_version="0.1.0",
        seed=2**32 - 1,
        request_json=json.dumps({"site": {"lat": 44.1, "lon": 87.3}, "seed": n}),
        response_json=json.dumps(response, ensure_ascii=False),
    )


def test_migrate_is_idempotent_and_reports_revision(store: AuditStore) -> None:
    assert store.migrate() == SCHEMA_REVISION
    assert store.revision() == SCHEMA_REVISION
    status = store.status()
    assert status == {"backend": store.dialect, "status": "ok", "revision": SCHEMA_REVISION}


def test_key_round_trip_and_revoke(store: AuditStore) -> None:
    added = store.add_key("0123456789abcdef", "Ana Officer", "officer", "f" * 64)
    got = store.get_key("0123456789abcdef")
    assert got == added
    assert got is not None and got.active and got.created_at.tzinfo is not None
    assert store.get_key("ffffffffffffffff") is None
    revoked = store.revoke_key("0123456789abcdef")
    assert revoked is not None and not revoked.active
    assert revoked.revoked_at is not None and revoked.revoked_at >= added.created_at
    assert [k.id for k in store.list_keys()] == ["0123456789abcdef"]


def test_key_role_is_constrained(store: AuditStore) -> None:
    with pytest.raises(StoreUnavailable, match=r"ck_api_keys_role|CHECK constraint"):
        store.add_key("0123456789abcdef", "x", "superuser", "e" * 64)


def test_assessment_round_trip_is_exact(store: AuditStore) -> None:
    store.add_key("k1", "k", "officer", "a" * 64)
    rec = record(1, key_id="k1", created_at=datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC))
    store.add_assessment(rec)
    got = store.get_assessment(rec.id)
    assert got == rec  # every field, microseconds and UTC included
    assert got is not None and got.response_json == rec.response_json  # byte-exact text
    assert got.response["name"] == "风电 Changji"
    assert store.get_assessment("nope") is None


def test_list_filters_and_pages(store: AuditStore) -> None:
    store.add_key("k1", "k", "officer", "a" * 64)
    decisions = ["approve", "refer", "decline", "approve", "approve", "refer", "approve"]
    for n, d in enumerate(decisions):
        store.add_assessment(record(n, key_id="k1", decision=d))
    items, total = store.list_assessments(limit=3)
    assert total == 7
    assert [r.id for r in items] == ["a0006", "a0005", "a0004"]  # newest first
    items, _ = store.list_assessments(limit=3, offset=6)
    assert [r.id for r in items] == ["a0000"]
    items, total = store.list_assessments(decision="approve")
    assert total == 4 and {r.decision for r in items} == {"approve"}
    start = datetime(2026, 1, 1, 14, 0, tzinfo=UTC)  # records 2..
    end = datetime(2026, 1, 1, 17, 0, tzinfo=UTC)  # .. up to 4 (end is exclusive)
    items, total = store.list_assessments(created_from=start, created_to=end)
    assert total == 3 and [r.id for r in items] == ["a0004", "a0003", "a0002"]
    # The same instant in another time zone selects the same records.
    plus8 = start.astimezone(__import__("datetime").timezone(timedelta(hours=8)))
    assert store.list_assessments(created_from=plus8, created_to=end)[1] == 3


@pytest.mark.parametrize(
    "statement", ["UPDATE assessments SET decision = 'approve'", "DELETE FROM assessments"]
)
def test_assessments_are_append_only_in_the_database(store: AuditStore, statement: str) -> None:
    store.add_key("k1", "k", "officer", "a" * 64)
    store.add_assessment(record(1, key_id="k1", decision="decline"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as conn:
        conn.execute(sa.text(statement))
    got = store.get_assessment("a0001")
    assert got is not None and got.decision == "decline"


def test_duplicate_assessment_id_is_refused(store: AuditStore) -> None:
    store.add_key("k1", "k", "officer", "a" * 64)
    store.add_assessment(record(1, key_id="k1"))
    with pytest.raises(StoreUnavailable):
        store.add_assessment(record(1, key_id="k1", decision="decline"))
    got = store.get_assessment("a0001")
    assert got is not None and got.decision == "approve"


def test_unknown_key_id_is_refused(store: AuditStore) -> None:
    with pytest.raises(StoreUnavailable):
        store.add_assessment(record(1, key_id="no-such-key"))


def test_unreachable_sqlite_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    s = AuditStore(f"sqlite:///{blocker}/audit.sqlite3", timeout_s=0.5)
    with pytest.raises(StoreUnavailable, match="audit database error"):
        s.migrate()
    assert s.status()["status"] == "unavailable"


def test_unreachable_postgresql_is_unavailable_quickly() -> None:
    # Port 9 (discard) on loopback: nothing listens there, so the connection is refused.
    s = AuditStore("postgresql+psycopg://postgres@127.0.0.1:9/test", timeout_s=1.0)
    t0 = time.perf_counter()
    status = s.status()
    assert status["status"] == "unavailable" and status["backend"] == "postgresql"
    # the driver's words (host, port, driver name) are logged, never shown
    assert status["detail"] == "the audit database is not reachable"
    assert time.perf_counter() - t0 < 5.0
    with pytest.raises(StoreUnavailable):
        s.get_key("0123456789abcdef")


def test_sqlite_uses_wal_and_reads_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    s = AuditStore(f"sqlite:///{path}", timeout_s=0.3)
    s.migrate()
    s.add_key("k1", "k", "officer", "a" * 64)
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        assert s.get_key("k1") is not None  # WAL: readers are not blocked
        t0 = time.perf_counter()
        with pytest.raises(StoreUnavailable, match="locked"):
            s.add_assessment(record(1, key_id="k1"))
        assert 0.25 < time.perf_counter() - t0 < 3.0  # waited for the busy timeout, then gave up
    finally:
        other.execute("ROLLBACK")
        other.close()
    s.add_assessment(record(1, key_id="k1"))
    assert s.get_assessment("a0001") is not None
    s.dispose()


_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.none() | _text,
    payload=_json_values,
    seed=st.integers(0, 2**63 - 1),
    micro=st.integers(0, 999_999),
)
def test_any_record_round_trips(
    tmp_path: Path, name: str | None, payload: Any, seed: int, micro: int
) -> None:
    path = tmp_path / "prop.sqlite3"
    s = AuditStore(f"sqlite:///{path}", timeout_s=1.0)
    s.migrate()
    if s.get_key("k1") is None:
        s.add_key("k1", "k", "officer", "a" * 64)
    n = s.list_assessments(limit=1)[1]
    text = json.dumps({"payload": payload}, ensure_ascii=False)
    rec = AssessmentRecord(
        **{
            **record(n, key_id="k1").__dict__,
            "site_name": name,
            "seed": seed,
            "created_at": datetime(2026, 5, 6, 7, 8, 9, micro, tzinfo=UTC),
            "response_json": text,
            "request_json": text,
        }
    )
    s.add_assessment(rec)
    got = s.get_assessment(rec.id)
    s.dispose()
    assert got == rec
    assert got is not None and json.loads(got.response_json) == {"payload": payload}


def test_unmigrated_database_is_reported(db_url: str) -> None:
    s = AuditStore(db_url, timeout_s=2.0)
    assert s.revision() is None
    status = s.status()
    assert status["status"] == "unavailable" and "run migrations" in status["detail"]
    with pytest.raises(StoreUnavailable):
        s.get_key("0123456789abcdef")
    assert s.migrate() == SCHEMA_REVISION and s.status()["status"] == "ok"
    s.dispose()
