"""The production PD scorecard in the service (issue 6): every assessment uses it and records it.

Checked through the real app (Flask test client, SQLite audit store, a model registry in
tmp_path): the response names the production card; a promotion or retirement through the API
changes the card of the next assessment, in this worker and in another one on the same
registry; a replay uses the card recorded in the assessment, even after a promotion or a
retirement, and says so clearly when that card is gone; a damaged registry is an error, not an
assessment without a scorecard. The CLI does the same with ``CLIMATE_LOAN_MODELS_DIR``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.loanbook import synthetic_loan_book
from models.registry import ModelCard, Registry, canonical_json, shipped_cards
from models.scorecard import DEFAULT_FEATURES, predict_pd, train_scorecard
from service import cli
from service.api import ProductionScorecard, replay_assessment
from service.app import create_app
from service.config import ConfigError
from service.problems import Problem
from tests.service.conftest import WIND_REQUEST, make_config, new_key
from tests.service.test_api import assert_problem, post_json

V1 = "/api/v1"
SHIPPED = next(c for c in shipped_cards() if c.kind == "scorecard")
# A card without the features this request cannot give (the request has no project cost, so
# no leverage; keep sunshine out too so the check does not depend on the test cube's solar part).
FEATURES = [f for f in DEFAULT_FEATURES if f.name not in ("sunshine_hours", "leverage")]


def version_of(card: ModelCard) -> str:
    """The provenance entry the service must record (models.assessment.scorecard_version)."""
    return f"{card.id} (sha256 {card.sha256[:12]})"


@pytest.fixture(scope="module")
def trained() -> ModelCard:
    """An unsaved candidate trained on the synthetic book (2 000 loans, about 0.1 s)."""
    res = train_scorecard(synthetic_loan_book(2000, seed=5), FEATURES, seed=2)
    return res.to_card(author="test modeller", description="test: synthetic book, 4 features")


def registry_of(app: Any) -> Registry:
    return Registry(app.extensions["climate_loan"].config.models_dir)


def assess(client: Any, headers: dict[str, str], seed: int = 7) -> dict[str, Any]:
    body = copy.deepcopy(WIND_REQUEST)
    body["seed"] = seed
    r = post_json(client, f"{V1}/assessments", body, headers)
    assert r.status_code == 201, r.get_data(as_text=True)
    out: dict[str, Any] = r.get_json()
    return out


def logit_pd(card: ModelCard, x: dict[str, float]) -> float:
    """PD from the card's coefficients, written out here (models.scorecard Notes)."""
    beta = dict(zip(card.parameters["names"], card.parameters["coefficients"], strict=True))
    eta = beta["const"]
    for f in card.features:
        g = math.log(x[f["name"]]) if f["transform"] == "log" else x[f["name"]]
        eta += beta[f["name"]] * (g - f["center"]) / f["scale"]
    return 1.0 / (1.0 + math.exp(-eta))


# ------------------------------------------------------------------- production card used


def test_response_and_record_carry_the_production_card(
    app: Any, client: Any, officer: dict[str, str]
) -> None:
    # empty registry folder: the shipped scorecard-v0 is in production
    d = assess(client, officer)
    assert d["provenance"]["model_versions"]["scorecard"] == version_of(SHIPPED)
    assert d["repayment"]["scorecard"]["card"] == "scorecard-v0"
    assert d["repayment"]["scorecard"]["sha256"] == SHIPPED.sha256
    # the request gives no project cost, so the shipped card's leverage feature is missing:
    # null with the reason, never a filled value
    assert d["repayment"]["pd_scorecard"] is None
    assert d["repayment"]["scorecard"]["features"]["leverage"] is None
    assert any("leverage" in n and "project cost" in n for n in d["energy"]["notes"])
    # the audit record holds the same provenance
    record = app.extensions["climate_loan"].store.get_assessment(d["id"])
    assert record.model_versions["scorecard"] == version_of(SHIPPED)
    # and GET /models says which card is in use
    rows = client.get(f"{V1}/models", headers=officer).get_json()["items"]
    in_use = [r for r in rows if r["kind"] == "scorecard" and r["in_use"]]
    assert [(r["id"], r["sha256"]) for r in in_use] == [("scorecard-v0", SHIPPED.sha256)]


