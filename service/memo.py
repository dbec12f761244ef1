"""The credit memo as a PDF: the result page's content and charts on A4 pages.

Drawn with ReportLab (pure Python, no browser, no system libraries): text and tables with its
``platypus`` layout engine, the charts from the very :class:`service.charts.Chart` objects the
web page renders as SVG, so the PDF and the page cannot disagree.

Chinese text needs a font with CJK glyphs. The memo embeds (subsetted) the first TrueType CJK
font it finds among :data:`CJK_FONT_CANDIDATES` (Debian packages ``fonts-wqy-microhei``,
``fonts-wqy-zenhei``, ``fonts-droid-fallback``, ``fonts-arphic-uming``), or the file named by
``CLIMATE_LOAN_PDF_FONT``. Without one it falls back to Adobe's ``STSong-Light``, a standard
CID font that PDF readers supply themselves (nothing is embedded): Acrobat and Chrome show it
on any machine with Chinese fonts; poppler needs its ``poppler-data`` package.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from service import charts

__all__ = ["CJK_FONT_CANDIDATES", "ChartFlowable", "MemoFonts", "memo_fonts", "render_pdf"]

#: TrueType fonts with Chinese glyphs, tried in order: (path, index in a collection).
CJK_FONT_CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
)
#: Environment variable naming a TrueType font file to use instead.
FONT_ENV = "CLIMATE_LOAN_PDF_FONT"
_CID_FONT = "STSong-Light"
#: Symbols the web page uses that PDF fonts often lack; the memo states results in words.
_SYMBOLS = {"✔": "", "✘": "", "⚠": "", "✓": "", "✗": "", "▼": "", "→": "->", "←": "<-"}
#: Punctuation missing from the standard CID font (Adobe-GB1 has no middle dot or bullet).
_CID_PUNCTUATION = {"·": "|", "•": "-", "–": "-", "…": "..."}


@dataclass(frozen=True)
class MemoFonts:
    """Fonts of one memo: regular and bold names, and whether they cover Chinese."""

    regular: str
    bold: str
    cjk: bool
    embedded: bool


@cache
def _ttf(path: str, index: int) -> str | None:
    name = f"CLR-{Path(path).stem}-{index}"
    try:
        pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
    except (TTFError, OSError, ValueError):
        return None
    return name


@cache
def _cid() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont(_CID_FONT))
    return _CID_FONT


def memo_fonts(need_cjk: bool) -> MemoFonts:
    """Pick the memo's fonts: an embedded CJK TrueType font if one exists, else built-ins."""
    candidates = list(CJK_FONT_CANDIDATES)
    env = os.environ.get(FONT_ENV, "").strip()
    if env:
        candidates.insert(0, (env, 0))
    for path, index in candidates:
        if Path(path).is_file():
            name = _ttf(path, index)
            if name is not None:
                return MemoFonts(name, name, True, True)
    if need_cjk:
        name = _cid()
        return MemoFonts(name, name, True, False)
    return MemoFonts("Helvetica", "Helvetica-Bold", False, False)


def _clean(text: str, fonts: MemoFonts) -> str:
    for sym, rep in _SYMBOLS.items():
        text = text.replace(sym, rep)
    if not fonts.cjk:
        text = text.replace("≥", ">=").replace("≤", "<=").replace("²", "2")
    if not fonts.embedded:
        for sym, rep in _CID_PUNCTUATION.items():
            text = text.replace(sym, rep)
    return text.strip()


class ChartFlowable(Flowable):  # type: ignore[misc]
    """A :class:`service.charts.Chart` scaled to a width, drawn with PDF vector graphics."""

    def __init__(self, chart: charts.Chart, width: float, fonts: MemoFonts) -> None:
        super().__init__()
        self.chart = chart
        self.scale = width / chart.width
        self.width = width
        self.height = chart.height * self.scale
        self.fonts = fonts

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        """Fixed size."""
        return self.width, self.height

    def draw(self) -> None:
        """Draw every shape (chart y runs down, PDF y runs up)."""
        draw_chart(self.canv, self.chart, 0.0, 0.0, self.scale, self.fonts)


