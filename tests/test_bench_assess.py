"""The step clock of benchmarks/bench_assess.py: it times every named step of ``assess``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import models.assessment as assessment_mod
from benchmarks.bench_assess import STEPS, TO_DICT, StepClock
from models.assessment import assess
from tests.models.test_assessment import SCALES, WIND_POLICY, make_site, terms, wind_project


def test_step_clock_times_every_step_once_and_changes_nothing() -> None:
    site = make_site(SCALES)
    clock = StepClock()

    def run() -> dict[str, Any]:
        a = assess(
            site,
            wind_project(),
            terms(),
            WIND_POLICY,
            seed=3,
            assessment_id="x",
            created_at="2026-01-01T00:00:00Z",
        )
        with clock.step(TO_DICT):
            return a.to_dict()

    untimed = run()
    originals = {name: getattr(assessment_mod, name) for _, name in STEPS}
    with clock.installed():
        timed = clock.recorded("full", run)()
    assert timed == untimed
    # the functions of models.assessment are its own again
    assert all(getattr(assessment_mod, name) is fn for name, fn in originals.items())
    # every step named in STEPS was called by assess (a step renamed or no longer called
    # would be missing) and nothing else was filed
    (steps,) = clock.runs["full"]
    assert set(steps) == {label for label, _ in STEPS} | {TO_DICT}
    assert all(cpu >= 0.0 and wall >= 0.0 for cpu, wall in steps.values())


def test_step_medians_and_rest_by_hand() -> None:
    clock = StepClock()
    # two runs: (CPU, wall) seconds of the steps that ran
    clock.runs["x"] = [
        {"energy": [0.001, 0.002], "Monte Carlo": [0.003, 0.004]},
        {"energy": [0.003, 0.004], "Monte Carlo": [0.005, 0.006]},
    ]
    totals = np.array([[0.010, 0.020], [0.006, 0.012]])  # wall, CPU of each whole run
    got = clock.medians("x", totals)
    assert got["energy"] == pytest.approx((0.002, 0.003))
    assert got["Monte Carlo"] == pytest.approx((0.004, 0.005))
    assert got["sensitivities"] == (0.0, 0.0)
    # rest per run: CPU 0.006 - 0.004 = 0.002 and 0.012 - 0.008 = 0.004; wall 0.004, 0.010
    assert got["rest"] == pytest.approx((0.003, 0.007))
