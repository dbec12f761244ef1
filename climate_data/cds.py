"""CDS API requests for ERA5 hourly single levels, split into pieces, and their download.

:func:`plan_requests` turns a box and a range of years into requests for the Copernicus Climate
Data Store (dataset ``reanalysis-era5-single-levels``, this product's variables:
:data:`CDS_VARIABLES`), each within a limit on the number of *fields*: the CDS counts one field
per variable, date and hour of a request [1]_ and refuses requests above a per-dataset limit.
We use :data:`MAX_FIELDS_PER_REQUEST` = 60,000 fields, counted as the product of the
request's lists (8 months of the nine variables per piece). That is a conservative figure:
the limit the CDS enforces is shown on its download form rather than published as a fixed
number, and it changed with the 2024 CDS; ``max_fields`` (``--max-fields``) sets another one.
A piece spans whole months of one calendar year (so that pieces can be reused
when the years change) and, when one month of all variables does not fit, a subset of them.

:func:`write_requests` writes each piece's request as JSON and one ``manifest.json``;
:func:`download` fetches the pieces that are not complete yet. A piece is complete when its file
and a ``.done`` marker exist and the marker's size and sha256 match the file and the request:
partial downloads go to a ``.part`` file that is renamed atomically once whole, so an
interrupted run leaves no file that looks complete, and the next run fetches only what is
missing. The fetch itself uses the official ``cdsapi`` client (optional extra ``[era5]``),
which reads the credentials from ``~/.cdsapirc`` (or ``CDSAPI_URL``/``CDSAPI_KEY``) as usual;
the key is never printed.

References
----------
.. [1] ECMWF. CDS - Best Practices (each time step of each date of each variable is one GRIB
   field). https://confluence.ecmwf.int/display/CEMS/CDS+-+Best+Practices
"""

from __future__ import annotations

import calendar
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from climate_data.era5 import BBox
from climate_data.errors import ClimateDataError

__all__ = [
    "CDS_DATASET",
    "CDS_VARIABLES",
    "MAX_FIELDS_PER_REQUEST",
    "CdsapiFetcher",
    "Piece",
    "download",
    "plan_requests",
    "write_requests",
]

CDS_DATASET = "reanalysis-era5-single-levels"
#: The ERA5 variables this product reads (README, "Sources"; the same names in ARCO-ERA5).
CDS_VARIABLES: tuple[str, ...] = (
    "10m_u_component_of_wind",
    "10m_v_component_of_wind",
    "100m_u_component_of_wind",
    "100m_v_component_of_wind",
    "2m_temperature",
    "surface_pressure",
    "surface_solar_radiation_downwards",
    "total_sky_direct_solar_radiation_at_surface",
    "sunshine_duration",
)
#: Fields (variables x dates x hours) per request; see the module docstring for the source.
MAX_FIELDS_PER_REQUEST = 60_000
_HOURS = [f"{h:02d}:00" for h in range(24)]
#: First bytes of a NetCDF-3, NetCDF-4 (HDF5) or ZIP file: what the CDS delivers.
_SIGNATURES = (b"CDF\x01", b"CDF\x02", b"\x89HDF", b"PK\x03\x04")


