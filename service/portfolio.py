"""Loan books: read and validate a book, assess every loan, simulate the book jointly.

The application layer of ``climate-loan portfolio`` (and of the portfolio API). A loan book is
a table (CSV or Parquet; a list of row objects in JSON) with one row per loan. Its columns are
the assessment request of service contract v1 (:mod:`service.requests`) **flattened with
dots**: ``site.lat``, ``project.hub_height_m``, ``project.losses.wake_pct``,
``finance.tenor_years``, ``project.site_evidence.atlas.mean_wind_ms``, ``policy``, ``seed``
… — the same names a 422 of the API gives for a request field. Besides them:

=====================  =====================================================================
``loan_id``            required; unique, 1–64 characters ``A-Z a-z 0-9 . _ : -``
``exposure``           exposure at default [currency]; default ``finance.loan_amount``
``lgd_pct``            loss given default [%]; default the lending product's
                       (``lgd_pct`` of the policy, ``repayment.lgd`` of the assessment:
                       20 % for both packaged products)
``guarantee_pct``      share of each loss a guarantor bears [%]; default 0
``compensation_pct``   share a compensation pool bears [%]; default 0 (with the guarantee
                       at most 100)
``region``             label for the concentration figures; default the data cell
=====================  =====================================================================

An empty cell is an omitted field (its default applies). Lists cannot be flattened into one
cell, so a custom power curve, a mast record and an operating history are not accepted in a
book (assess such a loan on its own). Validation reads the whole book and reports every bad
cell as ``row N, column C: message`` (rows counted from 1 after the header): a missing
column, an unknown column, a bad value, a duplicate ``loan_id``, a site outside the cube.
No loan is assessed until the book is clean.

Each loan is then assessed exactly as ``climate-loan assess`` would (same request, the
production PD scorecard, the loan's seed: the ``seed`` column, else one derived from the run's
seed and the loan id, :func:`loan_seed`), in parallel in worker processes or on a
``dask.distributed`` cluster, and the book is simulated jointly
(:func:`models.portfolio.simulate_portfolio`) with the same number of paths.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import re
import secrets
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from climate_data.cube import Cube
from climate_data.errors import ClimateDataError
from models.assessment import DEFAULT_N_PATHS, assess
from models.errors import ModelInputError
from models.portfolio import (
    DEFAULT_NPL_TOLERANCE_PCT,
    PortfolioError,
    PortfolioLoan,
    PortfolioResult,
    loan_from_assessment,
    simulate_portfolio,
)
from models.registry import Registry
from service.errors import UsageError
from service.requests import MAX_SEED, AssessmentRequest, to_model_inputs

__all__ = [
    "BOOK_COLUMNS",
    "BookError",
    "BookLoan",
    "BookProblem",
    "LoanBook",
    "LoanOutcome",
    "PortfolioRun",
    "assess_book",
    "book_records",
    "check_coverage",
    "loan_seed",
    "loan_table",
    "parse_book",
    "read_book",
    "run_portfolio",
    "write_result",
]

#: Book columns that are not request fields, with their kind.
EXTRA_COLUMNS: dict[str, str] = {
    "loan_id": "str",
    "exposure": "float",
    "lgd_pct": "float",
    "guarantee_pct": "float",
    "compensation_pct": "float",
    "region": "str",
}
#: Request fields that hold lists or records of many values: not part of a book.
_NOT_IN_BOOK = ("operating_history", "project.power_curve", "project.site_evidence.mast")
_LOAN_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
#: At most this many problems are spelled out; the rest are counted.
MAX_LISTED = 20
#: Largest book accepted [loans].
MAX_LOANS = 20_000
_SEED_BITS = 53


def _kind(annotation: Any) -> str | type[BaseModel]:
    """``"float"``, ``"int"``, ``"bool"``, ``"str"`` or a nested model of a field's type."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _kind(args[0])
    if origin is Literal:
        return "str"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if annotation in (float, int, bool, str):
        return str(annotation.__name__)
    return "list"


