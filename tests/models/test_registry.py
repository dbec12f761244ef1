"""Tests of the JSON model registry (models.registry)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from models.longterm import (
    LongTermSettings,
    MonthlyReference,
    OperatingHistory,
    history_sha256,
    long_term_correction,
    longterm_card,
)
from models.registry import (
    ModelCard,
    Registry,
    RegistryError,
    canonical_json,
    models_dir,
    parse_id,
    shipped_cards,
)


def _card(kind: str = "scorecard", **metrics: Any) -> ModelCard:
    return ModelCard(
        kind=kind,
        version=None,
        status="candidate",
        created_at="2026-01-01T00:00:00Z",
        author="tester",
        description="test card",
        parameters={"link": "logit", "names": ["const", "x"], "coefficients": [-2.5, 0.1]},
        covariance={"names": ["const", "x"], "matrix": [[0.01, 0.0], [0.0, 0.002]]},
        features=[{"name": "x", "transform": "identity", "center": 0.0, "scale": 1.0}],
        training_data={"sha256": "0" * 64, "n_rows": 10, "size_bytes": 100, "synthetic": True},
        metrics={"auc": 0.8, **metrics},
    )


def test_kept_hash_is_the_hash_of_the_body() -> None:
    card = _card()
    first = card.sha256
    assert first == hashlib.sha256(canonical_json(card.body())).hexdigest()
    card.to_dict()
    assert card.sha256 == first
    # a changed card is a new object with its own hash, not the kept one
    promoted = card.with_status("production", by="tester", at="2026-01-02T00:00:00Z")
    assert promoted.sha256 == hashlib.sha256(canonical_json(promoted.body())).hexdigest()
    assert promoted.sha256 != first and card.sha256 == first


def test_round_trip_save_show(tmp_path: Path) -> None:
    reg = Registry(tmp_path, use_shipped=False)
    saved = reg.save(_card())
    assert (saved.id, saved.version, saved.status) == ("scorecard-v1", 1, "candidate")
    assert saved.history[-1]["status"] == "candidate"
    loaded = reg.show("scorecard-v1")
    assert loaded == saved
    assert loaded.to_dict() == saved.to_dict()
    # The file is plain JSON whose sha256 field is the hash of the canonical body.
    doc = json.loads((tmp_path / "scorecard-v1.json").read_text(encoding="utf-8"))
    body = {k: v for k, v in doc.items() if k != "sha256"}
    want = hashlib.sha256(
        json.dumps(
            body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()
    ).hexdigest()
    assert doc["sha256"] == want == saved.sha256
    # Versions count up per kind.
    assert reg.save(_card()).id == "scorecard-v2"
    assert reg.save(_card("longterm")).id == "longterm-v1"
    assert [c.id for c in reg.list()] == ["longterm-v1", "scorecard-v1", "scorecard-v2"]
    assert [c.id for c in reg.list(kind="scorecard", status="candidate")] == [
        "scorecard-v1",
        "scorecard-v2",
    ]


def test_card_records_required_fields() -> None:
    doc = _card().to_dict()
    for key in (
        "kind",
        "version",
        "parameters",
        "covariance",
        "features",
        "training_data",
        "metrics",
        "software",
        "created_at",
        "author",
        "status",
        "sha256",
    ):
        assert key in doc
    assert {"statsmodels", "scipy", "numpy", "python"} <= set(doc["software"])


def test_tampered_card_is_refused(tmp_path: Path) -> None:
    reg = Registry(tmp_path, use_shipped=False)
    saved = reg.save(_card())
    path = tmp_path / f"{saved.id}.json"
    doc = json.loads(path.read_text())
    doc["parameters"]["coefficients"][1] = 0.2  # someone "improves" the model by hand
    path.write_text(json.dumps(doc, indent=2))
    with pytest.raises(RegistryError, match="sha256 does not match"):
        reg.show(saved.id)
    with pytest.raises(RegistryError, match=r"scorecard-v1\.json: sha256 does not match"):
        reg.list()
    with pytest.raises(RegistryError, match="sha256 does not match"):
        reg.promote(saved.id, by="x")
    # Re-hashing by hand is the only way to make it load: then it is a different card.
    doc["sha256"] = hashlib.sha256(
        canonical_json({k: v for k, v in doc.items() if k != "sha256"})
    ).hexdigest()
    path.write_text(json.dumps(doc))
    assert reg.show(saved.id).sha256 != saved.sha256


def test_malformed_cards_are_refused(tmp_path: Path) -> None:
    reg = Registry(tmp_path, use_shipped=False)
    saved = reg.save(_card())
    text = (tmp_path / "scorecard-v1.json").read_text()
    (tmp_path / "scorecard-v7.json").write_text(text)  # renamed copy
    with pytest.raises(RegistryError, match="must not be renamed"):
        reg.show("scorecard-v7")
    (tmp_path / "scorecard-v7.json").unlink()
    (tmp_path / "scorecard-v8.json").write_text("{not json")
    with pytest.raises(RegistryError, match="not valid JSON"):
        reg.show("scorecard-v8")
    (tmp_path / "scorecard-v8.json").unlink()
    doc = saved.to_dict()
    del doc["covariance"]
    with pytest.raises(RegistryError, match="missing covariance"):
        ModelCard.from_dict(doc)
    with pytest.raises(RegistryError, match="no model card scorecard-v9"):
        reg.show("scorecard-v9")
    with pytest.raises(RegistryError, match="is not a model id"):
        parse_id("scorecard-3")
    with pytest.raises(RegistryError, match="unknown model kind"):
        _card("neural-net")


def test_promote_keeps_one_production_per_kind(tmp_path: Path) -> None:
    reg = Registry(tmp_path, use_shipped=False)
    v1, v2 = reg.save(_card()), reg.save(_card())
    lt = reg.save(_card("longterm"))
    assert reg.production("scorecard") is None
    reg.promote(v1.id, by="alice", note="first")
    reg.promote(lt.id, by="alice")
    assert reg.production("scorecard") == reg.show(v1.id)
    promoted = reg.promote(v2.id, by="bob", note="better AUC")
    assert promoted.status == "production"
    assert reg.show(v1.id).status == "retired"
    assert reg.show(v1.id).history[-1]["note"] == "replaced by scorecard-v2"
    assert reg.show(lt.id).status == "production"  # other kinds untouched
    assert [c.id for c in reg.list(kind="scorecard", status="production")] == [v2.id]
    assert [h["status"] for h in reg.show(v2.id).history] == ["candidate", "production"]
    assert reg.show(v2.id).history[-1]["by"] == "bob"
    with pytest.raises(RegistryError, match="already in production"):
        reg.promote(v2.id, by="bob")
    with pytest.raises(RegistryError, match="is retired"):
        reg.promote(v1.id, by="bob")
    reg.retire(v2.id, by="carol", note="drift")
    assert reg.production("scorecard") is None
    with pytest.raises(RegistryError, match="already retired"):
        reg.retire(v2.id, by="carol")


def test_shipped_default_used_only_when_folder_has_no_production(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    shipped = reg.production("scorecard")
    assert shipped is not None and shipped.id == "scorecard-v0"
    assert shipped.training_data["synthetic"] is True
    assert reg.production("longterm") is None
    own = reg.save(_card())
    reg.promote(own.id, by="modeller")
    assert reg.production("scorecard") == reg.show(own.id)
    rows = {r["id"]: r for r in reg.table(kind="scorecard")}
    assert rows["scorecard-v1"]["in_use"] and not rows["scorecard-v0"]["in_use"]
    assert rows["scorecard-v0"]["source"] == "shipped"
    reg.retire(own.id, by="modeller")
    assert reg.production("scorecard") == shipped
    with pytest.raises(RegistryError, match="shipped default"):
        reg.promote("scorecard-v0", by="x")
    with pytest.raises(RegistryError, match="shipped default"):
        reg.retire("scorecard-v0", by="x")
    assert all(c.version == 0 for c in shipped_cards())


def test_interrupted_promotion_resolves_to_latest(tmp_path: Path) -> None:
    reg = Registry(tmp_path, use_shipped=False)
    v1, v2 = reg.save(_card()), reg.save(_card())
    reg.promote(v1.id, by="a")
    # Simulate a crash between the two writes of a later promotion of v2: both production.
    late = reg.show(v2.id).with_status("production", by="a", at="2999-01-01T00:00:00Z")
    (tmp_path / f"{v2.id}.json").write_text(late.to_json())
    assert reg.production("scorecard") == late
    # Promoting again tidies up.
    v3 = reg.save(_card())
    reg.promote(v3.id, by="a")
    assert [c.id for c in reg.list(status="production")] == [v3.id]


def test_save_rules(tmp_path: Path) -> None:
    reg = Registry(tmp_path, use_shipped=False)
    saved = reg.save(_card())
    with pytest.raises(RegistryError, match="never overwritten"):
        reg.save(saved)
    with pytest.raises(RegistryError, match="must be a candidate"):
        reg.save(_card().with_status("production", by="x"))


def test_nan_metrics_become_null_and_numpy_values_are_plain() -> None:
    card = _card(brier=float("nan"), counts=np.array([1, 2]), rate=np.float64(0.25))
    assert card.metrics["brier"] is None
    assert card.metrics["counts"] == [1, 2] and card.metrics["rate"] == 0.25
    with pytest.raises(RegistryError, match="not JSON"):
        _card(bad=object())


def test_models_dir_from_environment(tmp_path: Path) -> None:
    assert models_dir({"CLIMATE_LOAN_MODELS_DIR": str(tmp_path)}) == tmp_path
    assert models_dir({"CLIMATE_LOAN_INSTANCE_PATH": str(tmp_path)}) == tmp_path / "models"
    assert models_dir({}).parts[-2:] == ("instance", "models")


def test_longterm_card_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    months = np.arange(np.datetime64("2000-01"), np.datetime64("2012-01"))
    wind = 7 + rng.normal(0, 1, months.size)
    ref = MonthlyReference(months, wind, np.ones(months.size, dtype=bool))
    hist = OperatingHistory(months[-24:], 1000 + 300 * wind[-24:] + rng.normal(0, 30, 24))
    res = long_term_correction(hist, ref, settings=LongTermSettings(n_bootstrap=200))
    card = longterm_card(res, hist, ref, author="t", description="site X")
    saved = Registry(tmp_path).save(card)
    loaded = Registry(tmp_path).show(saved.id)
    assert loaded.parameters["slope"] == res.fit.slope
    assert loaded.metrics["p50_mwh"] == res.p50
    assert loaded.training_data["sha256"] == history_sha256(hist, ref)
    # Covariance stored in the card: its slope variance is the one behind the t interval,
    # half-width = t(0.975, n - 2) * se (t quantile from scipy, independent of statsmodels).
    cov = np.asarray(loaded.covariance["matrix"])  # type: ignore[index]
    t = stats.t.ppf(0.975, res.fit.n - 2)
    half = (res.fit.slope_ci[1] - res.fit.slope_ci[0]) / 2
    assert np.sqrt(cov[1, 1]) * t == pytest.approx(half, rel=1e-9)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=40, deadline=None)
@given(extra=st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=5))
def test_any_json_metrics_round_trip_with_same_hash(extra: dict[str, Any]) -> None:
    card = ModelCard(
        kind="scorecard",
        version=3,
        status="candidate",
        created_at="2026-01-01T00:00:00Z",
        author="a",
        description="",
        parameters={},
        covariance=None,
        features=[],
        training_data={},
        metrics=extra,
    )
    again = ModelCard.from_json(card.to_json())
    assert again.sha256 == card.sha256
    assert again.metrics == card.metrics
