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
                timeout_ms: int, table: str | None = None) -> list[dict[str, Any]]:
    """Usage rows; from the dimension rollup ``table`` when :func:`rollup_for` named one."""
    if table is None:
        sql, args = usage_sql(schema, sel, scope, parts, items, interval, group_by, period_start, local_tz)
    else:
        sql, args = dimension_sql(schema, table, sel, scope, parts, items, interval, group_by, period_start,
                                  local_tz)
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


CUSTOMER_KEYS: dict[str, str] = {"customer": "u.customer_id", "party": "c.party_id",
                                 "region": "nullif(u.region_id, '')", "industry": "coalesce(c.industry, '')",
                                 "category": "c.category", "company": "nullif(u.company_id, '')",
                                 "utility": "u.utility", "total": "'total'"}
REGION_KEYS: dict[str, str] = {"region": "u.region_id", "company": "nullif(u.company_id, '')",
                               "utility": "u.utility", "total": "'total'"}


def rollup_for(sel: Selection, scope: Scope, parts: list[Piece], interval: str, group_by: str) -> str | None:
    """The dimension rollup that answers the query exactly, if one does: ``usage_region_monthly``
    or ``usage_customer_monthly`` (None: the meter rollups). Each answer bucket must be one local
    month (the points counted in a bucket are then a plain sum), the filters and the grouping must
    be attributes of the customer, and a region, customer, party or company filter must keep out
    the points without a known owner (the customer rows do not hold those)."""
    if not parts or any(p.level != "monthly" for p in parts):
        return None
    if interval != "month" and not (interval == "period" and len(parts) == 1 and _one_month(parts[0])):
        return None
    if sel.nodes is not None or sel.groups is not None or sel.metering_points is not None or sel.extra:
        return None
    if not (sel.regions or sel.customers or sel.parties or sel.companies):
        return None
    if (group_by in REGION_KEYS and sel.regions and not scope.customers and sel.customers is None
            and sel.parties is None and sel.industries is None and sel.categories is None
            and sel.min_capacity_kva is None):
        return "usage_region_monthly"
    return "usage_customer_monthly" if group_by in CUSTOMER_KEYS else None


def _one_month(p: Piece) -> bool:
    return (p.end - p.start).days <= 31


def dimension_sql(schema: str, table: str, sel: Selection, scope: Scope, parts: list[Piece], items: list[str],
                  interval: str, group_by: str, period_start: datetime, local_tz: str) -> tuple[str, list[Any]]:
    """Usage by bucket and key from a dimension rollup (:func:`rollup_for`): the same rows as :func:`usage_sql`."""
    w = Where()
    w.add("u.item = ANY({}::text[])", items)
    w.parts.append(" OR ".join(f"(u.bucket >= {w.param(p.start)} AND u.bucket < {w.param(p.end)})" for p in parts))
    if sel.regions is not None:
        w.add(f"u.region_id IN (SELECT {schema}.region_subtree({{}}::text[]))", sel.regions)
    w.add_any("u.company_id", sel.companies)
    w.add_any("u.utility", sel.utilities)
    scope.owned("u", w)
    keys = REGION_KEYS if table == "usage_region_monthly" else CUSTOMER_KEYS
    join = ""
    if table == "usage_customer_monthly":
        w.add_any("u.customer_id", sel.customers)
        w.add_any("c.party_id", sel.parties)
        w.add_any("c.industry", sel.industries)
        w.add_any("c.category", sel.categories)
        w.add_if("c.contracted_capacity_kva >= {}", sel.min_capacity_kva)
        if group_by in ("party", "industry", "category") or sel.parties is not None or sel.industries is not None \
                or sel.categories is not None or sel.min_capacity_kva is not None:
            join = f"JOIN {schema}.customer c ON c.customer_id = u.customer_id"
    bucket = (f"{w.param(period_start)}::timestamptz" if interval == "period"
              else f"date_trunc('month', u.bucket, {w.param(local_tz)}::text)")
    sql = f"""
SELECT {bucket} AS bucket, {keys[group_by]} AS key, u.item, sum(u.usage) AS usage,
       sum(u.intervals)::bigint AS intervals, sum(u.estimated)::bigint AS estimated,
       sum(u.metering_points)::bigint AS metering_points
FROM {schema}.{table} u {join}
WHERE {w.sql()}
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3"""
    return sql, w.args


async def dimension_rows_estimate(conn: Connection, schema: str, table: str, sel: Selection, scope: Scope,
                                  items: list[str], parts: list[Piece]) -> int:
    """Rows the dimension query reads at most: (customers or region rows) × items × months."""
    months = sum(max(1, round((p.end - p.start).days / 30.4)) for p in parts)
    if table == "usage_region_monthly":
        return len(items) * months
    w = Where()
    if sel.regions is not None:
        w.add(f"c.region_id IN (SELECT {schema}.region_subtree({{}}::text[]))", sel.regions)
    w.add_any("c.customer_id", sel.customers)
    w.add_any("c.party_id", sel.parties)
    w.add_any("c.company_id", sel.companies)
    scope.owned("c", w)
    customers = int(await conn.fetchval(f"SELECT count(*) FROM {schema}.customer c WHERE {w.sql()}", *w.args) or 0)
    return customers * len(items) * months
