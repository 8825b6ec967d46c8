"""What the benches (``tools/bench``) share to load their data: a database of their own per run, and CSV
lines streamed to ``COPY`` in chunks."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

from emms_db.settings import DEFAULT_URL


def bench_db_url(bench: str, server: str | None = None) -> str:
    """A new database name ``emms_bench_<bench>_<random>`` on ``server`` (default: ``EMMS_DATABASE_URL`` or the
    machine's PostgreSQL)."""
    parts = urlsplit(server or os.environ.get("EMMS_DATABASE_URL", DEFAULT_URL))
    return urlunsplit(parts._replace(path=f"/emms_bench_{bench}_{secrets.token_hex(3)}"))


async def copy_chunks(lines: Iterator[str], size: int = 1 << 20) -> AsyncIterator[bytes]:
    """``lines`` joined into chunks of about ``size`` bytes for ``copy_to_table`` (yielding to the loop
    between chunks), so a COPY of millions of rows never holds them all."""
    buf: list[str] = []
    n = 0
    for line in lines:
        buf.append(line)
        n += len(line)
        if n >= size:
            yield "".join(buf).encode()
            buf, n = [], 0
            await asyncio.sleep(0)
    if buf:
        yield "".join(buf).encode()
