"""Assessments as the application sees them: create, read, list and replay, scoped to the caller.

The API views (:mod:`service.api`), the web pages (:mod:`service.web`) and any command that reads
stored assessments go through this module, never through :class:`service.store.AuditStore`
directly, so that one rule decides who sees what:

=============  ==========================================================================
caller role    may read and replay
=============  ==========================================================================
``officer``    the assessments made with its own API key
``modeller``   the same: its own only (a modeller's extra rights are about models, not
               about other officers' loans)
``admin``      every assessment
=============  ==========================================================================

The owner of an assessment is the API key that created it (``api_key_id`` of the audit
record). An assessment the caller may not see is reported exactly as one that does not exist
(:class:`AssessmentNotFound`, answered 404 by the API and the web page, with the same words):
a 403 would confirm to an officer that another officer's id exists. The scope is applied in the
database query itself, so both cases take the same path.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from service.store import ApiKeyRecord, AssessmentRecord, AuditStore, IdempotencyKeyTaken

#: Roles that read every officer's assessments.
READ_ALL_ROLES: frozenset[str] = frozenset({"admin"})
#: What an assessment id can look like; anything else cannot exist (uuid4 hex by default).
_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class AssessmentNotFound(LookupError):
    """No assessment with this id that the caller may see (missing or another key's)."""

    def __init__(self, assessment_id: str) -> None:
        shown = (
            assessment_id
            if _ID_RE.match(assessment_id)
            else assessment_id[:64].encode("unicode_escape").decode("ascii")
        )
        super().__init__(f"no assessment with id {shown!r}")
        self.assessment_id = assessment_id


#: Columns of a listing row (:func:`search`, :func:`operator_history`), in display order.
LISTING_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "decision",
    "technology",
    "site_name",
    "site_lat",
    "site_lon",
    "policy_id",
    "policy_version",
)


def owner_scope(caller: ApiKeyRecord) -> str | None:
    """The ``api_key_id`` the caller's reads are limited to; None for a caller who sees all."""
    return None if caller.role in READ_ALL_ROLES else caller.id


def get(store: AuditStore, caller: ApiKeyRecord, assessment_id: str) -> AssessmentRecord:
    """Return a stored assessment the caller may see.

    Raises
    ------
    AssessmentNotFound
        No such assessment, or it belongs to another key (the same error for both).
    service.store.StoreUnavailable
        The database cannot be read.
    """
    if not _ID_RE.match(assessment_id):
        raise AssessmentNotFound(assessment_id)
    record = store.get_assessment(assessment_id, owner=owner_scope(caller))
    if record is None:
        raise AssessmentNotFound(assessment_id)
    return record


def list_page(
    store: AuditStore,
    caller: ApiKeyRecord,
    *,
    limit: int = 20,
    offset: int = 0,
    decision: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> tuple[list[AssessmentRecord], int]:
    """A page of the assessments the caller may see, newest first, and their total count.

    Raises
    ------
    service.store.StoreUnavailable
        The database cannot be read.
    """
    return store.list_assessments(
        limit=limit,
        offset=offset,
        decision=decision,
        created_from=created_from,
        created_to=created_to,
        owner=owner_scope(caller),
    )


def search(
    store: AuditStore,
    caller: ApiKeyRecord,
    *,
    decision: str | None = None,
    technology: str | None = None,
    text: str = "",
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Listing rows (no request or response text) of the caller's assessments, and the count.

    See :meth:`service.store.AuditStore.search_assessments` for the columns.

    Raises
    ------
    service.store.StoreUnavailable
        The database cannot be read.
    """
    return store.search_assessments(
        owner=owner_scope(caller),
        decision=decision,
        technology=technology,
        text=text,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        offset=offset,
    )


def operator_history(
    store: AuditStore,
    *,
    key_id: str | None = None,
    decision: str | None = None,
    technology: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = 20,
) -> tuple[list[dict[str, Any]], int]:
    """Listing rows for the operator of the database (``climate-loan history``).

    Whoever can open the audit database sees every key's records, as an admin does; with
    ``key_id`` only that key's.

    Raises
    ------
    service.store.StoreUnavailable
        The database cannot be read.
    """
    return store.search_assessments(
        owner=key_id,
        decision=decision,
        technology=technology,
        text="",
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        offset=0,
    )


def responses(store: AuditStore, caller: ApiKeyRecord, ids: Sequence[str]) -> dict[str, Any]:
    """Return ``{id: stored assessment object}`` for those of ``ids`` the caller may see.

    Raises
    ------
    service.store.StoreUnavailable
        The database cannot be read.
    """
    texts = store.responses_of(ids, owner=owner_scope(caller))
    return {key: json.loads(text) for key, text in texts.items()}


def replay(
    store: AuditStore,
    caller: ApiKeyRecord,
    assessment_id: str,
    recompute: Callable[[AssessmentRecord], dict[str, Any]],
) -> dict[str, Any]:
    """Recompute a stored assessment the caller may see (``recompute`` is the model run).

    Raises
    ------
    AssessmentNotFound
        As :func:`get`.
    """
    return recompute(get(store, caller, assessment_id))


def record(
    store: AuditStore,
    caller: ApiKeyRecord,
    rec: AssessmentRecord,
    *,
    idempotency: tuple[str, str] | None = None,
) -> AssessmentRecord:
    """Append an assessment made by ``caller`` to the audit store (before it is returned).

    With ``idempotency = (Idempotency-Key, request sha256)`` the key is stored with it; if a
    concurrent retry stored that key first, its assessment is returned instead (nothing new is
    stored), else ``rec``.

    Raises
    ------
    ValueError
        The record names another key as its owner.
    IdempotencyMismatch
        A concurrent request stored the same Idempotency-Key with a different request.
    service.store.StoreUnavailable
        The database cannot take it; no decision may be given.
    """
    if rec.api_key_id != caller.id:
        raise ValueError(
            f"assessment {rec.id} is recorded for key {rec.api_key_id}, not {caller.id}"
        )
    try:
        store.add_assessment(rec, idempotency=idempotency)
    except IdempotencyKeyTaken:
        stored = find_idempotent(store, caller, *idempotency) if idempotency else None
        if stored is None:  # pragma: no cover - the key was there a moment ago
            raise
        return stored
    return rec


class IdempotencyMismatch(ValueError):
    """The Idempotency-Key was used before with a different request."""

    def __init__(self, key: str, assessment_id: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was used with a different request (assessment "
            f"{assessment_id}); use a new key for a new request"
        )
        self.key = key
        self.assessment_id = assessment_id


def request_sha256(raw: Any) -> str:
    """sha256 of a request body as canonical JSON (key order and spacing do not matter)."""
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def find_idempotent(
    store: AuditStore, caller: ApiKeyRecord, key: str, sha256: str
) -> AssessmentRecord | None:
    """The assessment ``caller`` stored under Idempotency-Key ``key``, or None.

    Keys are scoped to the API key: another caller's same Idempotency-Key is unrelated.

    Raises
    ------
    IdempotencyMismatch
        The key was used with a request of another sha256.
    service.store.StoreUnavailable
        The database cannot be read.
    """
    found = store.find_idempotent(caller.id, key)
    if found is None:
        return None
    stored_sha, rec = found
    if stored_sha != sha256:
        raise IdempotencyMismatch(key, rec.id)
    return rec
