"""TimescaleDB operations the services need beside plain SQL: the extension's version, its
background jobs held still (for a consistent dump), and the restore bracket.

A ``pg_dump`` that joins a snapshot exported by another transaction can deadlock with a
compression or retention job: the snapshot's transaction holds ``ACCESS SHARE`` on a
hypertable, the job queues for a stronger lock, and ``pg_dump``'s own ``ACCESS SHARE`` queues
behind the job. :func:`jobs_paused` unschedules this database's policy jobs, waits for running
ones to end, and schedules them again afterwards (also on error).

Whoever replaces a policy (the archive keeps them equal to its settings) takes
:data:`POLICY_LOCK` in its transaction (:func:`lock_policies`); ``jobs_paused`` holds the same lock
for its whole block, so a policy is never replaced under a paused job (and the other way round).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg

from emms_db.connection import Connection
from emms_db.locks import advisory_key

POLICY_JOBS = """
SELECT job_id FROM timescaledb_information.jobs
WHERE scheduled AND proc_schema = '_timescaledb_functions'
  AND proc_name IN ('policy_compression', 'policy_retention', 'policy_reorder',
                    'policy_refresh_continuous_aggregate')
"""
RUNNING = """
SELECT count(*) FROM timescaledb_information.job_stats s
JOIN timescaledb_information.jobs j USING (job_id)
WHERE s.job_status = 'Running' AND j.proc_schema = '_timescaledb_functions'
"""


POLICY_LOCK = advisory_key("emms.timescaledb.policies")


async def lock_policies(conn: Connection) -> None:
    """In a transaction: wait for any backup holding the jobs still, and keep it out until commit."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", POLICY_LOCK)


_POLICIES = {  # kind → (the job's config key and add_…_policy argument, remove function, add function)
    "retention": ("drop_after", "remove_retention_policy", "add_retention_policy"),
    "compression": ("compress_after", "remove_compression_policy", "add_compression_policy"),
}


async def set_policy(conn: Connection, hypertable: str, kind: str, after: timedelta | None) -> bool:
    """Make ``schema.table``'s retention or compression policy act after ``after`` (None: no
    policy); True when it had to change. Replaced under :func:`lock_policies`."""
    key, remove, add = _POLICIES[kind]
    schema, table = hypertable.split(".", 1)
    now = await conn.fetchval(
        f"SELECT (config->>'{key}')::interval FROM timescaledb_information.jobs"
        " WHERE proc_name = $1 AND hypertable_schema = $2 AND hypertable_name = $3", f"policy_{kind}", schema, table)
    if (now if isinstance(now, timedelta) else None) == after:
        return False
    async with conn.transaction():
        await lock_policies(conn)
        await conn.execute(f"SELECT {remove}($1::regclass, if_exists => true)", hypertable)
        if after is not None:
            await conn.execute(f"SELECT {add}($1::regclass, {key} => $2::interval)", hypertable, after)
    return True


class JobsBusy(RuntimeError):
    """A TimescaleDB job was still running when the wait ended."""


async def extension_version(conn: Connection) -> str | None:
    """The installed TimescaleDB version of this database, or None without the extension."""
    value = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    return None if value is None else str(value)


async def _set_scheduled(conn: Connection, jobs: list[int], scheduled: bool) -> None:
    """A job removed meanwhile (a policy replaced by the archive's settings) is skipped: its
    successor is a new job, scheduled as it was made."""
    for job in jobs:
        try:
            await conn.execute("SELECT alter_job($1, scheduled => $2)", job, scheduled)
        except asyncpg.UndefinedObjectError:  # "job N not found"
            continue


@asynccontextmanager
async def jobs_paused(conn: Connection, *, wait_s: float = 120.0) -> AsyncIterator[list[int]]:
    """Hold this database's policy jobs still for the block; yield the ids that were paused."""
    await conn.execute("SELECT pg_advisory_lock($1)", POLICY_LOCK)
    paused = [int(r["job_id"]) for r in await conn.fetch(POLICY_JOBS)]
    await _set_scheduled(conn, paused, False)
    try:
        deadline = time.monotonic() + wait_s
        while await conn.fetchval(RUNNING):
            if time.monotonic() > deadline:
                raise JobsBusy(f"a TimescaleDB policy job still runs after {wait_s:.0f} s")
            await asyncio.sleep(0.2)
        yield paused
    finally:
        try:
            await _set_scheduled(conn, paused, True)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", POLICY_LOCK)


async def pre_restore(conn: Connection, version: str) -> None:
    """Prepare an empty database for ``pg_restore`` of a TimescaleDB dump made with ``version``."""
    await conn.execute(f"CREATE EXTENSION IF NOT EXISTS timescaledb VERSION '{_checked(version)}'")
    have = await extension_version(conn)
    if have != version:
        raise RuntimeError(f"the backup was made with TimescaleDB {version}; this database has {have}")
    await conn.execute("SELECT timescaledb_pre_restore()")


async def post_restore(conn: Connection) -> None:
    """End restore mode (background workers start again)."""
    await conn.execute("SELECT timescaledb_post_restore()")


def _checked(version: str) -> str:
    if not all(c.isalnum() or c in ".-" for c in version):
        raise ValueError(f"not an extension version: {version!r}")
    return version
