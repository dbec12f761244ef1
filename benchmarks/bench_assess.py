"""Speed and memory of a full assessment (``models.assessment.assess``), wind and solar.

Cases (real data for wind, synthetic for solar, both through the cube builder):

* wind: the MERRA-2 subset in tests/data (17 complete years, node 53.5 N 5.625 W), E-82/2300
  at 80 m, 46 MW, 60 M EUR 12-year annuity, 10,000 Monte Carlo paths, policy wind_changji_v1;
* solar: one cell of the synthetic Changji sample (``climate_data.sample``), 6 years, 100 MWp,
  300 M CNY 12-year annuity, 10,000 paths, policy solar_default_v1.

Printed:

* full ``assess`` + ``to_dict`` (with the policy's default risk drivers and the sensitivities
  block) over ``--runs`` runs (default 1,000) after a warm-up: median and 99th percentile wall
  time [ms] and median CPU time; goal median < 20 ms;
* the plain assessment (``with_sensitivities=False``) and the assessment without drivers or
  sensitivities (as before issue 10), measured interleaved with the full one so that all see
  the same machine load, and the ratios between them (on a loaded machine the ratios and the
  CPU times, not the wall times, carry over);
* the steps of the full and of the plain assessment, measured inside those same runs (the
  named steps of ``models.assessment.assess`` are timed where ``assess`` calls them, see
  :data:`STEPS`): median CPU and wall time of each, and the rest (checks, building the
  ``Assessment``) as total minus steps;
* histogram vs hourly energy path (wind): ``models.wind.wind_energy`` on the cube's yearly
  histograms against an hour-by-hour computation of the same years from the raw file (power
  curve moved to each year's mean density, ``np.interp`` per hour): ratio of median times and
  the largest per-year energy difference;
* memory: peak of Python/numpy allocations during one assessment (``tracemalloc``) and the
  process's peak resident set size.

No assertion: the script prints. Usage: python -m benchmarks.bench_assess [--runs 1000]
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

import models.assessment as assessment_mod
from climate_data.site import SiteClimate
from models.assessment import assess
from models.finance import FinanceTerms
from models.policy import load_policy
from models.solar import SolarProject
from models.turbines import get_turbine
from models.wind import WindProject, wind_energy

ROOT = Path(__file__).resolve().parents[1]
MERRA2 = ROOT / "tests" / "data" / "merra2_ireland_2x2_hourly_2000_2017_subset.nc"
NODE = (53.5, -5.625)
HUB_M = 80.0
GOAL_MS = 20.0
NO_DRIVERS: dict[str, Any] = {
    "curtailment": {"mean_pct": 0.0, "sd_pct": 0.0},
    "availability_sd_pct": 0.0,
    "opex_sd_pct": 0.0,
    "ageing_pct_per_year": 0.0,
    "merchant_share_pct": 0.0,
}

SOLAR_TERMS = FinanceTerms(
    loan_amount=300e6,
    currency="CNY",
    tenor_years=12,
    interest_rate_pct=4.5,
    repayment="annuity",
    tariff_per_mwh=350.0,
    opex_per_year=8e6,
)
WIND_TERMS = FinanceTerms(
    loan_amount=60e6,
    currency="EUR",
    tenor_years=12,
    interest_rate_pct=5.0,
    repayment="annuity",
    tariff_per_mwh=70.0,
    opex_per_year=2.5e6,
)


#: The steps of ``assess`` timed in place: (label, function of ``models.assessment`` that
#: ``assess`` calls for the step); none of them calls another. ``to_dict`` of the result is
#: timed by the benchmark itself.
STEPS: tuple[tuple[str, str], ...] = (
    ("energy", "_energy_basis"),
    ("exceedance", "_exceedance_step"),
    ("cash flows+sizing", "_deterministic_cases"),
    ("random draws", "_shared_draws"),
    ("Monte Carlo", "simulate_default"),
    ("sensitivities", "sensitivities"),
    ("scorecard+policy", "_decide"),
)
TO_DICT = "to_dict"


class StepClock:
    """CPU and wall seconds of each step of ``assess``, per run, measured inside the runs."""

    def __init__(self) -> None:
        self.current: dict[str, list[float]] = {}
        self.runs: dict[str, list[dict[str, list[float]]]] = {}

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        c0, t0 = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            acc = self.current.setdefault(label, [0.0, 0.0])
            acc[0] += time.process_time() - c0
            acc[1] += time.perf_counter() - t0

    def timed(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.step(label):
                return fn(*args, **kwargs)

        return wrapper

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Time the :data:`STEPS` of every ``assess`` call while inside."""
        saved = {name: getattr(assessment_mod, name) for _, name in STEPS}
        try:
            for label, name in STEPS:
                setattr(assessment_mod, name, self.timed(label, saved[name]))
            yield
        finally:
            for name, fn in saved.items():
                setattr(assessment_mod, name, fn)

    def recorded(self, case: str, fn: Callable[[], Any]) -> Callable[[], Any]:
        """``fn`` that files the steps of each call under ``case``."""

        def run() -> Any:
            self.current = {}
            out = fn()
            self.runs.setdefault(case, []).append(self.current)
            self.current = {}  # calls outside a recorded case are not filed
            return out

        return run

    def medians(self, case: str, totals: np.ndarray) -> dict[str, tuple[float, float]]:
        """Median (CPU, wall) of each step of ``case``, and of the rest (total minus steps).

        ``totals`` is (2, runs): wall and CPU of each whole run, in the order of the runs.
        """
        runs = self.runs[case][-totals.shape[1] :]
        labels = [label for label, _ in STEPS] + [TO_DICT]
        per = np.array([[r.get(label, [0.0, 0.0]) for label in labels] for r in runs])
        rest_cpu = totals[1] - per[:, :, 0].sum(axis=1)
        rest_wall = totals[0] - per[:, :, 1].sum(axis=1)
        out = {
            label: (float(np.median(per[:, k, 0])), float(np.median(per[:, k, 1])))
            for k, label in enumerate(labels)
        }
        out["rest"] = (float(np.median(rest_cpu)), float(np.median(rest_wall)))
        return out


