"""Speed and memory of the Monte Carlo default simulation against a per-path Python loop.

Case: 10,000 paths x 20-year annuity loan, 18 climate years, block length 2, sigma_model 6 %.

* vectorised: ``models.risk.simulate_default`` (numpy over paths, loop over years), timed over
  many repetitions after a warm-up: median and 99th percentile of wall time [ms], and the
  median CPU time with the load average (wall time on a shared machine includes waiting);
* baseline: the same simulation written as a plain Python loop over paths and years (scalar
  random draws, one path at a time, same outputs), timed on fewer paths and scaled linearly to
  10,000 paths; printed as the ratio baseline / vectorised median;
* memory: peak of numpy/Python allocations during one call (``tracemalloc``) and the process's
  peak resident set size (``resource.getrusage``);
* agreement: the default year of every path from ``models.risk.default_years`` equals the
  per-path loop's on identical draws.

Goal (issue 3): 10,000 paths x 20 years under 20 ms. No assertion: the script prints.

Usage: python -m benchmarks.bench_risk [--repeats 200] [--naive-paths 500]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

import numpy as np

from models.finance import FinanceTerms, debt_service, opex_by_year, revenue_per_mwh_by_year
from models.risk import circular_block_indices, default_years, simulate_default

SITE_YEARS = np.array(
    [
        *(10_450, 9_720, 10_980, 10_130, 9_310, 10_620, 9_880, 10_240, 11_020),
        *(9_560, 10_310, 9_940, 10_770, 9_150, 10_050, 10_560, 9_830, 10_190),
    ],
    dtype=float,
)
"""Eighteen synthetic climate years [MWh], about 6 % inter-annual variability."""

TERMS = FinanceTerms(
    loan_amount=1_500_000.0,
    currency="EUR",
    tenor_years=20,
    interest_rate_pct=5.0,
    repayment="annuity",
    tariff_per_mwh=24.0,
    opex_per_year=100_000.0,
)
SIGMA = 0.06
BLOCK = 2
N_PATHS = 10_000
GOAL_MS = 20.0


def naive_default_year(cash: list[float], ds: list[float], months: float) -> int:
    """Reserve-account rules of ``models.risk.default_years`` for one path, in plain Python."""
    reserve = months / 12.0 * ds[0]
    for t, (c, d) in enumerate(zip(cash, ds, strict=True)):
        gap = d - c
        if gap > reserve + 1e-9 * d:
            return t + 1
        if gap > 0.0:
            reserve -= gap
        else:
            nxt = ds[t + 1] if t + 1 < len(ds) else 0.0
            reserve = min(reserve - gap, months / 12.0 * nxt)
    return 0


def naive_simulate(n_paths: int, seed: int) -> dict[str, float]:
    """The whole simulation one path at a time (the baseline)."""
    rng = np.random.default_rng(seed)
    n_years, n_climate = TERMS.tenor_years, SITE_YEARS.size
    energy = SITE_YEARS.tolist()
    price = revenue_per_mwh_by_year(TERMS, n_years).tolist()
    opex = opex_by_year(TERMS, n_years).tolist()
    ds = debt_service(TERMS).debt_service.tolist()
    defaults = 0
    min_dscr: list[float] = []
    for _ in range(n_paths):
        years: list[int] = []
        while len(years) < n_years:
            start = int(rng.integers(n_climate))
            years.extend((start + i) % n_climate for i in range(BLOCK))
        error = max(float(rng.normal(1.0, SIGMA)), 0.0)
        cash = [energy[years[t]] * error * price[t] - opex[t] for t in range(n_years)]
        min_dscr.append(min(c / d for c, d in zip(cash, ds, strict=True)))
        defaults += naive_default_year(cash, ds, 6.0) > 0
    return {"pd_tenor": defaults / n_paths, "min_dscr_q05": float(np.quantile(min_dscr, 0.05))}


def check_agreement(n_paths: int, seed: int) -> int:
    """Number of paths where the vectorised and per-path default years differ."""
    rng = np.random.default_rng(seed)
    idx = circular_block_indices(rng, SITE_YEARS.size, TERMS.tenor_years, n_paths, BLOCK)
    error = np.maximum(rng.normal(1.0, SIGMA, size=n_paths), 0.0)
    price = revenue_per_mwh_by_year(TERMS, TERMS.tenor_years)
    cash = (
        SITE_YEARS[idx] * error * price[:, None] - opex_by_year(TERMS, TERMS.tenor_years)[:, None]
    ).T
    ds = debt_service(TERMS).debt_service
    fast = default_years(cash, ds, 6.0)
    slow = [naive_default_year(row.tolist(), ds.tolist(), 6.0) for row in cash]
    return int(np.sum(fast != np.array(slow)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--naive-paths", type=int, default=500)
    args = parser.parse_args()

    schedule = debt_service(TERMS)
    for seed in range(5):  # warm-up
        simulate_default(SITE_YEARS, TERMS, schedule, SIGMA, N_PATHS, seed, BLOCK)
    times, cpu_times = [], []
    for seed in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        result = simulate_default(SITE_YEARS, TERMS, schedule, SIGMA, N_PATHS, seed, BLOCK)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    ms = np.array(times) * 1e3
    median, p99 = float(np.median(ms)), float(np.percentile(ms, 99))
    cpu_median = float(np.median(cpu_times)) * 1e3

    t0 = time.perf_counter()
    naive = naive_simulate(args.naive_paths, seed=1)
    naive_ms = (time.perf_counter() - t0) * 1e3 * N_PATHS / args.naive_paths

    tracemalloc.start()
    simulate_default(SITE_YEARS, TERMS, schedule, SIGMA, N_PATHS, 1, BLOCK)
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    mismatches = check_agreement(N_PATHS, seed=2)

    print(
        f"simulate_default: {N_PATHS:,} paths x {TERMS.tenor_years} years, "
        f"{SITE_YEARS.size} climate years, block {BLOCK}, sigma_model {SIGMA}"
    )
    print(
        f"  median {median:.2f} ms   p99 {p99:.2f} ms   ({args.repeats} runs)   "
        f"goal < {GOAL_MS:.0f} ms: {'met' if median < GOAL_MS else 'NOT met'}"
    )
    print(
        f"  CPU time median {cpu_median:.2f} ms (less sensitive to other processes); "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(
        f"  last run: pd_tenor {result.pd_tenor:.4f}, pd_annual {result.pd_annual:.5f}, "
        f"grade {result.grade}"
    )
    print(
        f"per-path Python loop: {args.naive_paths} paths timed, scaled to {N_PATHS:,}: "
        f"{naive_ms:.0f} ms -> vectorised is {naive_ms / median:.0f}x faster "
        f"(baseline pd_tenor {naive['pd_tenor']:.4f} on its own draws)"
    )
    print(
        f"memory: tracemalloc peak {peak_bytes / 2**20:.1f} MiB in one call; "
        f"process peak RSS {rss_mb:.0f} MiB"
    )
    print(
        f"agreement: {mismatches} of {N_PATHS:,} paths differ between default_years and "
        "the per-path loop on identical draws"
    )


if __name__ == "__main__":
    main()
