"""Create, restore and verify backups (both levels); used by the CLI and the HTTP API.

Application level: one or more companies' master data and their readings, events and
anomalies, optionally cut to a time range, as one CSV per table. Restoring adds what is
missing and never changes a raw reading; master data can be set back to the backup's values
with ``overwrite_masterdata``. Every backup and restore is written to the audit log.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from emms_archive import audit
from emms_archive.backup import copy_tables, system
from emms_archive.backup.checksums import checksums
from emms_archive.backup.manifest import Manifest, describe_files, verify_files
from emms_archive.backup.tables import APPLICATION_TABLES, TABLES, Table
from emms_archive.schema import SCHEMA
from emms_db import detect_storage_mode, migrate
from emms_db.timescale import extension_version, jobs_paused

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


async def _migrations(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(f"SELECT name FROM {SCHEMA}.schema_migrations WHERE status = 'applied' ORDER BY version")
    return [r["name"] for r in rows]


async def create(url: str, directory: Path, *, level: str = "application", companies: list[str] | None = None,
                 start: datetime | None = None, end: datetime | None = None, method: str | None = None,
                 actor: str = "backup-cli") -> Manifest:
    """Write a backup of ``url`` into the new directory ``directory``.

    Checksums, COPY exports and pg_dump all read one snapshot (pg_dump joins the exported
    snapshot of the checksum transaction), so the manifest describes exactly the files.
    """
    if level not in ("system", "application"):
        raise ValueError("level is 'system' or 'application'")
    if level == "system" and (companies or start or end):
        raise ValueError("a system-level backup is the whole database: no companies or time range")
    method = method or ("pg_dump" if level == "system" and system.tools_available() else "copy")
    if method not in ("pg_dump", "copy") or (method == "pg_dump" and level != "system"):
        raise ValueError("method is 'pg_dump' (system level only) or 'copy'")
    if method == "pg_dump" and not system.tools_available():
        raise system.BackupError("pg_dump / pg_restore are not installed here; use method 'copy'")
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=False)
    tables = TABLES if level == "system" else APPLICATION_TABLES
    conn = await asyncpg.connect(url)
    try:
        ts_version = await extension_version(conn)
        if ts_version is None:
            return await _create(conn, url, directory, level, method, tables, companies, start, end, actor)
        async with jobs_paused(conn):  # no compression / retention job may queue between the two sessions
            manifest = await _create(conn, url, directory, level, method, tables, companies, start, end, actor)
        return manifest
    finally:
        await conn.close()


async def _create(conn: asyncpg.Connection, url: str, directory: Path, level: str, method: str,
                  tables: tuple[Table, ...], companies: list[str] | None, start: datetime | None,
                  end: datetime | None, actor: str) -> Manifest:
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
        manifest = Manifest(level=level, method=method, created_at=datetime.now(UTC).isoformat(),
                            database=system.database_name(url),
                            storage_mode=(await detect_storage_mode(conn, enable=False)).value,
                            migrations=await _migrations(conn), companies=companies,
                            start=start.isoformat() if start else None, end=end.isoformat() if end else None,
                            timescaledb_version=await extension_version(conn))
        manifest.tables = await checksums(conn, tables, companies, start, end)
        if method == "pg_dump":
            await system.dump(url, directory, snapshot=snapshot)
            manifest.note = "pg_dump of the whole database (same snapshot as the checksums)"
        else:
            for table in tables:
                await copy_tables.export_table(conn, directory, table, companies, start, end)
            if level == "system":
                manifest.note = "COPY of every archive table (pg_dump not used); restore into a migrated database"
    manifest.files = await asyncio.to_thread(describe_files, directory)
    await asyncio.to_thread(manifest.write, directory)
    await audit.record(conn, actor=actor, entity="backup", entity_id=str(directory), action="created",
                       after={k: v for k, v in asdict(manifest).items() if k not in ("files", "tables")},
                       publish=False)
    return manifest


async def verify(directory: Path, url: str | None = None) -> dict[str, Any]:
    """Check the files against the manifest and, given ``url``, the database's rows against its checksums."""
    manifest = await asyncio.to_thread(Manifest.read, directory)
    problems = await asyncio.to_thread(verify_files, directory, manifest)
    report: dict[str, Any] = {"directory": str(directory), "level": manifest.level, "method": manifest.method,
                              "files": problems, "tables": {}}
    if url is not None:
        start, end = manifest.time_range()
        tables = tuple(t for t in TABLES if t.name in manifest.tables)
        conn = await asyncpg.connect(url)
        try:
            now = await checksums(conn, tables, manifest.companies, start, end)
        finally:
            await conn.close()
        report["tables"] = {name: {"backup": manifest.tables[name], "database": now[name]}
                            for name in manifest.tables if now[name] != manifest.tables[name]}
    report["ok"] = not report["files"] and not report["tables"]
    return report


async def restore(url: str, directory: Path, *, overwrite_masterdata: bool = False,
                  actor: str = "backup-cli") -> dict[str, Any]:
    """Restore ``directory`` into ``url``, then verify the restored rows against the manifest.

    pg_dump backups replace the database's objects (``pg_restore --clean``); COPY backups are
    loaded into the archive schema (migrated first if needed) in one transaction.
    """
    manifest = await asyncio.to_thread(Manifest.read, directory)
    problems = await asyncio.to_thread(verify_files, directory, manifest)
    if problems:
        raise system.BackupError(f"the backup is damaged: {'; '.join(problems)}")
    loaded: dict[str, Any] = {}
    if manifest.method == "pg_dump":
        await system.restore_dump(url, directory, timescaledb_version=manifest.timescaledb_version)
    else:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn, SCHEMA, MIGRATIONS)
            tables = TABLES if manifest.level == "system" else APPLICATION_TABLES
            async with conn.transaction():
                for table in (t for t in tables if t.name in manifest.tables):
                    loaded[table.name] = await copy_tables.import_table(
                        conn, directory, table, overwrite=overwrite_masterdata)
        finally:
            await conn.close()
    report = await verify(directory, url)
    conn = await asyncpg.connect(url)
    try:
        await audit.record(conn, actor=actor, entity="backup", entity_id=str(directory), action="restored",
                           after={"level": manifest.level, "method": manifest.method, "loaded": loaded,
                                  "verified": report["ok"]}, publish=False)
    finally:
        await conn.close()
    return {"loaded": loaded, "verify": report}
