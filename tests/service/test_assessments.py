"""Assessments through the API: validation errors, audit records on both databases, 503 without
a decision when the store is unavailable, paging and filters, reproducibility."""

from __future__ import annotations

import copy
import dataclasses
import json
import platform
import sqlite3
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import schemas
from service.api import replay_assessment
from service.app import create_app
from tests.service.conftest import WIND_REQUEST, make_config, new_key
from tests.service.test_api import assert_problem, post_json

V1 = "/api/v1"


def with_change(path: str, value: Any, base: dict[str, Any] = WIND_REQUEST) -> dict[str, Any]:
    """Copy of ``base`` with the dotted ``path`` set to ``value`` (or removed for ...)."""
    body = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = body
    for p in parents:
        node = node[p]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return body


# ----- stored on each backend -----------------------------------------------------------------


def test_create_get_list_on_each_database(db_app: Any, db_url: str, cube_path: Path) -> None:
    client = db_app.test_client()
    headers = {"X-API-Key": new_key(db_app, "officer"), "X-Request-ID": "req-create-0001"}
    r = post_json(client, f"{V1}/assessments", WIND_REQUEST, headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    body = r.get_json()
    schemas.AssessmentOut.model_validate(body)
    assert r.headers["Location"] == f"{V1}/assessments/{body['id']}"
    # Stored before it was returned, with its provenance.
    store = db_app.extensions["climate_loan"].store
    record = store.get_assessment(body["id"])
    assert record is not None
    assert record.response_json == r.get_data(as_text=True)
    assert json.loads(record.request_json) == WIND_REQUEST
    assert record.seed == WIND_REQUEST["seed"] == body["provenance"]["seed"]
    assert record.request_id == "req-create-0001"
    assert record.api_key_id == headers["X-API-Key"].split("_")[1]
    assert record.dataset_sha256 == db_app.extensions["climate_loan"].cube.sha256
    assert record.decision == body["decision"]
    assert record.policy_id == body["provenance"]["policy_id"] == "wind_changji_v1"
    assert record.model_versions == body["provenance"]["model_versions"]
    assert record.code_version == body["provenance"]["code_version"]
    # Read back: byte for byte what was sent.
    got = client.get(f"{V1}/assessments/{body['id']}", headers=headers)
    assert got.status_code == 200 and got.get_data() == r.get_data()
    listing = client.get(f"{V1}/assessments", headers=headers).get_json()
    schemas.AssessmentList.model_validate(listing)
    assert listing["total"] == 1 and listing["items"][0]["id"] == body["id"]
    assert listing["items"][0]["site"] == {"lat": 44.1, "lon": 87.3, "name": "Changji test"}
    assert_problem(client.get(f"{V1}/assessments/does-not-exist", headers=headers), 404)


def test_seed_is_drawn_and_recorded_when_omitted(app: Any, officer: dict[str, str]) -> None:
    client = app.test_client()
    body = with_change("seed", ...)
    first = post_json(client, f"{V1}/assessments", body, officer).get_json()
    seed = first["provenance"]["seed"]
    assert isinstance(seed, int) and 0 <= seed < 2**32
    record = app.extensions["climate_loan"].store.get_assessment(first["id"])
    assert record.seed == seed and "seed" not in record.request


# ----- reproducibility ------------------------------------------------------------------------


def test_replaying_a_stored_assessment_gives_the_identical_response(
    app: Any, officer: dict[str, str]
) -> None:
    client = app.test_client()
    created = post_json(client, f"{V1}/assessments", with_change("seed", ...), officer)
    assert created.status_code == 201
    st = app.extensions["climate_loan"]
    record = st.store.get_assessment(created.get_json()["id"])
    # Same dataset and versions as recorded ...
    assert record.dataset_sha256 == st.cube.sha256
    # ... so the stored request with the stored seed gives the identical object.
    with app.test_request_context():
        again = replay_assessment(st, record)
    assert json.dumps(again, ensure_ascii=False) == record.response_json
    # Over HTTP: the same request with that seed differs only in id and time.
    second = post_json(
        client, f"{V1}/assessments", with_change("seed", record.seed), officer
    ).get_json()
    first = record.response
    for obj in (first, second):
        obj.pop("id")
        obj["provenance"].pop("created_at")
    assert second == first


def test_a_new_app_on_the_same_database_reproduces_it(cube_path: Path, tmp_path: Path) -> None:
    cfg = make_config(cube_path, f"sqlite:///{tmp_path / 'audit.sqlite3'}", tmp_path)
    app1 = create_app(cfg)
    headers = {"X-API-Key": new_key(app1, "officer")}
    made = post_json(app1.test_client(), f"{V1}/assessments", WIND_REQUEST, headers).get_json()
    app2 = create_app(cfg)  # another worker process would do the same
    st = app2.extensions["climate_loan"]
    record = st.store.get_assessment(made["id"])
    with app2.test_request_context():
        assert replay_assessment(st, record) == made
        # 2.0 had no lgd_pct: the fixed 20 % of then, so its figures replay unchanged
        v20 = replay_assessment(st, dataclasses.replace(record, policy_version="2.0"))
        assert v20["provenance"]["policy_version"] == "2.0"
        assert v20["repayment"] == made["repayment"]


# ----- store unavailable -> 503, no decision --------------------------------------------------


def test_locked_database_gives_503_and_no_decision(cube_path: Path, tmp_path: Path) -> None:
    db = tmp_path / "audit.sqlite3"
    app = create_app(make_config(cube_path, f"sqlite:///{db}", tmp_path, db_timeout_s=0.3))
    client = app.test_client()
    headers = {"X-API-Key": new_key(app, "officer")}
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
    try:
        r = post_json(client, f"{V1}/assessments", WIND_REQUEST, headers)
        body = assert_problem(r, 503)
        assert "decision" not in body and "no decision" in body["detail"]
        assert r.headers["Retry-After"] == "30"
        health = client.get(f"{V1}/health")
        assert health.status_code == 200  # readers still work under WAL
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert app.extensions["climate_loan"].store.list_assessments()[1] == 0  # nothing stored
    assert post_json(client, f"{V1}/assessments", WIND_REQUEST, headers).status_code == 201


def test_unreachable_database_gives_503_everywhere_but_health_reports_it(
    cube_path: Path, tmp_path: Path
) -> None:
    cfg = make_config(
        cube_path, "postgresql+psycopg://postgres@127.0.0.1:9/test", tmp_path, db_timeout_s=1.0
    )
    app = create_app(cfg)  # starts: health must be able to say what is wrong
    client = app.test_client()
    health = client.get(f"{V1}/health")
    assert health.status_code == 503
    body = schemas.HealthOut.model_validate(health.get_json())
    assert body.status == "degraded" and body.database.status == "unavailable"
    r = post_json(
        client, f"{V1}/assessments", WIND_REQUEST, {"X-API-Key": "clr_0123456789abcdef_" + "a" * 43}
    )
    assert "decision" not in assert_problem(r, 503)


# ----- request errors -------------------------------------------------------------------------


def test_wrong_content_type_is_415(client: Any, officer: dict[str, str]) -> None:
    r = client.post(
        f"{V1}/assessments",
        data=json.dumps(WIND_REQUEST),
        headers={**officer, "Content-Type": "text/plain"},
    )
    assert "application/json" in assert_problem(r, 415)["detail"]
    r = client.post(f"{V1}/assessments", data=json.dumps(WIND_REQUEST), headers=officer)
    assert_problem(r, 415)


def test_malformed_json_is_400(client: Any, officer: dict[str, str]) -> None:
    r = client.post(
        f"{V1}/assessments",
        data='{"site": ',
        headers={**officer, "Content-Type": "application/json"},
    )
    assert "not valid JSON" in assert_problem(r, 400)["detail"]
    r = client.post(
        f"{V1}/assessments",
        data=b"\xff\xfe",
        headers={**officer, "Content-Type": "application/json"},
    )
    assert_problem(r, 400)


def test_body_over_the_limit_is_413(cube_path: Path, tmp_path: Path) -> None:
    app = create_app(
        make_config(
            cube_path, f"sqlite:///{tmp_path / 'a.sqlite3'}", tmp_path, max_content_length=2048
        )
    )
    client = app.test_client()
    headers = {"X-API-Key": new_key(app, "officer"), "Content-Type": "application/json"}
    big = with_change("site.name", "x" * 4000)
    assert_problem(client.post(f"{V1}/assessments", data=json.dumps(big), headers=headers), 413)
    assert (
        client.post(f"{V1}/assessments", data=json.dumps(WIND_REQUEST), headers=headers).status_code
        == 201
    )


CURVE = {"wind_speed_ms": [3, 5, 8, 12, 25], "power_kw": [0, 300, 1500, 3000, 3000]}


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("site.lat", 90.5, "site.lat"),
        ("site.lat", -91, "site.lat"),
        ("site.lon", 181, "site.lon"),
        ("project.capacity_mw", -5, "project.capacity_mw"),
        ("project.capacity_mw", 0, "project.capacity_mw"),
        ("finance.tenor_years", 0, "finance.tenor_years"),
        ("finance.tenor_years", 31, "finance.tenor_years"),
        ("project.turbine_type", "E-126/9999", "project.turbine_type"),
        ("policy", "no_such_policy", "policy"),
        ("policy", "solar_default_v1", "(body)"),
        ("project.hub_height_m", 5, "project.hub_height_m"),
        ("finance.repayment", "balloon", "finance.repayment"),
        ("finance.loan_amount", "5 million", "finance.loan_amount"),
        ("project.surprise", 1, "project.surprise"),
        ("site", ..., "site"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(
    client: Any, officer: dict[str, str], path: str, value: Any, field: str
) -> None:
    body = assert_problem(
        post_json(client, f"{V1}/assessments", with_change(path, value), officer), 422
    )
    fields = {e["field"] for e in body["errors"]}
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    assert "decision" not in body


def test_unknown_turbine_suggests_close_matches(client: Any, officer: dict[str, str]) -> None:
    body = assert_problem(
        post_json(
            client, f"{V1}/assessments", with_change("project.turbine_type", "E-126/420"), officer
        ),
        422,
    )
    assert "E-126/4200" in body["errors"][0]["message"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_422(client: Any, officer: dict[str, str], literal: str) -> None:
    text = json.dumps(WIND_REQUEST).replace('"capacity_mw": 49.5', f'"capacity_mw": {literal}')
    assert literal in text
    r = client.post(
        f"{V1}/assessments", data=text, headers={**officer, "Content-Type": "application/json"}
    )
    body = assert_problem(r, 422, "project.capacity_mw")
    assert "finite" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("curve", "needle"),
    [
        (
            {"wind_speed_ms": [3, 5, 4, 12, 25], "power_kw": [0, 300, 1500, 3000, 3000]},
            "increasing",
        ),
        ({"wind_speed_ms": [3, 5, 8, 12, 25], "power_kw": [0, -300, 1500, 3000, 3000]}, "negative"),
        ({"wind_speed_ms": [3, 5, 8], "power_kw": [0, 300]}, "one power per speed"),
    ],
)
def test_bad_custom_power_curve_is_422(
    client: Any, officer: dict[str, str], curve: dict[str, Any], needle: str
) -> None:
    body = with_change("project.turbine_type", ...)
    body["project"]["power_curve"] = curve
    problem = assert_problem(post_json(client, f"{V1}/assessments", body, officer), 422)
    assert problem["errors"][0]["field"].startswith("project.power_curve")
    assert needle in json.dumps(problem["errors"]).lower()


def test_custom_power_curve_is_accepted(client: Any, officer: dict[str, str]) -> None:
    body = with_change("project.turbine_type", ...)
    body["project"]["power_curve"] = CURVE
    r = post_json(client, f"{V1}/assessments", body, officer)
    assert r.status_code == 201, r.get_data(as_text=True)


def test_site_outside_the_data_is_422(client: Any, officer: dict[str, str]) -> None:
    body = with_change("site.lat", 10.0)
    problem = assert_problem(post_json(client, f"{V1}/assessments", body, officer), 422, "site")
    assert "outside the data" in problem["detail"]


def test_body_must_be_an_object(client: Any, officer: dict[str, str]) -> None:
    assert_problem(post_json(client, f"{V1}/assessments", [WIND_REQUEST], officer), 422)


# ----- list: paging and filters ---------------------------------------------------------------


def test_paging_and_filters(app: Any, officer: dict[str, str]) -> None:
    client = app.test_client()
    ids = []
    for seed in range(5):
        r = post_json(client, f"{V1}/assessments", with_change("seed", seed), officer)
        ids.append(r.get_json()["id"])
    page = client.get(f"{V1}/assessments?limit=2", headers=officer).get_json()
    assert page["total"] == 5 and [i["id"] for i in page["items"]] == ids[::-1][:2]
    seen = [i["id"] for i in page["items"]]
    while page["next"]:
        page = client.get(page["next"], headers=officer).get_json()
        seen += [i["id"] for i in page["items"]]
    assert seen == ids[::-1]
    decision = client.get(f"{V1}/assessments/{ids[0]}", headers=officer).get_json()["decision"]
    same = client.get(f"{V1}/assessments?decision={decision}", headers=officer).get_json()
    assert same["total"] == 5 and {i["decision"] for i in same["items"]} == {decision}
    today = datetime.now(UTC).date()
    tomorrow = today + timedelta(days=1)
    assert (
        client.get(f"{V1}/assessments?created_from={tomorrow}", headers=officer).get_json()["total"]
        == 0
    )
    assert (
        client.get(f"{V1}/assessments?created_to={today}", headers=officer).get_json()["total"] == 5
    )
    assert (
        client.get(
            f"{V1}/assessments?created_to={today - timedelta(days=1)}", headers=officer
        ).get_json()["total"]
        == 0
    )
    for bad in (
        "limit=0",
        "limit=101",
        "offset=-1",
        "decision=maybe",
        "created_from=yesterday",
        "colour=red",
    ):
        assert_problem(
            client.get(f"{V1}/assessments?{bad}", headers=officer), 422, bad.split("=")[0]
        )


# ----- property: any valid request inside the data gives a stored, well-formed answer ---------

_SEVERITY = {"approve": 0, "refer": 1, "decline": 2}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lat=st.floats(44.0, 44.5),
    lon=st.floats(87.0, 87.5),
    capacity=st.floats(0.5, 500),
    hub=st.floats(40, 160),
    turbine=st.sampled_from(["E-126/4200", "E-82/2300", "V90/2000"]),
    loan=st.floats(1e5, 5e8),
    tenor=st.integers(1, 30),
    rate=st.floats(0, 15),
    repayment=st.sampled_from(["annuity", "equal_principal", "sculpted"]),
    tariff=st.floats(0, 1000),
    opex=st.floats(0, 5e7),
    seed=st.integers(0, 2**53 - 1),
)
def test_valid_requests_never_fail_the_server(
    app: Any,
    officer: dict[str, str],
    lat: float,
    lon: float,
    capacity: float,
    hub: float,
    turbine: str,
    loan: float,
    tenor: int,
    rate: float,
    repayment: str,
    tariff: float,
    opex: float,
    seed: int,
) -> None:
    body = copy.deepcopy(WIND_REQUEST)
    body["site"].update(lat=lat, lon=lon)
    body["project"].update(capacity_mw=capacity, hub_height_m=hub, turbine_type=turbine)
    body["finance"].update(
        loan_amount=loan,
        tenor_years=tenor,
        interest_rate_pct=rate,
        repayment=repayment,
        tariff_per_mwh=tariff,
        opex_per_year=opex,
    )
    body["seed"] = seed
    r = post_json(app.test_client(), f"{V1}/assessments", body, officer)
    assert r.status_code in (201, 422), r.get_data(as_text=True)
    if r.status_code == 422:
        assert_problem(r, 422)
        return
    out = r.get_json()
    schemas.AssessmentOut.model_validate(out)
    # Decision = worst outcome among failed rules (models/policy.py).
    worst = max((_SEVERITY[x["outcome"]] for x in out["rules"] if not x["passed"]), default=0)
    assert _SEVERITY[out["decision"]] == worst
    assert app.extensions["climate_loan"].store.get_assessment(out["id"]).response == out


def test_provenance_records_the_scientific_stack(app: Any, officer: dict[str, str]) -> None:
    made = post_json(app.test_client(), f"{V1}/assessments", WIND_REQUEST, officer).get_json()
    software = made["provenance"]["software"]
    for name in ("numpy", "scipy", "statsmodels", "pandas", "xarray", "pvlib"):
        assert software[name] == metadata.version(name)
    assert software["python"] == platform.python_version()


def test_replay_warns_when_the_software_differs(
    app: Any, officer: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    made = post_json(app.test_client(), f"{V1}/assessments", WIND_REQUEST, officer).get_json()
    st = app.extensions["climate_loan"]
    record = st.store.get_assessment(made["id"])
    with app.test_request_context(), caplog.at_level("WARNING", logger="climate_loan.api"):
        replay_assessment(st, record)
    assert not [r for r in caplog.records if "other software" in r.getMessage()]
    older = json.loads(record.response_json)
    older["provenance"]["software"]["numpy"] = "1.0.0"
    aged = dataclasses.replace(record, response_json=json.dumps(older))
    with app.test_request_context(), caplog.at_level("WARNING", logger="climate_loan.api"):
        replay_assessment(st, aged)
    (warning,) = [r for r in caplog.records if "other software" in r.getMessage()]
    assert f"numpy 1.0.0 -> {metadata.version('numpy')}" in warning.getMessage()
    assert made["id"] in warning.getMessage()


# ----- issue 10: policy versions, operating history of another quantity, losses ------------------


def test_replay_uses_the_policy_version_that_made_the_assessment(
    app: Any, officer: dict[str, str]
) -> None:
    import dataclasses

    from service.problems import Problem

    client = app.test_client()
    made = post_json(client, f"{V1}/assessments", WIND_REQUEST, officer).get_json()
    assert made["provenance"]["policy_version"] == "2.1"
    assert made["repayment"]["lgd"] == 0.20  # the product's lgd_pct (2.1)
    st = app.extensions["climate_loan"]
    record = st.store.get_assessment(made["id"])
    # an assessment stored under version 1.0 of the product replays under 1.0's rules
    old = dataclasses.replace(record, policy_version="1.0")
    with app.test_request_context():
        again = replay_assessment(st, old)
        assert again["provenance"]["policy_version"] == "1.0"
        assert {r["id"] for r in again["rules"]} >= {"dscr_p90", "dscr_p50", "dscr_p99"}
        assert replay_assessment(st, record) == made
        # 2.0 had no lgd_pct: the fixed 20 % of then, so its figures replay unchanged
        v20 = replay_assessment(st, dataclasses.replace(record, policy_version="2.0"))
        assert v20["provenance"]["policy_version"] == "2.0"
        assert v20["repayment"] == made["repayment"]
        with pytest.raises(Problem, match="policy that made it"):
            replay_assessment(st, dataclasses.replace(record, policy_version="0.1"))


def _months(n: int, start: str = "2021-01") -> list[str]:
    import numpy as np

    first = np.datetime64(start, "M")
    return [str(first + np.timedelta64(k, "M")) for k in range(n)]


@pytest.mark.parametrize(
    ("history", "field", "words"),
    [
        (
            {"quantity": "wind_ms", "monthly_energy_mwh": [{"month": "2021-01", "energy_mwh": 7}]},
            "operating_history.quantity",
            "wind-speed series",
        ),
        (
            {"monthly_wind_ms": [{"month": "2021-01", "wind_ms": 7.2}]},
            "operating_history",
            "monthly_wind_ms",
        ),
        (
            {
                "monthly_energy_mwh": [
                    {"month": m, "energy_mwh": 6.5 + 0.1 * i} for i, m in enumerate(_months(24))
                ]
            },
            "operating_history",
            "look like wind speeds in m/s",
        ),
    ],
)
def test_history_of_another_quantity_is_a_422_naming_the_field(
    client: Any, officer: dict[str, str], history: dict[str, Any], field: str, words: str
) -> None:
    body = with_change("operating_history", history)
    problem = assert_problem(post_json(client, f"{V1}/assessments", body, officer), 422, field)
    assert words in problem["detail"] or any(words in e["message"] for e in problem["errors"])


def test_operating_history_with_losses_in_mwh(client: Any, officer: dict[str, str]) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for i, m in enumerate(_months(36)):
        net = float(9000 + 1500 * np.cos(i / 12 * 2 * np.pi) + rng.normal(0, 300))
        curt = 0.3 * net if i % 9 == 0 else 0.04 * net  # four months above the 15 % threshold
        rows.append(
            {
                "month": m,
                "energy_mwh": net,
                "availability_loss_mwh": 0.02 * net,
                "curtailment_loss_mwh": curt,
            }
        )
    body = with_change("operating_history", {"monthly_energy_mwh": rows})
    r = post_json(client, f"{V1}/assessments", body, officer)
    assert r.status_code == 201, r.get_data(as_text=True)
    out = r.get_json()
    schemas.AssessmentOut.model_validate(out)
    losses = out["energy"]["operating_losses"]
    assert out["energy"]["method"] == "operating_history"
    assert losses["months_dropped_high_loss"] == 4
    assert losses["loss_threshold_fraction"] == 0.15
    # 2 % and 4 % of net energy are 0.02/1.06 and 0.04/1.06 of gross
    assert losses["availability_fraction"] == pytest.approx(0.02 / 1.06, rel=1e-4)
    assert losses["curtailment_fraction"] == pytest.approx(0.04 / 1.06, rel=1e-4)
