"""Tests of ``climate-loan models list|show|promote|retire`` through service.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models.registry import ModelCard, Registry
from service.cli import main


def _card() -> ModelCard:
    return ModelCard(
        kind="scorecard",
        version=None,
        status="candidate",
        created_at="2026-01-01T00:00:00Z",
        author="modeller",
        description="cli test",
        parameters={"link": "logit", "names": ["const"], "coefficients": [-2.0]},
        covariance={"names": ["const"], "matrix": [[0.01]]},
        features=[],
        training_data={"sha256": "0" * 64, "n_rows": 1, "size_bytes": 1, "synthetic": True},
        metrics={},
    )


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(tmp_path)
    reg.save(_card())
    reg.save(_card())
    return reg


def _list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    assert main(["models", "list", "--models-dir", str(tmp_path), "--json"]) == 0
    return {r["id"]: r for r in json.loads(capsys.readouterr().out)}


def test_list_shows_candidates_and_shipped_default(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _list(tmp_path, capsys)
    assert set(rows) == {"scorecard-v0", "scorecard-v1", "scorecard-v2"}
    assert rows["scorecard-v0"]["in_use"] is True  # nothing promoted yet: the shipped default
    assert rows["scorecard-v1"]["status"] == "candidate"
    assert main(["models", "list", "--models-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "scorecard-v0 (shipped)" in text and "scorecard-v2" in text


def test_promote_then_promote_again_retires_previous(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(tmp_path)
    assert main(["models", "promote", "scorecard-v1", "--models-dir", d, "--by", "ann"]) == 0
    assert "scorecard-v1 is now the production scorecard model" in capsys.readouterr().out
    rows = _list(tmp_path, capsys)
    assert rows["scorecard-v1"]["status"] == "production" and rows["scorecard-v1"]["in_use"]
    assert rows["scorecard-v0"]["in_use"] is False
    assert main(["models", "promote", "scorecard-v2", "--models-dir", d, "--note", "v2"]) == 0
    assert "scorecard-v1 retired" in capsys.readouterr().out
    rows = _list(tmp_path, capsys)
    assert rows["scorecard-v1"]["status"] == "retired"
    assert rows["scorecard-v2"]["status"] == "production"
    assert registry.show("scorecard-v2").history[-1]["note"] == "v2"
    v1_history = registry.show("scorecard-v1").history
    assert [h["status"] for h in v1_history] == ["candidate", "production", "retired"]
    assert v1_history[1]["by"] == "ann"
    assert v1_history[2]["note"] == "replaced by scorecard-v2"


def test_retire_and_show(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(tmp_path)
    main(["models", "promote", "scorecard-v2", "--models-dir", d, "--by", "ann"])
    capsys.readouterr()
    assert main(["models", "retire", "scorecard-v2", "--models-dir", d, "--by", "ann"]) == 0
    assert "production scorecard is now scorecard-v0" in capsys.readouterr().out
    assert main(["models", "show", "scorecard-v2", "--models-dir", d]) == 0
    shown = ModelCard.from_json(capsys.readouterr().out)
    assert shown.status == "retired" and shown == registry.show("scorecard-v2")


def test_env_var_selects_the_folder(
    registry: Registry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLIMATE_LOAN_MODELS_DIR", str(tmp_path))
    assert main(["models", "list", "--json", "--status", "candidate"]) == 0
    assert {r["id"] for r in json.loads(capsys.readouterr().out)} == {
        "scorecard-v1",
        "scorecard-v2",
    }


def test_errors_are_one_line(
    registry: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(tmp_path)
    assert main(["models", "promote", "scorecard-v9", "--models-dir", d]) == 2
    err = capsys.readouterr().err
    assert err.startswith("climate-loan models: error: no model card scorecard-v9")
    assert err.count("\n") == 1
    path = tmp_path / "scorecard-v1.json"
    path.write_text(path.read_text().replace('"author": "modeller"', '"author": "mallory"'))
    assert main(["models", "show", "scorecard-v1", "--models-dir", d]) == 2
    assert "sha256 does not match" in capsys.readouterr().err
    # A tampered card anywhere in the folder stops a promotion before anything is written.
    assert main(["models", "promote", "scorecard-v2", "--models-dir", d]) == 2
    assert "scorecard-v1.json: sha256 does not match" in capsys.readouterr().err
    assert Registry(tmp_path).show("scorecard-v2").status == "candidate"
    assert main(["models", "promote", "scorecard-v0", "--models-dir", d]) == 2
    assert "shipped default" in capsys.readouterr().err
    assert main(["models", "show", "nonsense", "--models-dir", d]) == 2
    assert "is not a model id" in capsys.readouterr().err
