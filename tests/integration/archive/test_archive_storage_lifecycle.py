"""What the storage does with readings as they age, in both storage modes: a late reading (a
back-fill) for a month long closed — on TimescaleDB a compressed chunk — is still accepted, a
redelivered one is still stored once; and retention drops what is older than each table's
setting, whole months or chunks, keeping what is younger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from archive_harness import OPERATOR, Service, customer_meter_rows, eventually, seed_reference

from emms_archive.readings.retention import apply_retention
from emms_archive.runtime import ArchiveRuntime
from emms_archive.settings import RetentionSettings, StorageSettings
from emms_bus import BusProducer
from emms_db import StorageMode
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
OLD = datetime(2025, 6, 2, tzinfo=UTC)  # long past the 45-day compression horizon


def _reading(meter: str, day: int, value: float, source: ReadingSource = ReadingSource.SCHEDULED) -> Reading:
    t = OLD + timedelta(days=day)
    return Reading(meter_id=meter, item="energy_active_import_total", data_time=t, value=value, unit="kWh",
                   source=source, collected_at=t + timedelta(minutes=5), quality=0, pn=1)


async def _count(db: asyncpg.Connection, meter: str) -> int:
    return int(await db.fetchval("SELECT count(*) FROM archive.reading_raw WHERE meter_id = $1", meter))


async def _compress(db: asyncpg.Connection) -> int:
    """Compress the chunks holding OLD's week (TimescaleDB); the number now compressed."""
    await db.execute("SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('archive.reading_raw',"
                     " older_than => $1::timestamptz, newer_than => $2::timestamptz) c",
                     OLD + timedelta(days=8), OLD - timedelta(days=8))
    return int(await db.fetchval(
        "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_schema = 'archive'"
        " AND hypertable_name = 'reading_raw' AND is_compressed AND range_start <= $1 AND range_end > $1", OLD))


async def test_a_late_reading_into_a_closed_or_compressed_month_is_stored_and_redelivery_stays_once(
        api: httpx.AsyncClient, db: asyncpg.Connection, producer: BusProducer, run_id: str,
        storage_mode: str) -> None:
    ids = await seed_reference(api, run_id)
    rows = customer_meter_rows(ids, run_id, 1, installed_at="2025-01-01T00:00:00Z")
    assert (await api.post("/api/v1/import/customer-meters", json=rows, headers=OPERATOR)).status_code == 200
    meter = f"M-{run_id}-0"
    first = RawReadingBatch(batch_id=f"old-{run_id}", terminal=f"T{run_id}",
                            readings=[_reading(meter, d, 1000.0 + d) for d in (0, 1, 2, 4, 5)])
    await producer.publish(first)
    await eventually(lambda: _equal(db, meter, 5))

    if storage_mode == StorageMode.TIMESCALEDB:
        assert await _compress(db) == 1  # the week of OLD is one compressed chunk now

    late = RawReadingBatch(batch_id=f"late-{run_id}", terminal=first.terminal,
                           readings=[_reading(meter, 3, 1003.0, ReadingSource.BACKFILL)])
    await producer.publish(first)  # redelivered: every reading already stored (and compressed)
    await producer.publish(late)
    await producer.publish(late)
    marker = RawReadingBatch(batch_id=f"marker-{run_id}", terminal=first.terminal,
                             readings=[_reading(meter, 6, 1006.0)])
    await producer.publish(marker)  # same key, same partition: once it is stored, all before it were handled
    await eventually(lambda: _equal(db, meter, 7))
    stored = await db.fetch("SELECT data_time, value, source FROM archive.reading_raw WHERE meter_id = $1"
                            " ORDER BY data_time", meter)
    assert [(r["data_time"], r["value"], r["source"]) for r in stored] == [
        (OLD + timedelta(days=d), 1000.0 + d, "backfill" if d == 3 else "scheduled") for d in range(7)]


async def _equal(db: asyncpg.Connection, meter: str, n: int) -> bool | None:
    return True if await _count(db, meter) == n else None


