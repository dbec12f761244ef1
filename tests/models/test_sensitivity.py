"""Tests for models.sensitivity: stress cases on common random numbers and break-even values."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

from models.assessment import Assessment
from models.drivers import Curtailment
from models.finance import cfads, dscr
from models.policy import load_policy
from models.risk import default_years, simulate_default
from models.sensitivity import (
    CASES,
    DSCR_CASE_OF_METRIC,
    break_even,
    defaults_within_tenor,
    sensitivities,
)
from models.uncertainty import exceedance
from tests.models.test_assessment import make_site, run, terms
from tests.models.test_risk import reference_default_years, reserve_cases

SCALES = [8.0, 8.4, 7.7, 8.1, 7.9, 8.3, 7.6, 8.2, 8.0, 7.8, 8.5, 7.9]
WIND_POLICY = load_policy("wind_changji_v1")


def assessed(**kw: Any) -> Assessment:
    """An assessment with the policy's default drivers (curtailment, shocks, ageing)."""
    kw.setdefault("driver_overrides", None)
    kw.setdefault("n_paths", 4_000)
    kw.setdefault("terms", terms(loan_amount=225e6))
    return run(make_site(SCALES), **kw)


def rerun(a: Assessment, n_stress_paths: int, **over: Any) -> Any:
    assert a.risk is not None and a.schedule is not None and a.drivers is not None
    good = a.annual_energy_mwh[np.isfinite(a.annual_energy_mwh)]
    args: dict[str, Any] = {
        "seed": a.risk.seed,
        "n_paths": a.n_paths,
        "base_pd_tenor": a.risk.pd_tenor,
        "sigma_lt_mean": a.risk.sigma_lt_mean,
        "degradation_factors": None,
        "dscr_rules": WIND_POLICY.rules,
        "n_stress_paths": n_stress_paths,
    }
    args.update(over)
    return sensitivities(
        good,
        a.terms,
        a.schedule,
        a.sigma_model,
        lambda s: exceedance(good, s),
        over.pop("drivers", a.drivers),
        **args,
    )


def test_base_case_is_the_assessments_own_pd_exactly() -> None:
    a = assessed()
    assert a.risk is not None and a.sensitivities is not None
    d = a.to_dict()
    base = d["sensitivities"]["cases"][0]
    assert base["id"] == "base"
    assert base["pd_tenor"] == d["repayment"]["pd_tenor"]
    assert a.sensitivities.base.pd_tenor == a.risk.pd_tenor
    assert base["dscr_p90_min"] == d["repayment"]["dscr_p90_min"]
    # recomputed on all paths, the block's own base is the Monte Carlo's PD to the last bit:
    # the cases really run on the assessment's paths
    full = rerun(a, n_stress_paths=a.n_paths)
    assert full.stress_base_pd_tenor == a.risk.pd_tenor


def test_cases_move_the_way_they_should_on_common_random_numbers() -> None:
    a = assessed()
    s = a.sensitivities
    assert s is not None
    assert [c.id for c in s.cases] == [c.id for c in CASES]
    base = s.base.pd_tenor
    assert 0.01 < base < 0.5  # an informative case, not all or nothing
    c5, c10 = s.case("curtailment_plus_5"), s.case("curtailment_plus_10")
    # pathwise worse cases: exact order (differences on the same paths)
    assert base <= c5.pd_tenor <= c10.pd_tenor
    assert s.case("tariff_minus_10").pd_tenor >= base
    assert s.case("trend_minus_0_5").pd_tenor >= base
    assert s.case("dsra_0").pd_tenor >= base >= s.case("dsra_12").pd_tenor
    assert s.case("sigma_model_plus_50").pd_tenor >= s.case("sigma_model_minus_50").pd_tenor
    # min P90 DSCR: deterministic, lower in each adverse case, unchanged by the reserve
    b = s.base.dscr_p90_min
    assert b is not None
    for cid in ("curtailment_plus_5", "tariff_minus_10", "trend_minus_0_5", "sigma_model_plus_50"):
        v = s.case(cid).dscr_p90_min
        assert v is not None and v < b
    assert s.case("dsra_0").dscr_p90_min == b
    assert s.case("sigma_model_minus_50").dscr_p90_min > b  # type: ignore[operator]
    d = s.to_dict()
    assert d["cases"][3]["delta_pd_tenor"] == pytest.approx(c5.pd_tenor - base, abs=1e-6)
    assert all(c["delta_pd_tenor_se"] >= 0 for c in d["cases"])


