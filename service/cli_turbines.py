"""``climate-loan turbines [--search TEXT]``: the wind-turbine library a request can name.

The library is the oedb turbine data shipped with windpowerlib; a request's
``project.turbine_type`` must be one of the types listed here (or give a custom
``project.power_curve``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from models.turbines import Turbine, list_turbines, search_turbines
from service.cli_output import add_format_option, print_json, write_csv
from service.errors import UsageError

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: SubParsers) -> None:
    """Add the ``turbines`` subcommand."""
    p = sub.add_parser(
        "turbines",
        help="list or search the wind-turbine library (types a request can name)",
        description="List the library turbines that have a power curve, or search them.",
    )
    p.add_argument(
        "--search", metavar="TEXT", default=None, help="type or manufacturer contains TEXT"
    )
    add_format_option(p)
    p.set_defaults(func=cmd_turbines)


def _row(t: Turbine) -> dict[str, object]:
    return {
        "turbine_type": t.turbine_type,
        "manufacturer": t.manufacturer,
        "rated_power_kw": t.rated_power_kw,
        "rotor_diameter_m": t.rotor_diameter_m,
        "hub_heights_m": list(t.hub_heights_m),
    }


def cmd_turbines(args: argparse.Namespace) -> int:
    """Print the matching turbines."""
    if args.search is not None:
        if not args.search.strip():
            raise UsageError("--search needs some text, e.g. --search enercon")
        found = search_turbines(args.search, with_curve_only=True)
        if not found:
            raise UsageError(f"no library turbine with a power curve matches {args.search!r}")
    else:
        found = list_turbines()
    rows = [_row(t) for t in found]
    if args.format == "json":
        print_json(rows)
    elif args.format == "csv":
        write_csv(
            list(rows[0]),
            (
                [*list(r.values())[:-1], " ".join(f"{h:g}" for h in t.hub_heights_m)]
                for r, t in zip(rows, found, strict=True)
            ),
        )
    else:
        head = f"{'turbine type':<22} {'manufacturer':<14} {'rated kW':>9} {'rotor m':>8}"
        print(f"{head}  hub heights m")
        for t in found:
            rotor = f"{t.rotor_diameter_m:g}" if t.rotor_diameter_m else "n/a"
            hubs = ", ".join(f"{h:g}" for h in t.hub_heights_m) or "n/a"
            row = f"{t.turbine_type:<22} {t.manufacturer:<14} {t.rated_power_kw:>9g} {rotor:>8}"
            print(f"{row}  {hubs}")
        print(f"{len(found)} turbine(s) with a power curve")
    return 0
