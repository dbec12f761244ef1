"""The credit memo as a PDF: the result page's content and charts on A4 pages.

Drawn with ReportLab (pure Python, no browser, no system libraries): text and tables with its
``platypus`` layout engine, the charts from the very :class:`service.charts.Chart` objects the
web page renders as SVG, so the PDF and the page cannot disagree.

Chinese text needs a font with CJK glyphs. The memo embeds (subsetted, as TrueType
``/FontFile2``) the first TrueType CJK font it finds: the file named by
``CLIMATE_LOAN_PDF_FONT``, then :data:`CJK_FONT_CANDIDATES` (Debian packages
``fonts-wqy-microhei``, ``fonts-wqy-zenhei``, ``fonts-droid-fallback``, ``fonts-arphic-uming``),
then whatever ``fc-list ':lang=zh-cn:fontformat=TrueType'`` reports. The same font sets the
English memo too, so every memo has its fonts embedded. Noto CJK (``fonts-noto-cjk``) is
installed beside WenQuanYi but cannot be used: Debian ships it with PostScript (CFF) outlines,
which ReportLab does not embed. Without any TrueType CJK font the memo falls back, with a
warning in the log, to Adobe's ``STSong-Light`` (Chinese) or Helvetica (English), standard
fonts that PDF readers supply themselves (nothing is embedded): Acrobat and Chrome show them
on any machine with Chinese fonts; poppler needs its ``poppler-data`` package.

Every page of a memo on synthetic data carries a diagonal watermark; the decision and each
rule's result are written in words; the memo ends with a sign-off block (officer, date,
assessment id) and the glossary.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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

from service import charts, formatting

_log = logging.getLogger("climate_loan.memo")

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


@cache
def system_cjk_fonts() -> tuple[tuple[str, int], ...]:
    """TrueType fonts with Chinese glyphs that fontconfig knows: ``(path, index)``, sorted.

    Empty when ``fc-list`` is missing or fails. Cached for the life of the process.
    """
    exe = shutil.which("fc-list")
    if exe is None:
        return ()
    try:
        out = subprocess.run(
            [exe, ":lang=zh-cn:fontformat=TrueType", "file", "index"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    found: set[tuple[str, int]] = set()
    for line in out.splitlines():
        path, _sep, rest = line.partition(":")
        index = rest.strip().removeprefix(":index=").split(":")[0]
        if path.strip():
            found.add((path.strip(), int(index) if index.isdigit() else 0))
    return tuple(sorted(found))


def memo_fonts(need_cjk: bool) -> MemoFonts:
    """Pick the memo's fonts: an embedded CJK TrueType font if one exists, else built-ins.

    The built-in fallback is logged as a warning: its fonts are not embedded.
    """
    candidates = list(CJK_FONT_CANDIDATES)
    env = os.environ.get(FONT_ENV, "").strip()
    if env:
        candidates.insert(0, (env, 0))
    for path, index in [*candidates, *system_cjk_fonts()]:
        if Path(path).is_file():
            name = _ttf(path, index)
            if name is not None:
                return MemoFonts(name, name, True, True)
    _log.warning(
        "no TrueType font with Chinese glyphs found (install fonts-wqy-microhei or set %s to "
        "a .ttf/.ttc file); the PDF memo uses %s, which is not embedded",
        FONT_ENV,
        "STSong-Light" if need_cjk else "Helvetica",
    )
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
        if isinstance(s, charts.Line | charts.Polygon):
            _draw_path(canv, s, px, py, scale)
        elif isinstance(s, charts.Rect):
            _draw_rect(canv, s, px, py, scale)
        elif isinstance(s, charts.Circle):
            canv.setFillColor(colors.HexColor(s.fill))
            canv.circle(px(s.cx), py(s.cy), s.r * scale, stroke=0, fill=1)
        else:
            _draw_text(canv, s, px(s.x), py(s.y), scale, fonts)
        canv.restoreState()


_Coord = Callable[[float], float]


def _draw_path(
    canv: Canvas, s: charts.Line | charts.Polygon, px: _Coord, py: _Coord, scale: float
) -> None:
    """A polyline (stroked) or a polygon (closed and filled)."""
    if isinstance(s, charts.Line):
        canv.setStrokeColor(colors.HexColor(s.color))
        canv.setLineWidth(s.width * scale)
        canv.setDash([d * scale for d in s.dash] if s.dash else [])
    else:
        canv.setFillColor(colors.HexColor(s.fill), alpha=s.opacity)
    path = canv.beginPath()
    (x, y), *rest = s.points
    path.moveTo(px(x), py(y))
    for x, y in rest:
        path.lineTo(px(x), py(y))
    if isinstance(s, charts.Line):
        canv.drawPath(path, stroke=1, fill=0)
    else:
        path.close()
        canv.drawPath(path, stroke=0, fill=1)


def _draw_rect(canv: Canvas, s: charts.Rect, px: _Coord, py: _Coord, scale: float) -> None:
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


def _draw_text(
    canv: Canvas, s: charts.Text, x: float, y: float, scale: float, fonts: MemoFonts
) -> None:
    text = _clean(s.text, fonts)
    if not text:
        return
    canv.setFillColor(colors.HexColor(s.color))
    canv.setFont(fonts.bold if s.bold else fonts.regular, s.size * scale)
    if s.anchor == "middle":
        canv.drawCentredString(x, y, text)
    elif s.anchor == "end":
        canv.drawRightString(x, y, text)
    else:
        canv.drawString(x, y, text)


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
    glossary: Sequence[tuple[str, str, str, str]] = (),
    now: datetime | None = None,
) -> bytes:
    """Render the credit memo of one stored assessment as PDF bytes.

    Parameters
    ----------
    view : mapping
        The result view of :func:`service.web.results.result_view` (decision, reasons, rules,
        charts, figures and provenance, already translated and formatted for the page's locale).
    lang : {"zh", "en"}
        Language of the memo (picks the fonts).
    labels : mapping
        Translated headings (:func:`service.web.memo_page.memo_labels`).
    fmt : callable
        ``fmt(value, digits)`` formats a number for the locale.
    glossary : sequence of (id, abbreviation, name, text)
        Glossary entries printed at the end (none: no glossary).
    now : datetime, optional
        Date of the sign-off block (default: now, UTC).

    Returns
    -------
    bytes
        A PDF document (A4 portrait).
    """
    memo = _Memo(view, lang, labels, fmt, memo_fonts(_needs_cjk(view, lang)))
    story = [
        *memo.header(),
        *memo.decision(),
        *memo.rules(),
        *memo.figures(),
        *memo.inputs(),
        *memo.charts(),
        *memo.provenance(),
        *memo.signoff(now or datetime.now(UTC)),
        *memo.glossary(glossary),
    ]
    return memo.build(story)


@dataclass(frozen=True)
class _Styles:
    """Paragraph styles of the memo, in its fonts."""

    base: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle

    @classmethod
    def of(cls, fonts: MemoFonts) -> _Styles:
        base = ParagraphStyle("base", fontName=fonts.regular, fontSize=9.5, leading=13.5)
        if fonts.cjk:
            base.wordWrap = "CJK"
        return cls(
            base=base,
            h1=ParagraphStyle(
                "h1", parent=base, fontName=fonts.bold, fontSize=17, leading=22, spaceAfter=4
            ),
            h2=ParagraphStyle(
                "h2",
                parent=base,
                fontName=fonts.bold,
                fontSize=12,
                leading=16,
                spaceBefore=9,
                spaceAfter=4,
            ),
            small=ParagraphStyle(
                "small",
                parent=base,
                fontSize=8,
                leading=10.5,
                textColor=colors.HexColor("#444444"),
            ),
            cell=ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11),
        )


#: Colour of the decision badge.
_DECISION_COLOURS = {"approve": "#1a7f37", "refer": "#9a6700", "decline": "#b42318"}


class _Memo:
    """The sections of one memo, each a list of flowables, and the document they make."""

    def __init__(
        self,
        view: Mapping[str, Any],
        lang: str,
        labels: Mapping[str, str],
        fmt: Callable[[float | None, int], str],
        fonts: MemoFonts,
    ) -> None:
        self.view = view
        self.lang = lang
        self.L = labels
        self.fmt = fmt
        self.fonts = fonts
        self.styles = _Styles.of(fonts)
        self.prov: Mapping[str, Any] = view.get("provenance") or {}
        self.synthetic = bool(
            view["synthetic"] if "synthetic" in view else self.prov.get("synthetic")
        )
        self.currency = str(view.get("currency", ""))
        self.repayment: Mapping[str, Any] = view.get("repayment") or {}

    def p(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        """A paragraph of ``text`` (escaped, symbols replaced), in the base style by default."""
        return Paragraph(escape(_clean(str(text), self.fonts)), style or self.styles.base)

    def header(self) -> list[Flowable]:
        """Title, site and id, date, and the synthetic-data warning."""
        L, v, st = self.L, self.view, self.styles
        created = v.get("created_text") or self.prov.get("created_at", "")
        out: list[Flowable] = [
            self.p(L["title"], st.h1),
            self.p(f"{v.get('site_name') or '–'} · {L['assessment_id']} {v.get('id')}", st.small),
            self.p(f"{L['created']}: {created}", st.small),
        ]
        if self.synthetic:
            warning = ParagraphStyle(
                "syn",
                parent=st.base,
                textColor=colors.HexColor("#b42318"),
                fontName=self.fonts.bold,
            )
            out.append(self.p(f"{L['synthetic']}: {L.get('synthetic_warning', '')}", warning))
        out.append(Spacer(1, 4 * mm))
        return out

    def decision(self) -> list[Flowable]:
        """The decision badge and the reasons for it."""
        L, st = self.L, self.styles
        on_badge = ParagraphStyle(
            "b", parent=st.h2, textColor=colors.white, spaceBefore=0, spaceAfter=0
        )
        badge = Table(
            [[self.p(f"{L['decision']}: {self.view.get('decision_text')}", on_badge)]],
            colWidths=[180 * mm],
        )
        colour = _DECISION_COLOURS.get(str(self.view.get("decision")), "#444444")
        badge.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(colour)),
                    ("LEFTPADDING", (0, 0), (-1, -1), 8),
                    ("TOPPADDING", (0, 0), (-1, -1), 5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ]
            )
        )
        reasons = self.view.get("reasons") or []
        out: list[Flowable] = [badge, self.p(L["reasons"], st.h2)]
        out += [self.p(f"• {r['text']} ({r['code']})") for r in reasons]
        if not reasons:
            out.append(self.p(L["no_reasons"]))
        return out

    def rules(self) -> list[Flowable]:
        """The policy's rules: value, threshold and result; failed rows shaded."""
        L, cell = self.L, self.styles.cell
        rows: list[list[Any]] = [
            [self.p(L[k], cell) for k in ("rule", "value", "threshold", "result")]
        ]
        styles: list[tuple[Any, ...]] = [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#BBBBBB")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEF2F6")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        for i, r in enumerate(self.view.get("rules") or [], start=1):
            texts = (r["label"], r["value"], r["threshold"], str(r["outcome_text"]))
            rows.append([self.p(t, cell) for t in texts])
            if not r["passed"]:
                styles.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#FFF1EE")))
        table = Table(rows, colWidths=[72 * mm, 38 * mm, 38 * mm, 32 * mm], repeatRows=1)
        table.setStyle(TableStyle(styles))
        return [self.p(f"{L['rules']}: {self.view.get('policy_name', '')}", self.styles.h2), table]

    def figures(self) -> list[Flowable]:
        """Energy, repayment and scorecard figures, then the climate notes."""
        L, v, st = self.L, self.view, self.styles
        sc = v.get("scorecard") or {}
        out: list[Flowable] = [
            self.p(L["figures"], st.h2),
            _two_col(self._figure_rows(sc), self.p, st.cell),
        ]
        if sc.get("policy_text"):
            out.append(self.p(str(sc["policy_text"]), st.small))
        notes = v.get("climate_notes") or []
        if notes:
            out.append(self.p(L.get("climate_notes", "Climate notes"), st.h2))
            out += [self.p(str(note)) for note in notes]
        return out

    def _figure_rows(self, sc: Mapping[str, Any]) -> list[tuple[str, str]]:
        L, v, e, rep = self.L, self.view, self.view.get("energy") or {}, self.repayment
        loc = "zh_CN" if self.lang == "zh" else "en"
        figures = [
            (L["p50"], formatting.energy(e.get("p50_mwh"), loc)),
            (L["p90"], formatting.energy(e.get("p90_10y_mwh"), loc)),
            (L.get("p90_1y", "P90 (1 year)"), formatting.energy(e.get("p90_mwh"), loc)),
            (L.get("p99", "P99 (1 year)"), formatting.energy(e.get("p99_mwh"), loc)),
            (L["dscr_p50"], formatting.ratio(rep.get("dscr_p50_min"), 2, loc)),
            (L["dscr_p90"], formatting.ratio(rep.get("dscr_p90_min"), 2, loc)),
            (L["llcr"], formatting.ratio(rep.get("llcr"), 2, loc)),
            (L["pd"], formatting.probability(rep.get("pd_annual"), loc)),
            (L["grade"], str(v.get("grade_text", "–"))),
            (L["el"], f"{self.fmt(rep.get('expected_loss'), 0)} {self.currency}"),
            *[(str(label), str(text)) for label, text in v.get("extra_figures") or []],
        ]
        wind = (v.get("climate") or {}).get("wind")
        if isinstance(wind, Mapping) and wind.get("iav") is not None:
            figures.insert(4, (L.get("iav", "IAV"), formatting.iav(wind.get("iav"), loc)))
        if sc.get("present"):
            if sc.get("pd") is not None:
                shown = formatting.probability(sc["pd"], loc)
            else:
                missing = "; ".join(sc.get("missing") or [])
                shown = f"{L.get('not_computed', '')} {missing}".strip()
            figures.append((L.get("pd_scorecard", "Scorecard PD"), shown))
        return figures

    def inputs(self) -> list[Flowable]:
        """The project and loan as entered."""
        L, v, fmt, rep, cur = self.L, self.view, self.fmt, self.repayment, self.currency
        fin = (v.get("req") or {}).get("finance") or {}
        proj = (v.get("a") or {}).get("project") or {}
        record = v.get("record")
        items = [
            (
                L["site"],
                f"{v.get('site_name') or '–'} ({getattr(record, 'site_lat', 0):.4f}°N, "
                f"{getattr(record, 'site_lon', 0):.4f}°E)",
            ),
            (L["technology"], L["wind"] if v.get("technology") == "wind" else L["solar"]),
            (L["capacity"], f"{fmt(proj.get('capacity_mw'), 1)} MW"),
        ]
        if v.get("technology") == "wind":
            items.append((L["turbine"], str(proj.get("turbine_type", "–"))))
            items.append((L["hub_height"], f"{fmt(proj.get('hub_height_m'), 0)} m"))
        items += [
            (L["amount"], f"{fmt(rep.get('loan_amount'), 0)} {cur}"),
            (L["tenor"], f"{rep.get('tenor_years', '–')} {L['years']}"),
            (L["rate"], f"{fmt(rep.get('interest_rate_pct'), 2)} %"),
            (L["repayment"], str(v.get("repayment_text") or rep.get("repayment", "–"))),
            (L["tariff"], f"{fmt(fin.get('tariff_per_mwh'), 2)} {cur}/MWh"),
            (L["opex"], f"{fmt(fin.get('opex_per_year'), 0)} {cur}"),
        ]
        return [
            self.p(f"{L['project']} · {L['loan']}", self.styles.h2),
            _two_col(items, self.p, self.styles.cell),
        ]

    def charts(self) -> list[Flowable]:
        """Each chart with its note, kept on one page."""
        out: list[Flowable] = []
        for c in self.view.get("charts") or []:
            chart = c.get("chart")
            block: list[Flowable] = []
            if chart is not None:
                block.append(ChartFlowable(chart, 180 * mm, self.fonts))
            if c.get("note"):
                note = f"{c.get('title', '')}: {c['note']}" if chart is None else c["note"]
                block.append(self.p(note, self.styles.small))
            block.append(Spacer(1, 3 * mm))
            out.append(KeepTogether(block))
        return out

    def provenance(self) -> list[Flowable]:
        """Id, date, dataset, policy, code, seed and model versions."""
        L, v, prov = self.L, self.view, self.prov
        models = "; ".join(f"{k}: {m}" for k, m in (prov.get("model_versions") or {}).items())
        sha = str(prov.get("dataset_sha256", ""))[:16]
        items = [
            (L["assessment_id"], str(v.get("id"))),
            (L["created"], str(v.get("created_text") or prov.get("created_at", ""))),
            (L["dataset"], f"{prov.get('dataset_id', '')} sha256 {sha}…"),
            (L["policy"], f"{prov.get('policy_id', '')} v{prov.get('policy_version', '')}"),
            (L["code"], str(prov.get("code_version", ""))),
            (L["seed"], str(prov.get("seed", ""))),
            (L["models"], models),
        ]
        return [self.p(L["provenance"], self.styles.h2), _two_col(items, self.p, self.styles.cell)]

    def signoff(self, signed: datetime) -> list[Flowable]:
        """Officer, date, id, decision and a space to sign, kept together."""
        L, v, cell = self.L, self.view, self.styles.cell
        table = Table(
            [
                [
                    self.p(L.get("officer", "Credit officer"), cell),
                    self.p(str(v.get("officer_name") or "–"), cell),
                ],
                [self.p(L.get("date", "Date"), cell), self.p(signed.date().isoformat(), cell)],
                [self.p(L["assessment_id"], cell), self.p(str(v.get("id")), cell)],
                [self.p(L["decision"], cell), self.p(str(v.get("decision_text")), cell)],
                [self.p(L.get("signature", "Signature"), cell), ""],
            ],
            colWidths=[45 * mm, 135 * mm],
            rowHeights=[None, None, None, None, 14 * mm],
        )
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#BBBBBB")),
                    ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F6F8FA")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return [KeepTogether([self.p(L.get("signoff", "Sign-off"), self.styles.h2), table])]

    def glossary(self, entries: Sequence[tuple[str, str, str, str]]) -> list[Flowable]:
        """The glossary entries (none: no section)."""
        if not entries:
            return []
        out: list[Flowable] = [self.p(self.L.get("glossary", "Glossary"), self.styles.h2)]
        for _id, abbr, name, text in entries:
            head = f"{abbr} — {name}" if abbr else name
            out += [self.p(f"{head}: {text}", self.styles.small), Spacer(1, 1.5 * mm)]
        return out

    def footer(self, canv: Canvas, doc: Any) -> None:
        """Watermark (synthetic data) and the page's footer line."""
        fonts, L = self.fonts, self.L
        if self.synthetic:
            canv.saveState()
            canv.setFillColor(colors.HexColor("#b42318"), alpha=0.13)
            canv.setFont(fonts.bold, 40)
            canv.translate(105 * mm, 148 * mm)
            canv.rotate(35)
            canv.drawCentredString(0, 0, _clean(L.get("watermark", "SYNTHETIC DATA"), fonts))
            canv.restoreState()
        canv.saveState()
        canv.setFont(fonts.regular, 7.5)
        canv.setFillColor(colors.HexColor("#666666"))
        footer = _clean(f"{L['generated_by']} · {self.view.get('id')}", fonts)
        canv.drawString(15 * mm, 10 * mm, footer)
        canv.drawRightString(195 * mm, 10 * mm, L["page"].replace("{n}", str(doc.page)))
        canv.restoreState()

    def build(self, story: list[Flowable]) -> bytes:
        """Lay ``story`` out on A4 pages; return the PDF bytes."""
        fonts, v = self.fonts, self.view
        buf = io.BytesIO()
        doc = SimpleDocTemplate(
            buf,
            pagesize=A4,
            leftMargin=15 * mm,
            rightMargin=15 * mm,
            topMargin=15 * mm,
            bottomMargin=16 * mm,
            title=_clean(f"{self.L['title']} {v.get('site_name') or ''} {v.get('id')}", fonts),
            author="Climate Loan Risk",
            lang="zh-CN" if self.lang == "zh" else "en",
            initialFontName=fonts.regular,  # no stray Helvetica: every font of the memo embedded
            initialFontSize=9.5,
        )
        for flowable in story:  # tables default to Helvetica for empty cells: use the memo's font
            for t in flowable._content if isinstance(flowable, KeepTogether) else [flowable]:
                if isinstance(t, Table):
                    t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), fonts.regular)]))
        doc.build(story, onFirstPage=self.footer, onLaterPages=self.footer)
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
