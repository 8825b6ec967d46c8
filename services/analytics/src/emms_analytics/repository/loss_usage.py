"""SQL of the loss figures: each member point's daily usage from the rollups, and the coverage of its days.

Usage comes from ``usage_daily`` (a table on plain PostgreSQL, a continuous aggregate on TimescaleDB — the same
SQL), × the meter's multiplier, for the meters that measured the point in the day (both meters of a
replacement in the day of the swap). Coverage comes from ``usage_interval``: the earliest start and the latest
end of the intervals that end in the day, so a day whose data does not reach both of its edges is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from emms_db.connection import Connection

_POINTS = """mv AS (SELECT DISTINCT * FROM unnest($1::text[], $2::int[]) AS t(model_id, version)),
pts AS (SELECT DISTINCT mm.metering_point_id, m.item FROM mv
        JOIN {schema}.loss_model_member mm ON mm.model_id = mv.model_id AND mm.version = mv.version
        JOIN {schema}.loss_model m ON m.model_id = mv.model_id),
{periods}"""

_PERIODS = """pe AS MATERIALIZED (SELECT p.metering_point_id, pts.item, p.meter_id, p.valid_from, p.valid_to
       FROM {schema}.meter_period p JOIN pts ON pts.metering_point_id = p.metering_point_id)"""


def _usage(schema: str, start: str, end: str, tz: str) -> str:
    """``u``: (point, local day, usage × the meter's multiplier) of the points in ``pe``, from the daily rollups in
    [start, end), each day counted for the meters that measured the point in it."""
    return (f"u AS (SELECT pe.metering_point_id, (d.bucket AT TIME ZONE {tz})::date AS day,"
            f"             sum(d.usage * coalesce(m.multiplier, 1)) AS usage"
            f"      FROM {schema}.usage_daily d"
            f"      JOIN pe ON pe.meter_id = d.meter_id AND pe.item = d.item"
            f"       AND d.bucket + interval '1 day' > pe.valid_from"
            f"       AND (pe.valid_to IS NULL OR d.bucket < pe.valid_to)"
            f"      LEFT JOIN {schema}.meter m ON m.meter_id = d.meter_id"
            f"      WHERE d.bucket >= {start} AND d.bucket < {end} GROUP BY 1, 2)")


def _cover(schema: str, start: str, end: str, tz: str) -> str:
    """``c``: (point, local day, earliest start, latest end) of the intervals of the points in ``pe`` that end in
    the day, within [start, end)."""
    return (f"c AS (SELECT pe.metering_point_id, (i.at AT TIME ZONE {tz})::date AS day, min(i.starts_at) AS first,"
            f"             max(i.at) + interval '1 microsecond' AS last"
            f"      FROM {schema}.usage_interval i"
            f"      JOIN pe ON pe.meter_id = i.meter_id AND pe.item = i.item AND i.at >= pe.valid_from"
            f"       AND (pe.valid_to IS NULL OR i.at < pe.valid_to)"
            f"      WHERE i.at >= {start} AND i.at < {end} GROUP BY 1, 2)")


def _points(schema: str) -> str:
    return _POINTS.format(schema=schema, periods=_PERIODS.format(schema=schema))


async def _bulk(conn: Connection) -> None:
    """In the caller's transaction: no nested loops. The (model, version) pairs come from ``unnest``, which the
    planner estimates at 100 rows whatever its length; for thousands of models it then joined 60,000 daily rows
    to 30,000 meter periods by nested loops on TimescaleDB (13 minutes for 300 areas, measured) where hash joins
    take well under a second."""
    await conn.execute("SET LOCAL enable_nestloop = off")


async def daily_usage(conn: Connection, schema: str, versions: Sequence[tuple[str, int]], start: datetime,
                      end: datetime, local_tz: str) -> dict[tuple[str, date], float]:
    """(point, local day) → usage in register units × the meter's multiplier, for days in [start, end), of the
    members of the (model, version) pairs (each with its model's item)."""
    if not versions:
        return {}
    async with conn.transaction():
        await _bulk(conn)
        rows = await conn.fetch(
            f"WITH {_points(schema)}, {_usage(schema, '$3', '$4', '$5')}"
            f" SELECT metering_point_id, day, usage FROM u",
            [m for m, _ in versions], [v for _, v in versions], start, end, local_tz)
    return {(r["metering_point_id"], r["day"]): float(r["usage"]) for r in rows}


async def coverage(conn: Connection, schema: str, versions: Sequence[tuple[str, int]], start: datetime,
                   end: datetime, local_tz: str) -> dict[tuple[str, date], tuple[datetime, datetime]]:
    """(point, local day) → (earliest start, latest end) of the point's intervals ending in the day (the members
    of the (model, version) pairs)."""
    if not versions:
        return {}
    async with conn.transaction():
        await _bulk(conn)
        rows = await conn.fetch(
            f"WITH {_points(schema)}, {_cover(schema, '$3', '$4', '$5')}"
            f" SELECT metering_point_id, day, first, last FROM c",
            [m for m, _ in versions], [v for _, v in versions], start, end, local_tz)
    return {(r["metering_point_id"], r["day"]): (r["first"], r["last"]) for r in rows}


_TRIPLES = """t AS (SELECT * FROM unnest($1::text[], $2::date[], $3::int[]) AS t(model_id, day, version)),
mv AS (SELECT DISTINCT model_id, version FROM t),
mem AS (SELECT mm.model_id, mm.version, mm.metering_point_id, mm.side, mm.sign * mm.multiplier AS k, m.item
        FROM mv JOIN {schema}.loss_model_member mm ON mm.model_id = mv.model_id AND mm.version = mv.version
        JOIN {schema}.loss_model m ON m.model_id = mv.model_id),
pts AS (SELECT DISTINCT metering_point_id, item FROM mem),
{periods},
tm AS MATERIALIZED (SELECT t.model_id, t.day, mem.metering_point_id, mem.side, mem.k
       FROM t JOIN mem ON mem.model_id = t.model_id AND mem.version = t.version)"""
# MATERIALIZED: the planner, estimating a handful of rows for unnest and for tables not analysed yet (a fresh
# load), otherwise joined the intervals to the points on the item alone (past the 60 s command timeout, spilling
# to disk), or the days to the usage on the day alone (14 M rows, 3 s); these orders take 0.3 s on that data

Triple = tuple[str, date, int]
"""(model, local day, the version in force that day)."""


def _triples(schema: str) -> str:
    return _TRIPLES.format(schema=schema, periods=_PERIODS.format(schema=schema))


def _columns(triples: Sequence[Triple]) -> tuple[list[str], list[date], list[int]]:
    return [t[0] for t in triples], [t[1] for t in triples], [t[2] for t in triples]


async def day_sums(conn: Connection, schema: str, triples: Sequence[Triple], start: datetime, end: datetime,
                   local_tz: str) -> dict[tuple[str, date], tuple[float, float]]:
    """(model, day) → (Σ inputs, Σ outputs), each member's usage × sign × multiplier, summed in the database: one
    row per model and day comes back instead of one per member (the daily run over every model). Every member
    with usage counts; the caller uses the sums only when :func:`day_gaps` finds none missing."""
    if not triples:
        return {}
    async with conn.transaction():
        await _bulk(conn)
        rows = await conn.fetch(
            f"WITH {_triples(schema)}, {_usage(schema, '$4', '$5', '$6')}"
            f" SELECT mem.model_id, mem.day,"
            f"        coalesce(sum(mem.k * u.usage) FILTER (WHERE mem.side = 'input'), 0) AS input,"
            f"        coalesce(sum(mem.k * u.usage) FILTER (WHERE mem.side = 'output'), 0) AS output"
            f" FROM tm AS mem JOIN u ON u.metering_point_id = mem.metering_point_id AND u.day = mem.day"
            f" GROUP BY 1, 2",
            *_columns(triples), start, end, local_tz)
    return {(r["model_id"], r["day"]): (float(r["input"]), float(r["output"])) for r in rows}


async def day_gaps(conn: Connection, schema: str, triples: Sequence[Triple], start: datetime, end: datetime,
                   local_tz: str, tolerance: timedelta) -> dict[tuple[str, date], tuple[int, list[str]]]:
    """(model, day) → (members, the members whose intervals do not reach both edges of the local day within
    ``tolerance``), decided in the database (see :func:`emms_analytics.loss.figures.day_loss`)."""
    if not triples:
        return {}
    async with conn.transaction():
        await _bulk(conn)
        rows = await conn.fetch(
            f"WITH {_triples(schema)}, {_cover(schema, '$4', '$5', '$6')}"
            f" SELECT mem.model_id, mem.day, count(*) AS members,"
            f"        array_agg(mem.metering_point_id) FILTER (WHERE c.first IS NULL"
            f"          OR c.first > (mem.day::timestamp AT TIME ZONE $6) + $7::interval"
            f"          OR c.last < ((mem.day + 1)::timestamp AT TIME ZONE $6) - $7::interval) AS missing"
            f" FROM tm AS mem"
            f" LEFT JOIN c ON c.metering_point_id = mem.metering_point_id AND c.day = mem.day"
            f" GROUP BY 1, 2",
            *_columns(triples), start, end, local_tz, tolerance)
    return {(r["model_id"], r["day"]): (int(r["members"]), list(r["missing"] or ())) for r in rows}


async def store_days(conn: Connection, schema: str, rows: Sequence[dict[str, Any]]) -> None:
    await conn.executemany(
        f"INSERT INTO {schema}.loss_daily (model_id, day, version, input, output, loss, rate, complete, reason, flags)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (model_id, day) DO UPDATE SET"
        " version = EXCLUDED.version, input = EXCLUDED.input, output = EXCLUDED.output, loss = EXCLUDED.loss,"
        " rate = EXCLUDED.rate, complete = EXCLUDED.complete, reason = EXCLUDED.reason, flags = EXCLUDED.flags,"
        " computed_at = now()",
        [(r["model_id"], r["day"], r["version"], r["input"], r["output"], r["loss"], r["rate"], r["complete"],
          r["reason"], r["flags"]) for r in rows])


async def replace_anomalies(conn: Connection, schema: str, day: date, model_ids: Sequence[str],
                            rows: Sequence[dict[str, Any]]) -> None:
    await conn.execute(f"DELETE FROM {schema}.loss_anomaly WHERE day = $1 AND model_id = ANY($2::text[])",
                       day, list(model_ids))
    await conn.executemany(
        f"INSERT INTO {schema}.loss_anomaly (model_id, day, kind, rate, detail, ranked)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        [(r["model_id"], r["day"], r["kind"], r["rate"], r["detail"], r["ranked"]) for r in rows])


async def anomalies(conn: Connection, schema: str, first: date, last: date,
                    model_ids: Sequence[str] | None) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT model_id, day, kind, rate, detail, ranked::text AS ranked, raised_at FROM {schema}.loss_anomaly"
        " WHERE day >= $1 AND day <= $2 AND ($3::text[] IS NULL OR model_id = ANY($3::text[]))"
        " ORDER BY day, model_id, kind", first, last, None if model_ids is None else list(model_ids))
    return [dict(r) for r in rows]
