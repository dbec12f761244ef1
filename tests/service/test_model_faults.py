"""A fault inside a model is a 500 that shows nothing of it; an input error stays a 422.

The service catches the models' input errors (:class:`models.errors.ModelInputError`, the
errors of a policy file among them) and climate-data errors by class, never a bare
``ValueError``: a ``ValueError`` that numpy raises on a bug must not reach the
client as "your request is wrong". The faults are injected into the real model chain (the
energy step that :func:`models.assessment.assess` calls), not mocked around it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest

from models import assessment as assessment_module
from models.errors import ModelInputError
from models.policy import PolicyError
from service import cli
from tests.service.conftest import WIND_REQUEST, new_key
from tests.service.test_api import assert_problem

V1 = "/api/v1"
SECRET = "boom-7f3a"


def numpy_fault(*args: Any, **kwargs: Any) -> NoReturn:
    """A bug as numpy reports it: shapes that do not broadcast (a ValueError)."""
    np.zeros(3) + np.zeros(4)
    raise AssertionError("numpy broadcast the shapes")  # pragma: no cover


def plain_value_error(*args: Any, **kwargs: Any) -> NoReturn:
    raise ValueError(SECRET)


def input_error(*args: Any, **kwargs: Any) -> NoReturn:
    raise ModelInputError(f"hub height is above the turbine's range ({SECRET})")


@pytest.mark.parametrize("fault", [numpy_fault, plain_value_error], ids=["numpy", "ValueError"])
def test_a_value_error_inside_a_model_is_a_500_that_leaks_nothing(
    db_app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fault: Any
) -> None:
    headers = {"X-API-Key": new_key(db_app, "officer")}
    monkeypatch.setattr(assessment_module, "wind_energy", fault)
    client = db_app.test_client()
    with caplog.at_level(logging.ERROR, logger="climate_loan"):
        r = client.post(f"{V1}/assessments", json=WIND_REQUEST, headers=headers)
    body = assert_problem(r, 500)
    assert "errors" not in body
    text = r.get_data(as_text=True)
    for leak in (SECRET, "broadcast", "ValueError", "Traceback", "wind_energy"):
        assert leak not in text, leak
    logged = [rec for rec in caplog.records if rec.exc_info is not None]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert logged[0].exc_info[0] is ValueError  # the fault is in the log, with its traceback
    # nothing was stored: the history of the key is empty
    listed = client.get(f"{V1}/assessments", headers=headers)
    assert listed.status_code == 200 and listed.get_json()["items"] == []


def test_a_model_input_error_is_still_a_422_with_its_message(
    client: Any, officer: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assessment_module, "wind_energy", input_error)
    r = client.post(f"{V1}/assessments", json=WIND_REQUEST, headers=officer)
    body = assert_problem(r, 422, "(body)")
    assert body["detail"] == f"hub height is above the turbine's range ({SECRET})"


def test_a_policy_error_inside_the_chain_is_a_422(
    client: Any, officer: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A policy file's error is a model input error (the one class the service catches)."""
    assert issubclass(PolicyError, ModelInputError)

    def policy_error(*args: Any, **kwargs: Any) -> NoReturn:
        raise PolicyError(f"rule 2: unknown operator '=>' ({SECRET})")

    monkeypatch.setattr(assessment_module, "wind_energy", policy_error)
    r = client.post(f"{V1}/assessments", json=WIND_REQUEST, headers=officer)
    body = assert_problem(r, 422, "(body)")
    assert body["detail"] == f"rule 2: unknown operator '=>' ({SECRET})"


def test_cli_shows_an_input_error_in_one_line_and_does_not_hide_a_fault(
    tmp_path: Path,
    cube_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps(WIND_REQUEST))
    argv = ["assess", "--cube", str(cube_path), "--request", str(req)]
    monkeypatch.setattr(assessment_module, "wind_energy", input_error)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hub height is above the turbine's range" in err
    # A bug is not a usage error: it is not dressed up as exit status 2 with one line.
    monkeypatch.setattr(assessment_module, "wind_energy", plain_value_error)
    with pytest.raises(ValueError, match=SECRET):
        cli.main(argv)


def test_a_models_own_argument_check_is_still_a_422(client: Any, officer: dict[str, str]) -> None:
    # A sculpted loan on a project whose cash flow is negative: models.finance refuses to sculpt
    # with a plain ValueError of its own (service.requests._INPUT_CHECKS), which stays a 422.
    finance = {**WIND_REQUEST["finance"], "repayment": "sculpted", "opex_per_year": 1e9}
    r = client.post(f"{V1}/assessments", json={**WIND_REQUEST, "finance": finance}, headers=officer)
    body = assert_problem(r, 422)
    assert body["detail"].startswith("cfads_for_sculpting must be > 0 in every year, got -")
