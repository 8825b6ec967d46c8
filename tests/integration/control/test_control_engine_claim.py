"""The command engine's claim of pending devices at the size of a large group job, on tables without statistics.

Right after a job of thousands of devices is inserted ``control.job_devices`` has no statistics (autovacuum has
not analysed it yet, or is off). The claim once joined its window of candidates back to ``job_devices``; with
no statistics the planner went through the partial pending index with a filter on (meter, terminal) for every
candidate — a scan of the whole job per device: 13–20 s per claim at 10,000 devices, during which nothing was
sent and every result waited on the claim's row locks (the group-trip bench of issue 15 took 94 s). Here one
claim of 6,000 pending devices must finish under a statement timeout of 2.5 s (the old query took ~7 s on this
machine; the fixed one tens of milliseconds), and claim exactly what the in-flight rule allows.

Its own database, so that no other test's job or running engine shares the tables and they are never analysed.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

import emms_control
from emms_control.commands import submit_command
from emms_control.commands.policy import configure, policy
from emms_control.repository import engine as eng_sql
from emms_control.schema import SCHEMA
from emms_db import drop_database, ensure_database
from emms_db.migrations import migrate

pytestmark = [pytest.mark.integration]
MIGRATIONS = Path(emms_control.__file__).parent / "migrations"
TERMINALS, METERS_PER, IN_FLIGHT, BATCH = 120, 50, 16, 2000


@pytest.fixture
async def claim_url(database_url: str) -> AsyncIterator[str]:
    url = urlunsplit(urlsplit(database_url)._replace(path=f"/emms_claim_{secrets.token_hex(4)}"))
    await ensure_database(url)
    try:
        yield url
    finally:
        await drop_database(url)


@pytest.fixture
async def conn(claim_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(claim_url)
    try:
        await migrate(connection, SCHEMA, MIGRATIONS, enable_timescaledb=False)
        yield connection
    finally:
        await connection.close()


async def _group_trip(conn: asyncpg.Connection) -> str:
    terminals = [f"3701-{t:05d}" for t in range(1, TERMINALS + 1)]
    meters = [(f"M{t:03d}{m:02d}", term) for t, term in enumerate(terminals) for m in range(METERS_PER)]
    await conn.execute(
        "INSERT INTO control.devices (meter_id, terminal, pn, port, protocol, meter_address, utility)"
        " SELECT m, t, 2, 31, 'dlt645-2007', lpad(m, 12, '0'), 'electricity' FROM unnest($1::text[], $2::text[])"
        " AS u(m, t)", [m for m, _ in meters], [t for _, t in meters])
    before = policy()
    configure(confirm_above=100_000)
    try:
        async with conn.transaction():
            return await submit_command(conn, meter_ids=[m for m, _ in meters], action="trip", origin="manual",
                                        reason="claim test", requested_by="test", check_rates=False)
    finally:
        configure(confirm_above=before.confirm_above)


async def test_claim_of_a_large_job_is_fast_without_statistics(conn: asyncpg.Connection) -> None:
    job_id = await _group_trip(conn)
    assert await conn.fetchval("SELECT reltuples FROM pg_class WHERE oid = 'control.job_devices'::regclass") < 0, \
        "job_devices was analysed: the test would not show the planner's blind spot"
    async with conn.transaction():
        await conn.execute("SET LOCAL statement_timeout = '2500ms'")
        rows = await eng_sql.claim_pending(conn, IN_FLIGHT, BATCH)
        per_terminal = Counter(r["terminal"] for r in rows)
        assert len(rows) == TERMINALS * IN_FLIGHT
        assert set(per_terminal.values()) == {IN_FLIGHT}
        assert {r["job_id"] for r in rows} == {uuid.UUID(job_id)}
        assert all(r["state"] == "pending" and r["action"] == "trip" and r["job_state"] == "running" for r in rows)
        # the first devices of each terminal, in the job's order
        first = {(t, s) for t, s in await conn.fetch(
            "SELECT terminal, seq FROM (SELECT terminal, seq, row_number() OVER (PARTITION BY terminal ORDER BY seq)"
            " AS rn FROM control.job_devices WHERE job_id = $1::uuid) x WHERE rn <= $2", job_id, IN_FLIGHT)}
        assert {(r["terminal"], r["seq"]) for r in rows} == first
        await eng_sql.mark_sent(conn, [(r["job_id"], r["meter_id"], r["terminal"], f"ctl-t{i}", "command", 1)
                                       for i, r in enumerate(rows)], datetime.now(UTC))
    async with conn.transaction():
        await conn.execute("SET LOCAL statement_timeout = '2500ms'")
        assert await eng_sql.claim_pending(conn, IN_FLIGHT, BATCH) == [], "every terminal has its requests out"
        assert len(await eng_sql.claim_pending(conn, IN_FLIGHT + 4, BATCH)) == TERMINALS * 4


async def test_claim_skips_rows_another_transaction_holds(conn: asyncpg.Connection, claim_url: str) -> None:
    """Two engines (or a restarted one beside its predecessor's open transaction) never claim the same device."""
    await _group_trip(conn)
    other = await asyncpg.connect(claim_url)
    try:
        async with conn.transaction(), other.transaction():
            first = await eng_sql.claim_pending(conn, IN_FLIGHT, 500)
            second = await eng_sql.claim_pending(other, IN_FLIGHT, BATCH)
            assert len(first) == 500
            keys = {(r["meter_id"], r["terminal"]) for r in first}
            assert keys.isdisjoint((r["meter_id"], r["terminal"]) for r in second)
            assert len(second) == TERMINALS * IN_FLIGHT - 500
    finally:
        await other.close()