def draw_chart(
    canv: Canvas, chart: charts.Chart, x0: float, y0: float, scale: float, fonts: MemoFonts
) -> None:
    """Draw ``chart`` with its bottom-left corner at (``x0``, ``y0``) [pt], scaled."""
    h = chart.height

    def px(x: float) -> float:
        return x0 + x * scale

    def py(y: float) -> float:
        return y0 + (h - y) * scale

    for s in chart.shapes:
        canv.saveState()
        if isinstance(s, charts.Line):
            canv.setStrokeColor(colors.HexColor(s.color))
            canv.setLineWidth(s.width * scale)
            canv.setDash([d * scale for d in s.dash] if s.dash else [])
            path = canv.beginPath()
            (x, y), *rest = s.points
            path.moveTo(px(x), py(y))
            for x, y in rest:
                path.lineTo(px(x), py(y))
            canv.drawPath(path, stroke=1, fill=0)
        elif isinstance(s, charts.Polygon):
            canv.setFillColor(colors.HexColor(s.fill), alpha=s.opacity)
            path = canv.beginPath()
            (x, y), *rest = s.points
            path.moveTo(px(x), py(y))
            for x, y in rest:
                path.lineTo(px(x), py(y))
            path.close()
            canv.drawPath(path, stroke=0, fill=1)
        elif isinstance(s, charts.Rect):
            canv.setFillColor(colors.HexColor(s.fill), alpha=s.opacity)
            if s.stroke:
                canv.setStrokeColor(colors.HexColor(s.stroke))
                canv.setLineWidth(0.6 * scale)
            canv.rect(
                px(s.x),
                py(s.y + s.h),
                s.w * scale,
                s.h * scale,
                stroke=1 if s.stroke else 0,
                fill=1,
            )
        elif isinstance(s, charts.Circle):
            canv.setFillColor(colors.HexColor(s.fill))
            canv.circle(px(s.cx), py(s.cy), s.r * scale, stroke=0, fill=1)
        else:
            text = _clean(s.text, fonts)
            if text:
                canv.setFillColor(colors.HexColor(s.color))
                canv.setFont(fonts.bold if s.bold else fonts.regular, s.size * scale)
                x, y = px(s.x), py(s.y)
                if s.anchor == "middle":
                    canv.drawCentredString(x, y, text)
                elif s.anchor == "end":
                    canv.drawRightString(x, y, text)
                else:
                    canv.drawString(x, y, text)
        canv.restoreState()


def _needs_cjk(view: Mapping[str, Any], lang: str) -> bool:
    if lang == "zh":
        return True
    text = str(view.get("site_name", "")) + "".join(
        str(r.get("text", "")) for r in view.get("reasons", [])
    )
    return any(ord(ch) > 0x2E80 for ch in text)


