"""The evidence report as PDF (reportlab): A4 landscape, tables that wrap, "page x of y".

Chinese is set in STSong-Light, one of the CID fonts every PDF reader must supply, so the PDF needs
no font files on the machine that makes it; Latin text is set in Helvetica. The output is the same
bytes for the same report (reportlab's invariant mode), so a package can be rebuilt and compared.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_LEFT  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # type: ignore[import-untyped]

from mailvault.evidence.report import Report, Section

CJK_FONT = "STSong-Light"  # Adobe-GB1: GB 18030 Chinese and the Latin, Greek, Cyrillic it includes
LATIN_FONT = "Helvetica"
MONO_FONT = "Courier"

_PAGE = landscape(A4)
_MARGIN = 14 * mm
_WIDTH = _PAGE[0] - 2 * _MARGIN
_INK = colors.HexColor("#1d2330")
_MUTED = colors.HexColor("#5b6475")
_LINE = colors.HexColor("#d9dee7")
_HEAD = colors.HexColor("#eef1f6")
_HASH = re.compile(r"[0-9a-f]{64}")
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@cache
def _register_fonts() -> None:
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _latin(char: str) -> bool:
    """Whether Helvetica (WinAnsi encoding) has a glyph for `char`."""
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _printable(text: str) -> str:
    text = _CONTROL.sub("", text)
    # Adobe-GB1 covers the Basic Multilingual Plane only: an emoji would vanish, so show a box.
    return "".join(c if ord(c) <= 0xFFFF else "□" for c in text)


def markup(text: str) -> str:
    """`text` as reportlab paragraph markup: escaped, each run set in a font that has its glyphs."""
    text = _printable(text)
    out: list[str] = []
    run: list[str] = []
    run_latin = True
    for char in text:
        latin = char == "\n" or _latin(char)
        if run and latin != run_latin:
            out.append(_run("".join(run), run_latin))
            run = []
        run.append(char)
        run_latin = latin
    if run:
        out.append(_run("".join(run), run_latin))
    return "".join(out)


def _run(text: str, latin: bool) -> str:
    escaped = escape(text).replace("\n", "<br/>")
    return escaped if latin else f'<font name="{CJK_FONT}">{escaped}</font>'


@cache
def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle(
        "cell", fontName=LATIN_FONT, fontSize=8, leading=10, textColor=_INK, alignment=TA_LEFT
    )
    return {
        "cell": base,
        "cjk": ParagraphStyle("cjk", parent=base, wordWrap="CJK"),
        "hash": ParagraphStyle(
            "hash", parent=base, fontName=MONO_FONT, fontSize=7, leading=8.5, wordWrap="CJK"
        ),
        "th": ParagraphStyle("th", parent=base, fontName="Helvetica-Bold", textColor=_MUTED),
        "title": ParagraphStyle("title", parent=base, fontName="Helvetica-Bold", fontSize=16, leading=20),
        "kind": ParagraphStyle("kind", parent=base, fontSize=9, textColor=_MUTED),
        "h2": ParagraphStyle(
            "h2", parent=base, fontName="Helvetica-Bold", fontSize=11, leading=14, spaceBefore=8
        ),
        "text": ParagraphStyle("text", parent=base, fontSize=9, leading=12, wordWrap="CJK"),
        "note": ParagraphStyle("note", parent=base, textColor=_MUTED, wordWrap="CJK"),
        "code": ParagraphStyle("code", parent=base, fontName=MONO_FONT, fontSize=9, leading=12),
    }


def _cell(text: str, style: str = "cell") -> Paragraph:
    styles = _styles()
    if style == "cell" and _HASH.fullmatch(text):
        # Two aligned halves: easier to read aloud and compare than wherever the column wraps.
        return Paragraph(f"{text[:32]}<br/>{text[32:]}", styles["hash"])
    elif style == "cell" and _CJK.search(text):
        style = "cjk"  # break between any two Chinese characters
    return Paragraph(markup(text), styles[style])


def render_pdf(report: Report) -> bytes:
    """The report as PDF bytes."""
    _register_fonts()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=_PAGE,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN + 4 * mm,
        title=report.title,
        author=report.generated_by,
        subject=report.labels["report"],
        creator="mailvault",
        invariant=1,  # no creation time or random document id: the same report gives the same bytes
    )
    words = report.labels
    story: list[Flowable] = [
        Paragraph(markup(f"mailvault · {words['report']}"), _styles()["kind"]),
        Paragraph(markup(report.title), _styles()["title"]),
        Spacer(1, 4 * mm),
        Paragraph(markup(words["summary"]), _styles()["h2"]),
        _summary(report),
    ]
    for section in report.sections:
        story += [Paragraph(markup(section.heading), _styles()["h2"]), _table(section)]
        if section.note:
            story.append(Paragraph(markup(section.note), _styles()["note"]))
    story += [
        Paragraph(markup(words["verify_heading"]), _styles()["h2"]),
        Paragraph(markup(words["verify_text"]), _styles()["text"]),
        Spacer(1, 2 * mm),
        Paragraph(markup(report.verify_command), _styles()["code"]),
        Spacer(1, 2 * mm),
        Paragraph(markup(words["verify_head"]), _styles()["note"]),
    ]
    footer = f"mailvault · {report.title}"
    page_label = words["page"]

    def canvas(*args: Any, **kwargs: Any) -> _NumberedCanvas:
        return _NumberedCanvas(footer, page_label, *args, **kwargs)

    doc.build(story, canvasmaker=canvas)
    return buffer.getvalue()


def _summary(report: Report) -> Table:
    words = report.labels
    pairs: list[tuple[str, str]] = []
    if report.employee:
        pairs.append((words["employee"], report.employee))
    pairs += [
        (words["generated_by"], report.generated_by),
        (words["generated_at"], report.when(report.generated_at, seconds=True)),
        *report.summary,
    ]
    data = [[_cell(name, "th"), _cell(value)] for name, value in pairs]
    table = Table(data, colWidths=[0.25 * _WIDTH, 0.75 * _WIDTH], hAlign="LEFT")
    table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.3, _LINE)])
    )
    return table


def _table(section: Section) -> Table:
    data: list[list[Paragraph]] = [[_cell(column, "th") for column in section.columns]]
    data += [[_cell(cell) for cell in row] for row in section.rows]
    if not section.rows:
        data.append([_cell("—"), *(_cell("") for _ in section.columns[1:])])
    table = Table(data, colWidths=_widths(section), repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, 0), _HEAD),
                ("LINEBELOW", (0, 0), (-1, -1), 0.3, _LINE),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _widths(section: Section) -> list[float]:
    """Column widths filling the page: as given, else by the longest text (Chinese counts double)."""
    weights: Sequence[float] = section.widths
    if len(weights) != len(section.columns):
        weights = [
            min(max((_display_length(row[n]) for row in [section.columns, *section.rows]), default=4), 40) + 4
            for n in range(len(section.columns))
        ]
    total = sum(weights)
    return [_WIDTH * weight / total for weight in weights]


def _display_length(text: str) -> int:
    return len(text) + len(_CJK.findall(text))


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab has no type hints
    """Holds each page back until the end, to print "page x of y" on it."""

    def __init__(self, footer: str, page_label: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._page_label = page_label
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        for number, state in enumerate(self._pages, 1):
            self.__dict__.update(state)
            self._draw_footer(number, len(self._pages))
            super().showPage()
        super().save()

    def _draw_footer(self, number: int, pages: int) -> None:
        self.setFillColor(_MUTED)
        y = _MARGIN - 2 * mm
        label = self._page_label.format(page=number, pages=pages)
        self._text(_MARGIN, y, self._footer[:120], right=False)
        self._text(_PAGE[0] - _MARGIN, y, label, right=True)

    def _text(self, x: float, y: float, text: str, *, right: bool) -> None:
        text = _printable(text.replace("\n", " "))
        font = LATIN_FONT if all(_latin(c) for c in text) else CJK_FONT
        self.setFont(font, 8)
        if right:
            self.drawRightString(x, y, text)
        else:
            self.drawString(x, y, text)
