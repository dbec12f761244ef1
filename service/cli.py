"""The ``climate-loan`` command line.

Each group of subcommands lives in its own module with a ``register(subparsers)`` function
that adds its parsers and sets ``func`` on them; this module only wires them together and turns
expected errors into one line on stderr (exit status 2), never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any

from climate_data.errors import ClimateDataError
from models.errors import ModelInputError
from service import (
    cli_assess,
    cli_climate,
    cli_history,
    cli_models,
    cli_portfolio,
    cli_server,
    cli_turbines,
)
from service.errors import UsageError

#: Subcommand modules, each with ``register(subparsers)``.
COMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    cli_climate.register,
    cli_server.register,
    cli_models.register,
    cli_assess.register,
    cli_turbines.register,
    cli_history.register,
    cli_portfolio.register,
)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="climate-loan",
        description="Climate Loan Risk: can a wind or solar project repay its loan?",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # SIGTERM (kill, a CI timeout) ends a command as Ctrl-C does, so that the clean-up on the
    # way out runs (e.g. `cube build` removes its partial `.part` file); `serve` hands the
    # signal to gunicorn, which installs its own handlers.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        status = args.func(args)
    except (ClimateDataError, ModelInputError, UsageError, OSError) as exc:
        # Input the user can correct; anything else is a fault and keeps its traceback.
        message = " ".join(str(exc).split())  # one line, whatever the library wrote
        print(f"climate-loan {args.command}: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped early (`climate-loan turbines | head`): no message, and no second
        # error when Python flushes standard output at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(f"climate-loan {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return int(status or 0)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
