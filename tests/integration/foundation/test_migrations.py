"""The migration runner: once, in order, under an advisory lock, mode-aware, tamper-evident."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import asyncpg
import pytest

from emms_db import MigrationError, StorageMode, migrate

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]


def _write(directory: Path, files: dict[str, str]) -> None:
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")


FILES = {
    "0001_tables.sql": "CREATE TABLE {schema}.log (id serial PRIMARY KEY, what text NOT NULL);",
    "0002_seed.sql": "INSERT INTO {schema}.log (what) VALUES ('seeded once'); SELECT pg_sleep(0.2);",
    # a table that already holds rows becomes a hypertable: its rows move into chunks
    "0003_hypertable.sql": "-- emms: mode=timescaledb\n-- emms: transactional=false\n"
                           "SELECT create_hypertable('{schema}.log', 'id', chunk_time_interval => 1000,"
                           " migrate_data => true);",
    "0004_partitions.sql": "-- emms: mode=postgresql\nINSERT INTO {schema}.log (what) VALUES ('plain path');",
}


async def test_concurrent_and_repeated_runs_apply_each_file_once(database_url: str, storage_mode: str,
                                                                 tmp_path: Path) -> None:
    _write(tmp_path, FILES)
    schema = f"mig_{secrets.token_hex(3)}"
    conns = [await asyncpg.connect(database_url) for _ in range(5)]
    try:
        reports = await asyncio.gather(*(migrate(c, schema, tmp_path) for c in conns))
        again = await migrate(conns[0], schema, tmp_path)
        rows = await conns[0].fetch(f"SELECT what FROM {schema}.log ORDER BY id")
        status = await conns[0].fetch(f"SELECT name, status FROM {schema}.schema_migrations ORDER BY version")
    finally:
        for c in conns:
            await c.close()
    applied = [name for r in reports for name in r.applied]
    mode = StorageMode(storage_mode)
    assert again.applied == () and again.skipped == ()
    assert {r.mode for r in reports} == {mode}
    if mode is StorageMode.POSTGRESQL:
        assert sorted(applied) == ["0001_tables.sql", "0002_seed.sql", "0004_partitions.sql"]
        assert [r["what"] for r in rows] == ["seeded once", "plain path"]
        assert {r["name"]: r["status"] for r in status}["0003_hypertable.sql"] == "skipped"
    else:
        assert sorted(applied) == ["0001_tables.sql", "0002_seed.sql", "0003_hypertable.sql"]
        assert [r["what"] for r in rows] == ["seeded once"]
        assert {r["name"]: r["status"] for r in status}["0004_partitions.sql"] == "skipped"


async def test_services_creating_a_shared_schema_at_once_all_succeed(database_url: str, tmp_path: Path) -> None:
    """Services share objects beyond their schemas (``reporting``). ``CREATE SCHEMA IF NOT EXISTS`` in
    two open transactions at once fails the second on the catalogue's unique index; the runner's
    database-wide lock lets one file in at a time."""
    shared = f"shared_{secrets.token_hex(3)}"
    _write(tmp_path, {"0001_reporting.sql": f"CREATE SCHEMA IF NOT EXISTS {shared}; SELECT pg_sleep(0.3);"
                                            f" CREATE OR REPLACE VIEW {shared}.{{schema}}_v AS SELECT 1 AS one;"})
    schemas = [f"mig_{secrets.token_hex(3)}" for _ in range(4)]
    conns = [await asyncpg.connect(database_url) for _ in schemas]
    try:
        reports = await asyncio.gather(*(migrate(c, s, tmp_path) for c, s in zip(conns, schemas, strict=True)))
        views = await conns[0].fetchval("SELECT count(*) FROM pg_views WHERE schemaname = $1", shared)
    finally:
        for c in conns:
            await c.close()
    assert [r.applied for r in reports] == [("0001_reporting.sql",)] * len(schemas)
    assert views == len(schemas)


async def test_a_changed_applied_migration_is_refused(database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, {"0001_tables.sql": FILES["0001_tables.sql"]})
    schema = f"mig_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, schema, tmp_path)
        _write(tmp_path, {"0001_tables.sql": FILES["0001_tables.sql"] + "\n-- edited"})
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, schema, tmp_path)
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_applied(database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, {"0001_tables.sql": FILES["0001_tables.sql"],
                      "0002_bad.sql": "INSERT INTO {schema}.log (what) VALUES ('x'); SELECT no_such_function();"})
    schema = f"mig_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(MigrationError, match=r"0002_bad\.sql"):
            await migrate(conn, schema, tmp_path)
        assert await conn.fetchval(f"SELECT count(*) FROM {schema}.log") == 0
        versions = await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")
        assert [r["version"] for r in versions] == [1]
    finally:
        await conn.close()


def test_badly_named_files_are_refused(tmp_path: Path) -> None:
    from emms_db.migrations import load_migrations

    _write(tmp_path, {"1_tables.sql": "SELECT 1"})
    with pytest.raises(MigrationError, match="NNNN_description"):
        load_migrations(tmp_path)
