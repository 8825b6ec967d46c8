"""System-level backup: the whole database with ``pg_dump --format=custom``, restored with
``pg_restore --clean --if-exists --single-transaction``; or, where the PostgreSQL client tools
are missing, every archive table by COPY (restored into a database migrated to the same
schema). The manifest records which method made the backup.

A TimescaleDB database is restored as TimescaleDB requires: into a database made anew, with the
extension created at the backup's version, between ``timescaledb_pre_restore()`` and
``timescaledb_post_restore()`` (``--clean`` would drop the extension's catalog under the
hypertables)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from emms_db import drop_database, ensure_database
from emms_db.timescale import post_restore, pre_restore

DUMP = "database.dump"


class BackupError(RuntimeError):
    pass


def tools_available() -> bool:
    """True when pg_dump and pg_restore are on the PATH."""
    return shutil.which("pg_dump") is not None and shutil.which("pg_restore") is not None


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


async def _run(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise BackupError(f"{args[0]} failed ({proc.returncode}): {err.decode(errors='replace').strip()[:2000]}")


async def dump(url: str, directory: Path, *, snapshot: str | None = None) -> None:
    """``pg_dump`` the whole database; with ``snapshot``, exactly what that exported snapshot sees."""
    extra = [f"--snapshot={snapshot}"] if snapshot else []
    await _run("pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--lock-wait-timeout=120s", *extra,
               f"--file={directory / DUMP}", f"--dbname={url}")


async def restore_dump(url: str, directory: Path, *, timescaledb_version: str | None = None) -> None:
    """Replace the database's objects with the dump's (made anew for a TimescaleDB dump)."""
    if timescaledb_version:
        await _restore_timescaledb(url, directory, timescaledb_version)
        return
    await _run("pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
               "--exit-on-error", f"--dbname={url}", str(directory / DUMP))


async def _restore_timescaledb(url: str, directory: Path, version: str) -> None:
    await drop_database(url)
    await ensure_database(url)
    conn = await asyncpg.connect(url)
    try:
        await pre_restore(conn, version)
        try:
            await _run("pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
                       f"--dbname={url}", str(directory / DUMP))
        finally:
            await post_restore(conn)
    finally:
        await conn.close()
