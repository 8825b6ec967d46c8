"""Usage: increments of cumulative registers, summed by period and by dimension (R-4.3.4).

Usage in a bucket is the sum of the increments between consecutive readings of the same
meter at the same metering point, attributed to the bucket of the later reading, times the
meter's multiplier (倍率, by default its CT ratio × PT ratio). A meter replacement starts a new series,
so the old and the new register are never subtracted from each other; a negative increment
(register roll-over or reset, left to VEE to repair) is not counted. One reading per data
time is used (the first source in key order); the validated layer uses the latest version
and leaves out ``held`` values.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from emms_archive.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where

WORK_MEM = "64MB"
Interval = Literal["hour", "day", "month", "quarter", "year", "range"]
LOCAL_TZ = "Asia/Shanghai"
GroupBy = Literal["metering_point", "customer", "party", "region", "company", "utility", "total"]

LOOKBACK = {"hour": timedelta(hours=1), "day": timedelta(days=1), "month": timedelta(days=31),
            "quarter": timedelta(days=92), "year": timedelta(days=366), "range": timedelta(days=1)}
GROUP_KEY = {"metering_point": "mp.id", "customer": "c.id", "party": "c.party_id", "region": "c.region_id",
             "company": "c.company_id", "utility": "mp.utility", "total": "'total'"}


def _source(layer: str, w: Where) -> str:
    if layer == "raw":
        return (f"SELECT DISTINCT ON (r.metering_point_id, r.item, r.data_time) r.metering_point_id, r.meter_id,"
                f" r.item, r.data_time, r.value, r.unit FROM {SCHEMA}.reading_raw r WHERE {w.sql()}"
                f" ORDER BY r.metering_point_id, r.item, r.data_time, r.source")
    return (f"SELECT * FROM (SELECT DISTINCT ON (r.metering_point_id, r.item, r.data_time) r.metering_point_id,"
            f" r.meter_id, r.item, r.data_time, r.value, r.unit, r.status FROM {SCHEMA}.reading_validated r"
            f" WHERE {w.sql()} ORDER BY r.metering_point_id, r.item, r.data_time, r.validated_at DESC, r.status) v"
            f" WHERE v.status <> 'held'")


def usage_sql(points: list[str] | None, items: list[str] | None, start: datetime, end: datetime,
              interval: Interval, group_by: GroupBy, layer: str,
              local_tz: str = LOCAL_TZ) -> tuple[str, list[Any]]:
    w = Where()
    w.add("r.data_time >= {} AND r.data_time < {}", start - LOOKBACK[interval], end)
    w.add("r.value IS NOT NULL")
    w.add_any("r.metering_point_id", points)
    w.add_any("r.item", items)
    start_p = w.param(start)
    bucket = (f"{start_p}::timestamptz" if interval == "range"
              else f"date_trunc('{interval}', s.data_time, {w.param(local_tz)}::text)")
    key = GROUP_KEY[group_by]
    # increments per meter and bucket first (one pass over the readings), then the few resulting
    # rows are joined to master data for the factor and the grouping key
    sql = f"""
WITH d AS ({_source(layer, w)}),
s AS (
    SELECT d.metering_point_id, d.meter_id, d.item, d.unit, d.data_time,
           CASE WHEN d.meter_id = lag(d.meter_id) OVER w THEN d.value - lag(d.value) OVER w END AS delta
    FROM d
    WINDOW w AS (PARTITION BY d.metering_point_id, d.item ORDER BY d.data_time)
),
per_meter AS (
    SELECT {bucket} AS bucket, s.metering_point_id, s.meter_id, s.item, s.unit,
           sum(s.delta) FILTER (WHERE s.delta >= 0) AS usage, count(s.delta) AS intervals
    FROM s
    WHERE s.data_time >= {start_p} AND s.delta IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5
)
SELECT pm.bucket, {key} AS key, pm.item, pm.unit,
       sum(pm.usage * m.multiplier) AS usage,
       sum(pm.intervals)::bigint AS intervals, count(DISTINCT pm.metering_point_id) AS metering_points
FROM per_meter pm
JOIN {SCHEMA}.meter m ON m.id = pm.meter_id
JOIN {SCHEMA}.metering_point mp ON mp.id = pm.metering_point_id
JOIN {SCHEMA}.customer c ON c.id = mp.customer_id
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3"""
    return sql, w.args


async def usage(conn: Connection, points: list[str] | None, items: list[str] | None, start: datetime,
                end: datetime, *, interval: Interval = "day", group_by: GroupBy = "metering_point",
                layer: str = "raw", local_tz: str = LOCAL_TZ) -> list[dict[str, Any]]:
    if points is not None and not points:
        return []
    sql, args = usage_sql(points, items, start, end, interval, group_by, layer, local_tz)
    async with conn.transaction(readonly=True):
        await plan_settings(conn)
        rows = [dict(r) for r in await conn.fetch(sql, *args)]
    zone = ZoneInfo(local_tz)
    for row in rows:
        row["bucket"] = row["bucket"].astimezone(zone)
    return rows


async def plan_settings(conn: Connection) -> None:
    """How the usage query must be planned, for this transaction.

    * ``work_mem``: the window sorts in memory, not on disk.
    * TimescaleDB's SkipScan off: for ``DISTINCT ON (point, item, time)`` over thousands of point
      ids it picks a SkipScan that took over 60 s where a plain sort takes 0.7 s (measured,
      ``docs/benchmarks.md``). On plain PostgreSQL the setting is an inert placeholder.
    * custom plans: a prepared statement's generic plan (from its sixth run) ignores the actual
      ids and ranges and was measured at 19.8 s for the same query.
    """
    await conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    await conn.execute("SET LOCAL timescaledb.enable_skipscan = off")
    await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
