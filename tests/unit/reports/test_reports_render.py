"""The renderers on a table of known rows (the source faked: these tests are about the files).

XLSX is read back with openpyxl (values, number formats, frozen header, totals), the PDF's text is extracted
with pypdf and with poppler's pdftotext (figures and Chinese labels), CSV parsed."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from pypdf import PdfReader

from emms_reports.datasets import CATALOG
from emms_reports.definition import ReportDefinition, Span
from emms_reports.render.csv_out import render_csv
from emms_reports.render.fonts import find_font
from emms_reports.render.pdf_out import render_pdf
from emms_reports.render.xlsx_out import render_xlsx
from emms_reports.table import Table
from emms_runtime import Invalid

TZ = ZoneInfo("Asia/Shanghai")
SPAN = Span(datetime(2026, 2, 28, 16, tzinfo=UTC), datetime(2026, 3, 31, 16, tzinfo=UTC))
DEF = ReportDefinition.model_validate({
    "title": "月度用量报表 Monthly usage", "dataset": "usage", "dimensions": ["region", "category"],
    "interval": "month",
    "columns": [{"field": "dimension", "label": "维度"}, {"field": "key", "label": "区域/类别"},
                {"field": "bucket", "label": "月份", "format": "date"},
                {"field": "intervals", "label": "区间", "format": "integer", "total": "sum"},
                {"field": "usage", "label": "用量", "format": "decimal2", "total": "sum"}],
    "group_by": ["dimension"], "signature": ["制表", "审核"], "notes": "单位 kWh"})
ROWS = [
    {"dimension": "region", "key": "东城区", "bucket": "2026-03-01 00:00:00+08", "intervals": "31", "usage": "1234.5"},
    {"dimension": "region", "key": "西城区", "bucket": "2026-03-01 00:00:00+08", "intervals": "31", "usage": "765.25"},
    {"dimension": "category", "key": "居民", "bucket": "2026-03-01 00:00:00+08", "intervals": "62", "usage": "1999.75"},
]
needs_font = pytest.mark.skipif(find_font(None) is None, reason="no CJK font: `make test` installs fonts-wqy-microhei"
                                " (apt unavailable here)")


async def _rows(rows: list[dict[str, str]]) -> AsyncIterator[dict[str, str]]:
    for r in rows:
        yield dict(r)


def table(rows: list[dict[str, str]] = ROWS, definition: ReportDefinition = DEF) -> Table:
    return Table(definition, CATALOG[definition.dataset], SPAN, TZ, _rows(rows))


async def test_xlsx_has_real_numbers_formats_a_frozen_header_and_totals(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    await render_xlsx(table(), path)
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert ws["A1"].value == "月度用量报表 Monthly usage"
    assert "2026-03-01 00:00" in ws["A2"].value
    assert [c.value for c in ws[4]] == ["维度", "区域/类别", "月份", "区间", "用量"]
    assert ws.freeze_panes == "A5"
    assert ws["B5"].value == "东城区" and ws["E5"].value == 1234.5 and ws["E5"].number_format == "#,##0.00"
    assert ws["C5"].value == datetime(2026, 3, 1) and ws["C5"].number_format == "yyyy-mm-dd"
    assert ws["D7"].value == 62 and ws["D7"].number_format == "#,##0"
    values = [[c.value for c in row] for row in ws.iter_rows(min_row=8)]
    assert ["category", None, None, 62, 1999.75] in values  # the category subtotal
    assert ["region", None, None, 62, 1999.75] in values
    assert ["合计 Total", None, None, 124, 3999.5] in values  # the grand total
    flat = [v for row in values for v in row if isinstance(v, str)]
    assert "单位 kWh" in flat and any(v.startswith("制表") for v in flat)


@needs_font
async def test_pdf_text_has_the_figures_and_the_chinese_labels(tmp_path: Path) -> None:
    path = tmp_path / "r.pdf"
    await render_pdf(table(), path, None, 1000)
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    for expected in ("月度用量报表", "东城区", "西城区", "居民", "用量", "1,234.50", "765.25", "3,999.50", "制表",
                     "审核", "2026-03-01"):
        assert expected in text, expected
    if shutil.which("pdftotext"):
        out = await asyncio.to_thread(subprocess.run, ["pdftotext", "-layout", str(path), "-"], capture_output=True,
                                      text=True, check=True)
        assert "东城区" in out.stdout and "3,999.50" in out.stdout and "合计" in out.stdout


@needs_font
async def test_a_pdf_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="at most 2 rows"):
        await render_pdf(table(), tmp_path / "r.pdf", None, 2)


@needs_font
async def test_a_pdf_of_many_rows_spans_pages_with_the_header_repeated(tmp_path: Path) -> None:
    start = datetime(2026, 3, 1, tzinfo=TZ)
    rows = [{"occurred_at": (start + timedelta(minutes=i)).isoformat(), "terminal": f"T{i % 7}",
             "meter_id": f"M{i}", "code": "ERC14", "event_class": "重要" if i % 3 == 0 else "一般",
             "received_at": (start + timedelta(minutes=i, seconds=5)).isoformat()} for i in range(900)]
    from emms_reports.dedicated import DEDICATED

    path = tmp_path / "events.pdf"
    await render_pdf(table(rows, DEDICATED["events"]), path, None, 1000)
    pages = PdfReader(path).pages
    assert len(pages) > 5
    assert all("发生时间" in p.extract_text() for p in pages[:-1])
    last = pages[-1].extract_text()
    assert "行数 Rows: 900" in last and "600" in last and "300" in last  # counts per class, the subtotals


async def test_csv_streams_rows_then_subtotals_and_totals() -> None:
    body = b"".join([chunk async for chunk in render_csv(table())]).decode()
    assert body.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    assert lines[0] == ["维度", "区域/类别", "月份", "区间", "用量"]
    assert lines[1] == ["region", "东城区", "2026-03-01", "31", "1234.5"]
    assert lines[-1] == ["合计 Total", "", "", "124", "3999.5"]
    assert ["category", "", "", "62", "1999.75"] in lines
