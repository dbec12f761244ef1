"""Flask test-client tests: every endpoint of contract v1 and every error status."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import schemas
from service.app import JsonFormatter, create_app
from service.problems import PROBLEM_MIME
from service.store import SCHEMA_REVISION
from tests.service.conftest import make_config, new_key

V1 = "/api/v1"


def assert_problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """Check an RFC 9457 body; return it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIME
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status
    assert body["type"].startswith("/docs#problem-")
    assert body["title"] and body["detail"]
    assert body["instance"] == f"urn:request:{response.headers['X-Request-ID']}"
    schemas.ProblemOut.model_validate(body)
    if fields:
        assert "errors" in body, body
        got = {e["field"] for e in body["errors"]}
        for f in fields:
            assert f in got, (f, got)
        for e in body["errors"]:
            assert e["pointer"] == "/" + e["field"].replace(".", "/")
    return body


def post_json(client: Any, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.post(
        path, data=json.dumps(body), headers={**headers, "Content-Type": "application/json"}
    )


# ----- health, docs ---------------------------------------------------------------------------


def test_health_is_public_and_reports_cube_and_database(client: Any, cube_path: Path) -> None:
    r = client.get(f"{V1}/health")
    assert r.status_code == 200
    body = schemas.HealthOut.model_validate(r.get_json()).model_dump()
    assert body["status"] == "ok"
    # sha256 of the cube file computed here, independently of the service (a version-2 store
    # directory is identified by the content digest it records).
    if cube_path.is_dir():
        import zarr

        expected = zarr.open_group(str(cube_path), mode="r").attrs["content_sha256"]
    else:
        expected = hashlib.sha256(cube_path.read_bytes()).hexdigest()
    assert body["cube"]["sha256"] == expected
    assert body["cube"]["synthetic"] is True
    assert body["database"]["status"] == "ok" and body["database"]["revision"] == SCHEMA_REVISION


def test_openapi_document_covers_every_route(app: Any, client: Any) -> None:
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("api.", "root.")):
            continue  # the web pages (service/web/) are not part of the API document
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed.add((method, path))
    assert routed == documented
    # Contract v1 names (README, "API and web page").
    for path in (
        "/api/v1/health",
        "/api/v1/sites/climate",
        "/api/v1/assessments",
        "/api/v1/policies",
    ):
        assert path in doc["paths"]
    post = doc["paths"]["/api/v1/assessments"]["post"]
    assert set(post["responses"]) >= {
        "201",
        "400",
        "401",
        "403",
        "413",
        "415",
        "422",
        "429",
        "500",
        "503",
    }
    assert post["security"] == [{"ApiKeyAuth": []}]
    assert doc["paths"]["/api/v1/health"]["get"]["security"] == []
    body_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref.rsplit("/", 1)[-1] in doc["components"]["schemas"]


def test_docs_page_is_self_contained(client: Any) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    doc = client.get("/openapi.json").get_json()
    for path in doc["paths"]:
        assert f"<code>{path}</code>" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert "id=problem-validation-error" in page


def test_request_id_is_echoed_or_made(client: Any) -> None:
    r = client.get(f"{V1}/health", headers={"X-Request-ID": "abc-123-def"})
    assert r.headers["X-Request-ID"] == "abc-123-def"
    r = client.get(f"{V1}/health", headers={"X-Request-ID": "bad id with spaces"})
    assert len(r.headers["X-Request-ID"]) == 32


def test_json_log_line_carries_the_request_id(app: Any) -> None:
    with app.test_request_context("/x"):
        from flask import g

        g.request_id = "req-42-abcdef"
        record = logging.LogRecord(
            "climate_loan", logging.INFO, __file__, 1, "hello %s", ("you",), None
        )
        record.status = 201
        line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "hello you" and entry["request_id"] == "req-42-abcdef"
    assert entry["status"] == 201 and entry["level"] == "INFO"


# ----- auth -----------------------------------------------------------------------------------


def test_missing_and_wrong_keys_are_401(client: Any, officer: dict[str, str]) -> None:
    r = client.get(f"{V1}/policies")
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("ApiKey")
    assert_problem(
        client.get(f"{V1}/policies", headers={"X-API-Key": "clr_0000000000000000_" + "A" * 43}), 401
    )
    bad = officer["X-API-Key"][:-2] + ("zz" if not officer["X-API-Key"].endswith("zz") else "yy")
    assert_problem(client.get(f"{V1}/policies", headers={"X-API-Key": bad}), 401)
    assert client.get(f"{V1}/policies", headers=officer).status_code == 200


