"""Schemathesis against /openapi.json: generated requests never give a 5xx, and every response
(status, content type, headers, body) matches the document. Bounded examples per operation,
positive and negative data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from service.api import OPERATIONS
from service.app import create_app
from tests.service.conftest import make_config, new_key

pytestmark = pytest.mark.slow

#: Examples per operation and generation mode (bounded: the suite must stay fast).
MAX_EXAMPLES = 15

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
        make_config(cube_path, f"sqlite:///{tmp / 'audit.sqlite3'}", tmp, mc_paths=300)
    )
    # An admin key takes every operation past authentication.
    app.config["FUZZ_KEY"] = new_key(app, "admin", "schemathesis")
    return app


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)


def _cases() -> list[Any]:
    """Every operation with positive data; those that take input also with negative data."""
    out = []
    for op in OPERATIONS:
        modes = [GenerationMode.POSITIVE]
        if op.query is not None or op.body is not None or op.path_params:
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            out.append(
                pytest.param(op.method, op.path, mode, id=f"{op.method} {op.path} {mode.value}")
            )
    return out


@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_operation_conforms_to_the_document(
    api_schema: Any, fuzz_app: Any, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    headers = {"X-API-Key": fuzz_app.config["FUZZ_KEY"]}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
