"""Hostile or degenerate input is a 4xx problem naming what is wrong, never a 5xx or a NaN."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service import cli
from tests.service.conftest import WIND_REQUEST, new_key
from tests.service.test_api import assert_problem
from tests.service.test_web import EN, login

V1 = "/api/v1"
ZERO_HISTORY = {
    "monthly_energy_mwh": [
        {"month": f"{y}-{m:02d}", "energy_mwh": 0} for y in (2021, 2022, 2023) for m in range(1, 13)
    ]
}


def post_raw(client: Any, body: bytes | str, headers: dict[str, str]) -> Any:
    return client.post(
        f"{V1}/assessments", data=body, headers={**headers, "Content-Type": "application/json"}
    )


# ----------------------------------------------------------------------------- NaN


def test_all_zero_operating_history_is_422_naming_the_field(
    client: Any, officer: dict[str, str]
) -> None:
    r = client.post(
        f"{V1}/assessments",
        json={**WIND_REQUEST, "operating_history": ZERO_HISTORY},
        headers=officer,
    )
    body = assert_problem(r, 422, "operating_history.monthly_energy_mwh")
    assert "zero" in body["detail"]


def test_cli_all_zero_history_is_one_line_not_nan(
    tmp_path: Path, cube_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps({**WIND_REQUEST, "operating_history": ZERO_HISTORY}))
    status = cli.main(["assess", "--cube", str(cube_path), "--request", str(req)])
    out, err = capsys.readouterr()
    assert status == 2 and "nan" not in out.lower()
    assert "operating_history.monthly_energy_mwh" in err and err.count("\n") == 1


def test_regression_on_constant_energy_is_refused() -> None:
    from models.longterm import fit_monthly_regression

    with pytest.raises(ValueError, match="constant"):
        fit_monthly_regression([5.0, 6.0, 7.0, 8.0], [0.0, 0.0, 0.0, 0.0])


def test_a_nan_never_leaves_in_a_response(app: Any) -> None:
    from service.api import json_response
    from service.problems import Problem

    with app.test_request_context(), pytest.raises(Problem) as info:
        json_response({"value": float("nan")})
    assert info.value.status == 500 and "not finite" in info.value.detail


# ----------------------------------------------------------------------------- JSON bodies


def test_deeply_nested_json_is_400(client: Any, officer: dict[str, str]) -> None:
    for depth in (1_000, 100_000):
        body = '{"site": ' + "[" * depth + "]" * depth + "}"
        assert_problem(post_raw(client, body, officer), 400)
    body = '{"site": ' + "[" * 40 + "]" * 40 + "}"  # parses, but deeper than any request
    assert "nested" in assert_problem(post_raw(client, body, officer), 400)["detail"]


def test_integer_of_thousands_of_digits_is_4xx(client: Any, officer: dict[str, str]) -> None:
    huge = "9" * 5000
    text = json.dumps(WIND_REQUEST).replace('"seed": 7', f'"seed": {huge}')
    assert_problem(post_raw(client, text, officer), 400)
    big = "9" * 4000  # under Python's limit: a validation error naming the field
    for field, old in (("seed", '"seed": 7'), ("finance.loan_amount", '"loan_amount": 5530000')):
        text = json.dumps(WIND_REQUEST).replace(old, old.split(":")[0] + f": {big}")
        assert_problem(post_raw(client, text, officer), 422, field)


def test_nul_in_a_text_field_is_422_on_every_database(db_app: Any) -> None:
    client = db_app.test_client()
    officer = {"X-API-Key": new_key(db_app, "officer")}
    body = {**WIND_REQUEST, "site": {**WIND_REQUEST["site"], "name": "Changji\x00"}}
    assert_problem(client.post(f"{V1}/assessments", json=body, headers=officer), 422, "site.name")
    body = {**WIND_REQUEST, "site": {**WIND_REQUEST["site"], "name": "Chang\x07ji"}}
    assert_problem(client.post(f"{V1}/assessments", json=body, headers=officer), 422, "site.name")
    assert_problem(client.get(f"{V1}/assessments/ab%00cd", headers=officer), 404)
    r = client.get(f"{V1}/assessments?created_to=9999-12-31", headers=officer)
    assert_problem(r, 422, "created_to")
    assert_problem(client.get(f"{V1}/assessments?offset={10**30}", headers=officer), 422, "offset")


# ----------------------------------------------------------------------------- web page


def test_web_history_survives_huge_page_far_dates_and_nul(db_app: Any) -> None:
    web = db_app.test_client()
    login(web, new_key(db_app, "officer"))
    for query in (
        f"page={10**30}",
        "page=99999999999",
        "to=9999-12-31",
        "from=0001-01-01&to=9999-12-31",
        "q=%00abc",
        "q=" + "x" * 5000,
    ):
        r = web.get(f"/app/history?{query}", headers=EN)
        assert r.status_code == 200, (query, r.status_code)


def test_power_curve_csv_with_a_huge_field_is_a_form_error(app: Any) -> None:
    from service.web.assess import parse_power_curve

    text = b"wind_speed,power\n3," + b"9" * 200_000 + b"\n"
    with app.test_request_context(headers=EN), pytest.raises(ValueError, match="not valid"):
        parse_power_curve(text)
    quoted = b'wind_speed,power\n3,"' + b"9" * 200_000 + b'"\n'
    with app.test_request_context(headers=EN), pytest.raises(ValueError):
        parse_power_curve(quoted)