def test_stress_differences_agree_with_full_runs() -> None:
    # the difference estimator on the first 2,500 paths vs the change on all paths
    a = assessed()
    sub, full = rerun(a, 2_500), rerun(a, a.n_paths)
    for c_sub, c_full in zip(sub.cases, full.cases, strict=True):
        se = max(c_sub.delta_pd_tenor_se, 1e-3)
        assert c_sub.pd_tenor == pytest.approx(c_full.pd_tenor, abs=4 * se)


def test_on_all_paths_each_case_is_exactly_its_own_monte_carlo() -> None:
    # With the changes measured on every path, base PD + change = the case's own full
    # simulation: the cases share the assessment's draws, and skipping the paths a
    # one-way case cannot change (its monotonicity) loses nothing.
    a = assessed()
    assert a.risk is not None and a.drivers is not None and a.schedule is not None
    full = rerun(a, a.n_paths)
    good = a.annual_energy_mwh[np.isfinite(a.annual_energy_mwh)]
    c = a.drivers.curtailment

    def sim(**kw: Any) -> float:
        args: dict[str, Any] = {
            "n_paths": a.n_paths,
            "seed": a.risk.seed,  # type: ignore[union-attr]
            "drivers": a.drivers,
            "sigma_lt_mean": a.risk.sigma_lt_mean,  # type: ignore[union-attr]
        }
        sigma = kw.pop("sigma", a.sigma_model)
        t = kw.pop("terms", a.terms)
        args.update(kw)
        return simulate_default(good, t, a.schedule, sigma, **args).pd_tenor  # type: ignore[arg-type]

    expected = {
        "base": a.risk.pd_tenor,
        "sigma_model_minus_50": sim(sigma=a.sigma_model * 0.5),
        "sigma_model_plus_50": sim(sigma=a.sigma_model * 1.5),
        "curtailment_plus_5": sim(
            drivers=replace(a.drivers, curtailment=replace(c, mean_pct=c.mean_pct + 5))
        ),
        "curtailment_plus_10": sim(
            drivers=replace(a.drivers, curtailment=replace(c, mean_pct=c.mean_pct + 10))
        ),
        "tariff_minus_10": sim(terms=replace(a.terms, tariff_per_mwh=a.terms.tariff_per_mwh * 0.9)),
        "trend_minus_0_5": sim(drivers=replace(a.drivers, energy_trend_pct_per_year=-0.5)),
        "dsra_0": sim(reserve_months=0.0),
        "dsra_12": sim(reserve_months=12.0),
    }
    got = {case.id: case.pd_tenor for case in full.cases}
    for cid, value in expected.items():
        assert got[cid] == pytest.approx(value, abs=1e-12), cid


def test_min_p90_dscr_of_curtailment_case_by_hand() -> None:
    a = assessed()
    assert a.exceedance is not None and a.schedule is not None and a.drivers is not None
    s = a.sensitivities
    assert s is not None
    c = a.drivers.curtailment
    stressed = replace(a.drivers, curtailment=replace(c, mean_pct=c.mean_pct + 5.0))
    sold = 1.0 - stressed.curtailment.effective_mean_pct() / 100.0
    cf = cfads(np.full(12, a.exceedance.p90_10y * sold), a.terms, stressed.output_factors(12, None))
    expected = float(np.min(dscr(cf, a.schedule)))
    assert s.case("curtailment_plus_5").dscr_p90_min == pytest.approx(expected, rel=1e-12)


