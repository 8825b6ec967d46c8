"""XLSX with xlsxwriter in constant-memory mode: each row is written to the sheet's temporary file as it
arrives (memory stays flat however long the report), real number and date formats, the header row frozen,
subtotals and totals after the rows, the signature block at the end."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import xlsxwriter

from emms_reports.table import Cell, Table

NUMBER_FORMATS = {
    "integer": "#,##0", "decimal1": "#,##0.0", "decimal2": "#,##0.00", "decimal3": "#,##0.000",
    "percent": "0.00%", "datetime": "yyyy-mm-dd hh:mm:ss", "date": "yyyy-mm-dd", "text": "@",
}


def _write(ws: Any, row: int, col: int, value: Cell, fmt: Any) -> None:
    if value is None:
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, datetime):
        ws.write_datetime(row, col, value.replace(tzinfo=None), fmt)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value, fmt)
    else:
        ws.write_string(row, col, value, fmt)


async def render_xlsx(table: Table, path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "tmpdir": str(path.parent)})
    try:
        await _fill(wb, table)
    finally:
        await asyncio.to_thread(wb.close)


async def _fill(wb: Any, table: Table) -> None:
    d = table.definition
    ws = wb.add_worksheet("报表 Report")
    n = len(table.columns)
    title = wb.add_format({"bold": True, "font_size": 14, "align": "center"})
    head = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True})
    cells = [wb.add_format({"num_format": NUMBER_FORMATS.get(c.format, "General")}) for c in table.columns]
    bold = [wb.add_format({"bold": True, "top": 1, "num_format": NUMBER_FORMATS.get(c.format, "General")})
            for c in table.columns]
    for i, c in enumerate(table.columns):
        ws.set_column(i, i, c.width or (20 if c.format in ("datetime", "text") else 14))
    if d.layout.orientation == "landscape":
        ws.set_landscape()
    ws.set_paper(8 if d.layout.page_size == "A3" else 9)
    ws.repeat_rows(3)
    ws.merge_range(0, 0, 0, max(n - 1, 0), d.title, title) if n > 1 else ws.write_string(0, 0, d.title, title)
    ws.write_string(1, 0, table.period_text())
    for i, c in enumerate(table.columns):
        ws.write_string(3, i, c.label, head)
    ws.freeze_panes(4, 0)
    r = 4
    async for row in table.rows():
        for i, v in enumerate(row):
            _write(ws, r, i, v, cells[i])
        r += 1
    _tail(ws, r, table, head, bold)


def _tail(ws: Any, r: int, table: Table, head: Any, bold: list[Any]) -> None:
    """Subtotals, totals, notes and the signature block below the rows."""
    d = table.definition
    subtotals = table.subtotals()
    if subtotals:
        r += 1
        ws.write_string(r, 0, "小计 Subtotals", head)
        r += 1
        for sub in subtotals:
            for i, v in enumerate(sub):
                _write(ws, r, i, v, bold[i])
            r += 1
    if table.has_totals:
        for i, v in enumerate(table.totals()):
            _write(ws, r, i, v, bold[i])
        r += 1
    if d.notes:
        r += 1
        ws.write_string(r, 0, d.notes)
    if d.signature:
        r += 2
        for i, role in enumerate(d.signature):
            ws.write_string(r, min(i * 2, 255), f"{role}: ________")