def print_steps(title: str, steps: dict[str, tuple[float, float]]) -> None:
    print(f"  {title}, median CPU (wall) of each step [ms]:")
    parts = [f"{k} {1000 * c:.2f} ({1000 * w:.2f})" for k, (c, w) in steps.items()]
    for i in range(0, len(parts), 5):
        print("    " + "  |  ".join(parts[i : i + 5]))


def interleaved_timings(fns: list[Callable[[], Any]], runs: int) -> np.ndarray:
    """Wall and CPU seconds of each function, called in turn (all see the same load).

    Returns an array (functions, 2, runs): [k, 0] wall, [k, 1] CPU.
    """
    for f in (*fns, *fns):
        f()
    out = np.empty((len(fns), 2, runs))
    for r in range(runs):
        for j, f in enumerate(fns):
            c0, t0 = time.process_time(), time.perf_counter()
            f()
            out[j, 0, r] = time.perf_counter() - t0
            out[j, 1, r] = time.process_time() - c0
    return out


def timings(fn: Callable[[], Any], runs: int) -> tuple[np.ndarray, np.ndarray]:
    """Wall and CPU seconds of ``runs`` calls after two warm-up calls."""
    fn()
    fn()
    wall = np.empty(runs)
    cpu = np.empty(runs)
    for k in range(runs):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall[k] = time.perf_counter() - t0
        cpu[k] = time.process_time() - c0
    return wall, cpu


def ms(x: float) -> str:
    return f"{1000.0 * x:8.2f} ms"


def peak_alloc_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def report(
    name: str, site: SiteClimate, project: Any, terms: FinanceTerms, policy_id: str, runs: int
) -> None:
    policy = load_policy(policy_id)
    clock = StepClock()

    def full() -> dict[str, Any]:
        a = assess(site, project, terms, policy, seed=1)
        with clock.step(TO_DICT):
            return a.to_dict()

    def plain() -> dict[str, Any]:
        a = assess(site, project, terms, policy, seed=1, with_sensitivities=False)
        with clock.step(TO_DICT):
            return a.to_dict()

    def before() -> dict[str, Any]:
        # every driver off and no sensitivities: the assessment as it was before them
        return assess(
            site,
            project,
            terms,
            policy,
            seed=1,
            driver_overrides=NO_DRIVERS,
            with_sensitivities=False,
        ).to_dict()

    with clock.installed():
        t = interleaved_timings(
            [clock.recorded("full", full), clock.recorded("plain", plain), before], runs
        )
    wall, cpu, p_wall, p_cpu, b_cpu = t[0, 0], t[0, 1], t[1, 0], t[1, 1], t[2, 1]
    d = full()
    n_years = d["energy"]["n_years"]
    print(
        f"\n== {name}: {n_years} climate years, decision {d['decision']}, "
        f"PD annual {d['repayment']['pd_annual']}, PD tenor {d['repayment']['pd_tenor']}"
    )
    print(
        f"  assess + to_dict with sensitivities, {runs} runs: median {ms(float(np.median(wall)))}"
        f"  p99 {ms(float(np.percentile(wall, 99)))}  median CPU {ms(float(np.median(cpu)))}"
        f"  (goal median < {GOAL_MS:g} ms)"
    )
    print(
        f"  plain assessment (no sensitivities), interleaved: median "
        f"{ms(float(np.median(p_wall)))}  p99 {ms(float(np.percentile(p_wall, 99)))}  "
        f"median CPU {ms(float(np.median(p_cpu)))}"
    )
    print(
        f"  ratio full / plain: wall {float(np.median(wall) / np.median(p_wall)):.2f}x  "
        f"CPU {float(np.median(cpu) / np.median(p_cpu)):.2f}x;  CPU of the assessment without "
        f"drivers or sensitivities {ms(float(np.median(b_cpu)))}: full / that "
        f"{float(np.median(cpu) / np.median(b_cpu)):.2f}x, plain / that "
        f"{float(np.median(p_cpu) / np.median(b_cpu)):.2f}x"
    )
    print_steps("full assessment", clock.medians("full", t[0]))
    print_steps("plain assessment", clock.medians("plain", t[1]))
    print(
        f"  peak allocations during one assessment: {peak_alloc_mb(full):.1f} MB with "
        f"sensitivities, {peak_alloc_mb(plain):.1f} MB without"
    )


