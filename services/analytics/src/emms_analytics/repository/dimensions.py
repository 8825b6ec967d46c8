"""Usage per customer × month and per region × company × utility × month, kept by the service.

``usage_customer_monthly`` holds, per customer, utility (the point's), item and local month, what
the monthly query over ``usage_monthly`` answers for that customer: usage × the meter's multiplier
of every meter while the month overlaps its period on one of the customer's points, intervals,
estimated intervals and the points counted. The customer's region and company are copied onto its
rows; ``usage_region_monthly`` is the sum of the customer rows by (region, company, utility, item,
month). A customer's rows are rewritten whole for the months asked (deleted: their figures
subtracted from the region rows they were counted in; recomputed: added to the region rows of the
customer's region now), so a customer moving region or company, a point changing owner, a meter
replacement or a new multiplier keep both tables equal to the query over the meter rollups.

Writers (the readings consumer on plain PostgreSQL, the refresher on TimescaleDB, the master-data
consumer) are serialised by one transaction-scoped advisory lock taken after the meter rollups are
written, so each recomputation reads every monthly row committed before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from emms_db.connection import Connection

LOCK_CLASS = 0x4144  # "AD": analytics' dimension rollups (the meters' locks are class "AN")
LOCK_KEY = 0

_FRESH = """
SELECT mp.customer_id, coalesce(mp.utility, c.utility, '') AS utility, um.item, um.bucket,
       coalesce(c.region_id, '') AS region_id, coalesce(c.company_id, '') AS company_id,
       sum(um.usage * coalesce(m.multiplier, 1)) AS usage, sum(um.intervals)::bigint AS intervals,
       sum(um.estimated)::bigint AS estimated, count(DISTINCT mp.metering_point_id) AS metering_points
FROM {schema}.metering_point mp
LEFT JOIN {schema}.customer c ON c.customer_id = mp.customer_id
JOIN {schema}.meter_period p ON p.metering_point_id = mp.metering_point_id
JOIN {schema}.usage_monthly um ON um.meter_id = p.meter_id AND um.bucket + interval '1 month' > p.valid_from
                              AND (p.valid_to IS NULL OR um.bucket < p.valid_to)
LEFT JOIN {schema}.meter m ON m.meter_id = p.meter_id
WHERE mp.customer_id = ANY($1::text[]) {months}
GROUP BY 1, 2, 3, 4, 5, 6"""

_KEY = "region_id, company_id, utility, item, bucket"
_SUMS = ("sum(usage) AS usage, sum(intervals)::bigint AS intervals, sum(estimated)::bigint AS estimated,"
         " sum(metering_points)::bigint AS metering_points")

_SUBTRACT = f"""
WITH old AS (DELETE FROM {{schema}}.usage_customer_monthly u WHERE u.customer_id = ANY($1::text[]) {{months}}
             RETURNING {_KEY}, usage, intervals, estimated, metering_points),
d AS (SELECT {_KEY}, {_SUMS} FROM old GROUP BY {_KEY})
UPDATE {{schema}}.usage_region_monthly r
SET usage = r.usage - d.usage, intervals = r.intervals - d.intervals, estimated = r.estimated - d.estimated,
    metering_points = r.metering_points - d.metering_points
FROM d
WHERE r.region_id = d.region_id AND r.company_id = d.company_id AND r.utility = d.utility AND r.item = d.item
  AND r.bucket = d.bucket
RETURNING r.region_id, r.company_id, r.utility, r.item, r.bucket, r.metering_points"""

_ADD = f"""
WITH new AS (INSERT INTO {{schema}}.usage_customer_monthly (customer_id, utility, item, bucket, region_id, company_id,
                                                            usage, intervals, estimated, metering_points)
             {_FRESH}
             RETURNING {_KEY}, usage, intervals, estimated, metering_points)