def _columns(model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if path in _NOT_IN_BOOK:
            continue
        kind = _kind(info.annotation)
        if isinstance(kind, type):
            out.update(_columns(kind, f"{path}."))
        elif kind != "list":
            out[path] = kind
    return out


#: Every column a book may have, with the kind of its values (``float``, ``int``, ``bool``,
#: ``str``): the request's scalar fields, dotted, and :data:`EXTRA_COLUMNS`.
BOOK_COLUMNS: dict[str, str] = {**EXTRA_COLUMNS, **_columns(AssessmentRequest)}


def _required(model: type[BaseModel], prefix: str = "") -> list[str]:
    out: list[str] = []
    for name, info in model.model_fields.items():
        if not info.is_required():
            continue
        kind = _kind(info.annotation)
        if isinstance(kind, type):
            out.extend(_required(kind, f"{prefix}{name}."))
        else:
            out.append(f"{prefix}{name}")
    return out


#: Columns every book must have.
REQUIRED_COLUMNS: tuple[str, ...] = ("loan_id", *_required(AssessmentRequest))


@dataclass(frozen=True)
class BookProblem:
    """One bad cell (or column) of a book; ``row`` 0 is the header."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = "header" if self.row == 0 else f"row {self.row}"
        return f"{where}, column {self.column}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """``{"row", "column", "message"}``."""
        return {"row": self.row, "column": self.column, "message": self.message}


class BookError(UsageError):
    """A loan book with bad cells; ``problems`` lists every one."""

    def __init__(self, source: str, problems: Sequence[BookProblem]) -> None:
        self.problems = list(problems)
        listed = "; ".join(str(p) for p in self.problems[:MAX_LISTED])
        more = len(self.problems) - MAX_LISTED
        tail = f" (and {more} more)" if more > 0 else ""
        n = len(self.problems)
        super().__init__(
            f"loan book {source} has {n} problem{'s' if n != 1 else ''}, no loan was "
            f"assessed: {listed}{tail}"
        )


@dataclass(frozen=True)
class BookLoan:
    """One validated row of a book."""

    row: int
    loan_id: str
    request: AssessmentRequest
    exposure: float | None
    lgd_pct: float | None
    guarantee_pct: float
    compensation_pct: float
    region: str | None


@dataclass(frozen=True)
class LoanBook:
    """A validated loan book, rows in file order."""

    source: str
    loans: tuple[BookLoan, ...]


# ----------------------------------------------------------------------------- reading


def _convert(value: Any, kind: str) -> tuple[Any, str | None]:
    """A cell as the request's type; ``(None, None)`` for an empty cell, else (value, problem)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, None
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()  # numpy scalar from Parquet
    if isinstance(value, str):
        return _convert_text(value, kind)
    return _convert_value(value, kind)


def _convert_text(value: str, kind: str) -> tuple[Any, str | None]:
    """A text cell (CSV) as the request's type: text, a boolean, or a number checked."""
    text = value.strip()
    if text == "":
        return None, None
    if kind == "str":
        return text, None
    if kind == "bool":
        low = text.lower()
        if low in ("true", "false"):
            return low == "true", None
        return None, f"{value!r} is not true or false"
    try:
        number = float(text)
    except ValueError:
        return None, f"{value!r} is not a number"
    return _convert_value(number, kind)


def _convert_value(value: Any, kind: str) -> tuple[Any, str | None]:
    """A non-text cell (Parquet, JSON, or text read as a number) as the request's type."""
    if kind == "str":
        return None, f"{value!r} must be text"
    if kind == "bool":
        if isinstance(value, bool):
            return value, None
        return None, f"{value!r} is not true or false"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, f"{value!r} is not a number"
    if not math.isfinite(value):
        return None, f"{value!r} is not a finite number"
    if kind == "int":
        if float(value) != int(value):
            return None, f"{value!r} is not a whole number"
        return int(value), None
    return float(value), None


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def _column_of(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc) or "row"


def _request_problems(row: int, exc: ValidationError) -> list[BookProblem]:
    out = []
    for e in exc.errors(include_url=False):
        msg = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] == "missing":
            msg = "required value is missing"
        out.append(BookProblem(row, _column_of(e["loc"]), msg))
    return out


