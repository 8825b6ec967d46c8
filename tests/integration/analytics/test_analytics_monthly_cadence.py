"""TimescaleDB's refresher: while windows keep coming the monthly aggregate (recomputed over whole months) waits,
its windows kept in ``refresh_window_month``; a round that finds no new window — or one told the monthly level is
due — refreshes it, and the customer rollups follow. Driven round by round through ``rollups.refresh_pending`` on
a database of its own; the monthly aggregate's watermark tells whether it was materialised."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from emms_analytics.app import SPEC
from emms_analytics.rollups import Refreshed, refresh_pending
from emms_db import drop_database, ensure_database, migrate

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
TZ = "Asia/Shanghai"
E = "energy.active.import.total"
WATERMARK = """SELECT _timescaledb_functions.cagg_watermark(c.mat_hypertable_id)
               FROM _timescaledb_catalog.continuous_agg c
               WHERE c.user_view_schema = 'analytics' AND c.user_view_name = 'usage_monthly'"""
"""The monthly aggregate's watermark, in TimescaleDB's internal microseconds (the least bigint before any refresh)."""


def local(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=ZoneInfo(TZ)).astimezone(UTC)


@pytest.fixture
async def pool(database_url: str, storage_mode: str) -> AsyncIterator[asyncpg.Pool]:
    if storage_mode != "timescaledb":
        pytest.skip("the continuous aggregates' refresher is TimescaleDB's")
    url = f"{database_url}_cadence_{secrets.token_hex(3)}"
    await ensure_database(url)
    conn = await asyncpg.connect(url)
    try:
        assert SPEC.migrations is not None
        await migrate(conn, "analytics", SPEC.migrations)
    finally:
        await conn.close()
    p = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        yield p
    finally:
        await p.close()
        await drop_database(url)


async def _interval(pool: asyncpg.Pool, day: int, delta: float) -> None:
    """One usage interval of the day and its window, as the readings consumer records them."""
    at = local(day)
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO analytics.usage_interval (meter_id, item, at, starts_at, delta)"
                           " VALUES ('MC1', $1, $2, $3, $4)", E, at, local(day, 0), delta)
        await conn.execute("INSERT INTO analytics.refresh_window (lo, hi) VALUES ($1, $1)", at)


async def test_the_monthly_level_waits_while_windows_keep_coming(pool: asyncpg.Pool) -> None:
    async def pending() -> tuple[int, int]:
        return (await pool.fetchval("SELECT count(*) FROM analytics.refresh_window"),
                await pool.fetchval("SELECT count(*) FROM analytics.refresh_window_month"))

    await _interval(pool, 10, 5.0)
    assert await refresh_pending(pool, "analytics", TZ, monthly_due=False) == Refreshed(1, False)
    assert await pending() == (0, 1)
    daily = await pool.fetchval("SELECT usage FROM analytics.usage_daily WHERE meter_id = 'MC1'")
    assert daily == 5.0  # the daily level is refreshed every round
    unrefreshed = await pool.fetchval(WATERMARK)
    await _interval(pool, 11, 7.0)
    assert await refresh_pending(pool, "analytics", TZ, monthly_due=False) == Refreshed(1, False)
    assert await pending() == (0, 2) and await pool.fetchval(WATERMARK) == unrefreshed
    # a round with no new window: the stream has paused, the months waiting are refreshed
    assert await refresh_pending(pool, "analytics", TZ, monthly_due=False) == Refreshed(0, True)
    assert await pending() == (0, 0)
    refreshed = await pool.fetchval(f"SELECT _timescaledb_functions.to_timestamp(({WATERMARK}))")
    assert refreshed == datetime(2026, 2, 1, tzinfo=ZoneInfo(TZ))
    assert await pool.fetchval("SELECT usage FROM analytics.usage_monthly WHERE meter_id = 'MC1'") == 12.0
    # due: a new window's month is refreshed in the same round
    await _interval(pool, 12, 1.0)
    assert await refresh_pending(pool, "analytics", TZ, monthly_due=True) == Refreshed(1, True)
    assert await pending() == (0, 0)
    assert await pool.fetchval("SELECT usage FROM analytics.usage_monthly WHERE meter_id = 'MC1'") == 13.0
