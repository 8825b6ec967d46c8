"""TimescaleDB's chunk intervals and compression policies kept equal to the archive's settings
(``StorageSettings``), like the retention policies (``readings/retention.py``): migration 0005
sets the defaults, the archive's ``storage-policies`` worker applies what an operator changed."""

from __future__ import annotations

from datetime import timedelta

import structlog

from emms_archive.schema import SCHEMA
from emms_archive.settings import StorageSettings
from emms_db.connection import Connection
from emms_db.timescale import set_policy

log = structlog.get_logger("emms.archive.chunks")
COMPRESSED = ("reading_raw", "reading_validated")


def chunk_intervals(settings: StorageSettings) -> dict[str, timedelta]:
    readings, events = timedelta(days=settings.reading_chunk_days), timedelta(days=settings.event_chunk_days)
    return {"reading_raw": readings, "reading_validated": readings, "event": events, "anomaly": events}


async def sync_chunks_and_compression(conn: Connection, settings: StorageSettings) -> tuple[str, ...]:
    """Set each hypertable's chunk interval and compression policy to the settings; what changed."""
    changed = []
    for table, interval in chunk_intervals(settings).items():
        now = await conn.fetchval(
            "SELECT time_interval FROM timescaledb_information.dimensions"
            " WHERE hypertable_schema = $1 AND hypertable_name = $2", SCHEMA, table)
        if now != interval:
            await conn.execute("SELECT set_chunk_time_interval($1::regclass, $2::interval)",
                               f"{SCHEMA}.{table}", interval)
            changed.append(f"{table}.chunk_interval")
            log.info("chunk interval set", table=table, interval=str(interval))
    after = timedelta(days=settings.compress_after_days)
    for table in COMPRESSED:
        if await set_policy(conn, f"{SCHEMA}.{table}", "compression", after):
            changed.append(f"{table}.compress_after")
            log.info("compression policy set", table=table, compress_after=str(after))
    return tuple(changed)