async def _insert_days(db: asyncpg.Connection, run: str, days: list[datetime]) -> None:
    await db.fetchval("SELECT archive.ensure_partitions($1, $2)", min(days), max(days))
    await db.executemany(
        "INSERT INTO archive.reading_raw (metering_point_id, item, data_time, source, meter_id, value, unit,"
        " collected_at) VALUES ($1, 'energy_active_import_total', $2, 'scheduled', $3, 1.0, 'kWh', $2)",
        [(f"MP-ret-{run}", t, f"M-ret-{run}") for t in days])


async def test_retention_drops_whole_expired_months_or_chunks_and_keeps_younger_rows(
        archive_service: Service, db: asyncpg.Connection, run_id: str, storage_mode: str) -> None:
    archive = archive_service.app.state.runtime.state
    assert isinstance(archive, ArchiveRuntime)
    now = datetime.now(UTC)
    expired = [datetime(2012, 3, d, tzinfo=UTC) for d in (1, 15, 31)]  # a whole month, ~14 years ago
    kept = [now - timedelta(days=400), now - timedelta(days=30)]
    await _insert_days(db, run_id, expired + kept)
    settings = RetentionSettings(reading_raw_days=3000, interval_s=60)

    report = await apply_retention(archive.pool, archive.partitions, settings)
    assert report.mode == storage_mode
    if report.mode is StorageMode.TIMESCALEDB:
        assert "reading_raw" in report.policies_changed
        job = await db.fetchval("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'"
                                " AND hypertable_schema = 'archive' AND hypertable_name = 'reading_raw'")
        assert await db.fetchval("SELECT config->>'drop_after' FROM timescaledb_information.jobs"
                                 " WHERE job_id = $1", job) == "3000 days"
        await db.execute("CALL run_job($1)", job)  # what the background scheduler does at its interval
        assert (await apply_retention(archive.pool, archive.partitions, settings)).policies_changed == ()
    else:
        assert report.dropped["reading_raw"] >= 1
        assert await db.fetchval("SELECT to_regclass('archive.reading_raw_p201203')") is None
    left = await db.fetch("SELECT data_time FROM archive.reading_raw WHERE meter_id = $1 ORDER BY 1",
                          f"M-ret-{run_id}")
    assert [r["data_time"] for r in left] == kept
    # back to the service's settings for the tests that follow
    await apply_retention(archive.pool, archive.partitions, archive.settings.retention)


async def test_chunk_interval_and_compression_follow_the_settings(
        archive_service: Service, db: asyncpg.Connection, storage_mode: str) -> None:
    """An operator who gives the database server more memory sets 28-day reading chunks (better
    compression of daily data) and compresses after 60 days; the archive applies both."""
    archive = archive_service.app.state.runtime.state
    assert isinstance(archive, ArchiveRuntime)
    wanted = StorageSettings(reading_chunk_days=28, compress_after_days=60)
    report = await apply_retention(archive.pool, archive.partitions, archive.settings.retention, storage=wanted)
    try:
        if storage_mode != StorageMode.TIMESCALEDB:
            assert report.storage_changed == ()  # months are months on plain PostgreSQL
            return
        assert set(report.storage_changed) == {"reading_raw.chunk_interval", "reading_validated.chunk_interval",
                                               "reading_raw.compress_after", "reading_validated.compress_after"}
        intervals = dict(await db.fetch("SELECT hypertable_name, time_interval FROM timescaledb_information.dimensions"
                                        " WHERE hypertable_schema = 'archive'"))
        assert intervals["reading_raw"] == timedelta(days=28) and intervals["event"] == timedelta(days=30)
        after = await db.fetchval("SELECT config->>'compress_after' FROM timescaledb_information.jobs WHERE"
                                  " proc_name = 'policy_compression' AND hypertable_name = 'reading_raw'")
        assert after == "60 days"
        again = await apply_retention(archive.pool, archive.partitions, archive.settings.retention, storage=wanted)
        assert again.storage_changed == ()
    finally:  # back to the service's settings for the tests that follow
        await apply_retention(archive.pool, archive.partitions, archive.settings.retention,
                              storage=archive.settings.storage)


def test_retention_settings_are_per_table_and_refuse_nonsense() -> None:
    s = RetentionSettings(event_days=400)
    assert s.by_table()["event"] == timedelta(days=400)
    assert s.by_table()["reading_raw"] == timedelta(days=3653)
    with pytest.raises(ValueError, match="greater than or equal to 31"):
        RetentionSettings(reading_raw_days=7)
