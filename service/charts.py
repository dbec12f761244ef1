"""Charts of an assessment, drawn once as shapes and rendered to SVG (page) or PDF (memo).

A chart is a :class:`Chart`: a size and a tuple of primitive shapes (lines, polygons,
rectangles, circles, text) in page units with the origin at the top left and *y* down, as in
SVG. :func:`to_svg` writes it as an inline SVG element for the web page and the print memo;
:mod:`service.memo` draws the same shapes on a PDF canvas. One layout, two outputs: the PDF
shows exactly the figures of the page, and neither needs JavaScript or network access.

The builders (:func:`wind_years_chart`, :func:`energy_chart`, :func:`dscr_chart`, ...) take
plain numbers from the stored assessment object, a ``labels`` mapping of already translated
words, and a ``fmt`` function that formats a number for the page's locale. Missing values
(``None``) are never drawn as zero: a year without data gets no bar and an "n/a" mark.

Colours follow the Okabe-Ito palette, which stays distinguishable with the common forms of
colour-vision deficiency; pass/fail is also written as text, never carried by colour alone.

References
----------
M. Okabe, K. Ito, "Color Universal Design (CUD): how to make figures and presentations that
are friendly to colorblind people", 2008. https://jfly.uni-koeln.de/color/
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

__all__ = [
    "PALETTE",
    "Chart",
    "Circle",
    "Line",
    "Polygon",
    "Rect",
    "Text",
    "dscr_chart",
    "energy_chart",
    "monthly_chart",
    "nice_ticks",
    "pd_chart",
    "to_svg",
    "tornado_chart",
    "wind_years_chart",
    "years_chart",
]

#: Okabe-Ito colours by role.
PALETTE: dict[str, str] = {
    "bar": "#56B4E9",
    "bar_low": "#E69F00",
    "line": "#0072B2",
    "line2": "#009E73",
    "threshold": "#D55E00",
    "p90": "#CC79A7",
    "fan": "#56B4E9",
    "axis": "#444444",
    "grid": "#DDDDDD",
    "text": "#222222",
    "muted": "#666666",
}

#: Font families for the SVG output (the page's own CSS may override them).
FONT_FAMILY = (
    "'Noto Sans CJK SC','Noto Sans SC','Microsoft YaHei','PingFang SC',system-ui,sans-serif"
)

Point = tuple[float, float]
Fmt = Callable[[float, int], str]


@dataclass(frozen=True)
class Line:
    """An open polyline."""

    points: tuple[Point, ...]
    color: str
    width: float = 1.5
    dash: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Polygon:
    """A closed, filled polygon."""

    points: tuple[Point, ...]
    fill: str
    opacity: float = 1.0


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle; ``y`` is its top edge."""

    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str | None = None
    opacity: float = 1.0


@dataclass(frozen=True)
class Circle:
    """A filled circle (a marker)."""

    cx: float
    cy: float
    r: float
    fill: str
    stroke: str | None = None


@dataclass(frozen=True)
class Text:
    """A line of text; ``y`` is its baseline, ``anchor`` start, middle or end."""

    x: float
    y: float
    text: str
    size: float = 10.0
    anchor: str = "start"
    color: str = PALETTE["text"]
    bold: bool = False
    rotate: float = 0.0


Shape = Line | Polygon | Rect | Circle | Text


@dataclass(frozen=True)
class Chart:
    """A chart: size [px = pt], accessible title and description, and its shapes."""

    width: float
    height: float
    title: str
    description: str
    shapes: tuple[Shape, ...] = field(default_factory=tuple)


# ----- scales ---------------------------------------------------------------------------------


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]``, about ``n`` of them.

    The step is 1, 2, 2.5 or 5 times a power of ten (Heckbert's "nice numbers").

    References
    ----------
    P. S. Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990, 61-63.
    https://doi.org/10.1016/B978-0-08-050753-8.50020-5
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"tick range must be finite, got {lo}, {hi}")
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, n - 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    k = 0
    while True:
        t = start + k * step
        ticks.append(round(t, 12))
        if t >= hi - step * 1e-9:
            break
        k += 1
    return ticks


