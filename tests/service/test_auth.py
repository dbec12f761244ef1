"""API keys: format, hashing, constant-time check against the store, roles."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service import auth
from service.store import AuditStore


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> AuditStore:
    path = tmp_path_factory.mktemp("auth") / "audit.sqlite3"
    s = AuditStore(f"sqlite:///{path}")
    s.migrate()
    return s


def test_key_shape_and_entropy() -> None:
    keys = {auth.generate_key()[1] for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        key_id = auth.key_id_of(key)
        assert key_id is not None and key.startswith(f"clr_{key_id}_")
        assert len(key.split("_", 2)[2]) == 43  # 32 random bytes, URL-safe base64


def test_only_the_hash_is_stored(store: AuditStore) -> None:
    new = auth.create_key(store, "officer", "  Ana  ")
    stored = store.get_key(new.record.id)
    assert stored is not None
    assert stored.name == "Ana"
    # SHA-256 computed independently with hashlib on the key text.
    assert stored.key_sha256 == hashlib.sha256(new.key.encode()).hexdigest()
    assert new.key not in repr(stored)


def test_authenticate_accepts_the_key_and_nothing_else(store: AuditStore) -> None:
    new = auth.create_key(store, "modeller", "Mo")
    assert auth.authenticate(store, new.key) == new.record
    assert auth.authenticate(store, None) is None
    assert auth.authenticate(store, "") is None
    assert auth.authenticate(store, new.key[:-1] + ("A" if new.key[-1] != "A" else "B")) is None
    other_id = "0" * 16 if new.record.id != "0" * 16 else "1" * 16
    assert auth.authenticate(store, new.key.replace(new.record.id, other_id)) is None


def test_revoked_key_is_refused(store: AuditStore) -> None:
    new = auth.create_key(store, "officer", "Leaver")
    store.revoke_key(new.record.id)
    assert auth.authenticate(store, new.key) is None


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=120))
def test_random_text_never_authenticates(store: AuditStore, text: str) -> None:
    assert auth.authenticate(store, text) is None


@pytest.mark.parametrize(
    ("actual", "required", "allowed"),
    [
        ("officer", "officer", True),
        ("officer", "modeller", False),
        ("officer", "admin", False),
        ("modeller", "officer", True),
        ("modeller", "modeller", True),
        ("modeller", "admin", False),
        ("admin", "officer", True),
        ("admin", "admin", True),
        ("intruder", "officer", False),
    ],
)
def test_role_order(actual: str, required: str, allowed: bool) -> None:
    assert auth.has_role(actual, required) is allowed


@pytest.mark.parametrize(
    ("role", "name"), [("root", "x"), ("officer", "   "), ("officer", "x" * 201)]
)
def test_bad_role_or_name_is_refused(store: AuditStore, role: str, name: str) -> None:
    with pytest.raises(auth.KeyInputError, match=r"role|name"):
        auth.create_key(store, role, name)


def test_key_hash_is_unique_in_the_store(tmp_path: Path) -> None:
    s = AuditStore(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    s.migrate()
    s.add_key("a" * 16, "one", "officer", "c" * 64)
    from service.store import StoreUnavailable

    with pytest.raises(StoreUnavailable, match="UNIQUE"):
        s.add_key("b" * 16, "two", "officer", "c" * 64)