def test_break_even_tariff_and_energy_sit_on_the_binding_rule() -> None:
    a = assessed()
    assert a.exceedance is not None and a.schedule is not None and a.drivers is not None
    s = a.sensitivities
    assert s is not None
    be = s.break_even
    assert be.tariff_per_mwh is not None and be.p50_mwh is not None
    dscr_rules = [r for r in WIND_POLICY.rules if r.metric.startswith("repayment.dscr")]
    assert set(be.rules) == {r.id for r in dscr_rules}
    assert {r.metric for r in dscr_rules} >= {
        "repayment.dscr_p90_1y_min",
        "repayment.dscr_p99_1y_min",
    }  # the 1-year bases of the 2.0 product are break-even constraints too
    factors = a.drivers.output_factors(12, None)
    sold = a.drivers.sold_fraction()
    ex = a.exceedance
    cases = {r.id: DSCR_CASE_OF_METRIC[r.metric](ex) for r in dscr_rules}
    thresholds = {r.id: r.threshold for r in dscr_rules}

    def min_dscr(rule: str, tariff: float, p50_scale: float = 1.0) -> float:
        t = replace(a.terms, tariff_per_mwh=tariff)
        e = cases[rule] * p50_scale * sold
        return float(np.min(dscr(cfads(np.full(12, e), t, factors), a.schedule)))

    t_star = be.tariff_per_mwh
    assert be.binding_rule is not None
    assert min_dscr(be.binding_rule, t_star) == pytest.approx(thresholds[be.binding_rule])
    for rule, th in thresholds.items():
        assert min_dscr(rule, t_star * (1 + 1e-9)) >= th  # every rule passes at T*
    assert min_dscr(be.binding_rule, t_star * (1 - 1e-6)) < thresholds[be.binding_rule]
    scale = be.p50_mwh / ex.p50
    for rule, th in thresholds.items():
        assert min_dscr(rule, a.terms.tariff_per_mwh, scale * (1 + 1e-9)) >= th
    assert min_dscr(be.binding_rule, a.terms.tariff_per_mwh, scale) == pytest.approx(
        thresholds[be.binding_rule]
    )
    assert be.tariff_headroom_pct == pytest.approx(100 * (1 - t_star / a.terms.tariff_per_mwh))


def test_break_even_without_dscr_rules_is_null() -> None:
    a = assessed()
    assert a.exceedance is not None and a.schedule is not None
    be = break_even(a.exceedance, a.terms, a.schedule, rules=())
    assert be.tariff_per_mwh is None and be.p50_mwh is None and be.rules == ()


def test_sensitivities_without_drivers_and_more_curtailment() -> None:
    # zero drivers: curtailment cases start from zero and still raise the PD
    a = assessed(driver_overrides={"curtailment": {"mean_pct": 0.0, "sd_pct": 0.0}})
    s = a.sensitivities
    assert s is not None
    assert s.case("curtailment_plus_10").pd_tenor >= s.case("curtailment_plus_5").pd_tenor
    assert a.drivers is not None and a.drivers.curtailment == Curtailment(0.0, 0.0, 0.7)


def test_no_sensitivities_when_asked_or_without_repayment_figures() -> None:
    assert assessed(with_sensitivities=False).to_dict()["sensitivities"] is None
    one_year = run(make_site(SCALES[:3], coverage=[0.5, 0.99, 0.4]), driver_overrides=None)
    assert one_year.to_dict()["sensitivities"] is None


@settings(max_examples=200, deadline=None)
@given(reserve_cases())
def test_defaults_within_tenor_matches_the_reference(
    case: tuple[list[list[float]], list[float], float, bool],
) -> None:
    cash, ds, months, _ = case
    got = defaults_within_tenor(np.array(cash).T.copy(), np.array(ds), months)
    expected = [y > 0 for y in reference_default_years(cash, ds, months, True)]
    assert got.tolist() == expected
    assert got.tolist() == (default_years(np.array(cash), np.array(ds), months) > 0).tolist()


def test_sensitivity_block_is_reproducible() -> None:
    a, b = assessed(seed=3), assessed(seed=3)
    assert a.to_dict()["sensitivities"] == b.to_dict()["sensitivities"]
    assert math.isfinite(a.to_dict()["sensitivities"]["break_even"]["tariff_per_mwh"])
