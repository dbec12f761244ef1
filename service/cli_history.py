"""``climate-loan history``: stored assessments of the audit database, newest first.

The command line is the database operator's tool: it lists every key's assessments (as an
admin key does through the API), or one key's with ``--key-id``. Reads go through
:mod:`service.assessments` like those of the API and the web page.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from service.cli_output import add_format_option, print_json, write_csv
from service.errors import UsageError

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]

MAX_LIMIT = 10_000


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def register(sub: SubParsers) -> None:
    """Add the ``history`` subcommand."""
    p = sub.add_parser(
        "history",
        help="stored assessments, newest first (configured audit database)",
        description="List stored assessments of the audit database, newest first.",
    )
    p.add_argument("--key-id", default=None, help="only the assessments made with this key id")
    p.add_argument("--decision", choices=("approve", "refer", "decline"), default=None)
    p.add_argument("--technology", choices=("wind", "solar"), default=None)
    p.add_argument("--from", dest="date_from", type=_day, default=None, help="YYYY-MM-DD (UTC)")
    p.add_argument("--to", dest="date_to", type=_day, default=None, help="YYYY-MM-DD, inclusive")
    p.add_argument("--limit", type=int, default=20, help=f"at most this many (1-{MAX_LIMIT})")
    add_format_option(p)
    p.set_defaults(func=cmd_history)


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def cmd_history(args: argparse.Namespace) -> int:
    """Print the matching assessments."""
    # lazy: CLI start-up (the store loads SQLAlchemy, about 0.3 s)
    from service import assessments
    from service.cli_server import _config, _existing_store
    from service.store import StoreUnavailable

    if not 1 <= args.limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be within 1-{MAX_LIMIT}, got {args.limit}")
    if args.date_from and args.date_to and args.date_to < args.date_from:
        raise UsageError(f"--to {args.date_to} is before --from {args.date_from}")
    store = _existing_store(_config(None))
    try:
        rows, total = assessments.operator_history(
            store,
            key_id=args.key_id,
            decision=args.decision,
            technology=args.technology,
            created_from=_utc(args.date_from) if args.date_from else None,
            created_to=_utc(args.date_to + timedelta(days=1)) if args.date_to else None,
            limit=args.limit,
        )
    except StoreUnavailable as exc:
        raise UsageError(str(exc)) from None
    finally:
        store.dispose()
    columns = assessments.LISTING_COLUMNS
    out: list[dict[str, Any]] = [
        {k: (r[k].isoformat() if isinstance(r[k], datetime) else r[k]) for k in columns}
        for r in rows
    ]
    if args.format == "json":
        print_json({"total": total, "assessments": out})
    elif args.format == "csv":
        write_csv(list(columns), ([r[k] for k in columns] for r in out))
    else:
        for r in out:
            site = r["site_name"] or f"{r['site_lat']:.4f}, {r['site_lon']:.4f}"
            print(
                f"{r['id']}  {r['created_at'][:19]}  {r['decision']:<8} {r['technology']:<6} "
                f"{r['policy_id']} v{r['policy_version']}  {site}"
            )
        print(f"{len(out)} of {total} assessment(s)")
    return 0