def test_promote_and_retire_through_the_api_change_the_next_assessment(
    app: Any, client: Any, officer: dict[str, str], trained: ModelCard
) -> None:
    registry = registry_of(app)
    saved = registry.save(trained)
    assert saved.id == "scorecard-v1"
    # a candidate is not used
    assert assess(client, officer)["provenance"]["model_versions"]["scorecard"] == version_of(
        SHIPPED
    )

    modeller = {"X-API-Key": new_key(app, "modeller", "Mo Modeller")}
    r = post_json(client, f"{V1}/models/scorecard-v1/promote", {"note": "validated"}, modeller)
    assert r.status_code == 200, r.get_data(as_text=True)
    promoted = registry.show("scorecard-v1")
    assert r.get_json()["sha256"] == promoted.sha256

    d = assess(client, officer)
    assert d["provenance"]["model_versions"]["scorecard"] == version_of(promoted)
    rep = d["repayment"]
    feats = rep["scorecard"]["features"]
    assert set(feats) == {f.name for f in FEATURES} and None not in feats.values()
    # the PD is the card's logit on the reported features (PD reported to 6 decimals)
    assert rep["pd_scorecard"] == pytest.approx(logit_pd(promoted, feats), abs=5e-7)
    pd_np = float(predict_pd(promoted, {k: np.array([v]) for k, v in feats.items()})[0])
    assert rep["pd_scorecard"] == pytest.approx(pd_np, abs=5e-7)
    assert feats["dscr_p90"] == rep["dscr_p90_min"]
    assert feats["trailing_wind_mean_ms"] == d["climate"]["wind"]["trailing_3y_mean_ms"]
    assert feats["tenor_years"] == WIND_REQUEST["finance"]["tenor_years"]
    assert rep["scorecard_grade"] in {"Strong", "Good", "Satisfactory", "Weak"}

    r = post_json(client, f"{V1}/models/scorecard-v1/retire", {"note": "test"}, modeller)
    assert r.status_code == 200, r.get_data(as_text=True)
    d = assess(client, officer)
    assert d["provenance"]["model_versions"]["scorecard"] == version_of(SHIPPED)
    assert d["repayment"]["pd_scorecard"] is None


def test_another_worker_sees_a_promotion(
    cube_path: Path, tmp_path: Path, trained: ModelCard
) -> None:
    cfg = make_config(cube_path, f"sqlite:///{tmp_path / 'audit.sqlite3'}", tmp_path)
    worker1, worker2 = create_app(cfg), create_app(cfg)  # two gunicorn workers
    try:
        headers = {"X-API-Key": new_key(worker1, "officer")}
        modeller = {"X-API-Key": new_key(worker1, "modeller")}
        c1, c2 = worker1.test_client(), worker2.test_client()
        assert assess(c2, headers)["provenance"]["model_versions"]["scorecard"].startswith(
            "scorecard-v0 "
        )
        saved = registry_of(worker1).save(trained)
        r = post_json(c1, f"{V1}/models/{saved.id}/promote", {}, modeller)
        assert r.status_code == 200
        expected = version_of(registry_of(worker1).show(saved.id))
        # worker2 was not told: it sees the registry folder change
        assert assess(c2, headers)["provenance"]["model_versions"]["scorecard"] == expected
        assert assess(c1, headers)["provenance"]["model_versions"]["scorecard"] == expected
    finally:
        for w in (worker1, worker2):
            w.extensions["climate_loan"].store.dispose()


def test_production_card_is_cached_until_the_folder_changes(
    tmp_path: Path, trained: ModelCard
) -> None:
    holder = ProductionScorecard(tmp_path / "models")  # no folder yet: the shipped card
    first = holder.reload()
    assert first is not None and first.id == "scorecard-v0"
    assert holder.current() is first  # not read again
    registry = Registry(tmp_path / "models")
    saved = registry.save(trained)
    registry.promote(saved.id, by="test")  # another process, through the registry
    now = holder.current()
    assert now is not None and now.id == saved.id
    # a folder changed within RACY_NS is read again on the next call (coarse timestamps);
    # once it is older, the card is cached
    os.utime(registry.path, ns=(0, 0))
    cached = holder.reload()
    assert holder.current() is cached