@dataclass(frozen=True)
class Piece:
    """One CDS request: some variables over whole months of one year."""

    name: str
    year: int
    months: tuple[int, ...]
    variables: tuple[str, ...]
    bbox: BBox

    @property
    def fields(self) -> int:
        """Fields as the CDS form counts them: the product of the request's lists.

        Variables x months x 31 days x 24 hours: days a month lacks are counted too, so the
        figure is never below what the CDS counts, however it treats them.
        """
        return len(self.variables) * len(self.months) * 31 * 24

    @property
    def valid_fields(self) -> int:
        """Fields actually delivered: variables x days of the months x 24 hours."""
        days = sum(calendar.monthrange(self.year, m)[1] for m in self.months)
        return len(self.variables) * days * 24

    @property
    def file(self) -> str:
        """Name of the downloaded file."""
        return f"{self.name}.nc"

    def request(self) -> dict[str, Any]:
        """The request body for ``cdsapi.Client().retrieve(CDS_DATASET, request, target)``."""
        b = self.bbox
        return {
            "product_type": ["reanalysis"],
            "variable": list(self.variables),
            "year": [f"{self.year:04d}"],
            "month": [f"{m:02d}" for m in self.months],
            "day": [f"{d:02d}" for d in range(1, 32)],  # days a month lacks are ignored
            "time": list(_HOURS),
            "area": [b.north, b.west, b.south, b.east],  # the CDS order: N, W, S, E
            "data_format": "netcdf",
            "download_format": "unarchived",
        }

    def request_sha256(self) -> str:
        """Digest of the request (a finished file counts only for the same request)."""
        return hashlib.sha256(json.dumps(self.request(), sort_keys=True).encode()).hexdigest()