@dataclass(frozen=True)
class _Axes:
    """Plot area inside a chart and the linear data-to-page mapping of its y axis."""

    left: float
    top: float
    width: float
    height: float
    y0: float
    y1: float

    def y(self, value: float) -> float:
        return self.top + self.height * (1.0 - (value - self.y0) / (self.y1 - self.y0))

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def right(self) -> float:
        return self.left + self.width


def _frame(ax: _Axes, ticks: Sequence[float], fmt: Fmt, digits: int, unit: str) -> list[Shape]:
    shapes: list[Shape] = []
    for t in ticks:
        y = ax.y(t)
        shapes.append(Line(((ax.left, y), (ax.right, y)), PALETTE["grid"], 0.6))
        shapes.append(Text(ax.left - 5, y + 3.5, fmt(t, digits), 9, "end", PALETTE["muted"]))
    shapes.append(Line(((ax.left, ax.top), (ax.left, ax.bottom)), PALETTE["axis"], 0.8))
    shapes.append(Line(((ax.left, ax.bottom), (ax.right, ax.bottom)), PALETTE["axis"], 0.8))
    if unit:
        shapes.append(Text(ax.left - 5, ax.top - 8, unit, 9, "end", PALETTE["muted"]))
    return shapes


def _digits(ticks: Sequence[float]) -> int:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    return max(0, min(3, -math.floor(math.log10(step)) + (0 if step >= 1 else 1)))


def _range(values: Sequence[float], extra: Sequence[float], zero: bool) -> tuple[float, float]:
    pool = [v for v in (*values, *extra) if v is not None and math.isfinite(v)]
    if not pool:
        return (0.0, 1.0)
    lo, hi = min(pool), max(pool)
    if zero:
        lo = min(0.0, lo)
    else:
        pad = (hi - lo) * 0.15 or abs(hi) * 0.05 or 1.0
        lo -= pad
    hi += (hi - lo) * 0.08 or 1.0
    return lo, hi


def _legend(items: Sequence[tuple[str, str, str]], x: float, y: float) -> list[Shape]:
    """Legend entries ``(kind, colour, label)`` in one row; kind is bar, line or dash."""
    shapes: list[Shape] = []
    for kind, color, label in items:
        if kind == "bar":
            shapes.append(Rect(x, y - 8, 12, 8, color))
        elif kind == "band":
            shapes.append(Rect(x, y - 8, 12, 8, color, opacity=0.3))
        else:
            dash = (4.0, 3.0) if kind == "dash" else None
            shapes.append(Line(((x, y - 4), (x + 14, y - 4)), color, 2.0, dash))
        shapes.append(Text(x + 17, y, label, 9, "start", PALETTE["text"]))
        x += 17 + _text_width(label, 9) + 14
    return shapes


