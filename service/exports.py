"""CSV and Excel exports of one stored assessment and of the history list.

One assessment
    A tidy table, one figure a row, columns ``section, key, year, value, unit``:

    ==============  ========================================================================
    section         keys
    ==============  ========================================================================
    ``assessment``  id, created_at, decision, technology, site name and position, policy,
                    dataset id and sha256, ``synthetic_data``, code version, seed
    ``rule``        ``<rule id>.metric``, ``.operator``, ``.value``, ``.threshold``,
                    ``.passed``, ``.outcome`` (unit: the rule's unit)
    ``energy``      p50/p90/p99 (``p90_mwh`` and ``p99_mwh`` are 1-year figures,
                    ``p90_10y_mwh`` the 10-year average; the ``p90_basis`` rows say so),
                    sigma, IAV, capacity factor, and ``annual_mwh`` per climate year
    ``repayment``   loan terms, minimum DSCRs, LLCR, PDs (Monte Carlo and scorecard),
                    grade, expected loss
    ``dscr``        per loan year: p50, p90, p99, cfads_p50, debt_service, closing_balance
    ==============  ========================================================================

    The CSV file is that table; the Excel workbook has it as its first sheet (``Assessment``)
    and adds ``Rules`` and ``DSCR by year`` as plain tables.

History
    One row per assessment, the columns of :data:`HISTORY_COLUMNS` (listing columns plus key
    figures read from the stored response), newest first, at most :data:`MAX_HISTORY_ROWS`.

Values are the stored numbers, unrounded and unformatted (fractions stay fractions: an IAV of
4.1 % is ``0.041``), so that a spreadsheet computes with them. Text cells that begin with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return are prefixed with ``'`` so that a
spreadsheet shows them as text instead of running them as formulas (CSV/formula injection,
OWASP); numbers are written as numbers. CSV is UTF-8 with a byte-order mark (Excel then reads
Chinese site names correctly) and CRLF line ends.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.styles import Font
from pydantic import BaseModel, ConfigDict, Field

from service.assessments import LISTING_COLUMNS

__all__ = [
    "CSV_MIME",
    "HISTORY_COLUMNS",
    "MAX_HISTORY_ROWS",
    "XLSX_MIME",
    "HistoryExportQuery",
    "assessment_rows",
    "dscr_table",
    "history_row",
    "rules_table",
    "safe_cell",
    "to_csv",
    "to_xlsx",
]

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Most rows a history export holds (newest first).
MAX_HISTORY_ROWS = 10_000
#: Header of the one-assessment table.
ASSESSMENT_HEADER = ("section", "key", "year", "value", "unit")
#: Characters that make a spreadsheet read a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | bool | None


def safe_cell(value: Any) -> Cell:
    """A cell value for a spreadsheet: numbers as they are, text guarded against formulas.

    Text beginning with ``= + - @``, a tab or a carriage return gets a leading ``'``; None
    and non-finite numbers become empty cells.
    """
    if value is None:
        return None
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


# ----------------------------------------------------------------------------- one assessment


_Row = tuple[str, str, int | None, Any, str]
#: Energy figures of the export, with their units, in this order (those present).
_ENERGY_KEYS = (
    ("method", ""),
    ("p50_mwh", "MWh"),
    ("p90_mwh", "MWh"),
    ("p90_10y_mwh", "MWh"),
    ("p99_mwh", "MWh"),
    ("sigma", "1"),
    ("capacity_factor_p50", "1"),
    ("n_years", "count"),
)
#: Repayment figures of the export, with their units ("cur": the loan's currency).
_REPAYMENT_KEYS = (
    ("loan_amount", "cur"),
    ("currency", ""),
    ("tenor_years", "years"),
    ("interest_rate_pct", "%"),
    ("repayment", ""),
    ("dscr_p50_min", "1"),
    ("dscr_p90_min", "1"),
    ("dscr_p99_min", "1"),
    ("dscr_p90_basis", ""),
    ("llcr", "1"),
    ("pd_annual", "1"),
    ("pd_tenor", "1"),
    ("pd_scorecard", "1"),
    ("scorecard_grade", ""),
    ("grade", ""),
    ("lgd", "1"),
    ("expected_loss", "cur"),
    ("expected_loss_tenor", "cur"),
)


def assessment_rows(a: Mapping[str, Any], *, site_name: str | None = None) -> list[_Row]:
    """The tidy rows ``(section, key, year, value, unit)`` of a stored assessment object."""
    return [
        *_assessment_rows(a, site_name),
        *_rule_rows(a),
        *_energy_rows(a),
        *_repayment_rows(a.get("repayment") or {}),
    ]


def _assessment_rows(a: Mapping[str, Any], site_name: str | None) -> list[_Row]:
    climate = a.get("climate") or {}
    prov = a.get("provenance") or {}
    dataset = climate.get("dataset") or {}
    site = climate.get("site") or {}
    items: list[tuple[str, Any, str]] = [
        ("id", a.get("id"), ""),
        ("created_at", prov.get("created_at"), ""),
        ("decision", a.get("decision"), ""),
        ("technology", (a.get("project") or {}).get("technology"), ""),
        ("site_name", site_name if site_name is not None else site.get("name"), ""),
        ("site_lat", site.get("lat"), "degrees_north"),
        ("site_lon", site.get("lon"), "degrees_east"),
        ("policy_id", prov.get("policy_id"), ""),
        ("policy_version", prov.get("policy_version"), ""),
        ("dataset_id", dataset.get("id") or prov.get("dataset_id"), ""),
        ("dataset_sha256", prov.get("dataset_sha256"), ""),
        ("synthetic_data", bool(dataset.get("synthetic") or prov.get("synthetic")), ""),
        ("code_version", prov.get("code_version"), ""),
        ("seed", prov.get("seed"), ""),
    ]
    return [("assessment", key, None, value, unit) for key, value, unit in items]


def _rule_rows(a: Mapping[str, Any]) -> list[_Row]:
    rows: list[_Row] = []
    for r in a.get("rules") or []:
        rid, unit = str(r.get("id")), str(r.get("unit") or "")
        outcome = "pass" if r.get("passed") else r.get("outcome")
        rows += [
            ("rule", f"{rid}.metric", None, r.get("metric"), ""),
            ("rule", f"{rid}.operator", None, r.get("operator"), ""),
            ("rule", f"{rid}.value", None, r.get("value"), unit),
            ("rule", f"{rid}.threshold", None, r.get("threshold"), unit),
            ("rule", f"{rid}.passed", None, r.get("passed"), ""),
            ("rule", f"{rid}.outcome", None, outcome, ""),
        ]
    return rows


def _energy_rows(a: Mapping[str, Any]) -> list[_Row]:
    energy = a.get("energy") or {}
    rows: list[_Row] = [
        ("energy", key, None, energy.get(key), unit) for key, unit in _ENERGY_KEYS if key in energy
    ]
    rows.append(("energy", "p90_basis", None, "p90_mwh: 1-year; p90_10y_mwh: 10-year average", ""))
    rows += _evidence_rows(energy.get("evidence") or {})
    wind = (a.get("climate") or {}).get("wind") or {}
    if isinstance(wind, Mapping) and "iav" in wind:
        rows.append(("energy", "wind_iav", None, wind.get("iav"), "1"))
    annual = sorted((energy.get("annual_mwh") or {}).items(), key=lambda kv: int(kv[0]))
    rows += [("energy", "annual_mwh", int(year), value, "MWh") for year, value in annual]
    return rows


def _evidence_rows(evidence: Mapping[str, Any]) -> list[_Row]:
    """Site evidence (models.evidence): atlas scaling or a mast MCP; none without."""
    if not evidence:
        return []
    items: list[tuple[str, Any, str]] = [
        ("method", evidence.get("method"), ""),
        ("used", evidence.get("used"), ""),
        ("height_m", evidence.get("height_m"), "m"),
        ("corrected_mean_ms", evidence.get("corrected_mean_ms"), "m s-1"),
        ("scale_factor", evidence.get("scale_factor"), "1"),
        ("sigma_model", evidence.get("sigma_model"), "1"),
        ("source", evidence.get("source"), ""),
    ]
    mcp = evidence.get("mcp")
    if mcp:
        items += [
            ("mcp_r_squared", mcp.get("r_squared"), "1"),
            ("mcp_months", mcp.get("concurrent_months"), "count"),
        ]
    return [("energy", f"evidence.{key}", None, value, unit) for key, value, unit in items]


def _repayment_rows(rep: Mapping[str, Any]) -> list[_Row]:
    cur = str(rep.get("currency") or "")
    rows: list[_Row] = [
        ("repayment", key, None, rep.get(key), cur if unit == "cur" else unit)
        for key, unit in _REPAYMENT_KEYS
        if key in rep
    ]
    for row in rep.get("dscr_by_year") or []:
        year = int(row.get("year", 0))
        rows += [("dscr", key, year, row.get(key), "1") for key in ("p50", "p90", "p99")]
        rows += [
            ("dscr", key, year, row.get(key), cur)
            for key in ("cfads_p50", "debt_service", "closing_balance")
        ]
    return rows


def rules_table(a: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the rules, one rule a row."""
    header = ["id", "metric", "operator", "value", "threshold", "unit", "passed", "outcome"]
    rows = [
        [
            r.get("id"),
            r.get("metric"),
            r.get("operator"),
            r.get("value"),
            r.get("threshold"),
            r.get("unit"),
            r.get("passed"),
            "pass" if r.get("passed") else r.get("outcome"),
        ]
        for r in a.get("rules") or []
    ]
    return header, rows


