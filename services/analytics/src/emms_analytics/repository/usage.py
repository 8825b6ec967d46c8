"""Usage by bucket and key from the rollups (the same SQL on both storage modes).

The rollup relations ``usage_hourly`` / ``usage_daily`` / ``usage_monthly`` are tables kept by
the service on plain PostgreSQL and continuous aggregates on TimescaleDB, with the same columns;
the edges of a custom period come from ``usage_interval``. A meter's usage counts for the
metering point it measured while the bucket overlaps the meter's period there (so both meters
of a replacement count in the bucket of the swap), × the meter's multiplier.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from emms_analytics.calendar import Piece
from emms_analytics.scope import Scope
from emms_analytics.selection import Selection, points_sql
from emms_db.connection import Connection
from emms_db.where import Where

TABLE = {"monthly": ("usage_monthly", "1 month"), "daily": ("usage_daily", "1 day"),
         "hourly": ("usage_hourly", "1 hour")}


def _source(schema: str, parts: list[Piece], items: list[str], w: Where) -> str:
    items_p = w.param(items)
    selects = []
    for p in parts:
        lo, hi = w.param(p.start), w.param(p.end)
        if p.level == "interval":
            selects.append(f"SELECT meter_id, item, at, interval '1 microsecond' AS width, delta AS usage,"
                           f" 1::bigint AS intervals, estimated::int::bigint AS estimated"
                           f" FROM {schema}.usage_interval WHERE item = ANY({items_p}::text[])"
                           f" AND at >= {lo} AND at < {hi}")
        else:
            table, width = TABLE[p.level]
            selects.append(f"SELECT meter_id, item, bucket AS at, interval '{width}' AS width, usage, intervals,"
                           f" estimated FROM {schema}.{table} WHERE item = ANY({items_p}::text[])"
                           f" AND bucket >= {lo} AND bucket < {hi}")
    return " UNION ALL ".join(selects) if selects else (
        "SELECT NULL::text AS meter_id, NULL::text AS item, NULL::timestamptz AS at, NULL::interval AS width,"
        " NULL::float8 AS usage, NULL::bigint AS intervals, NULL::bigint AS estimated WHERE false")


def usage_sql(schema: str, sel: Selection, scope: Scope, parts: list[Piece], items: list[str], interval: str,
              group_by: str, period_start: datetime, local_tz: str) -> tuple[str, list[Any]]:
    w = Where()
    pts = points_sql(schema, sel, group_by, scope, w)
    src = _source(schema, parts, items, w)
    if interval == "period":
        bucket = f"{w.param(period_start)}::timestamptz"
    else:
        bucket = f"date_trunc('{interval}', s.at, {w.param(local_tz)}::text)"
    sql = f"""
WITH pts AS ({pts}),
periods AS (SELECT p.meter_id, p.valid_from, p.valid_to, pts.metering_point_id, pts.key
            FROM {schema}.meter_period p JOIN pts ON pts.metering_point_id = p.metering_point_id),
s AS ({src})
SELECT {bucket} AS bucket, pe.key, s.item, sum(s.usage * coalesce(m.multiplier, 1)) AS usage,
       sum(s.intervals)::bigint AS intervals, sum(s.estimated)::bigint AS estimated,
       count(DISTINCT pe.metering_point_id) AS metering_points
FROM s
JOIN periods pe ON pe.meter_id = s.meter_id AND s.at + s.width > pe.valid_from
                AND (pe.valid_to IS NULL OR s.at < pe.valid_to)
LEFT JOIN {schema}.meter m ON m.meter_id = s.meter_id
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3"""
    return sql, w.args


async def usage(conn: Connection, schema: str, sel: Selection, scope: Scope, parts: list[Piece], items: list[str],
                interval: str, group_by: str, period_start: datetime, local_tz: str,
                timeout_ms: int) -> list[dict[str, Any]]:
    sql, args = usage_sql(schema, sel, scope, parts, items, interval, group_by, period_start, local_tz)
    async with conn.transaction(readonly=True):
        await conn.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
        rows = [dict(r) for r in await conn.fetch(sql, *args)]
    zone = ZoneInfo(local_tz)
    for r in rows:
        r["bucket"] = r["bucket"].astimezone(zone)
    return rows


async def count_points(conn: Connection, schema: str, sel: Selection, scope: Scope) -> int:
    w = Where()
    pts = points_sql(schema, sel, "metering_point", scope, w)
    return int(await conn.fetchval(f"SELECT count(DISTINCT metering_point_id) FROM ({pts}) x", *w.args) or 0)