def _pct(row: int, name: str, value: float | None, problems: list[BookProblem]) -> float | None:
    if value is not None and not 0.0 <= value <= 100.0:
        problems.append(BookProblem(row, name, f"must be from 0 to 100 %, got {value:g}"))
        return None
    return value


def parse_book(
    records: Sequence[Mapping[str, Any]], columns: Sequence[str], source: str
) -> LoanBook:
    """Validate a book given as rows of ``{column: cell}``.

    Parameters
    ----------
    records : sequence of mapping
        One mapping per loan; cells are text (CSV), numbers or None (Parquet, JSON).
    columns : sequence of str
        The book's columns (the header).
    source : str
        Name of the book for messages.

    Raises
    ------
    BookError
        Listing every problem; nothing is assessed.
    """
    _check_columns(columns, source)
    if not records:
        raise BookError(source, [BookProblem(0, "loan_id", "the book has no loans")])
    if len(records) > MAX_LOANS:
        raise BookError(
            source, [BookProblem(0, "loan_id", f"more than {MAX_LOANS:,} loans in one book")]
        )
    problems: list[BookProblem] = []
    loans: list[BookLoan] = []
    seen: dict[str, int] = {}
    for r, record in enumerate(records, start=1):
        loan = _parse_row(r, record, columns, seen, problems)
        if loan is not None:
            loans.append(loan)
    if problems:
        raise BookError(source, problems)
    return LoanBook(source, tuple(loans))


def _check_columns(columns: Sequence[str], source: str) -> None:
    """Check the header: every column known, every required column present.

    Raises
    ------
    BookError
        Listing every unknown and every missing column (row 0).
    """
    problems: list[BookProblem] = []
    for c in columns:
        if c not in BOOK_COLUMNS:
            hint = (
                " (lists such as a power curve, a mast or an operating history cannot be part "
                "of a book)"
                if any(c == n or c.startswith(n + ".") for n in _NOT_IN_BOOK)
                else " (not a request field with dots, e.g. finance.tenor_years, nor one of "
                + ", ".join(EXTRA_COLUMNS)
                + ")"
            )
            problems.append(BookProblem(0, c, f"unknown column{hint}"))
    for c in REQUIRED_COLUMNS:
        if c not in columns:
            problems.append(BookProblem(0, c, "required column is missing"))
    if problems:
        raise BookError(source, problems)


def _parse_row(
    r: int,
    record: Mapping[str, Any],
    columns: Sequence[str],
    seen: dict[str, int],
    problems: list[BookProblem],
) -> BookLoan | None:
    """Row ``r`` as a loan, or None with its problems added to ``problems``.

    ``seen`` maps the loan ids met so far to their rows; this row's id is added to it.
    """
    cells: dict[str, Any] = {}
    bad = False
    for c in columns:
        value, why = _convert(record.get(c), BOOK_COLUMNS[c])
        if why is not None:
            problems.append(BookProblem(r, c, why))
            bad = True
        elif value is not None:
            cells[c] = value
    loan_id = cells.pop("loan_id", None)
    _check_loan_id(r, loan_id, seen, problems)
    extras = {k: cells.pop(k, None) for k in EXTRA_COLUMNS if k != "loan_id"}
    exposure, lgd, g, comp, region = _loan_terms(r, extras, problems)
    if bad:
        return None
    try:
        request = AssessmentRequest.model_validate(_nest(cells))
    except ValidationError as exc:
        problems.extend(_request_problems(r, exc))
        return None
    if loan_id is None:
        return None
    return BookLoan(r, loan_id, request, exposure, lgd, g, comp, region)


