"""Ordered SQL migrations per service schema, applied once under an advisory lock.

Files are named ``NNNN_description.sql`` and applied in order. A file may start
with header lines that say when and how it runs::

    -- emms: mode=timescaledb        (only when TimescaleDB is active)
    -- emms: mode=postgresql         (only on plain PostgreSQL: native partitioning)
    -- emms: transactional=false     (run outside a transaction, e.g. continuous aggregates)

``{schema}`` in a file is replaced by the service's schema name. Applied files
are recorded with their checksum in ``<schema>.schema_migrations``; a changed
file that was already applied is an error, never silently re-run. Files skipped
for the other storage mode are recorded as skipped, so a later mode change is
visible rather than half-applied. The advisory lock makes concurrent runs from
several replicas safe: one applies, the others wait and then find nothing to do. A second,
database-wide lock is held while any one file is applied, so services starting together do not
race on objects they share (the ``reporting`` schema and role).

A schema's *layout* is the mode its applied mode-specific files were written for. When a
schema laid out for plain PostgreSQL meets a server with TimescaleDB (the extension installed
later, or the database moved to a TimescaleDB server), the runner converts it with the
directory's ``convert/postgresql_to_timescaledb.sql`` (create-and-copy, every row kept, one
transaction; the line ``-- emms: timescaledb-migrations`` in it stands for the text of every
``mode=timescaledb`` migration of the directory, in order, so the new layout is built by the very
files a new database runs), records the TimescaleDB files as applied by that conversion and the plain ones as
superseded, and goes on in timescaledb mode. Without that file the schema keeps its layout and
the reported mode stays ``postgresql``. A schema laid out for TimescaleDB on a server without
it is an error: its hypertables cannot be read there.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from emms_db.connection import Connection
from emms_db.locks import advisory_key
from emms_db.storage_mode import StorageMode, detect_storage_mode

SHARED_KEY = advisory_key("emms.migrate.shared")
"""Held while any service applies one file: services share objects beyond their schemas (the
``reporting`` schema, its role), and ``CREATE … IF NOT EXISTS`` run at once by two of them fails on
the catalogue's unique index."""

log = logging.getLogger("emms.migrations")
CONVERSION = Path("convert") / "postgresql_to_timescaledb.sql"
SPLICE = "-- emms: timescaledb-migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_HEADER = re.compile(r"^--\s*emms:\s*(\w+)\s*=\s*(\w+)\s*$")


class MigrationError(RuntimeError):
    """A migration could not be applied, or an applied one was changed."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str
    mode: StorageMode | None
    transactional: bool


@dataclass(frozen=True, slots=True)
class MigrationReport:
    schema: str
    mode: StorageMode
    applied: tuple[str, ...]
    skipped: tuple[str, ...]
    converted: bool = False
    """The schema was moved from the plain-PostgreSQL layout to TimescaleDB in this run."""


def load_migrations(directory: Path) -> list[Migration]:
    """Read and order the migration files of one directory."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_description.sql")
        sql = path.read_text(encoding="utf-8")
        headers = {}
        for line in sql.splitlines():
            head = _HEADER.match(line.strip())
            if not head:
                break
            headers[head.group(1)] = head.group(2)
        mode = StorageMode(headers["mode"]) if "mode" in headers else None
        found.append(Migration(
            version=int(match.group(1)), name=path.name, sql=sql,
            checksum=hashlib.sha256(sql.encode()).hexdigest(), mode=mode,
            transactional=headers.get("transactional", "true") != "false",
        ))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise MigrationError(f"{directory}: two migration files share a version number")
    return found


