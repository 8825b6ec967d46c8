"""The usage query's plan on thousands of metering points: no TimescaleDB SkipScan (measured at
over 60 s against 0.7 s for a sort, docs/benchmarks.md), in both storage modes.

The readings are written straight into ``reading_raw`` in their own months (2019) and analysed,
so the planner sees a table the size of a city's month of daily data."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from emms_archive.query.usage import plan_settings, usage_sql

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
START, END = datetime(2019, 3, 1, tzinfo=UTC), datetime(2019, 4, 1, tzinfo=UTC)
POINTS = 4000


@pytest.fixture
async def month_of_a_city(db: asyncpg.Connection, archive_service: object) -> list[str]:
    await db.fetchval("SELECT archive.ensure_partitions($1, $2)", START, END)
    await db.execute("""
        INSERT INTO archive.reading_raw (metering_point_id, item, data_time, source, meter_id, value, unit,
                                         collected_at)
        SELECT 'MP-plan-' || p, 'energy.active.import.total', $1::timestamptz + d * interval '1 day', 'scheduled',
               'M-plan-' || p, p + d * 3.5, 'kWh', $1::timestamptz + d * interval '1 day'
        FROM generate_series(1, $2::int) p, generate_series(0, 30) d
        ON CONFLICT DO NOTHING""", START, POINTS)
    await db.execute("ANALYZE archive.reading_raw")
    return [f"MP-plan-{p}" for p in range(1, POINTS + 1)]


async def _plan(db: asyncpg.Connection, points: list[str], *, settings: bool) -> str:
    sql, args = usage_sql(points, ["energy.active.import.total"], START, END, "month", "total", "raw")
    async with db.transaction():
        if settings:
            await plan_settings(db)
        rows = await db.fetch(f"EXPLAIN {sql}", *args)
    return "\n".join(r[0] for r in rows)


async def test_the_usage_query_over_thousands_of_points_is_planned_without_skipscan(
        db: asyncpg.Connection, month_of_a_city: list[str]) -> None:
    """(Without ``plan_settings`` TimescaleDB 2.28 picks the SkipScan on this data.)"""
    plan = await _plan(db, month_of_a_city, settings=True)
    assert "SkipScan" not in plan, plan
