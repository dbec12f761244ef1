"""The PD scorecard inside the assessment (models/assessment.py, issue 6).

The scorecard PD is checked against the card's logit evaluated here from features computed
independently of the assessment (annual means of the test site, the annuity formula of
A = D r / (1 - (1 + r)^-n)), and against :func:`models.scorecard.predict_pd` on those
features. Cards: the shipped ``scorecard-v0`` (synthetic loan book) and a card trained here on
the synthetic book with a subset of the features.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from models.assessment import (
    SCORECARD_SOURCES,
    AssessmentError,
    scorecard_pd,
    scorecard_version,
)
from models.loanbook import synthetic_loan_book
from models.policy import INSUFFICIENT_DATA, METRICS, parse_policy
from models.registry import ModelCard, shipped_cards
from models.scorecard import DEFAULT_FEATURES, ScorecardError, predict_pd, train_scorecard
from models.solar import SolarProject
from tests.models.test_assessment import (
    SCALES,
    SIGMA_MODEL,
    SOLAR_POLICY,
    WIND_POLICY,
    Z90,
    independent_energy_mwh,
    make_site,
    run,
    terms,
)

SHIPPED = next(c for c in shipped_cards() if c.kind == "scorecard")
SUNNY = [1500.0] * len(SCALES)  # PV yield [kWh/kWp]; make_site then gives 2800 h of sunshine
SUNSHINE_H = 2800.0  # make_site's constant annual sunshine duration
LOAN, COST = 150e6, 200e6  # terms() loan and a project cost: leverage 0.75


def logit_pd(card: ModelCard, x: dict[str, float]) -> float:
    """PD from the card's coefficients, written out here (models.scorecard Notes)."""
    beta = dict(zip(card.parameters["names"], card.parameters["coefficients"], strict=True))
    eta = beta["const"]
    for f in card.features:
        g = math.log(x[f["name"]]) if f["transform"] == "log" else x[f["name"]]
        eta += beta[f["name"]] * (g - f["center"]) / f["scale"]
    return 1.0 / (1.0 + math.exp(-eta))


def grade_by_bands(card: ModelCard, pd_: float) -> str:
    """First band whose upper bound exceeds the PD (models.scorecard.grade_of)."""
    for grade, upper in card.parameters["grade_bands"]:
        if pd_ < upper:
            return str(grade)
    return str(card.parameters["grade_bands"][-1][0])


@pytest.fixture(scope="module")
def climate_finance_card() -> ModelCard:
    """A card without sunshine and leverage, trained on the synthetic book (2 000 loans)."""
    feats = [f for f in DEFAULT_FEATURES if f.name not in ("sunshine_hours", "leverage")]
    res = train_scorecard(synthetic_loan_book(2000, seed=3), feats, seed=1)
    return replace(res.to_card(author="test", description="test card"), version=7)


# ---------------------------------------------------------------- PD against references


def test_scorecard_pd_matches_independent_features() -> None:
    site = make_site(SCALES, solar_yield=SUNNY)
    d = run(site, scorecard=SHIPPED, project_cost=COST).to_dict()
    rep = d["repayment"]

    # features written out from the site's years and the annuity formula
    means = site.wind_mean_ms  # hub at the reference height: no shear factor
    energy = independent_energy_mwh(site, 25, 0.97 * 0.93 * 0.98 * 0.98)
    p50 = energy.mean()
    iav = energy.std(ddof=1) / p50
    # ten-year sigma with the long-term-mean term of the 12-year record (models.uncertainty)
    s10 = math.sqrt(iav**2 / 10 + iav**2 / energy.size + SIGMA_MODEL**2)
    r, n = 0.05, 12
    annuity = LOAN * r / (1 - (1 + r) ** -n)
    x = {
        "trailing_wind_mean_ms": float(means[-3:].mean()),
        "wind_iav": float(means.std(ddof=1) / means.mean()),
        "sunshine_hours": SUNSHINE_H,
        "dscr_p90": (p50 * (1 - Z90 * s10) * 300.0 - 6e6) / annuity,
        "leverage": LOAN / COST,
        "tenor_years": float(n),
    }
    expected = float(predict_pd(SHIPPED, {k: np.array([v]) for k, v in x.items()})[0])
    assert expected == pytest.approx(logit_pd(SHIPPED, x), rel=1e-12)
    # The assessment scores its reported figures: wind mean to 3 decimals, IAV to 4, DSCR to
    # 4 (and 2e-4 from the energy, test_assessment.py), PD to 6. Bound |d eta| by
    # sum |beta_j| |dz_j| and |dPD| by p (1 - p) |d eta|.
    beta = dict(zip(SHIPPED.parameters["names"], SHIPPED.parameters["coefficients"], strict=True))
    d_eta = (
        abs(beta["trailing_wind_mean_ms"]) * 5e-4 / 1.0
        + abs(beta["wind_iav"]) * 5e-5 / 0.02
        + abs(beta["dscr_p90"]) * (2.5e-4 / x["dscr_p90"]) / 0.1
    )
    tol = expected * (1 - expected) * d_eta * 1.01 + 5e-7
    assert rep["pd_scorecard"] == pytest.approx(expected, abs=tol)
    assert tol < 0.01 * expected  # the check is tight: under 1 % of the PD

    # the reported features are the ones scored: predict_pd on them gives the PD to rounding
    used = rep["scorecard"]["features"]
    assert used["sunshine_hours"] == SUNSHINE_H and used["leverage"] == 0.75
    assert used["tenor_years"] == 12 and used["dscr_p90"] == rep["dscr_p90_min"]
    assert used["trailing_wind_mean_ms"] == d["climate"]["wind"]["trailing_3y_mean_ms"]
    again = float(predict_pd(SHIPPED, {k: np.array([v]) for k, v in used.items()})[0])
    assert rep["pd_scorecard"] == pytest.approx(again, abs=5e-7)
    assert rep["scorecard_grade"] == grade_by_bands(SHIPPED, again)
    # the Monte Carlo PD is still there, beside it
    assert rep["pd_tenor"] is not None and rep["pd_annual"] is not None