def read_hourly_wind() -> tuple[np.ndarray, np.ndarray]:
    """Calendar year and 50 m wind speed of every hour at the node, from the raw file."""
    import netCDF4

    with netCDF4.Dataset(MERRA2) as f:
        i = int(np.argmin(np.abs(f["latitude"][:] - NODE[0])))
        j = int(np.argmin(np.abs(f["longitude"][:] - NODE[1])))
        times = netCDF4.num2date(f["time"][:], f["time"].units, only_use_cftime_datetimes=False)
        years = np.array([t.year for t in np.asarray(times, dtype=object).ravel()])
        ws = np.asarray(f["ws50m"][:, i, j], dtype=float)
    return years, ws


def hourly_wind_energy(
    project: WindProject, site: SiteClimate, years: np.ndarray, ws50: np.ndarray
) -> dict[int, float]:
    """Net energy per complete year, hour by hour (see module docstring)."""
    from models.wind import air_density_at_height

    v_hub = ws50 * site.height_factor(HUB_M)
    curve = project.power_curve
    v_std, p_kw = curve.speeds, curve.powers
    exponent = np.interp(v_std, [7.5, 12.5], [1 / 3, 2 / 3])
    rho_hub = air_density_at_height(site.air_density_kg_m3, site.reference_height_m, HUB_M)
    n = project.turbines.count * project.losses.loss_factor / 1000.0
    out = {}
    for k, y in enumerate(site.years):
        if not site.complete[k]:
            continue
        sel = years == y
        v_site = v_std * (1.225 / rho_hub[k]) ** exponent
        out[int(y)] = float(np.interp(v_hub[sel], v_site, p_kw, left=0.0, right=0.0).sum() * n)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()

    from climate_data.cube import Cube, build_cube
    from climate_data.sample import SampleSpec, write_sample

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        wind_cube = Cube.open(
            build_cube(MERRA2, Path(tmp) / "merra2.nc", reference_height_m=50.0, progress=False)
        )
        spec = SampleSpec(lats=(44.0,), lons=(87.3,), years=tuple(range(2019, 2025)), seed=7)
        solar_cube = Cube.open(
            build_cube(write_sample(Path(tmp) / "sample", spec), Path(tmp) / "s.nc", progress=False)
        )
        print(f"cubes built in {time.perf_counter() - t0:.1f} s (not part of any figure below)")
    wind_site = wind_cube.site(*NODE)
    solar_site = solar_cube.site(44.0, 87.3)
    wind = WindProject(capacity_mw=46.0, hub_height_m=HUB_M, turbine=get_turbine("E-82/2300"))
    solar = SolarProject(capacity_mw=100.0)

    report("wind (MERRA-2)", wind_site, wind, WIND_TERMS, "wind_changji_v1", args.runs)
    report(
        "solar (synthetic sample)", solar_site, solar, SOLAR_TERMS, "solar_default_v1", args.runs
    )

    # histogram vs hourly energy path over the same years
    hist_wall, hist_cpu = timings(lambda: wind_energy(wind_site, wind), 50)
    read_wall, _ = timings(read_hourly_wind, 3)
    years, ws50 = read_hourly_wind()
    hourly_wall, hourly_cpu = timings(lambda: hourly_wind_energy(wind, wind_site, years, ws50), 10)
    by_hist = wind_energy(wind_site, wind)
    by_hour = hourly_wind_energy(wind, wind_site, years, ws50)
    diffs = [
        abs(float(by_hist.net_mwh[k]) / by_hour[int(y)] - 1.0)
        for k, y in enumerate(by_hist.years)
        if int(y) in by_hour
    ]
    h, r, c = (float(np.median(x)) for x in (hist_wall, hourly_wall, read_wall))
    print(f"\n== energy path, {len(by_hour)} years, {ws50.size:,} hours")
    print(f"  histogram (cube) {ms(h)}   hourly, in memory {ms(r)}   reading the hours {ms(c)}")
    print(f"  hourly / histogram = {r / h:.1f}x in memory, {(r + c) / h:.0f}x with the read")
    hc, rc = float(np.median(hist_cpu)), float(np.median(hourly_cpu))
    print(f"  CPU: histogram {ms(hc)}   hourly, in memory {ms(rc)}   ratio {rc / hc:.1f}x")
    print(
        "  (the histogram path also computes every month with its own density correction; "
        "the hourly path here does years only)"
    )
    print(f"  largest per-year energy difference: {100 * max(diffs):.3f} %")
    print(
        f"\npeak resident set size of this process: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
