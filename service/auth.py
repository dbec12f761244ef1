"""API keys: creation, hashing, constant-time checking, and roles.

A key looks like ``clr_<id>_<secret>``: ``id`` (16 hex digits) names the stored record, and
``secret`` carries 256 random bits from :mod:`secrets`. Only the SHA-256 of the whole key is
stored. A plain (unsalted, fast) hash is enough for a key of this entropy — there is nothing
to guess from a dictionary — and the comparison uses :func:`hmac.compare_digest` so that its
time does not depend on where two hashes differ.

Roles are ordered: ``officer`` (create and read assessments; read policies, turbines and
models) < ``modeller`` (also manage models) < ``admin`` (also manage keys).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from service.store import ApiKeyRecord, AuditStore, utcnow

#: Roles, lowest first; a role may do everything the roles before it may.
ROLES: tuple[str, ...] = ("officer", "modeller", "admin")
#: Name of the request header carrying the key.
HEADER = "X-API-Key"
_PREFIX = "clr"
_KEY_RE = re.compile(r"^clr_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: the record as stored and the key itself (shown once)."""

    record: ApiKeyRecord
    key: str


def hash_key(key: str) -> str:
    """SHA-256 of the key, as 64 hex digits."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> tuple[str, str]:
    """Return ``(key_id, key)`` for a new random key."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)  # 32 bytes -> 43 URL-safe characters
    return key_id, f"{_PREFIX}_{key_id}_{secret}"


def key_id_of(key: str) -> str | None:
    """Return the id part of a well-formed key, None for anything else."""
    match = _KEY_RE.match(key)
    return match.group(1) if match else None


class KeyInputError(ValueError):
    """The role, name or lifetime of a new key cannot be used; the message says which."""


def check_role(role: str) -> str:
    """Return ``role`` if it is one of :data:`ROLES`, else raise :class:`KeyInputError`."""
    if role not in ROLES:
        raise KeyInputError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    return role


def has_role(actual: str, required: str) -> bool:
    """Tell whether a key of role ``actual`` may do what needs ``required``."""
    return actual in ROLES and ROLES.index(actual) >= ROLES.index(required)


#: Longest key lifetime ``expires_days`` may give [days].
MAX_EXPIRES_DAYS = 3650


def check_name(name: str) -> str:
    """Return the stripped key name; :class:`KeyInputError` if empty, too long or not printable."""
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise KeyInputError("the key name must have 1 to 200 characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        # a newline or escape sequence in a name forges lines in `keys list` and the logs
        raise KeyInputError("the key name must not contain control characters")
    return name


def create_key(
    store: AuditStore, role: str, name: str, *, expires_days: int | None = None
) -> NewKey:
    """Make a key, store its hash, and return it (the only time the key is seen).

    Parameters
    ----------
    store : AuditStore
        Migrated audit store.
    role : {"officer", "modeller", "admin"}
        Role of the key.
    name : str
        Who or what holds the key (a person, a system); 1-200 characters, no control
        characters.
    expires_days : int, optional
        The key is refused this many days after its creation (1 to 3650); None: never.

    Raises
    ------
    KeyInputError
        Unknown role, empty name or name with control characters, or a bad lifetime.
    service.store.StoreUnavailable
        The database cannot be written.
    """
    check_role(role)
    name = check_name(name)
    expires_at = None
    if expires_days is not None:
        if not 1 <= expires_days <= MAX_EXPIRES_DAYS:
            raise KeyInputError(f"expires_days must be from 1 to {MAX_EXPIRES_DAYS}")
        expires_at = utcnow() + timedelta(days=expires_days)
    key_id, key = generate_key()
    record = store.add_key(key_id, name, role, hash_key(key), expires_at=expires_at)
    return NewKey(record, key)


def check_key(store: AuditStore, key: str | None) -> tuple[ApiKeyRecord | None, str]:
    """Return ``(record, "ok")`` for an active matching key, else ``(None, reason)``.

    ``reason`` is one of ``missing``, ``malformed``, ``unknown``, ``wrong-secret``,
    ``revoked`` and ``expired``: for the security log, never for the client (which is told
    only that the key is not valid).

    Raises
    ------
    service.store.StoreUnavailable
        The database cannot be read.
    """
    if not key:
        return None, "missing"
    key_id = key_id_of(key.strip())
    if key_id is None:
        return None, "malformed"
    record = store.get_key(key_id)
    if record is None:
        return None, "unknown"
    if not hmac.compare_digest(hash_key(key.strip()), record.key_sha256):
        return None, "wrong-secret"
    if record.revoked_at is not None:
        return None, "revoked"
    if record.expired:
        return None, "expired"
    return record, "ok"


def authenticate(store: AuditStore, key: str | None) -> ApiKeyRecord | None:
    """Return the active (not revoked, not expired) stored key matching ``key``, or None.

    Raises
    ------
    service.store.StoreUnavailable
        The database cannot be read.
    """
    return check_key(store, key)[0]
