"""Make sure the monthly partitions a batch needs exist before the batch is written.

On plain PostgreSQL, rows for a month without a partition would be refused; the writers ask
for the months they are about to write (outside their own transaction, so partition creation
never holds a lock for the length of an ingest batch). Known months are remembered per
process. With TimescaleDB the database function is a no-op: chunks appear by themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import asyncpg

from emms_archive.schema import SCHEMA


def month_of(t: datetime) -> datetime:
    u = t.astimezone(UTC)
    return datetime(u.year, u.month, 1, tzinfo=UTC)


class Partitions:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._known: set[datetime] = set()

    async def ensure(self, times: Iterable[datetime]) -> int:
        """Create the partitions of every month in ``times`` not yet known; return how many were made."""
        missing = {month_of(t) for t in set(times)} - self._known  # set(): batches share few data times
        made = 0
        if missing:
            async with self._pool.acquire() as conn:
                for month in sorted(missing):
                    made += int(await conn.fetchval(f"SELECT {SCHEMA}.ensure_partitions($1, $1)", month))
            self._known |= missing
        return made

    def forget(self) -> None:
        """Drop the memory (after a restore or retention dropped partitions)."""
        self._known.clear()
