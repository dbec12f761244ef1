"""``climate-loan portfolio``: assess a whole loan book and simulate it jointly.

::

    climate-loan portfolio assess --cube CUBE --book BOOK.csv --out RESULT.{json,xlsx,csv,parquet}
                                  [--paths N] [--seed S] [--npl-tolerance-pct 3]
                                  [--workers N | --scheduler ADDRESS] [--models-dir DIR]

The book (CSV or Parquet, one row per loan; columns in :mod:`service.portfolio`) is validated
in full before anything runs: every bad cell is named by row and column, and no loan is
assessed until the book is clean. Each loan is then assessed as ``climate-loan assess`` would
(worker processes by default, a ``dask.distributed`` cluster with ``--scheduler``), with a
progress bar on a terminal, and the book is simulated with shared climate years and under
independence (:mod:`models.portfolio`). The portfolio figures are printed; ``--out`` writes
everything as JSON, a workbook (``.xlsx``), or the loan-level table as CSV or Parquet.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from service import formatting
from service.cli_climate import add_cube_option, resolve_cube_path
from service.errors import UsageError

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

_OUT_SUFFIXES = (".json", ".xlsx", ".csv", ".parquet", ".pq")


def register(sub: SubParsers) -> None:
    """Add the ``portfolio`` subcommands."""
    p = sub.add_parser(
        "portfolio",
        help="assess a loan book (CSV/Parquet) and simulate it with shared climate years",
        description="Loan books: assess every loan and simulate the book jointly.",
    )
    psub = p.add_subparsers(dest="portfolio_command", required=True, metavar="SUBCOMMAND")
    a = psub.add_parser(
        "assess",
        help="assess every loan of a book and simulate the portfolio",
        description="Validate the book, assess every loan in parallel, simulate the book "
        "with shared climate years and under independence, print the portfolio figures.",
    )
    add_cube_option(a)
    a.add_argument("--book", required=True, help="loan book, .csv or .parquet")
    a.add_argument(
        "--out",
        default=None,
        help="result file: .json (everything), .xlsx (loans, portfolio, NPL by year, "
        "concentration), .csv or .parquet (one row per loan)",
    )
    a.add_argument("--paths", type=int, default=None, help="Monte Carlo paths (default: 10,000)")
    a.add_argument(
        "--seed",
        type=int,
        default=None,
        help="run seed: the shared calendar and the seeds of loans without a seed column "
        "(default: drawn and printed)",
    )
    a.add_argument(
        "--npl-tolerance-pct",
        type=float,
        default=None,
        help="the bank's tolerance of the NPL ratio [%%] (default: 3)",
    )
    a.add_argument("--workers", type=int, default=None, help="worker processes (default: the CPUs)")
    a.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="dask.distributed scheduler address (tcp://host:8786) instead of local processes",
    )
    a.add_argument(
        "--models-dir",
        default=None,
        help="model registry folder for the production PD scorecard (as climate-loan assess)",
    )
    a.set_defaults(func=cmd_portfolio_assess)
    w = psub.add_parser(
        "worker",
        help="compute the portfolio runs of the API (POST /api/v1/portfolio-runs)",
        description="Take queued portfolio runs from the audit database (woken by the Redis "
        "queue $CLIMATE_LOAN_QUEUE_URL, default redis://127.0.0.1:6379/0) and compute them. "
        "Reads the service's settings (CLIMATE_LOAN_CUBE, CLIMATE_LOAN_DATABASE_URL, ...).",
    )
    w.add_argument(
        "--workers", type=int, default=None, help="processes per run (default: the CPUs)"
    )
    w.add_argument(
        "--poll-s",
        type=float,
        default=5.0,
        help="longest wait between two looks at the database [s] (default: 5)",
    )
    w.set_defaults(func=cmd_portfolio_worker)


def cmd_portfolio_assess(args: argparse.Namespace) -> int:
    """Validate, assess, simulate, print and write."""
    from tqdm import tqdm

    from climate_data.cube import Cube
    from models.assessment import DEFAULT_N_PATHS
    from models.portfolio import DEFAULT_NPL_TOLERANCE_PCT
    from service.portfolio import check_coverage, read_book, run_portfolio, write_result

    paths = DEFAULT_N_PATHS if args.paths is None else args.paths
    if not 2 <= paths <= 1_000_000:
        raise UsageError(f"--paths must be from 2 to 1,000,000, got {paths}")
    tol = DEFAULT_NPL_TOLERANCE_PCT if args.npl_tolerance_pct is None else args.npl_tolerance_pct
    if not 0.0 <= tol < 100.0:
        raise UsageError(f"--npl-tolerance-pct must be from 0 to <100, got {tol:g}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if args.workers is not None and args.scheduler is not None:
        raise UsageError("give --workers or --scheduler, not both")
    if args.out is not None and not str(args.out).lower().endswith(_OUT_SUFFIXES):
        raise UsageError(f"--out {args.out}: use a .json, .xlsx, .csv or .parquet file name")
    book = read_book(args.book)  # BookError lists every bad cell
    cube_path = resolve_cube_path(args.cube)
    check_coverage(book, Cube.open(cube_path))
    bar = tqdm(total=len(book.loans), unit="loan", disable=None, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)

    try:
        run = run_portfolio(
            book,
            cube_path,
            n_paths=paths,
            seed=args.seed,
            npl_tolerance_pct=tol,
            models_dir=args.models_dir,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=progress,
        )
    finally:
        bar.close()
    if args.out is not None:
        write_result(run, args.out)
    print(format_summary(run.to_dict()))
    return 0


def cmd_portfolio_worker(args: argparse.Namespace) -> int:
    """Run the portfolio worker until interrupted (Ctrl-C or SIGTERM)."""
    import logging

    from climate_data.cube import Cube
    from service.api import models_folder
    from service.config import ConfigError, config_from_env
    from service.portfolio_runs import Worker
    from service.store import AuditStore, StoreUnavailable

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if not 0.1 <= args.poll_s <= 600:
        raise UsageError(f"--poll-s must be from 0.1 to 600, got {args.poll_s:g}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        cfg = config_from_env()
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if cfg.cube_path is None:
        raise UsageError("no cube configured: set CLIMATE_LOAN_CUBE (the service's cube)")
    cube = Cube.open(cfg.cube_path)
    store = AuditStore(cfg.resolved_database_url(), timeout_s=cfg.db_timeout_s)
    try:
        store.migrate()
    except StoreUnavailable as exc:
        raise UsageError(f"the audit database is not usable: {exc}") from None
    worker = Worker(
        store,
        cfg.cube_path,
        cube.dataset.sha256,
        models_folder(cfg),
        workers=args.workers,
        poll_s=args.poll_s,
    )
    print("portfolio worker ready", file=sys.stderr, flush=True)
    worker.run_forever()
    return 0


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _pct(value: float | None, digits: int = 2) -> str:
    return formatting.percent(value, digits)


def format_summary(obj: dict[str, Any]) -> str:
    """Readable portfolio figures of a run (its JSON, for a person)."""
    lines = []
    loans = obj["loans"]
    failed = [r for r in loans if r["error"]]
    lines.append(
        f"Portfolio   {len(loans)} loan(s), {len(loans) - len(failed)} simulated; "
        f"{obj['n_paths']:,} paths; run seed {obj['run_seed']}"
    )
    decisions: dict[str, int] = {}
    for r in loans:
        decisions[r["decision"] or "none"] = decisions.get(r["decision"] or "none", 0) + 1
    lines.append("Decisions   " + ", ".join(f"{k} {v}" for k, v in sorted(decisions.items())))
    p = obj["portfolio"]
    if p is not None:
        j, ind = p["joint"], p["independent"]
        lines.append(
            f"Exposure    {_money(p['total_exposure'])}; HHI "
            f"{p['concentration']['herfindahl_exposure']:.4f} (effective number of loans "
            f"{p['concentration']['effective_number_of_loans']:.1f})"
        )
        lines.append(
            f"Calendar    {len(p['calendar_years'])} shared climate years "
            f"({p['calendar_years'][0]}-{p['calendar_years'][-1]}); horizon "
            f"{p['horizon_years']} years"
        )
        lines.append("")
        header = ("", "shared years", "independent")
        rows = [
            ("expected loss", _money(j["expected_loss"]), _money(ind["expected_loss"])),
            ("loss q99", _money(j["var_99"]), _money(ind["var_99"])),
            ("loss q99.9", _money(j["var_999"]), _money(ind["var_999"])),
            ("unexpected loss", _money(j["unexpected_loss"]), _money(ind["unexpected_loss"])),
            (
                f"P(NPL > {p['npl_tolerance_pct']:g} %) balance",
                _pct(j["npl"]["p_npl_balance_above_tolerance_any_year"], 1),
                _pct(ind["npl"]["p_npl_balance_above_tolerance_any_year"], 1),
            ),
            (
                f"P(NPL > {p['npl_tolerance_pct']:g} %) count",
                _pct(j["npl"]["p_npl_count_above_tolerance_any_year"], 1),
                _pct(ind["npl"]["p_npl_count_above_tolerance_any_year"], 1),
            ),
        ]
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
        for row in (header, *rows):
            cells = (str(x).ljust(w) for x, w in zip(row, widths, strict=True))
            lines.append(("  " + "  ".join(cells)).rstrip())
        rs = p["risk_sharing"]["expected_loss"]
        lines.append("")
        lines.append(
            f"Sharing     expected loss: bank {_money(rs['bank'])}, guarantor "
            f"{_money(rs['guarantor'])}, compensation pool {_money(rs['compensation_pool'])}; "
            f"bank loss q99 {_money(p['risk_sharing']['bank_var_99'])}"
        )
        asrf = p["asrf"]
        lines.append(
            f"ASRF        one-year loss q99.9 (Basel II corporate formula) "
            f"{_money(asrf['loss_q99_9_one_year'])}; simulated one-year loss q99.9 "
            f"{_money(asrf['simulated_annual_loss_q99_9'])}"
        )
        top = p["concentration"]["by_region"][:5]
        lines.append(
            "Regions     " + "; ".join(f"{r['name']} {_pct(r['var_share'], 1)} of q99" for r in top)
        )
    for note in obj["notes"]:
        lines.append(f"Note        {note}")
    return "\n".join(lines)