def dscr_table(a: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the DSCR by loan year."""
    header = ["year", "p50", "p90", "p99", "cfads_p50", "debt_service", "closing_balance"]
    rows = [
        [r.get(k) for k in header] for r in (a.get("repayment") or {}).get("dscr_by_year") or []
    ]
    return header, rows


# ----------------------------------------------------------------------------- history

#: Columns of the history export.
HISTORY_COLUMNS: tuple[str, ...] = (
    *LISTING_COLUMNS,
    "loan_amount",
    "currency",
    "p50_mwh",
    "p90_10y_mwh",
    "dscr_p90_min",
    "llcr",
    "pd_annual",
    "pd_scorecard",
    "grade",
    "synthetic_data",
)


def history_row(listing: Mapping[str, Any], response: Mapping[str, Any]) -> list[Any]:
    """One history export row from the listing columns and the stored response."""
    rep = response.get("repayment") or {}
    energy = response.get("energy") or {}
    prov = response.get("provenance") or {}
    dataset = (response.get("climate") or {}).get("dataset") or {}
    created = listing.get("created_at")
    values = {
        **{k: listing.get(k) for k in HISTORY_COLUMNS},
        "created_at": created.isoformat() if isinstance(created, datetime) else created,
        "loan_amount": rep.get("loan_amount"),
        "currency": rep.get("currency"),
        "p50_mwh": energy.get("p50_mwh"),
        "p90_10y_mwh": energy.get("p90_10y_mwh"),
        "dscr_p90_min": rep.get("dscr_p90_min"),
        "llcr": rep.get("llcr"),
        "pd_annual": rep.get("pd_annual"),
        "pd_scorecard": rep.get("pd_scorecard"),
        "grade": rep.get("grade"),
        "synthetic_data": bool(dataset.get("synthetic") or prov.get("synthetic")),
    }
    return [values[k] for k in HISTORY_COLUMNS]


class HistoryExportQuery(BaseModel):
    """Filters of the history export: those of the history page (``/app/history``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)

    decision: Literal["approve", "refer", "decline"] | None = Field(
        None, description="Only this decision."
    )
    technology: Literal["wind", "solar"] | None = Field(None, description="Only this technology.")
    q: str = Field("", max_length=100, description="Site name or id contains this text.")
    date_from: date | None = Field(
        None, alias="from", description="Only assessments made on or after this date (UTC)."
    )
    date_to: date | None = Field(
        None, alias="to", description="Only assessments made on or before this date (UTC)."
    )


# ----------------------------------------------------------------------------- writers


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 CSV (with BOM, CRLF) of ``rows`` under ``header``, cells guarded."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([_csv_text(safe_cell(v)) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_xlsx(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """An Excel workbook with one sheet per ``(title, header, rows)``, cells guarded."""
    wb = Workbook()
    first = True
    for title, header, rows in sheets:
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = title[:31]
        ws.append([safe_cell(h) for h in header])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append([safe_cell(v) for v in row])
        ws.freeze_panes = "A2"
        for col in ws.columns:
            width = max((len(str(c.value)) for c in col if c.value is not None), default=8)
            ws.column_dimensions[col[0].column_letter].width = min(60, max(8, width + 2))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def assessment_file(
    a: Mapping[str, Any], fmt: Literal["csv", "xlsx"], *, site_name: str | None = None
) -> bytes:
    """The export of one assessment as CSV or Excel bytes."""
    rows = assessment_rows(a, site_name=site_name)
    if fmt == "csv":
        return to_csv(ASSESSMENT_HEADER, rows)
    rh, rr = rules_table(a)
    dh, dr = dscr_table(a)
    return to_xlsx(
        [("Assessment", ASSESSMENT_HEADER, rows), ("Rules", rh, rr), ("DSCR by year", dh, dr)]
    )


def history_file(rows: Sequence[Sequence[Any]], fmt: Literal["csv", "xlsx"]) -> bytes:
    """The export of history rows (:func:`history_row`) as CSV or Excel bytes."""
    if fmt == "csv":
        return to_csv(HISTORY_COLUMNS, rows)
    return to_xlsx([("History", HISTORY_COLUMNS, rows)])