def plan_requests(
    bbox: BBox,
    years: tuple[int, int],
    *,
    variables: Sequence[str] = CDS_VARIABLES,
    max_fields: int = MAX_FIELDS_PER_REQUEST,
) -> list[Piece]:
    """Split the box and years into pieces of at most ``max_fields`` fields each.

    Variables are split into as few groups as needed for one 31-day month of a group to fit;
    each group's months are then taken in order, as many consecutive months of a year per
    piece as fit. Every (variable, date, hour) is in exactly one piece.

    Raises
    ------
    ValueError
        ``max_fields`` below one day of one variable (24), an unknown variable, no variable.
    """
    if max_fields < 24:
        raise ValueError(
            f"max_fields must be at least 24 (one day of one variable), got {max_fields}"
        )
    variables = tuple(dict.fromkeys(variables))
    if not variables:
        raise ValueError("no variable to request")
    unknown = sorted(set(variables) - set(CDS_VARIABLES))
    if unknown:
        raise ValueError(
            f"unknown ERA5 variable(s) {unknown}; this product reads {list(CDS_VARIABLES)}"
        )
    per_month = 31 * 24
    if max_fields < per_month:
        raise ValueError(
            f"max_fields {max_fields} is below one month of one variable ({per_month} fields)"
        )
    group_size = max(1, min(len(variables), max_fields // per_month))
    groups = [variables[i : i + group_size] for i in range(0, len(variables), group_size)]
    pieces: list[Piece] = []
    for year in range(years[0], years[1] + 1):
        for g, group in enumerate(groups):
            run: list[int] = []
            for month in range(1, 13):
                trial = Piece("", year, (*run, month), group, bbox)
                if run and trial.fields > max_fields:
                    pieces.append(_named(year, tuple(run), group, bbox, g, len(groups)))
                    run = []
                run.append(month)
            pieces.append(_named(year, tuple(run), group, bbox, g, len(groups)))
    return pieces


def _named(
    year: int, months: tuple[int, ...], group: tuple[str, ...], bbox: BBox, g: int, n: int
) -> Piece:
    span = f"{months[0]:02d}" if len(months) == 1 else f"{months[0]:02d}-{months[-1]:02d}"
    suffix = f"_vars{g + 1}of{n}" if n > 1 else ""
    return Piece(f"era5_{year}_{span}{suffix}", year, months, group, bbox)


def write_requests(pieces: Sequence[Piece], out: Path) -> Path:
    """Write ``requests/<piece>.json`` per piece and ``manifest.json`` into ``out``; return it."""
    req_dir = out / "requests"
    req_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for p in pieces:
        body = {"dataset": CDS_DATASET, "request": p.request(), "target": p.file}
        _write_atomic(req_dir / f"{p.name}.json", json.dumps(body, indent=2).encode())
        entries.append(
            {
                "name": p.name,
                "file": p.file,
                "request": f"requests/{p.name}.json",
                "fields": p.fields,
                "request_sha256": p.request_sha256(),
            }
        )
    manifest = {
        "dataset": CDS_DATASET,
        "max_fields_per_request": max((p.fields for p in pieces), default=0),
        "pieces": entries,
    }
    path = out / "manifest.json"
    _write_atomic(path, json.dumps(manifest, indent=2).encode())
    return path


class Fetcher(Protocol):
    """Fetches one request into a file."""

    def __call__(self, dataset: str, request: dict[str, Any], target: Path) -> None: ...


class CdsapiFetcher:
    """Fetch with the official ``cdsapi`` client (credentials as cdsapi reads them)."""

    def __init__(self) -> None:
        try:
            import cdsapi
        except ImportError as exc:
            raise ClimateDataError(
                "--download needs the cdsapi client: pip install 'climate-loan-risk[era5]'"
            ) from exc
        try:
            self._client = cdsapi.Client(quiet=True, progress=False)
        except Exception as exc:  # cdsapi raises a bare Exception for a missing ~/.cdsapirc
            raise ClimateDataError(f"CDS API credentials: {_first_line(exc)}") from exc

    def __call__(self, dataset: str, request: dict[str, Any], target: Path) -> None:
        """Submit the request, wait for it, and download the result into ``target``."""
        self._client.retrieve(dataset, request, str(target))


def download(
    manifest_path: Path,
    *,
    fetcher: Fetcher | None = None,
    report: Callable[[str], None] = print,
) -> tuple[int, int]:
    """Fetch every piece of a manifest that is not complete; return (fetched, skipped).

    Raises
    ------
    ClimateDataError
        A piece failed (the message names it; pieces fetched before it are kept and skipped
        on the next run), or the file received is not NetCDF or ZIP.
    """
    out = manifest_path.parent
    manifest = json.loads(manifest_path.read_text())
    dataset = str(manifest["dataset"])
    fetch = fetcher if fetcher is not None else CdsapiFetcher()
    fetched = skipped = 0
    for entry in manifest["pieces"]:
        target = out / str(entry["file"])
        body = json.loads((out / str(entry["request"])).read_text())
        digest = hashlib.sha256(json.dumps(body["request"], sort_keys=True).encode()).hexdigest()
        if _complete(target, digest):
            skipped += 1
            continue
        part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        for stale in out.glob(f".{target.name}.*.part"):
            stale.unlink(missing_ok=True)  # left by an interrupted run
        report(f"fetching {entry['name']} ({entry['fields']} fields)")
        try:
            fetch(dataset, body["request"], part)
            _check_delivery(part, str(entry["name"]))
            _fsync(part)
            os.replace(part, target)
        except ClimateDataError:
            part.unlink(missing_ok=True)
            raise
        except Exception as exc:  # the client's errors are bare Exceptions
            part.unlink(missing_ok=True)
            raise ClimateDataError(
                f"piece {entry['name']} failed: {_first_line(exc)} (the {fetched} piece(s) "
                "fetched so far are kept; rerun to go on)"
            ) from exc
        marker = {
            "size": target.stat().st_size,
            "sha256": _sha256(target),
            "request_sha256": digest,
        }
        _write_atomic(_marker(target), json.dumps(marker).encode())
        fetched += 1
    return fetched, skipped


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".done")


def _complete(target: Path, request_sha256: str) -> bool:
    """True when the file and its marker exist and agree (size, sha256, request)."""
    try:
        marker = json.loads(_marker(target).read_text())
        size = target.stat().st_size
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or marker.get("request_sha256") != request_sha256:
        return False
    return bool(marker.get("size") == size and marker.get("sha256") == _sha256(target))


def _check_delivery(path: Path, name: str) -> None:
    with path.open("rb") as f:
        head = f.read(4)
    if not head.startswith(_SIGNATURES):
        raise ClimateDataError(
            f"piece {name}: the CDS delivered a file that is neither NetCDF nor ZIP "
            f"(first bytes {head!r}); rerun to fetch it again"
        )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
