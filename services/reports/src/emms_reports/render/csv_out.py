"""CSV: a header of the column labels, the rows as they arrive, then subtotals and totals (UTF-8 with BOM,
so spreadsheet programs read the Chinese labels right)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from emms_reports.table import Cell, Table, display

CHUNK = 64 * 1024


def _line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def _cell(cell: Cell, fmt: str) -> str:
    """Numbers stay machine-readable in CSV (no thousands separators)."""
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return str(cell)
    return display(cell, fmt)


async def render_csv(table: Table) -> AsyncIterator[bytes]:
    fmts = [c.format for c in table.columns]
    pending = ["\ufeff", _line([c.label for c in table.columns])]
    size = 0
    async for row in table.rows():
        text = _line([_cell(v, f) for v, f in zip(row, fmts, strict=True)])
        pending.append(text)
        size += len(text)
        if size >= CHUNK:
            yield "".join(pending).encode()
            pending, size = [], 0
    for sub in table.subtotals():
        pending.append(_line(["小计 Subtotal", *[_cell(v, f) for v, f in zip(sub[1:], fmts[1:], strict=True)]]
                             if table.columns and table.columns[0].field not in table.definition.group_by
                             else [_cell(v, f) for v, f in zip(sub, fmts, strict=True)]))
    if table.has_totals:
        pending.append(_line([_cell(v, f) for v, f in zip(table.totals(), fmts, strict=True)]))
    yield "".join(pending).encode()
