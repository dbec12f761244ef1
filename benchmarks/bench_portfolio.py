"""Speed and memory of the joint loan-book simulation (``models.portfolio.simulate_portfolio``).

Case: 1,000 wind loans × 10,000 paths × 20 years on the MERRA-2 subset in tests/data (2 × 2
nodes, 17 complete years, built into a cube at 50 m). Loans: E-82/2300 at 80 m, 20 to 60 MW,
20-year annuity loans of random size and tariff, the policy wind_changji_v1 with its default
risk drivers (curtailment, availability and opex shocks, ageing: every loan draws them).

``--assessed`` loans (default 50) are assessed for real (``models.assessment.assess``, as
``climate-loan portfolio assess`` does, with the sensitivities); the 1,000 loans of the
simulation are these assessments' inputs repeated with their own ids, seeds and exposures
(the simulation's cost does not depend on whether two loans' climates differ). Printed:

* the joint simulation (shared calendar *and* independence, i.e. two simulations of the
  book, plus every aggregate): wall time, peak of Python/numpy allocations (tracemalloc) and
  the peak resident set size of a fresh process (``VmHWM``); goal < 30 s and < 2 GB;
* the single assessments: median time of one, times 1,000 (an estimate for 1,000 single
  assessments made one after another; measured on ``--assessed`` of them and scaled, not
  run 1,000 times), and the ratio simulation / 1,000 assessments.

No assertion: the script prints. Usage: python -m benchmarks.bench_portfolio [--loans 1000]
[--paths 10000] [--assessed 50]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks._util import run_measured

ROOT = Path(__file__).resolve().parents[1]
MERRA2 = ROOT / "tests" / "data" / "merra2_ireland_2x2_hourly_2000_2017_subset.nc"
GOAL_S = 30.0
GOAL_MB = 2048.0

CHILD = """
import dataclasses, pickle, time, tracemalloc
from models.portfolio import simulate_portfolio
with open(SPECS, "rb") as f:
    base = pickle.load(f)
loans = [
    dataclasses.replace(
        base[i % len(base)], loan_id=f"L{i:05d}", seed=1000 + i,
        exposure=base[i % len(base)].exposure * (0.5 + (i % 7) / 6),
    )
    for i in range(N_LOANS)
]
tracemalloc.start()
t0 = time.perf_counter()
out = simulate_portfolio(loans, n_paths=N_PATHS, seed=1)
result["simulate_s"] = time.perf_counter() - t0
result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
tracemalloc.stop()
t0, c0 = time.perf_counter(), time.process_time()
simulate_portfolio(loans, n_paths=N_PATHS, seed=1)
result["simulate_untraced_s"] = time.perf_counter() - t0
result["simulate_cpu_s"] = time.process_time() - c0
s = out.summary
result["horizon"] = s["horizon_years"]
result["el_joint"] = s["joint"]["expected_loss"]
result["el_indep"] = s["independent"]["expected_loss"]
result["var99_ratio"] = s["correlation_effect"]["var_99_ratio"]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=1000)
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--assessed", type=int, default=50)
    args = parser.parse_args()

    import pickle

    import numpy as np

    from climate_data.cube import Cube, build_cube
    from models.assessment import assess
    from models.finance import FinanceTerms
    from models.policy import load_policy
    from models.portfolio import loan_from_assessment
    from models.turbines import get_turbine
    from models.wind import WindProject

    rng = np.random.default_rng(2026)
    policy = load_policy("wind_changji_v1")
    turbine = get_turbine("E-82/2300")
    with tempfile.TemporaryDirectory() as tmp:
        cube = Cube.open(
            build_cube(MERRA2, Path(tmp) / "merra2.nc", reference_height_m=50.0, progress=False)
        )
        nodes = [(float(la), float(lo)) for la in cube.lats for lo in cube.lons]
        sites = [cube.site(*n) for n in nodes]
        times: list[float] = []
        cpu: list[float] = []
        specs = []
        for k in range(args.assessed):
            mw = float(rng.uniform(20.0, 60.0))
            terms = FinanceTerms(
                loan_amount=float(rng.uniform(0.9, 1.3)) * mw * 1.1e6,
                currency="EUR",
                tenor_years=20,
                interest_rate_pct=5.0,
                repayment="annuity",
                tariff_per_mwh=float(rng.uniform(62.0, 75.0)),
                opex_per_year=mw * 45e3,
            )
            project = WindProject(capacity_mw=mw, hub_height_m=80.0, turbine=turbine)
            t0, c0 = time.perf_counter(), time.process_time()
            a = assess(sites[k % len(sites)], project, terms, policy, seed=k)
            a.to_dict()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            specs.append(loan_from_assessment(a, loan_id=f"A{k}"))
        path = Path(tmp) / "specs.pkl"
        path.write_bytes(pickle.dumps(specs))
        code = (
            CHILD.replace("SPECS", repr(str(path)))
            .replace("N_LOANS", str(args.loans))
            .replace("N_PATHS", str(args.paths))
        )
        res = run_measured(code)

    one = float(np.median(times))
    one_cpu = float(np.median(cpu))
    single_total = one * args.loans
    print(
        f"portfolio: {args.loans:,} loans x {args.paths:,} paths x {int(res['horizon'])} years "
        f"({len(specs)} assessed loans repeated; the four MERRA-2 nodes)"
    )
    print(
        f"  joint + independent simulation: {res['simulate_s']:.2f} s with tracemalloc, "
        f"{res['simulate_untraced_s']:.2f} s without (goal < {GOAL_S:.0f} s); CPU time "
        f"{res['simulate_cpu_s']:.2f} s (load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs)"
    )
    print(
        f"  peak allocations (tracemalloc) {res['tracemalloc_peak_mb']:.0f} MB; peak RSS of the "
        f"process {res['peak_rss_mb']:.0f} MB (goal < {GOAL_MB:.0f} MB)"
    )
    print(
        f"  EL joint {res['el_joint']:,.0f}, independent {res['el_indep']:,.0f}; VaR99 "
        f"joint / independent {res['var99_ratio']:.2f}"
    )
    print(
        f"single assessments: median {1000 * one:.1f} ms wall, {1000 * one_cpu:.1f} ms CPU "
        f"(of {len(times)}, with sensitivities); x {args.loans:,} = {single_total:.1f} s "
        "(scaled, not run)"
    )
    print(
        f"ratio simulation / {args.loans:,} single assessments: wall "
        f"{res['simulate_untraced_s'] / single_total:.2f}, CPU "
        f"{res['simulate_cpu_s'] / (one_cpu * args.loans):.2f}"
    )


if __name__ == "__main__":
    main()