@pytest.mark.parametrize("card", [None, SHIPPED])
@pytest.mark.parametrize(
    ("loan", "overrides"), [(LOAN, None), (260e6, {"merchant_share_pct": 50.0})]
)
def test_kept_object_is_the_one_built_afresh(
    card: ModelCard | None, loan: float, overrides: dict[str, Any] | None
) -> None:
    """assess keeps the object it built while deciding: the same as building it anew."""
    kw: dict[str, Any] = {} if overrides is None else {"driver_overrides": overrides}
    a = run(
        make_site(SCALES, solar_yield=SUNNY),
        scorecard=card,
        project_cost=COST if loan < COST else 2 * loan,
        terms=terms(loan_amount=loan),
        **kw,
    )
    afresh = replace(a)  # replace does not carry the kept object over
    assert afresh._body is None
    expected = json.dumps(afresh.to_dict(), allow_nan=False)
    kept = a.to_dict()
    assert json.dumps(kept, allow_nan=False) == expected  # same keys, order and values
    if loan > LOAN:
        assert kept["reasons"], "the large loan is meant to fail a rule"
    # each call is a new object: changing one leaves the next as it was
    kept["repayment"]["dscr_by_year"][0]["p50"] = -1.0
    kept["rules"].clear()
    assert json.dumps(a.to_dict(), allow_nan=False) == expected


def test_provenance_records_the_card_and_keeps_the_other_versions() -> None:
    site = make_site(SCALES, solar_yield=SUNNY)
    plain = run(site).to_dict()
    with_card = run(site, scorecard=SHIPPED, project_cost=COST).to_dict()
    before = plain["provenance"]["model_versions"]
    after = with_card["provenance"]["model_versions"]
    assert after == {**before, "scorecard": f"scorecard-v0 (sha256 {SHIPPED.sha256[:12]})"}
    assert after["scorecard"] == scorecard_version(SHIPPED)
    assert with_card["repayment"]["scorecard"]["sha256"] == SHIPPED.sha256
    # without a card: the keys exist and are null (a policy rule on them cannot KeyError)
    assert plain["repayment"]["pd_scorecard"] is None
    assert plain["repayment"]["scorecard_grade"] is None
    assert plain["repayment"]["scorecard"] is None
    # the scorecard changes no other figure (only adds its synthetic-data note)
    assert plain["climate"] == with_card["climate"] and plain["rules"] == with_card["rules"]
    extra_notes = with_card["energy"].pop("notes")[len(plain["energy"].pop("notes")) :]
    assert plain["energy"] == with_card["energy"] and len(extra_notes) == 1
    for key in ("pd_scorecard", "scorecard_grade", "scorecard"):
        with_card["repayment"].pop(key), plain["repayment"].pop(key)
    assert plain["repayment"] == with_card["repayment"]


def test_synthetic_card_is_labelled() -> None:
    d = run(make_site(SCALES, solar_yield=SUNNY), scorecard=SHIPPED, project_cost=COST).to_dict()
    assert d["repayment"]["scorecard"]["synthetic"] is True
    assert any("SYNTHETIC loan book" in n for n in d["energy"]["notes"])


