"""CSV export of a reading query, streamed: a server-side cursor feeds the response in chunks,
so an export of a million rows holds neither the rows nor the CSV in memory."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg

from emms_archive.query.filters import ReadingQuery
from emms_archive.query.readings import RAW_COLUMNS, VALIDATED_COLUMNS, raw_sql, validated_sql

CHUNK_ROWS = 2000


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return "" if value is None else value


async def stream_csv(pool: asyncpg.Pool, q: ReadingQuery, points: list[str] | None, *, max_rows: int,
                     show_held: bool) -> AsyncIterator[bytes]:
    """Header line, then the rows of ``q`` (all pages, at most ``max_rows``) as CSV chunks."""
    columns = RAW_COLUMNS if q.layer == "raw" else VALIDATED_COLUMNS
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    if points is not None and not points:
        yield buffer.getvalue().encode()
        return
    sql, args = (raw_sql(q, points, max_rows) if q.layer == "raw"
                 else validated_sql(q, points, max_rows, show_held))
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        n = 0
        async for row in conn.cursor(sql, *args, prefetch=CHUNK_ROWS):
            writer.writerow([_cell(row[c]) for c in columns])
            n += 1
            if n % CHUNK_ROWS == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()
