"""Retention of readings, events and anomalies: whole months (plain PostgreSQL) or whole chunks
(TimescaleDB) older than each table's configured age are dropped, never single rows.

On TimescaleDB the work is TimescaleDB's own retention policy (a background job per
hypertable); this module keeps each policy's ``drop_after`` equal to the settings. On plain
PostgreSQL nothing runs by itself, so the archive's ``retention`` worker drops the monthly
partitions that end before ``now - keep`` on a schedule (``drop_partitions_before`` in the
schema, migration 0004). Either way the result is the same: a row older than its table's
retention is gone within one check interval (PostgreSQL) or one job interval (TimescaleDB),
and a month / chunk that still holds younger rows stays.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import structlog

from emms_archive.metrics import RETENTION_DROPPED
from emms_archive.readings.chunks import sync_chunks_and_compression
from emms_archive.readings.partitions import Partitions
from emms_archive.schema import SCHEMA
from emms_archive.settings import RetentionSettings, StorageSettings
from emms_db import StorageMode
from emms_db.connection import Connection
from emms_db.timescale import set_policy
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.archive.retention")


@dataclass(frozen=True, slots=True)
class RetentionReport:
    mode: StorageMode
    dropped: dict[str, int]
    """Plain PostgreSQL: partitions dropped per table in this pass."""
    policies_changed: tuple[str, ...] = ()
    """TimescaleDB: tables whose retention policy was (re)set to the settings in this pass."""
    storage_changed: tuple[str, ...] = ()
    """TimescaleDB: chunk intervals and compression policies (re)set to the settings."""


async def sync_policies(conn: Connection, settings: RetentionSettings) -> tuple[str, ...]:
    """TimescaleDB: make every hypertable's retention policy say what the settings say."""
    changed = []
    for table, keep in settings.by_table().items():
        want = keep if settings.enabled else None
        if not await set_policy(conn, f"{SCHEMA}.{table}", "retention", want):
            continue
        changed.append(table)
        log.info("retention policy set", table=table, drop_after=str(want) if want else "none")
    return tuple(changed)


async def drop_expired_partitions(conn: Connection, settings: RetentionSettings,
                                  now: datetime | None = None) -> dict[str, int]:
    """Plain PostgreSQL: drop every monthly partition that ends before its table's cut-off."""
    now = now or datetime.now(UTC)
    dropped: dict[str, int] = {}
    for table, keep in settings.by_table().items():
        n = int(await conn.fetchval(f"SELECT {SCHEMA}.drop_partitions_before($1, $2)", table, now - keep))
        dropped[table] = n
        if n:
            RETENTION_DROPPED.labels(table).inc(n)
            log.info("expired partitions dropped", table=table, partitions=n, before=(now - keep).isoformat())
    return dropped


async def apply_retention(pool: asyncpg.Pool, partitions: Partitions, settings: RetentionSettings,
                          now: datetime | None = None, storage: StorageSettings | None = None) -> RetentionReport:
    """One pass in the database's storage mode (on TimescaleDB, ``storage`` applied too)."""
    async with pool.acquire() as conn:
        ts = await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        hypertables = ts and await conn.fetchval(
            "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_schema = $1", SCHEMA)
        if hypertables:
            policies = await sync_policies(conn, settings)
            chunks = await sync_chunks_and_compression(conn, storage) if storage is not None else ()
            return RetentionReport(StorageMode.TIMESCALEDB, {}, policies, chunks)
        dropped = await drop_expired_partitions(conn, settings, now) if settings.enabled else {}
    if any(dropped.values()):
        partitions.forget()
    return RetentionReport(StorageMode.POSTGRESQL, dropped)


async def run_retention(pool: asyncpg.Pool, partitions: Partitions, settings: RetentionSettings,
                        storage: StorageSettings, stop: asyncio.Event) -> None:
    """Worker: one pass at start, then every ``settings.interval_s``."""
    await PeriodicWorker("archive-retention", lambda: apply_retention(pool, partitions, settings, storage=storage),
                         settings.interval_s).run(stop)
