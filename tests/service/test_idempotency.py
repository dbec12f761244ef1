"""`Idempotency-Key` on POST /api/v1/assessments: a retry returns the stored assessment."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from tests.service.conftest import WIND_REQUEST, new_key
from tests.service.test_api import assert_problem

V1 = "/api/v1"


def post(client: Any, body: Any, key: str, idem: str | None) -> Any:
    headers = {"X-API-Key": key}
    if idem is not None:
        headers["Idempotency-Key"] = idem
    return client.post(f"{V1}/assessments", json=body, headers=headers)


def count(app: Any) -> int:
    return int(app.extensions["climate_loan"].store.list_assessments()[1])


def test_retry_returns_the_stored_assessment(db_app: Any) -> None:
    client = db_app.test_client()
    key = new_key(db_app, "officer")
    unseeded = {k: v for k, v in WIND_REQUEST.items() if k != "seed"}  # a random seed each time
    first = post(client, unseeded, key, "retry-0001")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    # the same body with other key order and spacing is the same request
    again = client.post(
        f"{V1}/assessments",
        data=json.dumps(dict(reversed(list(unseeded.items()))), indent=2),
        headers={
            "X-API-Key": key,
            "Idempotency-Key": "retry-0001",
            "Content-Type": "application/json",
        },
    )
    assert again.status_code == 201 and again.data == first.data  # same id, same body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert count(db_app) == 1
    # without the header, or with another key, a new assessment
    assert post(client, unseeded, key, None).get_json()["id"] != first.get_json()["id"]
    assert post(client, unseeded, key, "retry-0002").get_json()["id"] != first.get_json()["id"]
    assert count(db_app) == 3


def test_same_key_with_another_body_is_422(db_app: Any) -> None:
    client = db_app.test_client()
    key = new_key(db_app, "officer")
    assert post(client, WIND_REQUEST, key, "k-1").status_code == 201
    changed = {**WIND_REQUEST, "seed": 8}
    body = assert_problem(post(client, changed, key, "k-1"), 422, "header.Idempotency-Key")
    assert "different request" in body["detail"]
    assert count(db_app) == 1


def test_keys_are_scoped_to_the_api_key(db_app: Any) -> None:
    client = db_app.test_client()
    ana, li = new_key(db_app, "officer", "Ana"), new_key(db_app, "officer", "Li")
    a = post(client, WIND_REQUEST, ana, "shared-key")
    b = post(client, WIND_REQUEST, li, "shared-key")
    assert a.status_code == b.status_code == 201
    assert a.get_json()["id"] != b.get_json()["id"]  # Li does not get Ana's assessment
    assert "Idempotent-Replayed" not in b.headers


@pytest.mark.parametrize("bad", ["", "x" * 256, "with space", "non-ascii-é"])
def test_malformed_key_is_400(client: Any, officer: dict[str, str], bad: str) -> None:
    r = client.post(
        f"{V1}/assessments",
        json=WIND_REQUEST,
        headers={**officer, "Idempotency-Key": bad.encode("utf-8").decode("latin-1")},
    )
    assert_problem(r, 400)


def test_idempotency_records_are_append_only(db_app: Any) -> None:
    client = db_app.test_client()
    key = new_key(db_app, "officer")
    assert post(client, WIND_REQUEST, key, "k-9").status_code == 201
    store = db_app.extensions["climate_loan"].store
    for statement in (
        "UPDATE idempotency_keys SET request_sha256 = 'x'",
        "DELETE FROM idempotency_keys",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_concurrent_retry_returns_the_first(db_app: Any) -> None:
    """Two requests with one key race past the look-up; the store keeps the first only."""
    from service import assessments
    from service.store import AssessmentRecord

    store = db_app.extensions["climate_loan"].store
    client = db_app.test_client()
    key = new_key(db_app, "officer")
    first = post(client, WIND_REQUEST, key, "race-1").get_json()
    caller = store.get_key(key.split("_")[1])
    stored = store.get_assessment(first["id"])
    twin = AssessmentRecord(**{**stored.__dict__, "id": "f" * 32})
    sha = assessments.request_sha256(WIND_REQUEST)
    got = assessments.record(store, caller, twin, idempotency=("race-1", sha))
    assert got.id == first["id"] and store.get_assessment("f" * 32) is None
    with pytest.raises(assessments.IdempotencyMismatch):
        assessments.record(store, caller, twin, idempotency=("race-1", "0" * 64))
