"""Model-registry subcommands: ``models list|show|promote|retire``.

The registry folder is ``--models-dir``, else ``$CLIMATE_LOAN_MODELS_DIR``, else the
registry's default (:func:`models.registry.models_dir`). Promotion and retirement record who
did it (``--by``, default the login name) and an optional ``--note`` in the card's history.
"""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING

from models.registry import Registry

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: SubParsers) -> None:
    """Add ``models`` and its actions."""
    p = sub.add_parser("models", help="list, show, promote or retire statistical model versions")
    actions = p.add_subparsers(dest="models_command", required=True, metavar="ACTION")

    a = actions.add_parser("list", help="model cards in the registry (and shipped defaults)")
    _common(a)
    a.add_argument("--kind", choices=("scorecard", "longterm"), default=None)
    a.add_argument("--status", choices=("candidate", "production", "retired"), default=None)
    a.add_argument("--json", action="store_true", help="print JSON rows")
    a.set_defaults(func=cmd_list)

    a = actions.add_parser("show", help="print one model card (JSON, hash verified)")
    _common(a)
    a.add_argument("id", help="model id, e.g. scorecard-v3")
    a.set_defaults(func=cmd_show)

    for name, helptext, func in (
        ("promote", "make a card the production model of its kind", cmd_promote),
        ("retire", "retire a card", cmd_retire),
    ):
        a = actions.add_parser(name, help=helptext)
        _common(a)
        a.add_argument("id", help="model id, e.g. scorecard-v3")
        a.add_argument("--by", default=None, help="who decides (default: login name)")
        a.add_argument("--note", default="", help="reason, kept in the card's history")
        a.set_defaults(func=func)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=None,
        help="registry folder (default: $CLIMATE_LOAN_MODELS_DIR or instance/models)",
    )


def _registry(args: argparse.Namespace) -> Registry:
    return Registry(args.models_dir)


def _who(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cmd_list(args: argparse.Namespace) -> int:
    """Print the registry's cards, one per line (or JSON with ``--json``)."""
    reg = _registry(args)
    rows = reg.table(kind=args.kind, status=args.status)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"registry: {reg.path}")
    if not rows:
        print("no model cards")
        return 0
    header = ("id", "status", "in use", "created", "author", "sha256")
    table: list[tuple[str, ...]] = [header]
    for r in rows:
        table.append(
            (
                str(r["id"]) + (" (shipped)" if r["source"] == "shipped" else ""),
                str(r["status"]),
                "yes" if r["in_use"] else "",
                str(r["created_at"]),
                str(r["author"]),
                str(r["sha256"])[:12],
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print a card as JSON."""
    card = _registry(args).show(args.id)
    print(card.to_json(), end="")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    """Promote a card; the previous production card of its kind is retired."""
    reg = _registry(args)
    card = reg.promote(args.id, by=_who(args), note=args.note)
    at = card.history[-1]["at"]
    retired = [
        c.id
        for c in reg.list(kind=card.kind, status="retired")
        if c.history
        and c.history[-1].get("at") == at
        and c.history[-1].get("note") == f"replaced by {card.id}"
    ]
    extra = f"; {', '.join(retired)} retired" if retired else ""
    print(f"{card.id} is now the production {card.kind} model (sha256 {card.sha256[:12]}){extra}")
    return 0


def cmd_retire(args: argparse.Namespace) -> int:
    """Retire a card."""
    reg = _registry(args)
    card = reg.retire(args.id, by=_who(args), note=args.note)
    now = reg.production(card.kind)
    after = f"; production {card.kind} is now {now.id}" if now is not None else ""
    print(f"{card.id} retired{after}")
    return 0