def _check_loan_id(
    r: int, loan_id: str | None, seen: dict[str, int], problems: list[BookProblem]
) -> None:
    """Check row ``r``'s loan id: present, well formed, not seen before (then remember it)."""
    if loan_id is None:
        if "loan_id" not in {p.column for p in problems if p.row == r}:
            problems.append(BookProblem(r, "loan_id", "required value is missing"))
    elif not _LOAN_ID_RE.match(loan_id):
        problems.append(BookProblem(r, "loan_id", "must be 1-64 characters A-Z a-z 0-9 . _ : -"))
    elif loan_id in seen:
        problems.append(
            BookProblem(r, "loan_id", f"{loan_id!r} appears again (first in row {seen[loan_id]})")
        )
    else:
        seen[loan_id] = r


def _loan_terms(
    r: int, extras: Mapping[str, Any], problems: list[BookProblem]
) -> tuple[float | None, float | None, float, float, str | None]:
    """Row ``r``'s book columns checked: exposure, LGD, guarantee and compensation [%], region.

    A bad value is added to ``problems``; the guarantee and compensation default to 0.
    """
    exposure = extras["exposure"]
    if exposure is not None and not 0.0 < exposure <= 1e13:
        problems.append(BookProblem(r, "exposure", f"must be > 0, got {exposure:g}"))
    lgd = _pct(r, "lgd_pct", extras["lgd_pct"], problems)
    g = _pct(r, "guarantee_pct", extras["guarantee_pct"], problems) or 0.0
    comp = _pct(r, "compensation_pct", extras["compensation_pct"], problems) or 0.0
    if g + comp > 100.0:
        problems.append(
            BookProblem(
                r,
                "compensation_pct",
                f"guarantee_pct + compensation_pct is {g + comp:g} %, more than 100 %",
            )
        )
    region = extras["region"]
    if region is not None and (
        len(region) > 100 or any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in region)
    ):
        problems.append(BookProblem(r, "region", "at most 100 printable characters"))
    return exposure, lgd, g, comp, region


