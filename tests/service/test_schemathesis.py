"""Schemathesis against /openapi.json: generated requests never give a 5xx, and every response
(status, content type, headers, body) matches the document. Bounded examples per operation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from service.app import create_app
from tests.service.conftest import make_config, new_key

pytestmark = pytest.mark.slow

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_app(cube_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("fuzz")
    app = create_app(
        make_config(cube_path, f"sqlite:///{tmp / 'audit.sqlite3'}", tmp, mc_paths=500)
    )
    # An admin key exercises every operation past authentication.
    app.config["FUZZ_KEY"] = new_key(app, "admin", "schemathesis")
    return app


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any, fuzz_app: Any) -> None:
    case.call_and_validate(headers={"X-API-Key": fuzz_app.config["FUZZ_KEY"]}, checks=CHECKS)