def test_unusable_card_cannot_be_promoted(app: Any, client: Any, trained: ModelCard) -> None:
    params = {**trained.parameters, "link": "probit"}
    saved = registry_of(app).save(replace(trained, parameters=params))
    modeller = {"X-API-Key": new_key(app, "modeller")}
    body = assert_problem(post_json(client, f"{V1}/models/{saved.id}/promote", {}, modeller), 409)
    assert "cannot be used by the service" in body["detail"] and "probit" in body["detail"]
    assert registry_of(app).production("scorecard").id == "scorecard-v0"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- replay


def test_replay_uses_the_recorded_card(
    app: Any, client: Any, officer: dict[str, str], trained: ModelCard
) -> None:
    st = app.extensions["climate_loan"]
    registry = registry_of(app)
    old = assess(client, officer, seed=11)  # made with scorecard-v0
    saved = registry.save(trained)
    modeller = {"X-API-Key": new_key(app, "modeller")}
    assert post_json(client, f"{V1}/models/{saved.id}/promote", {}, modeller).status_code == 200
    new = assess(client, officer, seed=12)  # made with scorecard-v1
    assert new["provenance"]["model_versions"]["scorecard"].startswith("scorecard-v1 ")
    assert new["repayment"]["pd_scorecard"] is not None

    def replay(made: dict[str, Any]) -> dict[str, Any]:
        record = st.store.get_assessment(made["id"])
        with app.test_request_context():
            out: dict[str, Any] = replay_assessment(st, record)
        return out

    # v1 in production, yet the old assessment replays with v0, identically
    assert replay(old) == old
    assert replay(new) == new
    # retiring v1 appends to its history (new card sha256): the replay finds the state it had
    assert post_json(client, f"{V1}/models/{saved.id}/retire", {}, modeller).status_code == 200
    assert (
        registry.show(saved.id).sha256[:12] not in new["provenance"]["model_versions"]["scorecard"]
    )
    assert replay(new) == new

    # the card is gone: a clear error naming it, not a replay with another card
    (registry.path / f"{saved.id}.json").unlink()
    with pytest.raises(Problem) as exc:
        replay(new)
    assert exc.value.status == 409
    assert "scorecard-v1 (sha256 " in exc.value.detail
    assert "no longer in the registry" in exc.value.detail

    # a different card saved under the same id: refused as replaced
    registry.save(replace(trained, description="another model"))
    with pytest.raises(Problem) as exc:
        replay(new)
    assert exc.value.status == 409 and "was replaced" in exc.value.detail


# ------------------------------------------------------------------- damaged registry


def _tamper(folder: Path, card_id: str) -> None:
    """Change a number in a stored card, written by rename as the registry writes."""
    path = folder / f"{card_id}.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["parameters"]["coefficients"][1] += 0.5
    tmp = folder / f".{card_id}.tamper"
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, path)


