"""psycopg 3 (async) for streaming exports: ``COPY (query) TO STDOUT WITH CSV`` read chunk by chunk.

asyncpg stays on the hot paths (consumers, analyses); an export is rare, long and large, so each
has a psycopg connection of its own (no pool: at most ``MAX_EXPORTS`` at once, more wait), in a
read-only transaction with the export's statement timeout and the local zone as ``TimeZone`` (so
timestamps are written in local time). The server produces rows as the client reads them: when the
HTTP client stops reading, the COPY waits on its socket; nothing gathers the whole result.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql as pgsql

APPLICATION_NAME = "emms-analytics-export"
MAX_EXPORTS = 4
CHUNK_BYTES = 64 * 1024
_PLACEHOLDER = re.compile(r"\$(\d+)")


def copy_statement(query: str, args: list[Any]) -> tuple[str, dict[str, Any]]:
    """``COPY (query) TO STDOUT`` of an asyncpg-style query (``$n`` placeholders) with psycopg's named
    placeholders; COPY takes no server-side parameters, psycopg merges them client-side (quoted)."""
    text = _PLACEHOLDER.sub(lambda m: f"%(p{m.group(1)})s", query.replace("%", "%%"))
    return (f"COPY ({text}) TO STDOUT WITH (FORMAT csv, HEADER true)",
            {f"p{i + 1}": value for i, value in enumerate(args)})


@dataclass
class ExportDatabase:
    url: str
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_EXPORTS))

    async def csv(self, query: str, args: list[Any], local_tz: str, timeout_ms: int) -> AsyncIterator[bytes]:
        """The query's rows as CSV (a header line first), in chunks of about ``CHUNK_BYTES``."""
        statement, params = copy_statement(query, args)
        async with self.slots:
            conn = await psycopg.AsyncConnection.connect(self.url, application_name=APPLICATION_NAME)
            try:
                async with conn.transaction():
                    await conn.execute("SET TRANSACTION READ ONLY")
                    timeout = pgsql.Literal(int(timeout_ms))
                    await conn.execute(pgsql.SQL("SET LOCAL statement_timeout = {}").format(timeout))
                    await conn.execute(pgsql.SQL("SET LOCAL TimeZone = {}").format(pgsql.Literal(local_tz)))
                    async with conn.cursor() as cur, cur.copy(statement, params) as copy:
                        buffer = bytearray()
                        async for data in copy:
                            buffer += data
                            if len(buffer) >= CHUNK_BYTES:
                                yield bytes(buffer)
                                buffer.clear()
                        if buffer:
                            yield bytes(buffer)
            finally:
                await conn.close()
