"""``--format table|json|csv`` of ``site``, ``assess`` and ``turbines``; ``keys list`` on a
missing database; CSV cells that a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from models.turbines import list_turbines, search_turbines
from service.app import create_app
from service.cli import main
from service.cli_output import csv_cell, flatten
from tests.service.conftest import WIND_REQUEST, make_config, new_key


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_turbines_table_json_csv_agree_with_the_library(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, table, _ = run(capsys, "turbines")
    assert status == 0
    assert table.rstrip().endswith(f"{len(list_turbines())} turbine(s) with a power curve")
    status, out, _ = run(capsys, "turbines", "--search", "enercon", "--format", "json")
    rows = json.loads(out)
    want = [t.turbine_type for t in search_turbines("enercon", with_curve_only=True)]
    assert [r["turbine_type"] for r in rows] == want and len(want) > 5
    status, out, _ = run(capsys, "turbines", "--search", "E-126", "--format", "csv")
    parsed = list(csv.DictReader(io.StringIO(out)))
    e126 = next(r for r in parsed if r["turbine_type"] == "E-126/4200")
    assert float(e126["rated_power_kw"]) == 4200.0


def test_turbines_search_without_a_match_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "turbines", "--search", "no such maker")
    assert (status, out) == (2, "")
    assert err == (
        "climate-loan turbines: error: no library turbine with a power curve matches "
        "'no such maker'\n"
    )


def test_site_csv_has_one_row_per_year(cube_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "site", "44.0", "87.3", "--cube", str(cube_path), "--json")
    summary = json.loads(out)
    status, out, _ = run(
        capsys, "site", "44.0", "87.3", "--cube", str(cube_path), "--format", "csv"
    )
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["year"] for r in rows] == list(summary["wind"]["annual_mean_ms"])
    for r in rows:
        want = summary["wind"]["annual_mean_ms"][r["year"]]
        assert float(r["wind_mean_100m_ms"]) == pytest.approx(want, abs=0)
        assert float(r["sunshine_hours"]) == summary["solar"]["annual_sunshine_hours"][r["year"]]
        assert r["synthetic"] == "true"


def test_site_table_shows_iav_as_a_percentage(
    cube_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, "site", "44.0", "87.3", "--cube", str(cube_path), "--json")
    iav = json.loads(out)["wind"]["iav"]
    _, out, _ = run(capsys, "site", "44.0", "87.3", "--cube", str(cube_path))
    assert f"IAV {100 * iav:.1f} %" in out


def test_assess_csv_holds_every_field_of_the_json(
    cube_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = tmp_path / "request.json"
    req.write_text(json.dumps(WIND_REQUEST), encoding="utf-8")
    base = ("assess", "--cube", str(cube_path), "--request", str(req), "--paths", "2000")
    _, out, _ = run(capsys, *base, "--json")
    obj: dict[str, Any] = json.loads(out)
    status, out, _ = run(capsys, *base, "--format", "csv")
    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["field", "value"]
    got = dict(rows[1:])
    for path, value in flatten(obj):
        if path in {"id", "provenance.created_at"}:
            continue  # a new assessment each run
        expected = "" if value is None else str(csv_cell(value))
        assert got[path] == expected, path
    assert got["decision"] == obj["decision"]


@pytest.mark.parametrize(
    ("value", "cell"),
    [("=1+1", "'=1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("-2", "'-2"), (-2.5, -2.5), (None, "")],
)
def test_csv_cells_never_start_a_formula(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


def test_keys_list_does_not_create_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLIMATE_LOAN_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("CLIMATE_LOAN_DATABASE_URL", raising=False)
    status, out, err = run(capsys, "keys", "list")
    assert status == 2 and out == ""
    assert "no audit database at" in err and err.count("\n") == 1
    assert not (tmp_path / "instance").exists()
    assert run(capsys, "keys", "create", "--role", "officer", "--name", "A")[0] == 0
    status, out, _ = run(capsys, "keys", "list")
    assert status == 0 and "officer" in out


def test_history_lists_every_key_or_one_in_each_format(
    cube_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    app = create_app(make_config(cube_path, url, tmp_path))
    keys = [new_key(app, "officer", "A"), new_key(app, "officer", "B")]
    client = app.test_client()
    made = []
    for key, seed in ((keys[0], 1), (keys[1], 2), (keys[1], 3)):
        body = {**WIND_REQUEST, "seed": seed}
        r = client.post("/api/v1/assessments", json=body, headers={"X-API-Key": key})
        assert r.status_code == 201
        made.append(r.get_json())
    monkeypatch.setenv("CLIMATE_LOAN_DATABASE_URL", url)
    status, out, _ = run(capsys, "history", "--format", "json")
    assert status == 0
    listed = json.loads(out)
    assert listed["total"] == 3
    assert [a["id"] for a in listed["assessments"]] == [m["id"] for m in reversed(made)]
    key_b = keys[1].split("_")[1]  # the key id is the key's second part
    status, out, _ = run(capsys, "history", "--key-id", key_b, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["id"] for r in rows} == {made[1]["id"], made[2]["id"]}
    assert all(
        r["decision"] == m["decision"] for r, m in zip(rows, reversed(made[1:]), strict=True)
    )
    status, out, _ = run(capsys, "history", "--limit", "1")
    assert out.rstrip().endswith("1 of 3 assessment(s)") and made[2]["id"] in out
    status, _, err = run(capsys, "history", "--from", "2030-01-02", "--to", "2030-01-01")
    assert status == 2 and "before --from" in err
