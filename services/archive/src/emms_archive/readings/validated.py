"""Storage of validated, estimated and repaired readings, apart from the raw ones (R-4.3.1).

Raw rows are never changed; what VEE concludes about a reading is stored here as a new
version (keyed by metering point, item, data time, ``validated_at`` and status) with its
provenance: the raw source it was validated from and the rules that failed. "The" validated
value of a reading is its latest version. ``held`` versions are data that could not be
repaired and whose publication is restricted; the query layer hides them from data-service
callers. Written like raw readings: COPY to staging, attribute by meter period, insert
``ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from emms_archive.metrics import INGEST_BATCH_SECONDS, READINGS_STORED
from emms_archive.readings.ingest import IngestResult
from emms_archive.readings.partitions import Partitions
from emms_archive.schema import SCHEMA
from emms_db.connection import Connection
from emms_messages.readings import ValidatedReading

STAGE = "archive_validated_stage"
COLUMNS = ("meter_id", "item", "data_time", "validated_at", "status", "value", "unit", "method",
           "raw_source", "rules_failed")
STAGE_DDL = (f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (meter_id text, item text, data_time timestamptz,"
             " validated_at timestamptz, status text, value double precision, unit text, method text,"
             " raw_source text, rules_failed text[]) ON COMMIT DELETE ROWS")

_PERIOD = (f"{SCHEMA}.meter_period p ON p.meter_id = s.meter_id AND p.valid_from <= s.data_time"
           " AND (p.valid_to IS NULL OR s.data_time < p.valid_to)")

INSERT_SQL = f"""
INSERT INTO {SCHEMA}.reading_validated (metering_point_id, item, data_time, validated_at, status, meter_id, value,
                                       unit, method, raw_source, rules_failed)
SELECT p.metering_point_id, s.item, s.data_time, s.validated_at, s.status, s.meter_id, s.value, s.unit, s.method,
       s.raw_source, s.rules_failed
FROM {STAGE} s JOIN {_PERIOD}
ON CONFLICT DO NOTHING"""

HOLD_SQL = f"""
INSERT INTO {SCHEMA}.reading_unmatched (layer, meter_id, item, data_time, variant, payload)
SELECT 'validated', s.meter_id, s.item, s.data_time, s.validated_at::text || '/' || s.status, to_jsonb(s)
FROM {STAGE} s LEFT JOIN {_PERIOD}
WHERE p.id IS NULL
ON CONFLICT DO NOTHING"""


def rows_of(readings: Iterable[ValidatedReading]) -> list[tuple[Any, ...]]:
    return [(v.meter_id, v.item, v.data_time, v.validated_at, v.status, v.value, v.unit, v.method,
             v.raw_source, list(v.rules_failed)) for v in readings]  # StrEnums are their text


async def store_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> IngestResult:
    if not rows:
        return IngestResult(0, 0, 0)
    await conn.execute(STAGE_DDL)
    await conn.copy_records_to_table(STAGE, records=rows, columns=COLUMNS)
    stored = int((await conn.execute(INSERT_SQL)).split()[-1])
    held = int((await conn.execute(HOLD_SQL)).split()[-1])
    return IngestResult(len(rows), stored, held)


class ValidatedIngest:
    def __init__(self, pool: asyncpg.Pool, partitions: Partitions) -> None:
        self._pool = pool
        self._partitions = partitions

    async def store(self, readings: Sequence[ValidatedReading]) -> IngestResult:
        started = time.perf_counter()
        rows = rows_of(readings)
        await self._partitions.ensure(r[2] for r in rows)
        async with self._pool.acquire() as conn, conn.transaction():
            result = await store_rows(conn, rows)
        READINGS_STORED.labels("validated", "stored").inc(result.stored)
        READINGS_STORED.labels("validated", "duplicate").inc(result.duplicates)
        READINGS_STORED.labels("validated", "unmatched").inc(result.held)
        INGEST_BATCH_SECONDS.labels("validated").observe(time.perf_counter() - started)
        return result