def render_pdf(
    view: Mapping[str, Any],
    *,
    lang: str,
    labels: Mapping[str, str],
    fmt: Callable[[float | None, int], str],
) -> bytes:
    """Render the credit memo of one stored assessment as PDF bytes.

    Parameters
    ----------
    view : mapping
        The result view of :func:`service.web.result_view` (decision, reasons, rules, charts,
        figures and provenance, already translated and formatted for the page's locale).
    lang : {"zh", "en"}
        Language of the memo (picks the fonts).
    labels : mapping
        Translated headings (:func:`service.web.memo_labels`).
    fmt : callable
        ``fmt(value, digits)`` formats a number for the locale.

    Returns
    -------
    bytes
        A PDF document (A4 portrait).
    """
    fonts = memo_fonts(_needs_cjk(view, lang))
    base = ParagraphStyle("base", fontName=fonts.regular, fontSize=9.5, leading=13.5)
    if fonts.cjk:
        base.wordWrap = "CJK"
    h1 = ParagraphStyle(
        "h1", parent=base, fontName=fonts.bold, fontSize=17, leading=22, spaceAfter=4
    )
    h2 = ParagraphStyle(
        "h2", parent=base, fontName=fonts.bold, fontSize=12, leading=16, spaceBefore=9, spaceAfter=4
    )
    small = ParagraphStyle(
        "small", parent=base, fontSize=8, leading=10.5, textColor=colors.HexColor("#444444")
    )
    cell = ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11)

    def p(text: str, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(escape(_clean(str(text), fonts)), style)

    decision_colour = {"approve": "#1a7f37", "refer": "#9a6700", "decline": "#b42318"}.get(
        str(view.get("decision")), "#444444"
    )
    L = labels
    story: list[Flowable] = []
    prov = view.get("provenance") or {}
    story.append(p(L["title"], h1))
    story.append(
        p(f"{view.get('site_name') or '–'} · {L['assessment_id']} {view.get('id')}", small)
    )
    story.append(
        p(f"{L['created']}: {view.get('created_text') or prov.get('created_at', '')}", small)
    )
    if prov.get("synthetic"):
        story.append(p(L["synthetic"], small))
    story.append(Spacer(1, 4 * mm))

    badge = Table(
        [
            [
                p(
                    f"{L['decision']}: {view.get('decision_text')}",
                    ParagraphStyle(
                        "b", parent=h2, textColor=colors.white, spaceBefore=0, spaceAfter=0
                    ),
                )
            ]
        ],
        colWidths=[180 * mm],
    )
    badge.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(decision_colour)),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    story.append(badge)
    story.append(p(L["reasons"], h2))
    reasons = view.get("reasons") or []
    if reasons:
        for r in reasons:
            story.append(p(f"• {r['text']} ({r['code']})"))
    else:
        story.append(p(L["no_reasons"]))

    story.append(p(f"{L['rules']}: {view.get('policy_name', '')}", h2))
    rows: list[list[Any]] = [
        [p(L["rule"], cell), p(L["value"], cell), p(L["threshold"], cell), p(L["result"], cell)]
    ]
    styles: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#BBBBBB")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEF2F6")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    for i, r in enumerate(view.get("rules") or [], start=1):
        mark = "OK" if r["passed"] else "!!"
        rows.append(
            [
                p(r["label"], cell),
                p(r["value"], cell),
                p(r["threshold"], cell),
                p(f"{mark} {r['outcome_text']}", cell),
            ]
        )
        if not r["passed"]:
            styles.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#FFF1EE")))
    table = Table(rows, colWidths=[72 * mm, 38 * mm, 38 * mm, 32 * mm], repeatRows=1)
    table.setStyle(TableStyle(styles))
    story.append(table)

    e = view.get("energy") or {}
    rep = view.get("repayment") or {}
    cur = str(view.get("currency", ""))
    figures = [
        (L["p50"], f"{fmt(e.get('p50_mwh'), 0)} MWh"),
        (L["p90"], f"{fmt(e.get('p90_10y_mwh'), 0)} MWh"),
        (L["dscr_p50"], f"{fmt(rep.get('dscr_p50_min'), 2)}x"),
        (L["dscr_p90"], f"{fmt(rep.get('dscr_p90_min'), 2)}x"),
        (L["llcr"], f"{fmt(rep.get('llcr'), 2)}x"),
        (
            L["pd"],
            f"{fmt((rep.get('pd_annual') or 0) * 100, 2)} %"
            if rep.get("pd_annual") is not None
            else "–",
        ),
        (L["grade"], str(view.get("grade_text", "–"))),
        (L["el"], f"{fmt(rep.get('expected_loss'), 0)} {cur}"),
        *[(str(label), str(text)) for label, text in view.get("extra_figures") or []],
    ]
    story.append(p(L["figures"], h2))
    story.append(_two_col(figures, p, cell))
    notes = view.get("climate_notes") or []
    if notes:
        story.append(p(L.get("climate_notes", "Climate notes"), h2))
        for note in notes:
            story.append(p(str(note)))

    req = view.get("req") or {}
    fin = req.get("finance") or {}
    proj = (view.get("a") or {}).get("project") or {}
    record = view.get("record")
    inputs = [
        (
            L["site"],
            f"{view.get('site_name') or '–'} ({getattr(record, 'site_lat', 0):.4f}°N, "
            f"{getattr(record, 'site_lon', 0):.4f}°E)",
        ),
        (L["technology"], L["wind"] if view.get("technology") == "wind" else L["solar"]),
        (L["capacity"], f"{fmt(proj.get('capacity_mw'), 1)} MW"),
    ]
    if view.get("technology") == "wind":
        inputs.append((L["turbine"], str(proj.get("turbine_type", "–"))))
        inputs.append((L["hub_height"], f"{fmt(proj.get('hub_height_m'), 0)} m"))
    inputs += [
        (L["amount"], f"{fmt(rep.get('loan_amount'), 0)} {cur}"),
        (L["tenor"], f"{rep.get('tenor_years', '–')} {L['years']}"),
        (L["rate"], f"{fmt(rep.get('interest_rate_pct'), 2)} %"),
        (L["repayment"], str(view.get("repayment_text") or rep.get("repayment", "–"))),
        (L["tariff"], f"{fmt(fin.get('tariff_per_mwh'), 2)} {cur}/MWh"),
        (L["opex"], f"{fmt(fin.get('opex_per_year'), 0)} {cur}"),
    ]
    story.append(p(f"{L['project']} · {L['loan']}", h2))
    story.append(_two_col(inputs, p, cell))

    width = 180 * mm
    for c in view.get("charts") or []:
        chart = c.get("chart")
        block: list[Flowable] = []
        if chart is not None:
            block.append(ChartFlowable(chart, width, fonts))
        if c.get("note"):
            block.append(
                p(f"{c.get('title', '')}: {c['note']}" if chart is None else c["note"], small)
            )
        block.append(Spacer(1, 3 * mm))
        story.append(KeepTogether(block))

    story.append(p(L["provenance"], h2))
    models = "; ".join(f"{k}: {v}" for k, v in (prov.get("model_versions") or {}).items())
    story.append(
        _two_col(
            [
                (L["assessment_id"], str(view.get("id"))),
                (L["created"], str(view.get("created_text") or prov.get("created_at", ""))),
                (
                    L["dataset"],
                    f"{prov.get('dataset_id', '')} "
                    f"sha256 {str(prov.get('dataset_sha256', ''))[:16]}…",
                ),
                (L["policy"], f"{prov.get('policy_id', '')} v{prov.get('policy_version', '')}"),
                (L["code"], str(prov.get("code_version", ""))),
                (L["seed"], str(prov.get("seed", ""))),
                (L["models"], models),
            ],
            p,
            cell,
        )
    )

    def footer(canv: Canvas, doc: Any) -> None:
        canv.saveState()
        canv.setFont(fonts.regular, 7.5)
        canv.setFillColor(colors.HexColor("#666666"))
        canv.drawString(15 * mm, 10 * mm, _clean(f"{L['generated_by']} · {view.get('id')}", fonts))
        canv.drawRightString(195 * mm, 10 * mm, L["page"].replace("{n}", str(doc.page)))
        canv.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=16 * mm,
        title=_clean(f"{L['title']} {view.get('site_name') or ''} {view.get('id')}", fonts),
        author="Climate Loan Risk",
        lang="zh-CN" if lang == "zh" else "en",
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _two_col(
    items: list[tuple[str, str]],
    p: Callable[[str, ParagraphStyle], Paragraph],
    style: ParagraphStyle,
) -> Table:
    rows = []
    for k in range(0, len(items), 2):
        pair = items[k : k + 2]
        row: list[Any] = []
        for label, value in pair:
            row += [p(label, style), p(value, style)]
        while len(row) < 4:
            row.append("")
        rows.append(row)
    t = Table(rows, colWidths=[45 * mm, 45 * mm, 45 * mm, 45 * mm])
    t.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#DDDDDD")),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F6F8FA")),
                ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#F6F8FA")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return t