def test_roles_are_enforced(client: Any, app: Any, officer: dict[str, str]) -> None:
    body = assert_problem(
        post_json(client, f"{V1}/keys", {"role": "officer", "name": "x"}, officer), 403
    )
    assert "admin" in body["detail"]
    modeller = {"X-API-Key": new_key(app, "modeller")}
    assert_problem(post_json(client, f"{V1}/keys", {"role": "officer", "name": "x"}, modeller), 403)
    r = post_json(client, f"{V1}/models/scorecard-v1/promote", {}, officer)
    assert_problem(r, 403)


def test_admin_manages_keys(client: Any, admin: dict[str, str]) -> None:
    r = post_json(client, f"{V1}/keys", {"role": "officer", "name": "Bo Officer"}, admin)
    assert r.status_code == 201
    created = schemas.KeyCreated.model_validate(r.get_json())
    assert r.headers["Location"] == f"{V1}/keys/{created.id}"
    new_headers = {"X-API-Key": created.key}
    assert client.get(f"{V1}/policies", headers=new_headers).status_code == 200
    listing = client.get(f"{V1}/keys", headers=admin).get_json()
    assert created.id in {k["id"] for k in listing["items"]}
    assert created.key not in json.dumps(listing)
    r = client.post(f"{V1}/keys/{created.id}/revoke", headers=admin)
    assert r.status_code == 200 and r.get_json()["revoked_at"] is not None
    assert_problem(client.get(f"{V1}/policies", headers=new_headers), 401)
    assert_problem(client.post(f"{V1}/keys/ffffffffffffffff/revoke", headers=admin), 404)
    assert_problem(
        post_json(client, f"{V1}/keys", {"role": "boss", "name": "x"}, admin), 422, "role"
    )
    assert_problem(
        post_json(client, f"{V1}/keys", {"role": "officer", "name": "  "}, admin), 422, "name"
    )


def test_rate_limit_is_429_with_retry_after(cube_path: Path, tmp_path: Path) -> None:
    app = create_app(
        make_config(
            cube_path, f"sqlite:///{tmp_path / 'a.sqlite3'}", tmp_path, rate_limit_per_minute=3
        )
    )
    client = app.test_client()
    headers = {"X-API-Key": new_key(app, "officer")}
    statuses = [client.get(f"{V1}/policies", headers=headers).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    r = client.get(f"{V1}/policies", headers=headers)
    assert_problem(r, 429)
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # Another key has its own budget; health is never limited.
    assert (
        client.get(f"{V1}/policies", headers={"X-API-Key": new_key(app, "officer")}).status_code
        == 200
    )
    assert client.get(f"{V1}/health").status_code == 200


def test_rate_limiter_windows() -> None:
    from service.ratelimit import RateLimiter

    now = [120.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.check("k") is None and limiter.check("k") is None
    assert limiter.check("k") == 60
    now[0] = 179.5
    assert limiter.check("k") == 1
    now[0] = 180.0  # next window
    assert limiter.check("k") is None
    assert RateLimiter(0).check("k") is None


# ----- generic HTTP errors ---------------------------------------------------------------------


def test_unknown_path_is_404_problem(client: Any) -> None:
    assert_problem(client.get(f"{V1}/nothing-here"), 404)


def test_wrong_method_is_405_problem_with_allow(client: Any, officer: dict[str, str]) -> None:
    r = client.delete(f"{V1}/assessments", headers=officer)
    assert_problem(r, 405)
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert_problem(client.put(f"{V1}/assessments/abc", headers=officer), 405)
    assert_problem(client.delete(f"{V1}/assessments/abc", headers=officer), 405)


def test_broken_model_registry_is_a_500_problem(
    app: Any, client: Any, officer: dict[str, str]
) -> None:
    folder = app.extensions["climate_loan"].config.models_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scorecard-v1.json").write_text('{"kind": "scorecard", "sha256": "0"}')
    body = assert_problem(client.get(f"{V1}/models", headers=officer), 500)
    assert "registry" in body["detail"]


# ----- site climate ---------------------------------------------------------------------------


def test_site_climate_matches_the_cube(
    client: Any, officer: dict[str, str], cube_path: Path
) -> None:
    from climate_data.cube import Cube

    r = client.get(f"{V1}/sites/climate?lat=44.1&lon=87.3&hub_height_m=120", headers=officer)
    assert r.status_code == 200
    body = r.get_json()
    schemas.SiteClimateOut.model_validate(body)
    # Independent path: the cube read directly.
    expected = json.loads(json.dumps(Cube.open(cube_path).site(44.1, 87.3).summary(120.0)))
    assert body == expected
    assert body["wind"]["height_m"] == 120


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("lat=91&lon=87.3", "lat"),
        ("lat=-90.5&lon=87.3", "lat"),
        ("lat=44&lon=180.01", "lon"),
        ("lat=nan&lon=87.3", "lat"),
        ("lat=44&lon=inf", "lon"),
        ("lat=44&lon=-Infinity", "lon"),
        ("lon=87.3", "lat"),
        ("lat=abc&lon=87.3", "lat"),
        ("lat=44.1&lon=87.3&hub_height_m=5", "hub_height_m"),
        ("lat=44.1&lon=87.3&hub_height=100", "hub_height"),
    ],
)
def test_site_climate_validation(
    client: Any, officer: dict[str, str], query: str, field: str
) -> None:
    assert_problem(client.get(f"{V1}/sites/climate?{query}", headers=officer), 422, field)


