"""``project.site_evidence`` of an assessment request: an on-site mast or a wind-atlas mean.

Wind projects only. Exactly one of::

    "site_evidence": {"mast": {"height_m": 100, "interval_minutes": 60,
                               "start": "2023-01-01T00:00Z",
                               "wind_speed_ms": [7.9, 8.4, null, ...]},
                      "mcp_method": "variance_ratio"}

    "site_evidence": {"atlas": {"mean_wind_ms": 7.4, "height_m": 100,
                                "source": "Global Wind Atlas 3.3"}}

A mast series is compact: a start time and a regular interval (10 or 60 minutes), one value per
interval, ``null`` for a missing value (never filled). At most
:data:`models.evidence.MAX_MAST_VALUES` values (the request body limit,
``CLIMATE_LOAN_MAX_CONTENT_LENGTH``, 1 MB by default, may need raising for long 10-minute
series); the series must span at least 12 months. The MCP itself (at least 12 concurrent
complete months, R² of monthly means at least 0.6) is checked against the cube when the
assessment runs (:mod:`models.evidence`); a failure is a 422 naming
``project.site_evidence.mast``.

:func:`read_mast_csv` reads a mast CSV (``timestamp,wind_speed_ms[,wind_direction_deg]``) into
the same object, for ``climate-loan assess --mast FILE.csv``.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.evidence import MAX_MAST_VALUES, AtlasMean, MastSeries, SiteEvidence
from service.errors import UsageError

__all__ = [
    "AtlasIn",
    "MastIn",
    "SiteEvidenceIn",
    "evidence_summary",
    "parse_mast_csv",
    "read_mast_csv",
]

#: A mast must span at least this many days (12 months).
MIN_MAST_DAYS = 365
_START_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:00)?(Z|\+00:00)$")

Speed = Annotated[float, Field(ge=0.0, le=75.0)]
Direction = Annotated[float, Field(ge=0.0, le=360.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class MastIn(_Strict):
    """An on-site mast's wind speed on a regular time axis (UTC)."""

    height_m: float = Field(gt=0.0, le=300.0, description="Measurement height [m], up to 300.")
    interval_minutes: Literal[10, 60] = Field(description="Spacing of the values [min]: 10 or 60.")
    start: str = Field(
        max_length=30,
        description="Time of the first value, UTC, 'YYYY-MM-DDTHH:MMZ', on the interval.",
    )
    wind_speed_ms: list[Speed | None] = Field(
        min_length=1,
        max_length=MAX_MAST_VALUES,
        description="Wind speed [m s-1], 0 to 75, one per interval; null marks a gap.",
    )
    wind_direction_deg: list[Direction | None] | None = Field(
        default=None,
        max_length=MAX_MAST_VALUES,
        description="Optional direction [degrees], same length; recorded, not used.",
    )

    @field_validator("start")
    @classmethod
    def _utc_start(cls, value: str) -> str:
        m = _START_RE.match(value)
        if not m:
            raise ValueError(f"start must be UTC 'YYYY-MM-DDTHH:MMZ', got {value!r}")
        try:
            np.datetime64(m.group(1), "m")
        except ValueError:
            raise ValueError(f"start is not a valid time: {value!r}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MastIn:
        start = self.start_time
        minute = int(start.astype("datetime64[m]").astype(np.int64))
        if minute % self.interval_minutes:
            raise ValueError(f"start must fall on the {self.interval_minutes}-minute interval")
        if self.wind_direction_deg is not None and len(self.wind_direction_deg) != len(
            self.wind_speed_ms
        ):
            raise ValueError("wind_direction_deg must have one value per wind_speed_ms value")
        days = len(self.wind_speed_ms) * self.interval_minutes / 1440.0
        if days < MIN_MAST_DAYS:
            raise ValueError(
                f"the mast covers {days:.0f} days; at least 12 months ({MIN_MAST_DAYS} days) "
                "of measurements are needed for an MCP"
            )
        if all(v is None for v in self.wind_speed_ms):
            raise ValueError("wind_speed_ms holds no value")
        return self

    @property
    def start_time(self) -> np.datetime64:
        """``start`` as a numpy time (minutes, UTC)."""
        m = _START_RE.match(self.start)
        if m is None:  # refused by the field validator; the check only narrows the type
            raise UsageError(f"start must be UTC 'YYYY-MM-DDTHH:MMZ', got {self.start!r}")
        return np.datetime64(m.group(1), "m")

    def to_model(self) -> MastSeries:
        """The mast as :class:`models.evidence.MastSeries` (null -> NaN)."""

        def arr(values: list[float | None]) -> np.ndarray[Any, np.dtype[np.float64]]:
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

        return MastSeries(
            height_m=self.height_m,
            interval_minutes=self.interval_minutes,
            start=self.start_time,
            wind_speed_ms=arr(self.wind_speed_ms),
            wind_direction_deg=(
                None if self.wind_direction_deg is None else arr(self.wind_direction_deg)
            ),
        )


class AtlasIn(_Strict):
    """A long-term mean wind speed from a wind atlas or a consultant's report."""

    mean_wind_ms: float = Field(gt=0.0, le=30.0, description="Long-term mean [m s-1], up to 30.")
    height_m: float = Field(gt=0.0, le=300.0, description="Its height above ground [m].")
    source: str = Field(
        min_length=3,
        max_length=300,
        description="Where the mean comes from, e.g. 'Global Wind Atlas 3.3 (DTU), 250 m'.",
    )

    @field_validator("source")
    @classmethod
    def _has_text(cls, value: str) -> str:
        if len(value.strip()) < 3:
            raise ValueError("source must say where the mean comes from")
        return value

    def to_model(self) -> AtlasMean:
        """The mean as :class:`models.evidence.AtlasMean`."""
        return AtlasMean(self.mean_wind_ms, self.height_m, self.source.strip())


class SiteEvidenceIn(_Strict):
    """What is known about the site's wind: exactly one of ``mast`` and ``atlas``."""

    mast: MastIn | None = Field(default=None, description="On-site mast for an MCP.")
    atlas: AtlasIn | None = Field(default=None, description="Wind-atlas long-term mean.")
    mcp_method: Literal["variance_ratio", "linear_regression"] = Field(
        default="variance_ratio",
        description="MCP method for a mast: 'variance_ratio' (default) or 'linear_regression'.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> SiteEvidenceIn:
        if (self.mast is None) == (self.atlas is None):
            raise ValueError("give exactly one of 'mast' and 'atlas'")
        return self

    def to_model(self) -> SiteEvidence:
        """The evidence as :class:`models.evidence.SiteEvidence`."""
        return SiteEvidence(
            mast=self.mast.to_model() if self.mast is not None else None,
            atlas=self.atlas.to_model() if self.atlas is not None else None,
            mcp_method=self.mcp_method,
        )


def _parse_time(text: str, row: int) -> np.datetime64:
    t = text.strip().removesuffix("Z").removesuffix("+00:00").replace(" ", "T")
    try:
        return np.datetime64(t, "m")
    except ValueError:
        raise UsageError(f"mast CSV row {row}: timestamp {text!r} is not an ISO time") from None


def read_mast_csv(path: str | Path, height_m: float) -> dict[str, Any]:
    """Read a mast CSV file into the JSON of ``project.site_evidence.mast``.

    See :func:`parse_mast_csv` for the format; ``UsageError`` also when the file cannot be
    read.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read mast CSV {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"mast CSV {path} is not UTF-8 text") from None
    return parse_mast_csv(text, height_m, str(path))


def parse_mast_csv(text: str, height_m: float, name: str = "mast CSV") -> dict[str, Any]:
    """Parse a mast CSV into the JSON of ``project.site_evidence.mast``.

    Parameters
    ----------
    text : str
        CSV with the columns ``timestamp`` (ISO 8601, UTC), ``wind_speed_ms`` and optionally
        ``wind_direction_deg``, found by name in a header line or else taken in this order
        (a header line is then optional); an empty cell is a gap. Rows need not be complete: missing
        intervals become ``null``.
    height_m : float
        Measurement height [m].
    name : str
        How messages name the file.

    Raises
    ------
    UsageError
        A missing column, a bad number or time, duplicate or off-grid timestamps, or an
        interval other than 10 or 60 minutes; the row is named (counted as a spreadsheet does).
    """
    path = name
    rows = [r for r in csv.reader(io.StringIO(text.removeprefix("\ufeff"))) if any(r)]
    if not rows:
        raise UsageError(f"mast CSV {path} is empty")
    cols, first = _mast_columns([c.strip() for c in rows[0]], path)
    times, speeds, dirs = _mast_values(rows, cols, first)
    if len(times) < 2:
        raise UsageError(f"mast CSV {path} has fewer than two rows")
    t = np.array(times, dtype="datetime64[m]")
    step, index = _mast_grid(t, path)
    grid_v: list[float | None] = [None] * (index[-1] + 1)
    grid_d: list[float | None] = [None] * (index[-1] + 1)
    for k, v, d in zip(index, speeds, dirs, strict=True):
        grid_v[k] = v
        grid_d[k] = d
    out: dict[str, Any] = {
        "height_m": float(height_m),
        "interval_minutes": step,
        "start": f"{t[0]!s}Z",
        "wind_speed_ms": grid_v,
    }
    if len(cols) == 3:
        out["wind_direction_deg"] = grid_d
    return out


_MAST_COLUMNS = ("timestamp", "wind_speed_ms", "wind_direction_deg")


def _mast_columns(header: list[str], path: str) -> tuple[list[int], int]:
    """Column of time, speed (and direction), by name or position; index of the first data row."""
    if "timestamp" in header and "wind_speed_ms" in header:
        cols = [header.index("timestamp"), header.index("wind_speed_ms")]
        if "wind_direction_deg" in header:
            cols.append(header.index("wind_direction_deg"))
        return cols, 1
    # by position: time, speed[, direction]; the first line may be a header
    if len(header) < 2:
        raise UsageError(
            f"mast CSV {path} needs the columns timestamp, wind_speed_ms "
            "[, wind_direction_deg] (by name or in this order)"
        )
    cols = [0, 1, 2] if len(header) >= 3 else [0, 1]
    try:
        _parse_time(header[0], 1)
    except UsageError:
        return cols, 1
    return cols, 0  # no header line


def _mast_values(
    rows: list[list[str]], cols: list[int], first: int
) -> tuple[list[np.datetime64], list[float | None], list[float | None]]:
    """Times, speeds and directions (None for a gap, or without a direction column)."""
    times: list[np.datetime64] = []
    speeds: list[float | None] = []
    dirs: list[float | None] = []
    for i, row in enumerate(rows[first:], start=first + 1):
        times.append(_parse_time(row[cols[0]] if cols[0] < len(row) else "", i))
        speeds.append(_mast_number(row, cols, 1, i))
        dirs.append(_mast_number(row, cols, 2, i) if len(cols) == 3 else None)
    return times, speeds, dirs


def _mast_number(row: list[str], cols: list[int], k: int, i: int) -> float | None:
    cell = row[cols[k]].strip() if cols[k] < len(row) else ""
    if not cell:
        return None
    try:
        return float(cell)
    except ValueError:
        raise UsageError(f"mast CSV row {i}: {_MAST_COLUMNS[k]} {cell!r} is not a number") from None


def _mast_grid(t: NDArray[np.datetime64], path: str) -> tuple[int, list[int]]:
    """The interval [min] of strictly increasing times ``t``, and each time's interval index."""
    if np.any(np.diff(t) <= np.timedelta64(0, "m")):
        raise UsageError(f"mast CSV {path}: timestamps must increase strictly (no duplicates)")
    step = int(np.min(np.diff(t)).astype(np.int64))
    if step not in (10, 60):
        raise UsageError(f"mast CSV {path}: interval {step} min; it must be 10 or 60 minutes")
    offsets = (t - t[0]).astype(np.int64)
    if np.any(offsets % step):
        raise UsageError(f"mast CSV {path}: timestamps off the {step}-minute grid")
    n = int(offsets[-1] // step) + 1
    if n > MAX_MAST_VALUES:
        raise UsageError(f"mast CSV {path}: {n:,} intervals; at most {MAX_MAST_VALUES:,}")
    index: list[int] = (offsets // step).tolist()
    return step, index


def evidence_summary(ev: dict[str, Any]) -> str:
    """One English line on ``energy.evidence`` (the ``climate-loan assess`` table).

    E.g. ``MCP (variance ratio) on 24 months 2014-01..2015-12, R² 0.993: long-term mean 9.037
    m/s at 50 m (reanalysis 8.329, factor 1.0850)`` or ``atlas scaled: 9.12 m/s at 100 m
    (Global Wind Atlas 3.3), factor 1.0123``.
    """
    h = f"{ev['height_m']:g} m"
    factor = ev.get("scale_factor")
    fac = f"factor {factor:.4f}" if factor is not None else "factor n/a"
    unused = "" if ev.get("used", True) else " (not used: operating history)"
    if ev["method"] == "atlas_scaled":
        return (
            f"atlas scaled: {ev['corrected_mean_ms']:g} m/s at {h} ({ev['source']}), {fac}{unused}"
        )
    m = ev.get("mcp") or {}
    r2 = m.get("r_squared")
    r2_text = f"{r2:.3f}" if r2 is not None else "n/a"
    method = str(m.get("method", "")).replace("_", " ")
    return (
        f"MCP ({method}) on {m.get('concurrent_months')} months "
        f"{m.get('concurrent_start')}..{m.get('concurrent_end')}, R² {r2_text}: long-term mean "
        f"{ev['corrected_mean_ms']:.3f} m/s at {h} (reanalysis {ev['reanalysis_mean_ms']:.3f}, "
        f"{fac}){unused}"
    )
