"""PDF with ReportLab: the title, period, the table in pages (header repeated), subtotals, totals and the
signature block, every text in a CJK TrueType font so Chinese labels print (and extract) as text.

A PDF lays its pages out in memory, so it has a row limit (``pdf_max_rows``): a longer report is a 422
asking for XLSX or CSV."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A3, A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from emms_reports.render.fonts import cjk_font
from emms_reports.table import Cell, display
from emms_reports.table import Table as ReportTable
from emms_runtime import Invalid

CHUNK_ROWS = 400
"""Rows per laid-out table block: ReportLab splits long tables across pages slowly; blocks keep it linear."""


def _style(font: str, size: float, bold: bool = False) -> TableStyle:
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), font, size),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#D9E1F2")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if bold:
        commands.append(("BACKGROUND", (0, 1), (-1, -1), colors.HexColor("#F2F2F2")))
    return TableStyle(commands)


def _tail(table: ReportTable, text: ParagraphStyle, block: Callable[[list[list[str]], bool], Table],
          cells: Callable[[list[Cell]], list[str]]) -> list[Any]:
    """Subtotals, totals, the row count, notes and the signature block."""
    d = table.definition
    story: list[Any] = []
    subtotals = table.subtotals()
    if subtotals:
        story += [Spacer(1, 4 * mm), Paragraph("小计 Subtotals", text), block([cells(s) for s in subtotals], True)]
    if table.has_totals:
        story += [Spacer(1, 2 * mm), block([cells(table.totals())], True)]
    story += [Spacer(1, 3 * mm), Paragraph(f"行数 Rows: {table.count}", text)]
    if d.notes:
        story += [Spacer(1, 2 * mm), Paragraph(d.notes, text)]
    if d.signature:
        line = "　　".join(f"{role}：__________" for role in d.signature)
        story += [Spacer(1, 12 * mm), Paragraph(line, text)]
    return story


async def render_pdf(table: ReportTable, path: Path, font_path: Path | None, max_rows: int) -> None:
    font = cjk_font(font_path)
    d = table.definition
    size = A3 if d.layout.page_size == "A3" else A4
    if d.layout.orientation == "landscape":
        size = landscape(size)
    fs = d.layout.font_size
    title = ParagraphStyle("title", fontName=font, fontSize=fs + 8, leading=fs + 12, alignment=1)
    text = ParagraphStyle("text", fontName=font, fontSize=fs + 1, leading=fs + 4)
    header = [c.label for c in table.columns]
    fmts = [c.format for c in table.columns]
    right = [i for i, c in enumerate(table.columns) if c.format in ("integer", "decimal1", "decimal2", "decimal3",
                                                                      "percent")]
    story: list[Any] = [Paragraph(d.title, title), Spacer(1, 3 * mm), Paragraph(table.period_text(), text),
                        Spacer(1, 3 * mm)]

    def block(rows: list[list[str]], bold: bool) -> Table:
        t = Table([header, *rows], repeatRows=1)
        style = _style(font, fs, bold)
        for i in right:
            style.add("ALIGN", (i, 1), (i, -1), "RIGHT")
        t.setStyle(style)
        return t

    def cells(row: list[Cell]) -> list[str]:
        return [display(v, f) for v, f in zip(row, fmts, strict=True)]

    pending: list[list[str]] = []
    async for row in table.rows():
        if table.count > max_rows:
            raise Invalid(f"a PDF report holds at most {max_rows} rows; this one has more: ask for XLSX or CSV")
        pending.append(cells(row))
        if len(pending) >= CHUNK_ROWS:
            story.append(block(pending, False))
            pending = []
    if pending or table.count == 0:
        story.append(block(pending, False))
    story += _tail(table, text, block, cells)
    doc = SimpleDocTemplate(str(path), pagesize=size, title=d.title, leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm)
    await asyncio.to_thread(doc.build, story)
