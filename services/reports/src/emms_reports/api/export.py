"""A report run answered as a streamed file: CSV as the rows arrive, XLSX and PDF once rendered to disk."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from emms_reports.definition import ReportDefinition
from emms_reports.metrics import ROWS, RUNS, SECONDS
from emms_reports.render import MEDIA_TYPES
from emms_reports.render.csv_out import render_csv
from emms_reports.run import Prepared, file_chunks, filename
from emms_reports.runtime import ReportsRuntime
from emms_runtime import Principal


def _disposition(title: str, fmt: str) -> str:
    return f"attachment; filename=\"{filename(title, fmt)}\"; filename*=UTF-8''{quote(f'{title}.{fmt}')}"


async def _csv(prepared: Prepared) -> AsyncIterator[bytes]:
    started, outcome = time.perf_counter(), "failed"
    try:
        async for chunk in render_csv(prepared.table):
            yield chunk
        outcome = "ok"
    finally:
        await prepared.source.close()
        RUNS.labels("csv", outcome).inc()
        ROWS.labels("csv").inc(prepared.table.count)
        SECONDS.labels("csv").observe(time.perf_counter() - started)


async def export(rt: ReportsRuntime, definition: ReportDefinition, fmt: str, principal: Principal,
                 token: str) -> StreamingResponse:
    prepared = await rt.runner.prepare(definition, principal.roles, token)
    headers = {"Content-Disposition": _disposition(definition.title, fmt)}
    if fmt == "csv":
        return StreamingResponse(_csv(prepared), media_type=MEDIA_TYPES[fmt], headers=headers)
    path = await rt.runner.to_file(prepared, fmt)
    headers["Content-Length"] = str(path.stat().st_size)
    headers["X-EMMS-Rows"] = str(prepared.table.count)
    return StreamingResponse(file_chunks(path), media_type=MEDIA_TYPES[fmt], headers=headers)
