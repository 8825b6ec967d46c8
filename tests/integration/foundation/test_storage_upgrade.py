"""A utility upgrading from plain PostgreSQL to TimescaleDB keeps every row.

On a private TimescaleDB cluster: the archive schema is migrated in plain-PostgreSQL mode
(native monthly partitions), filled with two years of readings, events and anomalies, then
migrated again with TimescaleDB allowed. The runner converts the layout: every table's row
checksum is unchanged, the four tables are hypertables with the same columns, indexes,
triggers, compression settings and policies as a schema made on TimescaleDB from the start,
and raw readings are still insert-only.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from emms_archive.backup.checksums import checksums
from emms_archive.backup.tables import TABLES, TIME_PARTITIONED
from emms_archive.schema import SCHEMA
from emms_db import StorageMode, drop_database, ensure_database, migrate
from emms_db.storage_mode import detect_storage_mode
from emms_devstack.timescale import TimescaleCluster

pytestmark = pytest.mark.integration
MIGRATIONS = __import__("emms_archive.app", fromlist=["SPEC"]).SPEC.migrations
T0 = datetime(2024, 11, 1, tzinfo=UTC)
POINTS = 40
DAYS = 730


@pytest.fixture
async def fresh_db(timescale_cluster: TimescaleCluster) -> AsyncIterator[str]:
    url = timescale_cluster.database_url(f"upgrade_{secrets.token_hex(3)}")
    await ensure_database(url)
    yield url
    await drop_database(url)


async def _fill(conn: asyncpg.Connection) -> None:
    await conn.fetchval(f"SELECT {SCHEMA}.ensure_partitions($1, $2)", T0, T0 + timedelta(days=DAYS))
    await conn.execute(f"""
        INSERT INTO {SCHEMA}.reading_raw (metering_point_id, item, data_time, source, meter_id, value, unit,
                                          collected_at, terminal, pn)
        SELECT 'MP' || p, 'energy_active_import_total', $1::timestamptz + d * interval '1 day', 'scheduled', 'M' || p,
               p * 1000 + d * 7.25, 'kWh', $1::timestamptz + d * interval '1 day' + interval '5 minutes', 'T1', p
        FROM generate_series(1, {POINTS}) p, generate_series(0, {DAYS - 1}) d""", T0)
    await conn.execute(f"""
        INSERT INTO {SCHEMA}.reading_validated (metering_point_id, item, data_time, validated_at, status, meter_id,
                                                value, unit, method, raw_source, rules_failed)
        SELECT metering_point_id, item, data_time, collected_at + interval '1 minute',
               CASE WHEN value::bigint % 97 = 0 THEN 'estimated' ELSE 'valid' END, meter_id, value, unit,
               '', source, CASE WHEN value::bigint % 97 = 0 THEN ARRAY['spike'] ELSE '{{}}'::text[] END
        FROM {SCHEMA}.reading_raw""")
    await conn.execute(f"""
        INSERT INTO {SCHEMA}.event (event_id, occurred_at, terminal, meter_id, metering_point_id, code, event_class,
                                    received_at, detail)
        SELECT gen_random_uuid(), $1::timestamptz + d * interval '3 days', 'T1', 'M1', 'MP1', 'ERC14', 'important',
               $1::timestamptz + d * interval '3 days' + interval '1 minute', jsonb_build_object('n', d)
        FROM generate_series(0, {DAYS // 3}) d""", T0)
    await conn.execute(f"""
        INSERT INTO {SCHEMA}.anomaly (anomaly_id, data_time, meter_id, metering_point_id, rule, item, severity,
                                      detail, detected_at)
        SELECT 'A' || d, $1::timestamptz + d * interval '5 days', 'M2', 'MP2', 'spike', 'energy_active_import_total',
               'warning',
               '{{}}', $1::timestamptz + d * interval '5 days' + interval '1 hour'
        FROM generate_series(0, {DAYS // 5}) d""", T0)


CATALOG = {
    "columns": f"""SELECT table_name, ordinal_position, column_name, data_type, is_nullable, column_default
                   FROM information_schema.columns WHERE table_schema = '{SCHEMA}'
                   AND table_name = ANY($1) ORDER BY 1, 2""",
    "indexes": f"""SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = '{SCHEMA}'
                   AND tablename = ANY($1) ORDER BY 1, 2""",
    "triggers": f"""SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
                    JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = '{SCHEMA}' AND c.relname = ANY($1) AND NOT t.tgisinternal ORDER BY 1, 2""",
    "dimensions": f"""SELECT hypertable_name, column_name, time_interval FROM timescaledb_information.dimensions
                      WHERE hypertable_schema = '{SCHEMA}' AND hypertable_name = ANY($1) ORDER BY 1""",
    "compression": f"""SELECT hypertable_name, attname, segmentby_column_index, orderby_column_index, orderby_asc
                       FROM timescaledb_information.compression_settings
                       WHERE hypertable_schema = '{SCHEMA}' AND hypertable_name = ANY($1) ORDER BY 1, 2""",
    "jobs": f"""SELECT hypertable_name, proc_name, schedule_interval, config - 'hypertable_id' AS config
                FROM timescaledb_information.jobs WHERE hypertable_schema = '{SCHEMA}'
                AND hypertable_name = ANY($1) ORDER BY 1, 2""",
    "functions": f"""SELECT p.proname, l.lanname, p.prosrc FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
                     JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '{SCHEMA}'
                     AND p.proname IN ('ensure_partitions', 'drop_partitions_before')
                     AND cardinality($1::text[]) > 0 ORDER BY 1""",
}


async def _catalog(url: str) -> dict[str, list[tuple[object, ...]]]:
    conn = await asyncpg.connect(url)
    try:
        return {name: [tuple(r) for r in await conn.fetch(sql, list(TIME_PARTITIONED))]
                for name, sql in CATALOG.items()}
    finally:
        await conn.close()


@pytest.mark.timeout(600)
async def test_plain_postgresql_schema_with_rows_converts_to_timescaledb(fresh_db: str,
                                                                         timescale_cluster: TimescaleCluster) -> None:
    conn = await asyncpg.connect(fresh_db)
    try:
        plain = await migrate(conn, SCHEMA, MIGRATIONS, enable_timescaledb=False)
        assert plain.mode is StorageMode.POSTGRESQL and "0005_records_timescaledb.sql" in plain.skipped
        await _fill(conn)
        before = await checksums(conn, TABLES)
        assert before["reading_raw"]["rows"] == POINTS * DAYS

        again = await migrate(conn, SCHEMA, MIGRATIONS, enable_timescaledb=False)  # still refused: nothing moves
        assert again.mode is StorageMode.POSTGRESQL and not again.converted

        upgraded = await migrate(conn, SCHEMA, MIGRATIONS)
        assert upgraded.mode is StorageMode.TIMESCALEDB and upgraded.converted
        assert await detect_storage_mode(conn) is StorageMode.TIMESCALEDB
        assert await checksums(conn, TABLES) == before  # every row of every table, same values
        hypertables = {r["hypertable_name"] for r in await conn.fetch(
            "SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_schema = $1", SCHEMA)}
        assert hypertables == set(TIME_PARTITIONED)
        leftovers = await conn.fetch("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                     " WHERE n.nspname = $1 AND relname LIKE '%\\_plain%'", SCHEMA)
        assert leftovers == []
        status = {r["name"]: r["status"] for r in await conn.fetch(
            f"SELECT name, status FROM {SCHEMA}.schema_migrations")}
        assert status["0004_records_postgresql.sql"] == "superseded"
        assert status["0005_records_timescaledb.sql"] == "applied"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):  # still insert-only
            await conn.execute(f"DELETE FROM {SCHEMA}.reading_raw WHERE metering_point_id = 'MP1'")
        assert (await migrate(conn, SCHEMA, MIGRATIONS)).applied == ()  # and it happens once
    finally:
        await conn.close()

    reference = timescale_cluster.database_url(f"reference_{secrets.token_hex(3)}")
    await ensure_database(reference)
    try:
        conn = await asyncpg.connect(reference)
        try:
            assert (await migrate(conn, SCHEMA, MIGRATIONS)).mode is StorageMode.TIMESCALEDB
        finally:
            await conn.close()
        converted, made = await asyncio.gather(_catalog(fresh_db), _catalog(reference))
        for part, rows in made.items():
            assert converted[part] == rows, part
    finally:
        await drop_database(reference)


async def test_turning_timescaledb_off_keeps_a_schema_that_is_on_it(fresh_db: str) -> None:
    """``timescaledb=false`` only stops the extension being created: hypertables cannot move back."""
    conn = await asyncpg.connect(fresh_db)
    try:
        first = await migrate(conn, SCHEMA, MIGRATIONS)
        assert first.mode is StorageMode.TIMESCALEDB
        # enable_timescaledb=False does not drop an installed extension: the schema stays on it
        assert (await migrate(conn, SCHEMA, MIGRATIONS, enable_timescaledb=False)).mode is StorageMode.TIMESCALEDB
    finally:
        await conn.close()


async def test_jobs_held_still_for_a_backup_survive_a_policy_replaced_meanwhile(fresh_db: str) -> None:
    """The archive may replace a retention policy (a new job) while a backup holds the jobs still."""
    from emms_db.timescale import jobs_paused

    conn = await asyncpg.connect(fresh_db)
    try:
        await migrate(conn, SCHEMA, MIGRATIONS)
        jobs = "SELECT job_id, scheduled FROM timescaledb_information.jobs WHERE hypertable_schema = $1"
        async with jobs_paused(conn) as paused:
            assert paused and all(not r["scheduled"] for r in await conn.fetch(jobs, SCHEMA))
            await conn.execute("SELECT remove_retention_policy('archive.event')")
            await conn.execute("SELECT add_retention_policy('archive.event', INTERVAL '1000 days')")
        after = await conn.fetch(jobs, SCHEMA)
        assert len(after) == len(paused) and all(r["scheduled"] for r in after)
    finally:
        await conn.close()


async def test_the_archive_replaces_no_policy_while_a_backup_holds_the_jobs_still(fresh_db: str) -> None:
    """A policy change (the archive's settings) on another connection waits until the backup's
    block is over, then applies; the backup's jobs are all scheduled again."""
    from emms_archive.readings.retention import sync_policies
    from emms_archive.settings import RetentionSettings
    from emms_db.timescale import jobs_paused

    backup, archive = await asyncpg.connect(fresh_db), await asyncpg.connect(fresh_db)
    try:
        await migrate(backup, SCHEMA, MIGRATIONS)
        async with jobs_paused(backup):
            change = asyncio.create_task(sync_policies(archive, RetentionSettings(event_days=400)))
            await asyncio.sleep(1.0)
            assert not change.done()  # waits for the backup
        assert "event" in await asyncio.wait_for(change, 10)
        rows = await backup.fetch("SELECT scheduled FROM timescaledb_information.jobs WHERE hypertable_schema = $1",
                                  SCHEMA)
        assert rows and all(r["scheduled"] for r in rows)
    finally:
        await backup.close()
        await archive.close()