def read_book(path: str | Path) -> LoanBook:
    """Read and validate a CSV (``.csv``) or Parquet (``.parquet``, ``.pq``) book.

    Raises
    ------
    UsageError
        The file cannot be read, or its format is not known.
    BookError
        Bad cells (every one listed).
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"loan book {p} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read loan book {p}: {exc.strerror or exc}") from None
    columns, records = book_records(data, p.suffix, str(p))
    return parse_book(records, columns, str(p))


def book_records(data: bytes, suffix: str, name: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of a CSV (``.csv``) or Parquet (``.parquet``, ``.pq``) book's bytes.

    Raises
    ------
    UsageError
        Unknown format, or a file that is not CSV (UTF-8) or Parquet.
    BookError
        A column that appears twice.
    """
    import io

    import pandas as pd

    kind = suffix.lower()
    try:
        if kind == ".csv":
            frame = pd.read_csv(
                io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8"
            )
        elif kind in (".parquet", ".pq"):
            frame = pd.read_parquet(io.BytesIO(data))
        else:
            raise UsageError(
                f"loan book {name}: unknown format {kind or '(no extension)'}; use .csv or .parquet"
            )
    except UnicodeDecodeError:
        raise UsageError(f"loan book {name} is not UTF-8 text") from None
    except (OSError, ValueError) as exc:  # pandas and pyarrow parse errors
        message = " ".join(str(exc).split())
        raise UsageError(f"cannot read loan book {name}: {message}") from None
    columns = [str(c) for c in frame.columns]
    dups = sorted({c for c in columns if columns.count(c) > 1})
    if dups:
        raise BookError(name, [BookProblem(0, c, "column appears twice") for c in dups])
    records = [
        {c: v for c, v in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
    return columns, records


def check_coverage(book: LoanBook, cube: Cube) -> None:
    """Every site inside the cube, and radiation in it for every solar project.

    Raises
    ------
    BookError
        Listing every loan whose site the cube does not cover.
    """
    problems: list[BookProblem] = []
    for loan in book.loans:
        s = loan.request.site
        _, _, dist = cube.nearest(s.lat, s.lon)
        if dist > cube.tolerance_km:
            problems.append(
                BookProblem(
                    loan.row,
                    "site.lat",
                    f"site ({s.lat:g}, {s.lon:g}) is outside the cube: the nearest cell is "
                    f"{dist:.0f} km away, more than its {cube.tolerance_km:.0f} km",
                )
            )
        elif loan.request.project.technology == "solar" and not cube.has_solar:
            problems.append(
                BookProblem(
                    loan.row,
                    "project.technology",
                    "a solar project needs a cube with radiation variables; this one has none",
                )
            )
    if problems:
        raise BookError(book.source, problems)


# --------------------------------------------------------------------------- assessing


def loan_seed(run_seed: int, loan_id: str) -> int:
    """Seed of a loan without a ``seed`` column: from the run's seed and the loan id.

    The first 53 bits of SHA-256 of ``"<run seed>:<loan id>"``: the same loan gets the same
    seed wherever it stands in the book.
    """
    digest = hashlib.sha256(f"{int(run_seed)}:{loan_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - _SEED_BITS)


@dataclass(frozen=True)
class LoanOutcome:
    """The assessment of one loan of a book (or why it failed)."""

    row: int
    loan_id: str
    seed: int
    assessment: dict[str, Any] | None
    loan: PortfolioLoan | None
    error: str | None = None


@cache
def _cube(path: str) -> Cube:
    return Cube.open(path)


@cache
def _scorecard(models_dir: str | None) -> Any:
    return Registry(models_dir).production("scorecard")


def assess_loan(
    cube_path: str,
    models_dir: str | None,
    loan: BookLoan,
    seed: int,
    n_paths: int,
    assessment_id: str | None = None,
) -> LoanOutcome:
    """Assess one loan as ``climate-loan assess`` would (runs in a worker process)."""
    request = loan.request.model_copy(update={"seed": seed})
    inputs = to_model_inputs(request)
    try:
        cube = _cube(cube_path)
        site = cube.site(inputs.lat, inputs.lon)
        result = assess(
            site,
            inputs.project,
            inputs.terms,
            inputs.policy,
            inputs.seed,
            n_paths=n_paths,
            operating_history=inputs.operating_history,
            scorecard=_scorecard(models_dir),
            project_cost=inputs.project_cost,
            driver_overrides=inputs.driver_overrides,
            site_evidence=inputs.site_evidence,
            assessment_id=assessment_id,
        )
    except (ModelInputError, ClimateDataError) as exc:  # the loan's inputs, not a fault
        return LoanOutcome(loan.row, loan.loan_id, seed, None, None, " ".join(str(exc).split()))
    obj = result.to_dict()
    try:
        json.dumps(obj, allow_nan=False)
    except ValueError:
        why = "the assessment produced a number that is not finite (NaN or infinity)"
        return LoanOutcome(loan.row, loan.loan_id, seed, None, None, why)
    try:
        spec = loan_from_assessment(
            result,
            loan_id=loan.loan_id,
            region=loan.region,
            exposure=loan.exposure,
            lgd=None if loan.lgd_pct is None else loan.lgd_pct / 100.0,
            guarantee_pct=loan.guarantee_pct,
            compensation_pct=loan.compensation_pct,
        )
    except PortfolioError as exc:
        return LoanOutcome(loan.row, loan.loan_id, seed, obj, None, str(exc))
    return LoanOutcome(loan.row, loan.loan_id, seed, obj, spec)


Progress = Callable[[int, int], None]


def assess_book(
    book: LoanBook,
    cube_path: str | Path,
    *,
    run_seed: int,
    n_paths: int = DEFAULT_N_PATHS,
    models_dir: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    id_prefix: str | None = None,
) -> list[LoanOutcome]:
    """Assess every loan of a validated book, in parallel; outcomes in book order.

    Parameters
    ----------
    workers : int, optional
        Worker processes (default: the CPUs); 1 assesses in this process.
    scheduler : str, optional
        Address of a ``dask.distributed`` scheduler (``tcp://host:8786``); the workers must
        see the cube (and the model registry) at the same paths.
    progress : callable, optional
        Called with (loans done, loans in all) after each loan.
    id_prefix : str, optional
        Assessment ids ``<prefix>-<row>`` instead of random ones (a stored run's loans).
    """
    cube = str(cube_path)
    seeds = [
        loan.request.seed if loan.request.seed is not None else loan_seed(run_seed, loan.loan_id)
        for loan in book.loans
    ]
    ids = [None if id_prefix is None else f"{id_prefix}-{loan.row}" for loan in book.loans]
    tasks = list(zip(book.loans, seeds, ids, strict=True))
    total = len(tasks)
    done: dict[int, LoanOutcome] = {}

    def finished(i: int, outcome: LoanOutcome) -> None:
        done[i] = outcome
        if progress is not None:
            progress(len(done), total)

    if scheduler is not None:
        from distributed import Client
        from distributed import as_completed as dask_completed

        try:
            client = Client(scheduler, timeout=5)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise UsageError(f"cannot reach the dask scheduler {scheduler}: {exc}") from None
        try:
            futures = {
                client.submit(assess_loan, cube, models_dir, loan, s, n_paths, a, pure=False): i
                for i, (loan, s, a) in enumerate(tasks)
            }
            for fut in dask_completed(futures):  # type: ignore[no-untyped-call]
                finished(futures[fut], fut.result())
        finally:
            client.close()  # type: ignore[no-untyped-call]
    elif (workers or multiprocessing.cpu_count()) <= 1 or total == 1:
        for i, (loan, s, a) in enumerate(tasks):
            finished(i, assess_loan(cube, models_dir, loan, s, n_paths, a))
    else:
        n = min(workers or multiprocessing.cpu_count(), total)
        ctx = multiprocessing.get_context("spawn")  # no HDF5 or thread state inherited
        with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
            pending: dict[Future[LoanOutcome], int] = {
                pool.submit(assess_loan, cube, models_dir, loan, s, n_paths, a): i
                for i, (loan, s, a) in enumerate(tasks)
            }
            for fut in as_completed(pending):
                finished(pending[fut], fut.result())
    return [done[i] for i in range(total)]


@dataclass(frozen=True)
class PortfolioRun:
    """A book's assessments and its joint simulation."""

    run_seed: int
    n_paths: int
    outcomes: list[LoanOutcome]
    result: PortfolioResult | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"portfolio": ..., "loans": [...], "notes": [...]}``."""
        summary = None if self.result is None else self.result.summary
        return {
            "run_seed": self.run_seed,
            "n_paths": self.n_paths,
            "portfolio": summary,
            "loans": loan_table(self),
            "notes": self.notes,
        }


def draw_run_seed() -> int:
    """A run seed from OS entropy (< 2**53, exact in JSON)."""
    return secrets.randbits(_SEED_BITS)


def run_portfolio(
    book: LoanBook,
    cube_path: str | Path,
    *,
    n_paths: int = DEFAULT_N_PATHS,
    seed: int | None = None,
    npl_tolerance_pct: float = DEFAULT_NPL_TOLERANCE_PCT,
    models_dir: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    id_prefix: str | None = None,
) -> PortfolioRun:
    """Assess every loan of ``book`` and simulate the book jointly.

    Loans whose assessment failed or has no default simulation are listed in ``notes`` and
    left out of the joint simulation (never filled).
    """
    if not 2 <= n_paths <= 1_000_000:
        raise UsageError(f"paths must be from 2 to 1,000,000, got {n_paths}")
    if not (math.isfinite(npl_tolerance_pct) and 0.0 <= npl_tolerance_pct < 100.0):
        raise UsageError(f"NPL tolerance must be from 0 to <100 %, got {npl_tolerance_pct}")
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise UsageError(f"seed must be from 0 to {MAX_SEED}, got {seed}")
    run_seed = draw_run_seed() if seed is None else int(seed)
    outcomes = assess_book(
        book,
        cube_path,
        run_seed=run_seed,
        n_paths=n_paths,
        models_dir=models_dir,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        id_prefix=id_prefix,
    )
    notes = [
        f"loan {o.loan_id} (row {o.row}) left out of the portfolio simulation: {o.error}"
        for o in outcomes
        if o.loan is None
    ]
    specs = [o.loan for o in outcomes if o.loan is not None]
    result: PortfolioResult | None = None
    if specs:
        try:
            result = simulate_portfolio(
                specs, n_paths=n_paths, seed=run_seed, npl_tolerance_pct=npl_tolerance_pct
            )
        except PortfolioError as exc:
            notes.append(f"no portfolio simulation: {exc}")
    else:
        notes.append("no portfolio simulation: no loan could be simulated")
    return PortfolioRun(run_seed, n_paths, outcomes, result, notes)


#: Columns of the loan-level table, in order.
LOAN_TABLE_COLUMNS: tuple[str, ...] = (
    "row",
    "loan_id",
    "assessment_id",
    "seed",
    "technology",
    "region",
    "decision",
    "grade",
    "loan_amount",
    "currency",
    "tenor_years",
    "exposure",
    "lgd",
    "guarantee_share",
    "compensation_share",
    "pd_tenor",
    "pd_annual",
    "expected_loss_tenor",
    "pd_tenor_joint",
    "expected_loss",
    "expected_loss_bank",
    "var_contribution",
    "asrf_pd_q99_9",
    "dscr_p90_min",
    "error",
)


def loan_table(run: PortfolioRun) -> list[dict[str, Any]]:
    """One row per loan: its assessment's figures and its portfolio figures."""
    sim = {} if run.result is None else {r["loan_id"]: r for r in run.result.loans}
    rows = []
    for o in run.outcomes:
        a = o.assessment or {}
        rep = a.get("repayment") or {}
        s = sim.get(o.loan_id, {})
        rows.append(
            {
                "row": o.row,
                "loan_id": o.loan_id,
                "assessment_id": a.get("id"),
                "seed": o.seed,
                "technology": s.get("technology") or (a.get("project") or {}).get("technology"),
                "region": s.get("region"),
                "decision": a.get("decision"),
                "grade": rep.get("grade"),
                "loan_amount": rep.get("loan_amount"),
                "currency": rep.get("currency"),
                "tenor_years": rep.get("tenor_years"),
                "exposure": s.get("exposure"),
                "lgd": s.get("lgd"),
                "guarantee_share": s.get("guarantee_share"),
                "compensation_share": s.get("compensation_share"),
                "pd_tenor": rep.get("pd_tenor"),
                "pd_annual": rep.get("pd_annual"),
                "expected_loss_tenor": rep.get("expected_loss_tenor"),
                "pd_tenor_joint": s.get("pd_tenor_joint"),
                "expected_loss": s.get("expected_loss"),
                "expected_loss_bank": s.get("expected_loss_bank"),
                "var_contribution": s.get("var_contribution"),
                "asrf_pd_q99_9": s.get("asrf_pd_q99_9"),
                "dscr_p90_min": rep.get("dscr_p90_min"),
                "error": o.error,
            }
        )
    return rows


def write_result(run: PortfolioRun, path: str | Path) -> None:
    """Write the run: JSON, a workbook, or the loan-level table (by the file's extension).

    ``.json`` holds everything; ``.xlsx`` the tables of :func:`result_sheets`; ``.csv`` and
    ``.parquet`` the loan-level table.

    Raises
    ------
    UsageError
        Unknown extension or the file cannot be written.
    """
    import pandas as pd

    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".json":
            text = json.dumps(run.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)
            p.write_text(text + "\n", encoding="utf-8")
        elif suffix == ".xlsx":
            from service.exports import to_xlsx

            p.write_bytes(to_xlsx(result_sheets(run.to_dict())))
        elif suffix in (".csv", ".parquet", ".pq"):
            frame = pd.DataFrame(loan_table(run), columns=list(LOAN_TABLE_COLUMNS))
            if suffix == ".csv":
                from service.cli_output import csv_cell

                frame = frame.map(lambda v: v if isinstance(v, int | float) else csv_cell(v))
                frame.to_csv(p, index=False)
            else:
                frame.to_parquet(p, index=False)
        else:
            raise UsageError(
                f"--out {p}: unknown format {suffix or '(no extension)'}; use .json, .xlsx, "
                ".csv or .parquet"
            )
    except OSError as exc:
        raise UsageError(f"cannot write {p}: {exc.strerror or exc}") from None


#: Rows of the "Portfolio" sheet: (label, key in the joint/independent figures).
_LOSS_ROWS: tuple[tuple[str, str], ...] = (
    ("expected_loss", "expected_loss"),
    ("expected_loss_se", "expected_loss_se"),
    ("loss_sd", "loss_sd"),
    ("loss_q99", "var_99"),
    ("loss_q99_9", "var_999"),
    ("unexpected_loss", "unexpected_loss"),
    ("expected_loss_rate", "expected_loss_rate"),
)
_NPL_COLUMNS: tuple[str, ...] = (
    "loans_on_book",
    "npl_ratio_balance_mean",
    "npl_ratio_balance_q90",
    "npl_ratio_balance_q99",
    "npl_ratio_count_mean",
    "p_npl_balance_above_tolerance",
    "p_npl_count_above_tolerance",
    "annual_loss_mean",
)
_GROUP_COLUMNS: tuple[str, ...] = (
    "name",
    "loans",
    "exposure",
    "expected_loss",
    "var_contribution",
    "var_share",
)


def result_sheets(obj: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """A run's result (:meth:`PortfolioRun.to_dict`) as spreadsheet tables.

    ``Loans`` (:data:`LOAN_TABLE_COLUMNS`), ``Portfolio`` (figure, shared years, independent),
    ``NPL by year`` (both simulations) and ``Concentration`` (regions and technologies);
    values unrounded, fractions as fractions.
    """
    loans = [[r.get(c) for c in LOAN_TABLE_COLUMNS] for r in obj["loans"]]
    sheets: list[tuple[str, list[str], list[list[Any]]]] = [
        ("Loans", list(LOAN_TABLE_COLUMNS), loans)
    ]
    p = obj.get("portfolio")
    if p is None:
        return sheets
    j, ind = p["joint"], p["independent"]
    rows: list[list[Any]] = [[label, j[key], ind[key]] for label, key in _LOSS_ROWS]
    for name in ("p_npl_balance_above_tolerance_any_year", "p_npl_count_above_tolerance_any_year"):
        rows.append([name, j["npl"][name], ind["npl"][name]])
    rs = p["risk_sharing"]
    single = [
        ("total_exposure", p["total_exposure"]),
        ("npl_tolerance_pct", p["npl_tolerance_pct"]),
        ("n_paths", p["n_paths"]),
        ("seed", p["seed"]),
        ("herfindahl_exposure", p["concentration"]["herfindahl_exposure"]),
        ("effective_number_of_loans", p["concentration"]["effective_number_of_loans"]),
        *((f"expected_loss_{k}", v) for k, v in rs["expected_loss"].items()),
        ("bank_loss_q99", rs["bank_var_99"]),
        ("bank_loss_q99_9", rs["bank_var_999"]),
        ("asrf_loss_q99_9_one_year", p["asrf"]["loss_q99_9_one_year"]),
        ("simulated_annual_loss_q99_9", p["asrf"]["simulated_annual_loss_q99_9"]),
    ]
    rows.extend([name, value, None] for name, value in single)
    sheets.append(("Portfolio", ["figure", "shared_years", "independent"], rows))
    header = ["year"] + [f"{c}_{m}" for m in ("shared", "independent") for c in _NPL_COLUMNS]
    by_year = [
        [yj["year"], *(yj[c] for c in _NPL_COLUMNS), *(yi[c] for c in _NPL_COLUMNS)]
        for yj, yi in zip(j["npl"]["by_year"], ind["npl"]["by_year"], strict=True)
    ]
    sheets.append(("NPL by year", header, by_year))
    conc = p["concentration"]
    groups = [
        [kind, *(g[c] for c in _GROUP_COLUMNS)]
        for kind, key in (("region", "by_region"), ("technology", "by_technology"))
        for g in conc[key]
    ]
    sheets.append(("Concentration", ["group", *_GROUP_COLUMNS], groups))
    return sheets