def test_damaged_registry_keeps_the_last_good_card_and_says_so(
    cube_path: Path, tmp_path: Path, trained: ModelCard
) -> None:
    """A damaged card never stops lending: the last good card serves, health names the fault."""
    cfg = make_config(cube_path, f"sqlite:///{tmp_path / 'audit.sqlite3'}", tmp_path)
    app = create_app(cfg)  # serves (and pins) the shipped card
    second = None
    try:
        registry = registry_of(app)
        saved = registry.save(trained)
        headers = {"X-API-Key": new_key(app, "officer")}
        _tamper(registry.path, saved.id)
        client = app.test_client()
        d = assess(client, headers)
        assert d["provenance"]["model_versions"]["scorecard"] == version_of(SHIPPED)
        for worker in (app, None):
            if worker is None:  # a worker starting now, with the registry still damaged
                second = worker = create_app(cfg)
            health = worker.test_client().get(f"{V1}/health")
            assert health.status_code == 200  # still lending: not out of the load balancer
            body = health.get_json()
            assert body["status"] == "degraded"
            assert body["scorecard"]["status"] == "degraded"
            assert body["scorecard"]["serving"] == SHIPPED.id
            assert "sha256 does not match" in body["scorecard"]["detail"]
            assert saved.id in body["scorecard"]["detail"]
    finally:
        app.extensions["climate_loan"].store.dispose()
        if second is not None:
            second.extensions["climate_loan"].store.dispose()
    # with no good card ever served (a new audit database), there is nothing to fall back on
    fresh = {**cfg, "database_url": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    with pytest.raises(ConfigError, match=r"CLIMATE_LOAN_MODELS_DIR=.*sha256 does not match"):
        create_app(fresh)


def _rewrite_with_new_hash(folder: Path, card_id: str) -> None:
    """Edit a card AND recompute its own sha256, as someone with write access could."""
    path = folder / f"{card_id}.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["parameters"]["coefficients"][1] += 0.5
    body = {k: v for k, v in doc.items() if k != "sha256"}
    doc["sha256"] = hashlib.sha256(canonical_json(body)).hexdigest()
    path.write_text(json.dumps(doc), encoding="utf-8")


def test_a_rehashed_production_card_is_refused_by_its_pin(
    cube_path: Path, tmp_path: Path, trained: ModelCard
) -> None:
    cfg = make_config(cube_path, f"sqlite:///{tmp_path / 'audit.sqlite3'}", tmp_path)
    app = create_app(cfg)
    registry = registry_of(app)
    saved = registry.save(trained)
    registry.promote(saved.id, by="test", note="go")
    promoted = registry.show(saved.id)
    headers = {"X-API-Key": new_key(app, "officer")}
    first = assess(app.test_client(), headers)  # the first use pins the card
    assert first["provenance"]["model_versions"]["scorecard"] == version_of(promoted)
    app.extensions["climate_loan"].store.dispose()

    _rewrite_with_new_hash(registry.path, saved.id)
    rehashed = registry.show(saved.id)  # the registry's own check passes...
    assert rehashed.sha256 != promoted.sha256
    second = create_app(cfg)  # ...but the service compares with the pin
    try:
        d = assess(second.test_client(), headers)
        assert d["provenance"]["model_versions"]["scorecard"] == version_of(promoted)
        health = second.test_client().get(f"{V1}/health").get_json()
        assert health["scorecard"]["status"] == "degraded"
        assert "changed after it was first used" in health["scorecard"]["detail"]
        store = second.extensions["climate_loan"].store
        assert store.pinned_card(saved.id)[0] == promoted.sha256
    finally:
        second.extensions["climate_loan"].store.dispose()


# ------------------------------------------------------------------------------- CLI


def test_cli_assess_uses_the_production_card(
    cube_path: Path,
    tmp_path: Path,
    trained: ModelCard,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "models"
    monkeypatch.setenv("CLIMATE_LOAN_MODELS_DIR", str(folder))
    req = tmp_path / "request.json"
    req.write_text(json.dumps(WIND_REQUEST), encoding="utf-8")
    argv = ["assess", "--cube", str(cube_path), "--request", str(req), "--paths", "200"]

    assert cli.main([*argv, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["provenance"]["model_versions"]["scorecard"] == version_of(SHIPPED)

    registry = Registry(folder)
    promoted = registry.promote(registry.save(trained).id, by="test")
    assert cli.main([*argv, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["provenance"]["model_versions"]["scorecard"] == version_of(promoted)
    assert d["repayment"]["pd_scorecard"] == pytest.approx(
        logit_pd(promoted, d["repayment"]["scorecard"]["features"]), abs=5e-7
    )
    # the table for a person names the card and its PD
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    pct = f"{100 * d['repayment']['pd_scorecard']:.2f} %"
    assert f"Scorecard   scorecard-v1 (SYNTHETIC training data): PD {pct}" in out
