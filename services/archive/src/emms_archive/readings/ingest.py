"""Bulk, idempotent storage of raw readings from the bus (R-4.3.1, R-4.3.3a).

Two paths, one result:

* **Staging** (the reference): the readings are ``COPY``'d into a per-connection temporary
  staging table, then one ``INSERT … SELECT`` attributes each to the metering point its meter
  was on at the reading's data time (a join with the meter periods) and inserts them with
  ``ON CONFLICT DO NOTHING`` on the natural key (metering point, item, data time, source). A
  redelivered batch finds every key already there and changes nothing — no inbox needed. A
  reading whose meter is on no point at that time is kept whole in ``reading_unmatched`` until
  the archive knows where it belongs (:mod:`~emms_archive.readings.unmatched`).
* **Direct** (``ingest.direct_copy``, the default): almost every batch is new. In the same
  transaction, the meter periods of the batch's meters are read and each reading attributed in
  Python; the attributed rows are ``COPY``'d straight into ``reading_raw`` inside a savepoint.
  If any of them is already stored (a redelivery, a reading published twice), the unique key
  refuses the COPY, the savepoint is rolled back and the whole batch takes the staging path.
  Readings without a period take the staging path too, so the database's join has the last
  word on them. A batch is stored by one path or the other, never half by each.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from emms_archive.metrics import DIRECT_FALLBACKS, INGEST_BATCH_SECONDS, READINGS_STORED
from emms_archive.readings.attribution import MeterPeriods, attribute
from emms_archive.readings.partitions import Partitions
from emms_archive.schema import SCHEMA
from emms_db.connection import Connection
from emms_messages.raw_rows import ROW_COLUMNS, RawRow, RawRows
from emms_messages.readings import RawReadingBatch

STAGE = "archive_raw_stage"
RAW_COLUMNS = ("metering_point_id", *ROW_COLUMNS)
"""Columns of the direct COPY into ``reading_raw``: the metering point, then a staging row."""
STAGE_DDL = (f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (meter_id text, item text, data_time timestamptz,"
             " source text, value double precision, unit text, collected_at timestamptz, quality integer,"
             " terminal text, pn integer, batch_id text) ON COMMIT DELETE ROWS")

_PERIOD = (f"{SCHEMA}.meter_period p ON p.meter_id = s.meter_id AND p.valid_from <= s.data_time"
           " AND (p.valid_to IS NULL OR s.data_time < p.valid_to)")

INSERT_SQL = f"""
INSERT INTO {SCHEMA}.reading_raw (metering_point_id, item, data_time, source, meter_id, value, unit, collected_at,
                                 quality, terminal, pn, batch_id)
SELECT p.metering_point_id, s.item, s.data_time, s.source, s.meter_id, s.value, s.unit, s.collected_at, s.quality,
       s.terminal, s.pn, s.batch_id
FROM {STAGE} s JOIN {_PERIOD}
ON CONFLICT DO NOTHING"""

HOLD_SQL = f"""
INSERT INTO {SCHEMA}.reading_unmatched (layer, meter_id, item, data_time, variant, payload)
SELECT 'raw', s.meter_id, s.item, s.data_time, s.source, to_jsonb(s)
FROM {STAGE} s LEFT JOIN {_PERIOD}
WHERE p.id IS NULL
ON CONFLICT DO NOTHING"""



@dataclass(frozen=True, slots=True)
class IngestResult:
    total: int
    stored: int
    held: int

    @property
    def duplicates(self) -> int:
        return self.total - self.stored - self.held


async def store_rows(conn: Connection, rows: Sequence[RawRow]) -> IngestResult:
    """Stage and insert ``rows`` inside the caller's transaction."""
    if not rows:
        return IngestResult(0, 0, 0)
    await conn.execute(STAGE_DDL)
    await conn.copy_records_to_table(STAGE, records=rows, columns=ROW_COLUMNS)
    stored = _count(await conn.execute(INSERT_SQL))
    held = _count(await conn.execute(HOLD_SQL))
    return IngestResult(len(rows), stored, held)


def _count(status: str) -> int:
    """Rows affected, from a command status such as ``INSERT 0 42``."""
    return int(status.split()[-1])


async def store_direct(conn: Connection, rows: Sequence[RawRow], periods: MeterPeriods) -> IngestResult:
    """The direct path inside the caller's transaction; falls back to :func:`store_rows`."""
    if not rows:
        return IngestResult(0, 0, 0)
    attributed, unplaced = attribute(rows, await periods.of(conn, (r[0] for r in rows)))
    if attributed:
        try:
            async with conn.transaction():  # a savepoint: a refused COPY leaves nothing behind
                await conn.copy_records_to_table("reading_raw", schema_name=SCHEMA, records=attributed,
                                                 columns=RAW_COLUMNS)
        except asyncpg.UniqueViolationError:
            DIRECT_FALLBACKS.inc()
            return await store_rows(conn, rows)
    rest = await store_rows(conn, unplaced)
    return IngestResult(len(rows), len(attributed) + rest.stored, rest.held)


class RawIngest:
    """Writes raw reading batches; one transaction per call, partitions made first."""

    def __init__(self, pool: asyncpg.Pool, partitions: Partitions, *, direct_copy: bool = True) -> None:
        self._pool = pool
        self._partitions = partitions
        self.direct_copy = direct_copy
        self.periods = MeterPeriods()
        self.stored = 0
        """Raw readings this process has stored (new rows, not duplicates)."""

    async def store(self, batches: Sequence[RawReadingBatch]) -> IngestResult:
        """Store validated batches (models)."""
        return await self.store_decoded([RawRows.of(b) for b in batches])

    async def store_decoded(self, batches: Sequence[RawRows]) -> IngestResult:
        """Store batches decoded straight into rows (:func:`emms_messages.raw_rows.decode_raw_rows`)."""
        started = time.perf_counter()
        rows = [row for b in batches for row in b.rows]
        await self._partitions.ensure(r[2] for r in rows)
        async with self._pool.acquire() as conn, conn.transaction():
            if self.direct_copy:
                result = await store_direct(conn, rows, self.periods)
            else:
                result = await store_rows(conn, rows)
        self.stored += result.stored
        READINGS_STORED.labels("raw", "stored").inc(result.stored)
        READINGS_STORED.labels("raw", "duplicate").inc(result.duplicates)
        READINGS_STORED.labels("raw", "unmatched").inc(result.held)
        INGEST_BATCH_SECONDS.labels("raw").observe(time.perf_counter() - started)
        return result