# ----------------------------------------------------------------- missing features -> null


def test_no_sunshine_gives_null_and_a_note_never_a_filled_value() -> None:
    d = run(make_site(SCALES), scorecard=SHIPPED, project_cost=COST).to_dict()
    rep = d["repayment"]
    assert d["climate"]["solar"] is None
    assert rep["pd_scorecard"] is None and rep["scorecard_grade"] is None
    assert rep["scorecard"]["features"]["sunshine_hours"] is None
    notes = [n for n in d["energy"]["notes"] if "scorecard PD" in n]
    assert len(notes) == 1 and "sunshine_hours" in notes[0] and "not filled" in notes[0]
    assert rep["scorecard"]["notes"][0] == notes[0]
    # the card was still consulted, so it is recorded
    assert d["provenance"]["model_versions"]["scorecard"] == scorecard_version(SHIPPED)


def test_leverage_needs_the_project_cost() -> None:
    d = run(make_site(SCALES, solar_yield=SUNNY), scorecard=SHIPPED).to_dict()
    assert d["repayment"]["pd_scorecard"] is None
    assert d["repayment"]["scorecard"]["features"]["leverage"] is None
    assert any("leverage" in n and "project cost" in n for n in d["energy"]["notes"])
    with pytest.raises(AssessmentError, match="project_cost"):
        run(make_site(SCALES), scorecard=SHIPPED, project_cost=LOAN / 2)
    with pytest.raises(AssessmentError, match="project_cost"):
        run(make_site(SCALES), scorecard=SHIPPED, project_cost=float("nan"))


def test_card_without_the_missing_features_scores_the_site(climate_finance_card: Any) -> None:
    # the card decides what is needed: no sunshine and no leverage in this one
    card = climate_finance_card
    d = run(make_site(SCALES), scorecard=card).to_dict()
    rep = d["repayment"]
    assert set(rep["scorecard"]["features"]) == {
        "trailing_wind_mean_ms",
        "wind_iav",
        "dscr_p90",
        "tenor_years",
    }
    assert rep["pd_scorecard"] == pytest.approx(
        logit_pd(card, rep["scorecard"]["features"]), abs=5e-7
    )
    assert rep["scorecard"]["synthetic"] is True  # trained on the synthetic book too
    assert d["provenance"]["model_versions"]["scorecard"] == scorecard_version(card)
    assert scorecard_version(card).startswith("scorecard-v7 (sha256 ")


def test_solar_project_has_no_wind_features(climate_finance_card: Any) -> None:
    site = make_site(SCALES, solar_yield=SUNNY)
    project = SolarProject(capacity_mw=50.0)
    d = run(site, project=project, policy=SOLAR_POLICY, scorecard=climate_finance_card).to_dict()
    rep = d["repayment"]
    assert rep["pd_scorecard"] is None
    assert rep["scorecard"]["features"]["trailing_wind_mean_ms"] is None
    assert any("solar project does not have" in n for n in d["energy"]["notes"])


def test_dscr_that_is_not_positive_gives_null(climate_finance_card: Any) -> None:
    # opex above the P90 revenue: negative P90 cash flow, so ln(DSCR) is undefined
    d = run(make_site(SCALES), terms=terms(opex_per_year=60e6), scorecard=climate_finance_card)
    rep = d.to_dict()["repayment"]
    assert rep["dscr_p90_min"] is not None and rep["dscr_p90_min"] <= 0
    assert rep["pd_scorecard"] is None
    assert "not positive" in rep["scorecard"]["notes"][0]


def test_too_few_years_gives_null() -> None:
    # two complete years: no trailing 3-year mean (the other features exist)
    d = run(make_site(SCALES[:2], solar_yield=SUNNY[:2]), scorecard=SHIPPED, project_cost=COST)
    rep = d.to_dict()["repayment"]
    assert rep["pd_scorecard"] is None
    feats = rep["scorecard"]["features"]
    assert feats["trailing_wind_mean_ms"] is None
    assert [k for k, v in feats.items() if v is None] == ["trailing_wind_mean_ms"]
    assert "fewer than three complete climate years" in rep["scorecard"]["notes"][0]


def test_a_card_that_is_not_a_scorecard_is_refused() -> None:
    other = replace(SHIPPED, kind="longterm")
    with pytest.raises(ScorecardError, match="not 'scorecard'"):
        run(make_site(SCALES), scorecard=other)


