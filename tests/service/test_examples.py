"""The shipped examples stay valid: each request assesses, the README shows the same request,
and the loan book passes the scorecard's schema check."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from models.scorecard import validate_loan_book
from service.cli import main
from service.requests import parse_request

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
REQUESTS = sorted(EXAMPLES.glob("*.json"))


def test_every_example_is_listed_in_its_readme() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    files = {p.name for p in EXAMPLES.iterdir() if p.name != "README.md"}
    assert files == set(re.findall(r"`([\w.]+\.(?:json|csv))`", readme.split("## ")[0]))


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: p.stem)
def test_example_request_assesses(
    path: Path, cube_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = parse_request(json.loads(path.read_text(encoding="utf-8")))
    assert main(["assess", "--cube", str(cube_path), "--request", str(path), "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert out["decision"] in {"approve", "refer", "decline"}
    assert out["project"]["technology"] == request.project.technology
    expected_method = "operating_history" if request.operating_history else "reanalysis"
    evidence = request.project.site_evidence
    if evidence is not None:
        expected_method = "atlas_scaled" if evidence.atlas is not None else "mcp"
    assert out["energy"]["method"] == expected_method


def test_readme_request_is_the_wind_example() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"A request \(`examples/wind_annuity.json`.*?```json\n(.*?)```", readme, re.S)
    assert block is not None
    shown = json.loads(block.group(1))
    assert shown == json.loads((EXAMPLES / "wind_annuity.json").read_text(encoding="utf-8"))


def test_example_loan_book_passes_the_schema_check() -> None:
    raw = pd.read_csv(EXAMPLES / "loan_book.csv")
    book = validate_loan_book(raw)
    assert len(book) == 200
    assert book["loan_id"].is_unique
    assert 0 < book["default"].sum() < len(book)
