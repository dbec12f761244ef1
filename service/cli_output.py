"""Output formats shared by the ``climate-loan`` subcommands.

A table for a person, JSON for a program, CSV for a spreadsheet (``--format table|json|csv``;
``--json`` is ``--format json``).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMATS = ("table", "json", "csv")
#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def add_format_option(parser: argparse.ArgumentParser) -> None:
    """``--format table|json|csv`` (default table) and ``--json`` as its short form."""
    parser.add_argument(
        "--format", choices=FORMATS, default="table", help="output format (default: table)"
    )
    parser.add_argument(
        "--json", action="store_const", dest="format", const="json", help="same as --format json"
    )


def print_json(obj: Any) -> None:
    """Indented JSON, non-ASCII kept, NaN refused."""
    print(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False))


def csv_cell(value: Any) -> str | float | int:
    """Return a value as a CSV cell.

    ``None`` is empty; text that a spreadsheet would run as a formula is prefixed with ``'``;
    numbers stay numbers (a negative DSCR is data, not a formula).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write ``header`` and ``rows`` as CSV to standard output."""
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(header)
    for row in rows:
        out.writerow([csv_cell(v) for v in row])


def flatten(obj: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    """``(dotted.path, scalar)`` for every leaf of a JSON-like object; list items by index."""
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            yield from flatten(value, f"{prefix}.{i}")
    else:
        yield prefix, obj
