"""TimescaleDB: refresh the continuous aggregates over the windows late or corrected data touched.

The aggregates are real-time (``materialized_only = false``): usage newer than their last
refresh is aggregated on read. Older buckets change only when refreshed; the refresh policies
do it every minute / five minutes / half hour, and this worker does it within
``refresh_interval_s`` for exactly the windows the consumer recorded (hourly, then daily, each widened
to whole local buckets, each in one batch). The monthly level is recomputed over whole months (``force``):
at the end of a month that reads every meter's days of the month, so while a collection streams in it runs
at most every ``monthly_refresh_every_s`` — and at once when a round finds no new window (the stream has
paused); its windows wait in ``refresh_window_month`` meanwhile. The customer and region rollups follow the
monthly level. ``CALL refresh_continuous_aggregate`` cannot run in a transaction block, so it runs on its
own connection outside one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import structlog

from emms_analytics.calendar import add, truncate
from emms_analytics.repository import dimensions
from emms_db.connection import Connection

log = structlog.get_logger("emms.analytics.rollups")
ONE_BATCH = '{"buckets_per_batch": 0}'
"""One transaction per refresh: TimescaleDB 2.28 refreshes a manual window in batches of 10 buckets by
default, which took 15-26 s for 17 months of hourly buckets of 8 meters, against 0.3 s in one batch."""
LEVELS = (("usage_hourly", "hour", False), ("usage_daily", "day", True), ("usage_monthly", "month", True))
"""The aggregates bottom-up, and whether their window is recomputed whatever the invalidation log says:
a daily refresh did not invalidate the monthly aggregate above it (TimescaleDB 2.28, measured: the
month kept its old total until refreshed with ``force``), so the aggregates over aggregates are
recomputed over exactly the touched days and months."""

WINDOWS_PER_ROUND = 10_000

Window = tuple[datetime, datetime]


def merged(windows: list[Window], gap: timedelta = timedelta(days=1)) -> list[Window]:
    """Overlapping windows (or ones less than ``gap`` apart) as one; a back-fill of last year and
    today's collection stay two small windows rather than one of a year."""
    out: list[Window] = []
    for lo, hi in sorted(windows):
        if out and lo <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


@dataclass(frozen=True, slots=True)
class Refreshed:
    windows: int
    """Windows whose hourly and daily aggregates were refreshed."""
    monthly: bool
    """Whether the monthly level (and the customer and region rollups after it) ran."""


async def refresh_pending(pool: asyncpg.Pool, schema: str, local_tz: str, monthly_due: bool = True) -> Refreshed:
    """Refresh every recorded window; the monthly level when ``monthly_due`` or when no window was new."""
    tz = ZoneInfo(local_tz)
    async with pool.acquire() as conn:
        # the (meter, month) pairs first: their windows were recorded in the same transactions, so
        # every one of them is among the windows refreshed before its customers are rewritten
        dirty = await dimensions.pending_dirty(conn, schema)
        rows = await conn.fetch(f"SELECT id, lo, hi FROM {schema}.refresh_window ORDER BY id LIMIT {WINDOWS_PER_ROUND}")
        await _refresh(conn, schema, [(r["lo"], r["hi"]) for r in rows], LEVELS[:2], tz)
        if rows:
            await conn.execute(f"""WITH done AS (DELETE FROM {schema}.refresh_window WHERE id = ANY($1::bigint[])
                                                 RETURNING lo, hi)
                                   INSERT INTO {schema}.refresh_window_month (lo, hi) SELECT lo, hi FROM done""",
                               [r["id"] for r in rows])
        if len(rows) == WINDOWS_PER_ROUND or (rows and not monthly_due):
            return Refreshed(len(rows), False)  # a dirty pair's window may be among those left for the next round
        months = await conn.fetch(f"SELECT id, lo, hi FROM {schema}.refresh_window_month ORDER BY id")
        await _refresh(conn, schema, [(r["lo"], r["hi"]) for r in months], LEVELS[2:], tz)
        await conn.execute(f"DELETE FROM {schema}.refresh_window_month WHERE id = ANY($1::bigint[])",
                           [r["id"] for r in months])
        await _follow(conn, schema, dirty)
        return Refreshed(len(rows), bool(months) or bool(dirty))


async def _refresh(conn: Connection, schema: str, windows: list[Window], levels: tuple[tuple[str, str, bool], ...],
                   tz: ZoneInfo) -> None:
    for lo, hi in merged(windows):
        for view, unit, force in levels:
            start = truncate(lo, unit, tz)
            end = add(truncate(hi, unit, tz), unit, 1, tz)
            await conn.execute(f"CALL refresh_continuous_aggregate('{schema}.{view}', $1::timestamptz,"
                               f" $2::timestamptz, force => $3, options => '{ONE_BATCH}')", start, end, force)
        log.debug("refreshed", lo=lo.isoformat(), hi=hi.isoformat(), levels=[v for v, _, _ in levels])


async def _follow(conn: Connection, schema: str, dirty: list[dimensions.Dirty]) -> None:
    """The customer and region rollups of the refreshed months (one transaction)."""
    if dirty:
        async with conn.transaction():
            await dimensions.follow_dirty(conn, schema, dirty)
