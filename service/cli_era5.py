"""``climate-loan era5 request``: the CDS API requests for a box and years, and their download."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from service.errors import UsageError

if TYPE_CHECKING:
    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def register(sub: SubParsers) -> None:
    """Add ``era5 request``."""
    from climate_data.cds import MAX_FIELDS_PER_REQUEST

    p = sub.add_parser("era5", help="ERA5 from the Copernicus Climate Data Store")
    era5_sub = p.add_subparsers(dest="era5_command", required=True, metavar="ACTION")
    r = era5_sub.add_parser(
        "request",
        help="write the CDS API requests for a box and years (and fetch them with --download)",
    )
    r.add_argument(
        "--bbox",
        required=True,
        help="box W,S,E,N [degrees], e.g. 73,18,135,54 (write --bbox=-10,... when W is negative)",
    )
    r.add_argument("--years", required=True, help="calendar years A-B, e.g. 1995-2024")
    r.add_argument("--out", required=True, type=Path, help="folder for the requests and files")
    r.add_argument(
        "--max-fields",
        type=int,
        default=MAX_FIELDS_PER_REQUEST,
        help=f"fields (variables x days x 24) per request (default {MAX_FIELDS_PER_REQUEST:,})",
    )
    r.add_argument(
        "--download",
        action="store_true",
        help="fetch the pieces not complete yet with cdsapi (extra [era5]; ~/.cdsapirc)",
    )
    r.set_defaults(func=cmd_request)


def cmd_request(args: argparse.Namespace) -> int:
    """Write the requests and the manifest; with ``--download``, fetch what is missing."""
    from climate_data.cds import download, plan_requests, write_requests
    from service.cli_climate import parse_selection

    bbox, years = parse_selection(args.bbox, args.years)
    if bbox is None or years is None:  # both are required options of the subcommand
        raise UsageError("era5 request needs --bbox and --years")
    try:
        pieces = plan_requests(bbox, years, max_fields=args.max_fields)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    manifest = write_requests(pieces, args.out)
    largest = max(p.fields for p in pieces)
    print(
        f"wrote {len(pieces)} request(s) to {args.out} (at most {largest:,} fields each, "
        f"limit {args.max_fields:,}); manifest {manifest}"
    )
    if args.download:
        fetched, skipped = download(manifest, report=lambda line: print(line, flush=True))
        print(f"fetched {fetched} piece(s), {skipped} already complete")
    return 0