async def migrate(conn: Connection, schema: str, directory: Path, *,
                  enable_timescaledb: bool = True) -> MigrationReport:
    """Apply the pending migrations of ``directory`` to ``schema``.

    ``enable_timescaledb=False`` never creates the extension (a database that has it already is
    still in timescaledb mode).
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise MigrationError(f"bad schema name {schema!r}")
    migrations = load_migrations(directory)
    key = advisory_key(f"emms.migrate.{schema}")
    await conn.execute("SELECT pg_advisory_lock($1)", key)
    try:
        mode = await detect_storage_mode(conn, enable=enable_timescaledb)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " status text NOT NULL, storage_mode text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch(f"SELECT version, name, checksum, status FROM {schema}.schema_migrations")
        done = {r["version"]: r for r in rows}
        for m in migrations:
            if m.version in done and done[m.version]["checksum"] != m.checksum:
                raise MigrationError(f"{schema}/{m.name} changed after it was applied")
        layout = _layout(migrations, done)
        converted = False
        if layout is StorageMode.TIMESCALEDB and mode is StorageMode.POSTGRESQL:
            raise MigrationError(f"schema {schema} is laid out for TimescaleDB; this server has no TimescaleDB")
        if layout is StorageMode.POSTGRESQL and mode is StorageMode.TIMESCALEDB:
            if (directory / CONVERSION).is_file():
                await _convert(conn, schema, directory, migrations)
                converted = True
            else:
                mode = StorageMode.POSTGRESQL
        applied: list[str] = []
        skipped: list[str] = []
        for m in migrations:
            if m.version in done:
                continue
            await conn.execute("SELECT pg_advisory_lock($1)", SHARED_KEY)
            try:
                status = await _apply_one(conn, schema, m, mode)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", SHARED_KEY)
            (applied if status == "applied" else skipped).append(m.name)
        return MigrationReport(schema, mode, tuple(applied), tuple(skipped), converted)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", key)


def _layout(migrations: list[Migration], done: dict[int, asyncpg.Record]) -> StorageMode | None:
    """The mode the schema's applied mode-specific files were written for (None: no such file)."""
    modes = {m.mode for m in migrations
             if m.mode is not None and m.version in done and done[m.version]["status"] == "applied"}
    if len(modes) > 1:
        raise MigrationError(f"files of both storage modes are applied: {sorted(modes)}")
    return modes.pop() if modes else None


async def _convert(conn: Connection, schema: str, directory: Path, migrations: list[Migration]) -> None:
    text = (directory / CONVERSION).read_text(encoding="utf-8")
    if SPLICE not in text:
        raise MigrationError(f"{CONVERSION} has no line {SPLICE!r}")
    layout = "\n".join(m.sql for m in migrations if m.mode is StorageMode.TIMESCALEDB)
    sql = text.replace(SPLICE, layout).replace("{schema}", schema)
    ts = [m.version for m in migrations if m.mode is StorageMode.TIMESCALEDB]
    plain = [m.version for m in migrations if m.mode is StorageMode.POSTGRESQL]
    log.warning("converting schema %s from the plain-PostgreSQL layout to TimescaleDB", schema)
    try:
        async with conn.transaction():
            await conn.execute(sql)
            await conn.execute(f"UPDATE {schema}.schema_migrations SET status = 'applied', storage_mode = $2,"
                               " applied_at = now() WHERE version = ANY($1)", ts, StorageMode.TIMESCALEDB.value)
            await conn.execute(f"UPDATE {schema}.schema_migrations SET status = 'superseded', storage_mode = $2"
                               " WHERE version = ANY($1)", plain, StorageMode.TIMESCALEDB.value)
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"{schema}/{CONVERSION}: {exc}") from exc


async def _apply_one(conn: Connection, schema: str, m: Migration, mode: StorageMode) -> str:
    status = "applied" if m.mode in (None, mode) else "skipped"
    record = (
        f"INSERT INTO {schema}.schema_migrations (version, name, checksum, status, storage_mode)"
        " VALUES ($1, $2, $3, $4, $5)"
    )
    sql = m.sql.replace("{schema}", schema)
    try:
        if m.transactional or status == "skipped":
            async with conn.transaction():
                if status == "applied":
                    await conn.execute(sql)
                await conn.execute(record, m.version, m.name, m.checksum, status, mode.value)
        else:
            await conn.execute(sql)
            await conn.execute(record, m.version, m.name, m.checksum, status, mode.value)
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"{schema}/{m.name}: {exc}") from exc
    return status


async def migrate_url(url: str, schema: str, directory: Path, *,
                      enable_timescaledb: bool = True) -> MigrationReport:
    """Open one connection to ``url`` and migrate (used by the CLI and ``make up``)."""
    conn = await asyncpg.connect(url)
    try:
        return await migrate(conn, schema, directory, enable_timescaledb=enable_timescaledb)
    finally:
        await conn.close()