def _text_width(text: str, size: float) -> float:
    """Approximate advance width: CJK characters one em, others 0.56 em."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.56 for ch in text)


# ----- builders -------------------------------------------------------------------------------


def years_chart(
    values: Mapping[str, float | None],
    *,
    title: str,
    unit: str,
    labels: Mapping[str, str],
    fmt: Fmt,
    threshold: float | None = None,
    threshold_label: str = "",
    trailing_mean: float | None = None,
    trailing_years: Sequence[int] = (),
    digits: int = 2,
    width: float = 560,
    height: float = 260,
) -> Chart:
    """Bars of a yearly value against a threshold line, with the trailing three-year mean.

    Parameters
    ----------
    values : mapping of str to float or None
        Value per year (``"2022": 6.71``); None for a year that failed its coverage rule.
    title, unit : str
        Chart title and y-axis unit.
    labels : mapping
        Translated words: ``na`` (no data), ``below``, ``trailing`` (trailing-mean legend),
        ``annual`` (bar legend).
    fmt : callable
        ``fmt(value, digits)`` formats a number for the page's locale.
    threshold : float, optional
        Rule threshold drawn as a dashed line; bars below it are orange and marked.
    trailing_mean : float, optional
        Mean of ``trailing_years``, drawn as a segment over those bars.
    """
    years = sorted(values, key=int)
    nums = [values[y] for y in years]
    lo, hi = _range(
        [v for v in nums if v is not None],
        [x for x in (threshold, trailing_mean) if x is not None],
        zero=False,
    )
    ticks = nice_ticks(lo, hi)
    ax = _Axes(58, 34, width - 58 - 16, height - 34 - 56, ticks[0], ticks[-1])
    d = _digits(ticks)
    shapes: list[Shape] = [Text(8, 16, title, 12, "start", PALETTE["text"], bold=True)]
    shapes += _frame(ax, ticks, fmt, d, unit)
    n = max(1, len(years))
    slot = ax.width / n
    bar_w = min(40.0, slot * 0.62)
    centres: dict[int, float] = {}
    for i, (year, v) in enumerate(zip(years, nums, strict=True)):
        cx = ax.left + slot * (i + 0.5)
        centres[int(year)] = cx
        label_every = max(1, math.ceil(n / 14))
        if i % label_every == 0 or i == n - 1:
            shapes.append(Text(cx, ax.bottom + 14, str(year), 9, "middle", PALETTE["muted"]))
        if v is None:
            shapes.append(
                Text(cx, ax.bottom - 6, labels.get("na", "n/a"), 8, "middle", PALETTE["muted"])
            )
            continue
        low = threshold is not None and v < threshold
        top = ax.y(v)
        shapes.append(
            Rect(cx - bar_w / 2, top, bar_w, ax.bottom - top, PALETTE["bar_low" if low else "bar"])
        )
        if low and slot >= 22:
            shapes.append(Text(cx, top - 3, "▼", 8, "middle", PALETTE["threshold"]))
    if threshold is not None:
        ty = ax.y(threshold)
        shapes.append(Line(((ax.left, ty), (ax.right, ty)), PALETTE["threshold"], 1.6, (6.0, 4.0)))
        shapes.append(
            Text(
                ax.right - 2,
                ty - 4,
                threshold_label or fmt(threshold, digits),
                9,
                "end",
                PALETTE["threshold"],
                bold=True,
            )
        )
    legend: list[tuple[str, str, str]] = [("bar", PALETTE["bar"], labels.get("annual", ""))]
    if threshold is not None:
        legend.append(("bar", PALETTE["bar_low"], labels.get("below", "")))
        legend.append(("dash", PALETTE["threshold"], labels.get("threshold", "")))
    if trailing_mean is not None and trailing_years:
        xs = [centres[y] for y in trailing_years if y in centres]
        if xs:
            ty = ax.y(trailing_mean)
            x0, x1 = min(xs) - slot * 0.45, max(xs) + slot * 0.45
            shapes.append(Line(((x0, ty), (x1, ty)), PALETTE["line"], 3.0))
            shapes.append(
                Text(x0, ty - 5, fmt(trailing_mean, digits), 9, "start", PALETTE["line"], bold=True)
            )
            legend.append(("line", PALETTE["line"], labels.get("trailing", "")))
    shapes += _legend(legend, ax.left, height - 12)
    desc = "; ".join(
        f"{y}: {labels.get('na', 'n/a') if v is None else fmt(v, digits)}"
        for y, v in zip(years, nums, strict=True)
    )
    return Chart(width, height, title, desc, tuple(shapes))


def wind_years_chart(
    climate: Mapping[str, object],
    *,
    threshold: float | None,
    title: str,
    labels: Mapping[str, str],
    fmt: Fmt,
) -> Chart:
    """Yearly mean wind at hub height against the threshold, with the trailing 3-year mean."""
    wind = climate.get("wind")
    if not isinstance(wind, Mapping):
        raise ValueError("the climate object has no wind section")
    annual = wind.get("annual_mean_ms") or {}
    trailing = wind.get("trailing_3y_mean_ms")
    years = wind.get("trailing_3y_years") or []
    return years_chart(
        annual,
        title=title,
        unit="m/s",
        labels=labels,
        fmt=fmt,
        threshold=threshold,
        threshold_label=f"{fmt(threshold, 1)} m/s" if threshold is not None else "",
        trailing_mean=float(trailing) if isinstance(trailing, int | float) else None,
        trailing_years=[int(y) for y in years],
        digits=2,
    )


def monthly_chart(
    values: Sequence[float | None],
    *,
    title: str,
    unit: str,
    month_names: Sequence[str],
    labels: Mapping[str, str],
    fmt: Fmt,
    digits: int = 1,
    width: float = 560,
    height: float = 230,
) -> Chart:
    """Mean of each calendar month (12 values; None where no complete month exists)."""
    if len(values) != 12 or len(month_names) != 12:
        raise ValueError("a monthly profile needs 12 values and 12 month names")
    nums = [v for v in values if v is not None]
    lo, hi = _range(nums, [], zero=True)
    ticks = nice_ticks(lo, hi)
    ax = _Axes(58, 34, width - 58 - 16, height - 34 - 34, ticks[0], ticks[-1])
    d = _digits(ticks)
    shapes: list[Shape] = [Text(8, 16, title, 12, "start", PALETTE["text"], bold=True)]
    shapes += _frame(ax, ticks, fmt, d, unit)
    slot = ax.width / 12
    for i, v in enumerate(values):
        cx = ax.left + slot * (i + 0.5)
        shapes.append(Text(cx, ax.bottom + 14, month_names[i], 9, "middle", PALETTE["muted"]))
        if v is None:
            shapes.append(
                Text(cx, ax.bottom - 6, labels.get("na", "n/a"), 8, "middle", PALETTE["muted"])
            )
            continue
        top = ax.y(v)
        shapes.append(Rect(cx - slot * 0.3, top, slot * 0.6, ax.bottom - top, PALETTE["bar"]))
    desc = "; ".join(
        f"{m}: {labels.get('na', 'n/a') if v is None else fmt(v, digits)}"
        for m, v in zip(month_names, values, strict=True)
    )
    return Chart(width, height, title, desc, tuple(shapes))


def energy_chart(
    annual_mwh: Mapping[str, float | None],
    *,
    p50: float | None,
    p90: float | None,
    p99: float | None,
    title: str,
    labels: Mapping[str, str],
    fmt: Fmt,
    width: float = 560,
    height: float = 260,
) -> Chart:
    """Net energy per climate year [MWh] with the P50, P90 and P99 lines.

    ``labels`` may name the levels in the legend (keys ``p50``, ``p90``, ``p99``, e.g.
    ``"P90 (1-year)"``: the basis of the level); the lines' tags stay ``P50``/``P90``/``P99``.
    """
    years = sorted(annual_mwh, key=int)
    nums = [annual_mwh[y] for y in years]
    levels = [
        (p50, "P50", PALETTE["line"], None),
        (p90, "P90", PALETTE["p90"], (6.0, 3.0)),
        (p99, "P99", PALETTE["threshold"], (2.0, 3.0)),
    ]
    lo, hi = _range(
        [v for v in nums if v is not None], [x for x, *_ in levels if x is not None], zero=True
    )
    ticks = nice_ticks(lo, hi)
    ax = _Axes(70, 34, width - 70 - 64, height - 34 - 56, ticks[0], ticks[-1])
    shapes: list[Shape] = [Text(8, 16, title, 12, "start", PALETTE["text"], bold=True)]
    shapes += _frame(ax, ticks, fmt, _digits(ticks), "MWh")
    n = max(1, len(years))
    slot = ax.width / n
    bar_w = min(40.0, slot * 0.62)
    for i, (year, v) in enumerate(zip(years, nums, strict=True)):
        cx = ax.left + slot * (i + 0.5)
        if i % max(1, math.ceil(n / 14)) == 0 or i == n - 1:
            shapes.append(Text(cx, ax.bottom + 14, str(year), 9, "middle", PALETTE["muted"]))
        if v is None:
            shapes.append(
                Text(cx, ax.bottom - 6, labels.get("na", "n/a"), 8, "middle", PALETTE["muted"])
            )
            continue
        top = ax.y(v)
        shapes.append(Rect(cx - bar_w / 2, top, bar_w, ax.bottom - top, PALETTE["bar"]))
    legend: list[tuple[str, str, str]] = [("bar", PALETTE["bar"], labels.get("annual", ""))]
    for value, name, color, dash in levels:
        if value is None:
            continue
        y = ax.y(value)
        shapes.append(Line(((ax.left, y), (ax.right, y)), color, 1.6, dash))
        shapes.append(Text(ax.right + 4, y + 3, name, 9, "start", color, bold=True))
        shown = labels.get(name.lower(), name)  # e.g. "P90 (1-year)": the level with its basis
        legend.append(("dash" if dash else "line", color, f"{shown} {fmt(value, 0)}"))
    shapes += _legend(legend, ax.left, height - 12)
    desc = (
        "; ".join(
            f"{y}: {labels.get('na', 'n/a') if v is None else fmt(v, 0)}"
            for y, v in zip(years, nums, strict=True)
        )
        + "; "
        + ", ".join(
            f"{labels.get(name.lower(), name)} {fmt(v, 0)}"
            for v, name, *_ in levels
            if v is not None
        )
    )
    return Chart(width, height, title, desc, tuple(shapes))


def _marked_line(
    pts: tuple[tuple[float, float], ...],
    color: str,
    dash: tuple[float, ...] | None,
    *,
    circles: bool,
) -> list[Shape]:
    """A line through ``pts`` (two or more) with a circle or a square on each point."""
    shapes: list[Shape] = [Line(pts, color, 2.0, dash)] if len(pts) >= 2 else []
    if circles:
        shapes += [Circle(px, py, 2.6, color) for px, py in pts]
    else:
        shapes += [Rect(px - 2.4, py - 2.4, 4.8, 4.8, color) for px, py in pts]
    return shapes


def dscr_chart(
    by_year: Sequence[Mapping[str, float | int | None]],
    *,
    covenant: float | None,
    fan: Sequence[Mapping[str, float | int | None]] | None,
    title: str,
    labels: Mapping[str, str],
    fmt: Fmt,
    width: float = 560,
    height: float = 270,
) -> Chart:
    """DSCR per loan year at P50 and P90, the Monte Carlo fan, and the covenant line.

    Parameters
    ----------
    by_year : sequence of mapping
        ``{year, p50, p90}`` per loan year (the assessment's ``repayment.dscr_by_year``).
    covenant : float, optional
        Minimum DSCR of the policy (dashed line).
    fan : sequence of mapping, optional
        ``{year, q10, q50, q90}`` per loan year: percentiles of the simulated DSCR. When
        absent, the band between the P99 and P50 cases is drawn instead and labelled so.
    labels : mapping
        Translated ``p50``, ``p90``, ``fan``, ``band``, ``covenant`` legend words.
    """
    years = [int(r["year"] or 0) for r in by_year]
    p50 = [_opt(r.get("p50")) for r in by_year]
    p90 = [_opt(r.get("p90")) for r in by_year]
    p99 = [_opt(r.get("p99")) for r in by_year]
    lo_band: list[float | None]
    hi_band: list[float | None]
    if fan:
        by = {int(r["year"] or 0): r for r in fan}
        lo_band = [_opt(by.get(y, {}).get("q10")) for y in years]
        hi_band = [_opt(by.get(y, {}).get("q90")) for y in years]
        band_label = labels.get("fan", "")
    else:
        lo_band, hi_band = p99, p50
        band_label = labels.get("band", "")
    pool = [v for v in (*p50, *p90, *lo_band, *hi_band) if v is not None]
    lo, hi = _range(pool, [covenant] if covenant is not None else [], zero=False)
    lo = max(lo, 0.0) if pool and min(pool) >= 0 else lo
    ticks = nice_ticks(lo, hi)
    ax = _Axes(58, 34, width - 58 - 20, height - 34 - 56, ticks[0], ticks[-1])
    shapes: list[Shape] = [Text(8, 16, title, 12, "start", PALETTE["text"], bold=True)]
    shapes += _frame(ax, ticks, fmt, _digits(ticks), "×")
    n = max(1, len(years))
    slot = ax.width / n

    def x(i: int) -> float:
        return ax.left + slot * (i + 0.5)

    upper = [(x(i), ax.y(v)) for i, v in enumerate(hi_band) if v is not None]
    lower = [(x(i), ax.y(v)) for i, v in enumerate(lo_band) if v is not None]
    if len(upper) >= 2 and len(lower) >= 2:
        shapes.append(Polygon(tuple(upper + lower[::-1]), PALETTE["fan"], 0.28))
    for series, color, dash, marker in (
        (p50, PALETTE["line"], None, True),
        (p90, PALETTE["p90"], (6.0, 3.0), False),
    ):
        pts = tuple((x(i), ax.y(v)) for i, v in enumerate(series) if v is not None)
        shapes += _marked_line(pts, color, dash, circles=marker)
    for i, year in enumerate(years):
        if i % max(1, math.ceil(n / 15)) == 0 or i == n - 1:
            shapes.append(Text(x(i), ax.bottom + 14, str(year), 9, "middle", PALETTE["muted"]))
    legend: list[tuple[str, str, str]] = [
        ("line", PALETTE["line"], labels.get("p50", "P50")),
        ("dash", PALETTE["p90"], labels.get("p90", "P90")),
        ("band", PALETTE["fan"], band_label),
    ]
    if covenant is not None:
        cy = ax.y(covenant)
        shapes.append(Line(((ax.left, cy), (ax.right, cy)), PALETTE["threshold"], 1.6, (6.0, 4.0)))
        shapes.append(
            Text(
                ax.right - 2,
                cy - 4,
                f"{fmt(covenant, 2)}×",
                9,
                "end",
                PALETTE["threshold"],
                bold=True,
            )
        )
        legend.append(("dash", PALETTE["threshold"], labels.get("covenant", "")))
    shapes += _legend(legend, ax.left, height - 12)
    desc = "; ".join(
        f"{y}: P50 {fmt(a, 2) if a is not None else '-'}, P90 {fmt(b, 2) if b is not None else '-'}"
        for y, a, b in zip(years, p50, p90, strict=True)
    )
    return Chart(width, height, title, desc, tuple(shapes))


def pd_chart(
    pd_annual: float | None,
    *,
    bounds: Sequence[tuple[str, float]],
    grade_names: Mapping[str, str],
    title: str,
    fmt_pct: Callable[[float], str],
    width: float = 560,
    height: float = 120,
) -> Chart:
    """The annual PD on a logarithmic scale across the slotting grades.

    Parameters
    ----------
    pd_annual : float, optional
        One-year PD [-]; None draws the scale without a marker.
    bounds : sequence of (grade, upper bound)
        Exclusive upper PD bound of each grade but the last, best first
        (:data:`models.risk.GRADE_PD_UPPER_BOUNDS`); the last grade ("Weak") runs to 100 %.
    grade_names : mapping
        Translated grade names.
    fmt_pct : callable
        Formats a probability as a percentage for the locale.
    """
    lo_pd, hi_pd = 1e-4, 1.0
    left, right = 20.0, width - 20.0
    top, bar_h = 40.0, 26.0

    def x(p: float) -> float:
        p = min(max(p, lo_pd), hi_pd)
        return left + (right - left) * (math.log10(p / lo_pd) / math.log10(hi_pd / lo_pd))

    shades = ("#009E73", "#56B4E9", "#F0E442", "#E69F00")
    shapes: list[Shape] = [Text(8, 16, title, 12, "start", PALETTE["text"], bold=True)]
    edges = [lo_pd, *[b for _, b in bounds], hi_pd]
    names = [g for g, _ in bounds] + ["Weak"]
    for k, name in enumerate(names):
        x0, x1 = x(edges[k]), x(edges[k + 1])
        shapes.append(Rect(x0, top, x1 - x0, bar_h, shades[k % len(shades)], PALETTE["axis"], 0.85))
        shapes.append(
            Text(
                (x0 + x1) / 2,
                top + bar_h / 2 + 4,
                grade_names.get(name, name),
                10,
                "middle",
                PALETTE["text"],
                bold=True,
            )
        )
    for p in (1e-4, 1e-3, 1e-2, 1e-1, 1.0):
        shapes.append(Line(((x(p), top + bar_h), (x(p), top + bar_h + 4)), PALETTE["axis"], 0.8))
        shapes.append(Text(x(p), top + bar_h + 15, fmt_pct(p), 9, "middle", PALETTE["muted"]))
    desc = title
    if pd_annual is not None:
        px = x(pd_annual)
        shapes.append(
            Polygon(((px - 6, top - 12), (px + 6, top - 12), (px, top - 1)), PALETTE["text"])
        )
        shapes.append(Line(((px, top), (px, top + bar_h)), PALETTE["text"], 2.0))
        anchor = "start" if px < width * 0.7 else "end"
        shapes.append(
            Text(
                px + (8 if anchor == "start" else -8),
                top - 3,
                fmt_pct(pd_annual),
                10,
                anchor,
                PALETTE["text"],
                bold=True,
            )
        )
        desc = f"{title}: {fmt_pct(pd_annual)}"
    return Chart(width, height, title, desc, tuple(shapes))


def tornado_chart(
    cases: Sequence[Mapping[str, object]],
    *,
    title: str,
    labels: Mapping[str, str],
    fmt_pct: Callable[[float], str],
    fmt: Fmt,
    width: float = 560,
) -> Chart:
    """Stress cases as a tornado: each case's PD over the tenor against the base case.

    Parameters
    ----------
    cases : sequence of mapping
        ``sensitivities.cases`` of the assessment object (``id``, ``pd_tenor``,
        ``dscr_p90_min``), the base case first.
    labels : mapping
        Translated label of each case id, and ``base``, ``pd`` (axis), ``dscr`` (value
        column), ``worse``, ``better`` (legend), ``na``.
    fmt_pct : callable
        Formats a probability as a percentage for the locale.

    Notes
    -----
    Bars start at the base case's PD and end at the case's, longest change on top; a rise
    of PD is orange, a fall green, and each row also prints its PD and its minimum P90 DSCR,
    so the direction is never carried by colour alone.
    """
    base = next((c for c in cases if c.get("id") == "base"), None)
    base_pd = _opt(base.get("pd_tenor")) if base is not None else None
    rows = [c for c in cases if c.get("id") != "base" and _opt(c.get("pd_tenor")) is not None]
    if base_pd is not None:
        rows.sort(key=lambda c: -abs((_opt(c.get("pd_tenor")) or 0.0) - base_pd))
    row_h, top = 22.0, 52.0
    left, value_w = 178.0, 150.0
    right = width - value_w
    height = top + row_h * (len(rows) + 1) + 34.0
    shapes: list[Shape] = [Text(8, 16, title, 12, "start", PALETTE["text"], bold=True)]
    pds = [p for p in (_opt(c.get("pd_tenor")) for c in cases) if p is not None]
    if base_pd is None or not pds:
        shapes.append(Text(width / 2, top + 20, labels.get("na", "n/a"), 11, "middle"))
        return Chart(width, top + 40, title, title, tuple(shapes))
    lo, hi = min(pds), max(pds)
    pad = (hi - lo) * 0.05 or 0.01
    ticks = nice_ticks(max(0.0, lo - pad), min(1.0, hi + pad), 5)
    x0, x1 = ticks[0], ticks[-1]

    def x(p: float) -> float:
        return left + (right - left) * (p - x0) / ((x1 - x0) or 1.0)

    bottom = top + row_h * (len(rows) + 0.5)
    for t in ticks:
        shapes.append(Line(((x(t), top - 6), (x(t), bottom)), PALETTE["grid"], 0.6))
        shapes.append(Text(x(t), bottom + 13, fmt_pct(t), 9, "middle", PALETTE["muted"]))
    shapes.append(Text((left + right) / 2, bottom + 27, labels.get("pd", ""), 9, "middle"))
    shapes.append(Text(right + 8, top - 12, labels.get("dscr", ""), 9, "start", PALETTE["muted"]))
    bx = x(base_pd)
    shapes.append(
        Text(bx, top - 12, f"{labels.get('base', 'base')} {fmt_pct(base_pd)}", 9, "middle")
    )
    summary: list[str] = []
    for i, c in enumerate(rows):
        pd_case = _opt(c.get("pd_tenor")) or 0.0
        y = top + row_h * i
        name = labels.get(str(c.get("id")), str(c.get("label", c.get("id"))))
        shapes.append(Text(left - 8, y + row_h / 2 + 3.5, name, 10, "end", PALETTE["text"]))
        worse = pd_case > base_pd
        color = PALETTE["bar_low"] if worse else PALETTE["line2"]
        xa, xb = sorted((bx, x(pd_case)))
        shapes.append(Rect(xa, y + 4, max(xb - xa, 1.0), row_h - 8, color, PALETTE["axis"]))
        dscr = _opt(c.get("dscr_p90_min"))
        value = f"{fmt_pct(pd_case)} · {fmt(dscr, 2) if dscr is not None else labels.get('na')}"
        shapes.append(Text(right + 8, y + row_h / 2 + 3.5, value, 9, "start", PALETTE["text"]))
        summary.append(f"{name}: {value}")
    shapes.append(Line(((bx, top - 6), (bx, bottom)), PALETTE["text"], 1.5, (4.0, 3.0)))
    shapes.extend(
        _legend(
            [
                ("bar", PALETTE["bar_low"], labels.get("worse", "")),
                ("bar", PALETTE["line2"], labels.get("better", "")),
            ],
            left,
            34.0,
        )
    )
    desc = f"{title}. {labels.get('base', 'base')} {fmt_pct(base_pd)}; " + "; ".join(summary)
    return Chart(width, height, title, desc, tuple(shapes))


def _opt(value: object) -> float | None:
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


# ----- SVG ------------------------------------------------------------------------------------


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if math.isfinite(v) else "0"


def _pts(points: Sequence[Point]) -> str:
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in points)


def to_svg(chart: Chart, *, element_id: str = "") -> str:
    """Render ``chart`` as an inline, accessible SVG element (``role="img"`` with title)."""
    ident = f' id="{escape(element_id)}"' if element_id else ""
    title_id = f"{element_id or 'chart'}-title"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg"{ident} class="chart" role="img" '
        f'viewBox="0 0 {_n(chart.width)} {_n(chart.height)}" '
        f'width="{_n(chart.width)}" height="{_n(chart.height)}" '
        f'aria-labelledby="{escape(title_id)}" font-family="{escape(FONT_FAMILY)}">',
        f'<title id="{escape(title_id)}">{escape(chart.title)}</title>',
        f"<desc>{escape(chart.description)}</desc>",
    ]
    for s in chart.shapes:
        if isinstance(s, Line):
            dash = f' stroke-dasharray="{" ".join(_n(d) for d in s.dash)}"' if s.dash else ""
            out.append(
                f'<polyline points="{_pts(s.points)}" fill="none" stroke="{s.color}" '
                f'stroke-width="{_n(s.width)}"{dash}/>'
            )
        elif isinstance(s, Polygon):
            out.append(
                f'<polygon points="{_pts(s.points)}" fill="{s.fill}" fill-opacity="{s.opacity:g}"/>'
            )
        elif isinstance(s, Rect):
            stroke = f' stroke="{s.stroke}" stroke-width="0.6"' if s.stroke else ""
            out.append(
                f'<rect x="{_n(s.x)}" y="{_n(s.y)}" width="{_n(max(s.w, 0))}" '
                f'height="{_n(max(s.h, 0))}" fill="{s.fill}" fill-opacity="{s.opacity:g}"{stroke}/>'
            )
        elif isinstance(s, Circle):
            stroke = f' stroke="{s.stroke}"' if s.stroke else ""
            out.append(
                f'<circle cx="{_n(s.cx)}" cy="{_n(s.cy)}" r="{_n(s.r)}" fill="{s.fill}"{stroke}/>'
            )
        else:
            anchor = {"start": "start", "middle": "middle", "end": "end"}.get(s.anchor, "start")
            weight = ' font-weight="bold"' if s.bold else ""
            rot = f' transform="rotate({_n(s.rotate)} {_n(s.x)} {_n(s.y)})"' if s.rotate else ""
            out.append(
                f'<text x="{_n(s.x)}" y="{_n(s.y)}" font-size="{_n(s.size)}" fill="{s.color}" '
                f'text-anchor="{anchor}"{weight}{rot}>{escape(s.text)}</text>'
            )
    out.append("</svg>")
    return "".join(out)