INSERT INTO {{schema}}.usage_region_monthly AS r ({_KEY}, usage, intervals, estimated, metering_points)
SELECT {_KEY}, {_SUMS} FROM new GROUP BY {_KEY}
ON CONFLICT (region_id, company_id, utility, item, bucket) DO UPDATE
SET usage = r.usage + EXCLUDED.usage, intervals = r.intervals + EXCLUDED.intervals,
    estimated = r.estimated + EXCLUDED.estimated, metering_points = r.metering_points + EXCLUDED.metering_points"""

_EMPTIED = """
DELETE FROM {schema}.usage_region_monthly r
USING unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS k(g, c, u, i, b)
WHERE r.region_id = k.g AND r.company_id = k.c AND r.utility = k.u AND r.item = k.i AND r.bucket = k.b
  AND r.metering_points <= 0"""


async def lock(conn: Connection) -> None:
    """Serialise the writers of the dimension rollups (until the caller's transaction ends)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1::int, $2::int)", LOCK_CLASS, LOCK_KEY)


async def rewrite_customers(conn: Connection, schema: str, customers: Iterable[str],
                            months: Sequence[datetime] | None = None) -> None:
    """Rewrite the customers' rows for ``months`` (local month starts; None: every month) and the
    region rows they count in (in the caller's transaction)."""
    ids = sorted({c for c in customers if c})
    if not ids:
        return
    args: list[object] = [ids]
    where = ""
    if months is not None:
        if not months:
            return
        args.append(sorted(set(months)))
        where = "AND {col}.bucket = ANY($2::timestamptz[])"
    await lock(conn)
    gone = await conn.fetch(_SUBTRACT.format(schema=schema, months=where.format(col="u")), *args)
    await conn.execute(_ADD.format(schema=schema, months=where.format(col="um")), *args)
    emptied = [r for r in gone if r["metering_points"] <= 0]
    if emptied:
        await conn.execute(_EMPTIED.format(schema=schema), *[[r[k] for r in emptied] for k in
                                                              ("region_id", "company_id", "utility", "item",
                                                               "bucket")])


async def customers_of_meters(conn: Connection, schema: str, meters: Iterable[str]) -> list[str]:
    """The customers of every point the meters measured at any time (a superset is harmless)."""
    ids = sorted(set(meters))
    if not ids:
        return []
    rows = await conn.fetch(f"""SELECT DISTINCT mp.customer_id FROM {schema}.meter_period p
        JOIN {schema}.metering_point mp ON mp.metering_point_id = p.metering_point_id
        WHERE p.meter_id = ANY($1::text[]) AND mp.customer_id IS NOT NULL""", ids)
    return [r[0] for r in rows]


async def months_of(conn: Connection, ats: Sequence[datetime], local_tz: str) -> list[datetime]:
    """The local month starts of the instants."""
    if not ats:
        return []
    rows = await conn.fetch("SELECT DISTINCT date_trunc('month', a, $2::text) FROM unnest($1::timestamptz[]) a",
                            list(ats), local_tz)
    return [r[0] for r in rows]


async def follow_meters(conn: Connection, schema: str, keys: Sequence[tuple[str, str, datetime]],
                        local_tz: str) -> None:
    """Plain PostgreSQL, after the meter rollups: rewrite the customers' months the touched intervals fall in."""
    if not keys:
        return
    months = await months_of(conn, [k[2] for k in keys], local_tz)
    await rewrite_customers(conn, schema, await customers_of_meters(conn, schema, {k[0] for k in keys}), months)


async def mark_dirty(conn: Connection, schema: str, keys: Sequence[tuple[str, str, datetime]],
                     local_tz: str) -> None:
    """TimescaleDB: remember the (meter, month) pairs whose customers the refresher must rewrite."""
    if keys:
        await conn.execute(f"""INSERT INTO {schema}.dimension_dirty (meter_id, bucket)
            SELECT DISTINCT m, date_trunc('month', a, $3::text)
            FROM unnest($1::text[], $2::timestamptz[]) AS x(m, a)""",
                           [k[0] for k in keys], [k[2] for k in keys], local_tz)


async def mark_customers_dirty(conn: Connection, schema: str, customers: Iterable[str]) -> None:
    """TimescaleDB: the master-data consumer's customers, rewritten (every month) by the refresher after the
    aggregates hold every reading recorded before (a month read before its refresh would be stale)."""
    ids = sorted({c for c in customers if c})
    if ids:
        await conn.execute(f"INSERT INTO {schema}.dimension_dirty (customer_id) SELECT unnest($1::text[])", ids)


Dirty = tuple[int, str | None, str | None, datetime | None]


async def pending_dirty(conn: Connection, schema: str, limit: int = 100_000) -> list[Dirty]:
    rows = await conn.fetch(f"SELECT id, meter_id, customer_id, bucket FROM {schema}.dimension_dirty"
                            f" ORDER BY id LIMIT {int(limit)}")
    return [(r["id"], r["meter_id"], r["customer_id"], r["bucket"]) for r in rows]


async def follow_dirty(conn: Connection, schema: str, dirty: Sequence[Dirty]) -> None:
    """TimescaleDB, after the aggregates are refreshed: rewrite the recorded customers' months and forget them."""
    if not dirty:
        return
    whole = {customer for _, meter, customer, _ in dirty if meter is None and customer is not None}
    by_month: dict[datetime, set[str]] = {}
    for _, meter, _, month in dirty:
        if meter is not None and month is not None:
            by_month.setdefault(month, set()).add(meter)
    if whole:
        await rewrite_customers(conn, schema, whole)
    for month, meters in sorted(by_month.items()):
        customers = set(await customers_of_meters(conn, schema, meters)) - whole
        await rewrite_customers(conn, schema, customers, [month])
    await conn.execute(f"DELETE FROM {schema}.dimension_dirty WHERE id = ANY($1::bigint[])", [d[0] for d in dirty])


async def customers_of_change(conn: Connection, schema: str, entity: str, entity_id: str,
                              data: dict[str, object]) -> set[str]:
    """The customers whose rows a master-data change may alter (asked before and after applying it):
    the customer itself; a point's owner; the owner of the point a meter is installed on; the owners
    of the points a meter measured (its multiplier)."""
    out: set[str] = set()
    given = data.get("customer_id")
    if given not in (None, ""):
        out.add(str(given))
    if entity == "customer":
        out.add(str(data.get("id") or entity_id))
    elif entity in ("metering_point", "meter_installation"):
        point = str(data.get("metering_point_id") or entity_id) if entity == "meter_installation" else entity_id
        owner = await conn.fetchval(f"SELECT customer_id FROM {schema}.metering_point WHERE metering_point_id = $1",
                                    point)
        if owner:
            out.add(str(owner))
        if entity == "meter_installation" and data.get("meter_id") not in (None, ""):
            out.update(await customers_of_meters(conn, schema, [str(data["meter_id"])]))
    elif entity == "meter":
        out.update(await customers_of_meters(conn, schema, [entity_id]))
    return out