# -------------------------------------------------------------------------------- policy


def _pd_policy(threshold: float) -> Any:
    text = f"""
id: wind_with_scorecard_test
version: "1"
name: {{en: "test", zh: "测试"}}
technology: wind
rules:
  - id: scorecard_pd
    metric: repayment.pd_scorecard
    operator: "<="
    threshold: {threshold!r}
    outcome: refer
    code: SCORECARD_PD_HIGH
"""
    policy = parse_policy(yaml.safe_load(text), "test")
    return replace(policy, rules=(*WIND_POLICY.rules, *policy.rules))


def test_policy_can_rule_on_the_scorecard_pd() -> None:
    assert METRICS["repayment.pd_scorecard"].unit == "1"
    site = make_site(SCALES, solar_yield=SUNNY)
    base = run(site, scorecard=SHIPPED, project_cost=COST).to_dict()
    assert base["decision"] == "approve"
    pd_ = base["repayment"]["pd_scorecard"]
    assert pd_ is not None and pd_ > 0

    # threshold below the PD: the rule fails and refers, with its value and code
    failing = run(site, scorecard=SHIPPED, project_cost=COST, policy=_pd_policy(pd_ / 2))
    d = failing.to_dict()
    rule = next(r for r in d["rules"] if r["id"] == "scorecard_pd")
    assert rule["value"] == pd_ and not rule["passed"] and rule["outcome"] == "refer"
    assert d["decision"] == "refer"
    assert [r["code"] for r in d["reasons"]] == ["SCORECARD_PD_HIGH"]

    # threshold above: passes
    passing = run(site, scorecard=SHIPPED, project_cost=COST, policy=_pd_policy(pd_ * 2))
    assert passing.decision == "approve"

    # no scorecard PD (no card, or a missing feature): refer for insufficient data
    for kw in ({}, {"scorecard": SHIPPED}):
        d = run(site, policy=_pd_policy(0.5), **kw).to_dict()
        rule = next(r for r in d["rules"] if r["id"] == "scorecard_pd")
        assert rule["value"] is None and rule["outcome"] == "refer"
        assert d["decision"] == "refer" and d["reasons"][-1]["code"] == INSUFFICIENT_DATA


# ------------------------------------------------------------------ property: never filled

_maybe = st.one_of(st.none(), st.floats(0.1, 20.0))


@settings(max_examples=150, deadline=None)
@given(
    wind=_maybe,
    iav=st.one_of(st.none(), st.floats(0.0, 0.5)),
    solar=st.booleans(),
    sun=st.one_of(st.none(), st.floats(500.0, 4000.0)),
    dscr=st.one_of(st.none(), st.floats(-2.0, 5.0)),
    tenor=st.integers(1, 30),
    cost_ratio=st.one_of(st.none(), st.floats(1.0, 3.0)),
)
def test_pd_is_null_exactly_when_a_feature_is_unavailable(
    wind: float | None,
    iav: float | None,
    solar: bool,
    sun: float | None,
    dscr: float | None,
    tenor: int,
    cost_ratio: float | None,
) -> None:
    obj = {
        "climate": {
            "wind": {"trailing_3y_mean_ms": wind, "iav": iav},
            "solar": {"mean_sunshine_hours": sun} if solar else None,
        },
        "repayment": {"dscr_p90_min": dscr, "tenor_years": tenor, "loan_amount": LOAN},
    }
    cost = None if cost_ratio is None else LOAN * cost_ratio
    out = scorecard_pd(SHIPPED, obj, technology="wind", project_cost=cost)
    x = {
        "trailing_wind_mean_ms": wind,
        "wind_iav": iav,
        "sunshine_hours": sun if solar else None,
        "dscr_p90": dscr if dscr is not None and dscr > 0 else None,
        "leverage": None if cost is None else LOAN / cost,
        "tenor_years": float(tenor),
    }
    assert set(x) == set(SCORECARD_SOURCES)
    assert dict(out.features) == pytest.approx(x)  # None stays None: nothing filled
    if any(v is None for v in x.values()):
        assert out.pd is None and out.grade is None
        assert out.notes and "not computed" in out.notes[0]
    else:
        xs = {k: float(v) for k, v in x.items() if v is not None}
        assert out.pd is not None
        assert out.pd == pytest.approx(logit_pd(SHIPPED, xs), rel=1e-12, abs=1e-300)
        assert 0.0 <= out.pd <= 1.0  # 1.0 exactly when exp(-eta) underflows against 1
        assert out.grade == grade_by_bands(SHIPPED, out.pd)
