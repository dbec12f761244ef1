"""Reads of stored assessments are scoped to the caller's key, the same in API and web page.

An officer (or modeller) sees only the assessments made with its own key; an admin sees all.
Another key's assessment is 404 with the same words as an id that does not exist.
"""

from __future__ import annotations

from typing import Any

import pytest

from service import assessments
from service.store import StoreUnavailable
from tests.service.conftest import WIND_REQUEST, new_key

V1 = "/api/v1"


def _make(client: Any, key: str, name: str) -> str:
    r = client.post(
        f"{V1}/assessments",
        json={**WIND_REQUEST, "site": {**WIND_REQUEST["site"], "name": name}},
        headers={"X-API-Key": key},
    )
    assert r.status_code == 201, r.get_data(as_text=True)
    return str(r.get_json()["id"])


@pytest.fixture
def keys(db_app: Any) -> dict[str, str]:
    return {
        "ana": new_key(db_app, "officer", "Ana"),
        "li": new_key(db_app, "officer", "Li"),
        "mo": new_key(db_app, "modeller", "Mo"),
        "root": new_key(db_app, "admin", "Root"),
    }


def test_api_reads_are_scoped_to_the_key(db_app: Any, keys: dict[str, str]) -> None:
    client = db_app.test_client()
    ana = _make(client, keys["ana"], "Ana's site")
    li = _make(client, keys["li"], "Li's site")
    mo = _make(client, keys["mo"], "Mo's site")

    def get(key: str, aid: str) -> Any:
        return client.get(f"{V1}/assessments/{aid}", headers={"X-API-Key": keys[key]})

    def ids(key: str) -> set[str]:
        r = client.get(f"{V1}/assessments?limit=100", headers={"X-API-Key": keys[key]})
        assert r.status_code == 200
        body = r.get_json()
        assert body["total"] == len(body["items"])
        return {item["id"] for item in body["items"]}

    assert get("ana", ana).status_code == 200
    theirs, missing = get("ana", li), get("ana", "0" * 32)
    assert theirs.status_code == missing.status_code == 404
    # not yours reads exactly as does not exist (only the id differs)
    assert theirs.get_json()["detail"].replace(li, "X") == missing.get_json()["detail"].replace(
        "0" * 32, "X"
    )
    assert ids("ana") == {ana} and ids("li") == {li}
    assert ids("mo") == {mo} and get("mo", ana).status_code == 404  # modeller: own only
    assert ids("root") == {ana, li, mo}
    for aid in (ana, li, mo):
        assert get("root", aid).status_code == 200


def test_web_result_history_and_memo_are_scoped(db_app: Any, keys: dict[str, str]) -> None:
    from tests.service.test_web import csrf

    client = db_app.test_client()
    ana = _make(client, keys["ana"], "Ana's site")
    li = _make(client, keys["li"], "Li's site")
    web = db_app.test_client()
    token = csrf(web)
    r = web.post("/app/login", data={"api_key": keys["ana"], "csrf_token": token})
    assert r.status_code == 303
    assert web.get(f"/app/assessments/{ana}").status_code == 200
    for path in (f"/app/assessments/{li}", f"/app/assessments/{li}/memo", "/app/assessments/x"):
        assert web.get(path).status_code == 404
    html = web.get("/app/history").get_data(as_text=True)
    assert ana in html and li not in html


def test_service_module_scopes_get_list_search_and_replay(
    db_app: Any, keys: dict[str, str]
) -> None:
    from service.api import replay_assessment

    st = db_app.extensions["climate_loan"]
    client = db_app.test_client()
    ana = _make(client, keys["ana"], "Ana's site")
    li = _make(client, keys["li"], "Li's site")
    store = st.store
    ana_key = store.get_key(keys["ana"].split("_")[1])
    admin_key = store.get_key(keys["root"].split("_")[1])
    assert assessments.get(store, ana_key, ana).id == ana
    with pytest.raises(assessments.AssessmentNotFound):
        assessments.get(store, ana_key, li)
    with pytest.raises(assessments.AssessmentNotFound):
        assessments.get(store, ana_key, "bad id\x00")  # never reaches the database
    assert [r.id for r in assessments.list_page(store, ana_key)[0]] == [ana]
    assert assessments.search(store, ana_key, text="site")[1] == 1
    assert assessments.search(store, admin_key, text="site")[1] == 2

    def recompute(rec: Any) -> dict[str, Any]:
        with db_app.app_context():
            return replay_assessment(st, rec)

    assert assessments.replay(store, ana_key, ana, recompute)["id"] == ana
    with pytest.raises(assessments.AssessmentNotFound):
        assessments.replay(store, ana_key, li, recompute)
    with pytest.raises(ValueError, match="not"):
        assessments.record(store, ana_key, store.get_assessment(li))
    assert StoreUnavailable  # the module raises the store's error unchanged