def test_site_outside_the_data_is_a_clear_422(client: Any, officer: dict[str, str]) -> None:
    body = assert_problem(
        client.get(f"{V1}/sites/climate?lat=10&lon=10", headers=officer), 422, "lat"
    )
    assert "outside the data" in body["detail"] and "km" in body["detail"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180), h=st.none() | st.floats(10, 250))
def test_site_climate_never_fails_on_valid_input(
    client: Any, officer: dict[str, str], lat: float, lon: float, h: float | None
) -> None:
    q = f"lat={lat!r}&lon={lon!r}" + ("" if h is None else f"&hub_height_m={h!r}")
    r = client.get(f"{V1}/sites/climate?{q}", headers=officer)
    assert r.status_code in (200, 422)
    if r.status_code == 200:
        schemas.SiteClimateOut.model_validate(r.get_json())


# ----- reference data -------------------------------------------------------------------------


def test_policies(client: Any, officer: dict[str, str]) -> None:
    body = client.get(f"{V1}/policies", headers=officer).get_json()
    schemas.PolicyList.model_validate(body)
    ids = {p["id"] for p in body["items"]}
    assert body["defaults"]["wind"] in ids and body["defaults"]["solar"] in ids
    wind = next(p for p in body["items"] if p["id"] == body["defaults"]["wind"])
    # The Changji rule (policy wind_changji_v1): trailing 3-year mean wind at hub height >= 6.5 m/s.
    changji = [r for r in wind["rules"] if r["metric"] == "climate.wind.trailing_3y_mean_ms"]
    assert changji and changji[0]["operator"] == ">=" and changji[0]["threshold"] == 6.5


def test_turbines_list_and_search(client: Any, officer: dict[str, str]) -> None:
    body = client.get(f"{V1}/turbines", headers=officer).get_json()
    schemas.TurbineList.model_validate(body)
    # windpowerlib 0.2.2's oedb data: 67 turbine types with a power curve.
    assert body["count"] == len(body["items"]) == 67
    found = client.get(f"{V1}/turbines?q=E-126", headers=officer).get_json()["items"]
    e126 = next(t for t in found if t["turbine_type"] == "E-126/4200")
    assert e126["rated_power_kw"] == 4200 and e126["has_power_curve"] is True
    assert_problem(client.get(f"{V1}/turbines?q={'x' * 101}", headers=officer), 422, "q")


def test_models_list_and_status_changes(client: Any, app: Any, officer: dict[str, str]) -> None:
    body = client.get(f"{V1}/models", headers=officer).get_json()
    schemas.ModelList.model_validate(body)
    modeller = {"X-API-Key": new_key(app, "modeller", "Mo Modeller")}
    assert_problem(post_json(client, f"{V1}/models/scorecard-v9/promote", {}, modeller), 404)
    assert_problem(post_json(client, f"{V1}/models/scorecard-v0/retire", {}, modeller), 409)
    assert_problem(
        post_json(client, f"{V1}/models/scorecard-v9/promote", {"by": "me"}, modeller), 422, "by"
    )
    # The note is optional: an empty body is accepted (and the unknown card is then a 404).
    assert_problem(client.post(f"{V1}/models/scorecard-v9/promote", headers=modeller), 404)


def test_modeller_promotes_a_saved_candidate(client: Any, app: Any) -> None:
    from dataclasses import replace

    from models.registry import Registry

    folder = app.extensions["climate_loan"].config.models_dir
    registry = Registry(folder)
    shipped = registry.production("scorecard")
    assert shipped is not None
    candidate = registry.save(replace(shipped, version=None, status="candidate", history=[]))
    modeller = {"X-API-Key": new_key(app, "modeller", "Mo Modeller")}
    r = post_json(client, f"{V1}/models/{candidate.id}/promote", {"note": "validated"}, modeller)
    assert r.status_code == 200, r.get_data(as_text=True)
    promoted = schemas.ModelCardOut.model_validate(r.get_json())
    assert promoted.id == candidate.id and promoted.status == "production"
    card = Registry(folder).show(candidate.id)
    assert card.history[-1]["note"] == "validated" and "Mo Modeller" in card.history[-1]["by"]
    rows = client.get(f"{V1}/models", headers=modeller).get_json()["items"]
    assert [row["id"] for row in rows if row["in_use"] and row["kind"] == "scorecard"] == [
        candidate.id
    ]
    assert_problem(post_json(client, f"{V1}/models/{candidate.id}/promote", {}, modeller), 409)
