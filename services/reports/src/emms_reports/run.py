"""One report run: the definition checked, its source opened, the table rendered to a file or a stream."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import httpx

from emms_reports.definition import ReportDefinition, Span, check, resolve
from emms_reports.metrics import ROWS, RUNS, SECONDS
from emms_reports.render.csv_out import render_csv
from emms_reports.render.pdf_out import render_pdf
from emms_reports.render.xlsx_out import render_xlsx
from emms_reports.settings import ReportsSettings
from emms_reports.sources import Source
from emms_reports.table import Table
from emms_runtime import DomainError, Invalid

Fmt = Literal["xlsx", "pdf", "csv"]
FORMATS: tuple[str, ...] = ("xlsx", "pdf", "csv")
FILE_CHUNK = 256 * 1024


@dataclass
class Prepared:
    table: Table
    source: Source


class Runner:
    def __init__(self, settings: ReportsSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self.tz = ZoneInfo(settings.local_tz)

    def span_of(self, definition: ReportDefinition, now: datetime | None = None) -> Span:
        return resolve(definition.period, self.tz, now)

    async def prepare(self, definition: ReportDefinition, roles: tuple[str, ...], token: str,
                      now: datetime | None = None) -> Prepared:
        """Checked and its first upstream answer accepted: what is left can only be the data."""
        dataset = check(definition, roles, self.settings.period_limits.days_for(roles), self.tz, now)
        span = self.span_of(definition, now)
        source = Source(self.settings, self.client, dataset, definition, span, token)
        await source.open()
        return Prepared(Table(definition, dataset, span, self.tz, source.rows()), source)

    async def to_file(self, prepared: Prepared, fmt: str, directory: Path | None = None) -> Path:
        """The rendered report in a new temporary file (the caller removes it)."""
        if fmt not in FORMATS:
            raise Invalid(f"unknown format {fmt!r}; formats are {', '.join(FORMATS)}")
        fd, name = tempfile.mkstemp(suffix=f".{fmt}", prefix="emms-report-", dir=directory)
        os.close(fd)
        path = Path(name)
        started = time.perf_counter()
        try:
            if fmt == "xlsx":
                await render_xlsx(prepared.table, path)
            elif fmt == "pdf":
                await render_pdf(prepared.table, path, self.settings.cjk_font, self.settings.pdf_max_rows)
            else:
                await _write_csv(prepared, path)
        except BaseException as exc:
            await asyncio.to_thread(path.unlink, True)
            RUNS.labels(fmt, "refused" if isinstance(exc, DomainError) else "failed").inc()
            raise
        finally:
            await prepared.source.close()
        RUNS.labels(fmt, "ok").inc()
        ROWS.labels(fmt).inc(prepared.table.count)
        SECONDS.labels(fmt).observe(time.perf_counter() - started)
        return path


async def _write_csv(prepared: Prepared, path: Path) -> None:
    out = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in render_csv(prepared.table):
            await asyncio.to_thread(out.write, chunk)
    finally:
        out.close()


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A rendered file's bytes, then the file removed."""
    f = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(f.read, FILE_CHUNK):
            yield chunk
    finally:
        f.close()
        with contextlib.suppress(OSError):
            await asyncio.to_thread(path.unlink)


def filename(title: str, fmt: str) -> str:
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_" for ch in title).strip("_")
    return f"{safe or 'report'}.{fmt}"
