"""Validated readings → register values → interval usage → rollups, in the consumer's transaction.

Only what changed is recomputed: a reading stored (new, or a later version: an actual replacing
an estimate, a held value released or a correction) changes the interval that ends at it and
the one that ends at the next value of the series; those intervals, and the hour / day / month
buckets they fall in, are all that is rewritten. Late data (a back-fill) therefore changes
exactly the buckets it touches. A meter replacement starts a new series (another meter id), so
the old and the new register are never subtracted from each other. A decrease is a roll-over
when the register's width is known and the repaired increase (+ 10^digits) is less than half the
register; any other decrease is not usage (no interval).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from emms_db.connection import Connection
from emms_messages.readings import ValidatedReading, ValidationStatus

MICRO = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Touched:
    """Interval ends (``at``) rewritten, per (meter, item): what the rollups must follow."""

    keys: list[tuple[str, str, datetime]]

    @property
    def window(self) -> tuple[datetime, datetime] | None:
        if not self.keys:
            return None
        ats = [k[2] for k in self.keys]
        return min(ats), max(ats)


def latest_versions(readings: Iterable[ValidatedReading]) -> list[ValidatedReading]:
    """One reading per (meter, item, data time): the latest validated version (a later one in the batch wins a tie)."""
    best: dict[tuple[str, str, datetime], ValidatedReading] = {}
    for r in readings:
        key = (r.meter_id, r.item, r.data_time)
        old = best.get(key)
        if old is None or r.validated_at >= old.validated_at:
            best[key] = r
    return list(best.values())


def _columns(readings: Sequence[ValidatedReading]) -> list[list[Any]]:
    return [[r.meter_id for r in readings], [r.item for r in readings], [r.data_time for r in readings],
            [None if r.status is ValidationStatus.HELD else r.value for r in readings],
            [str(r.status) for r in readings], [r.validated_at for r in readings]]


_UPSERT = """
INSERT INTO {schema}.{table} AS t (meter_id, item, data_time, value, status, validated_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[], $5::text[], $6::timestamptz[])
ON CONFLICT (meter_id, item, data_time) DO UPDATE
SET value = EXCLUDED.value, status = EXCLUDED.status, validated_at = EXCLUDED.validated_at
WHERE EXCLUDED.validated_at >= t.validated_at
  AND (t.value IS DISTINCT FROM EXCLUDED.value OR t.status <> EXCLUDED.status)
RETURNING meter_id, item, data_time, (xmax = 0) AS inserted"""


async def store_curves(conn: Connection, schema: str, readings: Sequence[ValidatedReading]) -> None:
    if readings:
        await conn.fetch(_UPSERT.format(schema=schema, table="curve_value"), *_columns(latest_versions(readings)))


async def store_registers(conn: Connection, schema: str, readings: Sequence[ValidatedReading]) -> Touched:
    """Store register values; rewrite the intervals they change. Returns the rewritten interval ends."""
    if not readings:
        return Touched([])
    changed = await conn.fetch(_UPSERT.format(schema=schema, table="register_value"),
                               *_columns(latest_versions(readings)))
    return await rewrite(conn, schema, [(r["meter_id"], r["item"], r["data_time"]) for r in changed],
                         new_values={(r["meter_id"], r["item"], r["data_time"]) for r in changed if r["inserted"]})


async def rewrite_decreases(conn: Connection, schema: str, meter_id: str) -> Touched:
    """The meter's register width became known or changed: rewrite the intervals over a decrease
    (a roll-over is usage once the width is known; readings may have arrived before the master data)."""
    rows = await conn.fetch(f"""
SELECT meter_id, item, data_time FROM (
    SELECT meter_id, item, data_time, value, lag(value) OVER (PARTITION BY item ORDER BY data_time) AS prev
    FROM {schema}.register_value WHERE meter_id = $1 AND value IS NOT NULL) x
WHERE value < prev""", meter_id)
    return await rewrite(conn, schema, [(r["meter_id"], r["item"], r["data_time"]) for r in rows])


async def rewrite(conn: Connection, schema: str, changed: Sequence[tuple[str, str, datetime]],
                  new_values: Set[tuple[str, str, datetime]] = frozenset()) -> Touched:
    """Rewrite the intervals ending at the changed values and at the value after each.

    ``new_values``: the changed values that did not exist before (inserted, not updated): no interval
    ends at them yet. An interval is upserted where there is one now and deleted only where there is
    none now and there may have been one. On a hypertable a ``DELETE`` joined to a list of keys probes
    every chunk's index for every key (13 chunks for a year of 30-day chunks), where an insert goes to
    the one chunk its time falls in; a day's collection — every value new, after the last — deletes
    nothing.
    """
    if not changed:
        return Touched([])
    rows = await conn.fetch(f"""
WITH ch(m, i, t) AS (SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])),
ends AS (
    SELECT m, i, t FROM ch
    UNION
    SELECT ch.m, ch.i, nx.data_time FROM ch CROSS JOIN LATERAL (
        SELECT r.data_time FROM {schema}.register_value r
        WHERE r.meter_id = ch.m AND r.item = ch.i AND r.data_time > ch.t AND r.value IS NOT NULL
        ORDER BY r.data_time LIMIT 1) nx
)
SELECT e.m, e.i, e.t, cur.value, cur.status, pv.data_time AS prev_time, pv.value AS prev_value,
       pv.status AS prev_status, mt.register_digits
FROM ends e
LEFT JOIN {schema}.register_value cur ON cur.meter_id = e.m AND cur.item = e.i AND cur.data_time = e.t
LEFT JOIN LATERAL (
    SELECT r.data_time, r.value, r.status FROM {schema}.register_value r
    WHERE r.meter_id = e.m AND r.item = e.i AND r.data_time < e.t AND r.value IS NOT NULL
    ORDER BY r.data_time DESC LIMIT 1) pv ON true
LEFT JOIN {schema}.meter mt ON mt.meter_id = e.m""",
                            [c[0] for c in changed], [c[1] for c in changed], [c[2] for c in changed])
    new: list[tuple[str, str, datetime, datetime, float, bool]] = []
    for r in rows:
        delta = increase(r["prev_value"], r["value"], r["register_digits"])
        if delta is not None:
            estimated = ValidationStatus.ESTIMATED.value in (r["status"], r["prev_status"])
            new.append((r["m"], r["i"], r["t"] - MICRO, r["prev_time"], delta, estimated))
    keys = [(r["m"], r["i"], r["t"] - MICRO) for r in rows]
    kept = {n[:3] for n in new}
    gone = [k for r, k in zip(rows, keys, strict=True) if k not in kept and (r["m"], r["i"], r["t"]) not in new_values]
    if gone:
        await conn.execute(f"""DELETE FROM {schema}.usage_interval u
            USING unnest($1::text[], $2::text[], $3::timestamptz[]) AS k(m, i, at)
            WHERE u.meter_id = k.m AND u.item = k.i AND u.at = k.at""",
                           [k[0] for k in gone], [k[1] for k in gone], [k[2] for k in gone])
    if new:
        await conn.execute(f"""INSERT INTO {schema}.usage_interval (meter_id, item, at, starts_at, delta, estimated)
            SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::float8[],
                                 $6::bool[])
            ON CONFLICT (meter_id, item, at) DO UPDATE
            SET starts_at = EXCLUDED.starts_at, delta = EXCLUDED.delta, estimated = EXCLUDED.estimated""",
                           *[list(c) for c in zip(*new, strict=True)])
    return Touched(keys)


def increase(previous: float | None, current: float | None, digits: int | None) -> float | None:
    """The register's increase from ``previous`` to ``current`` (None: no usage interval)."""
    if previous is None or current is None:
        return None
    delta = current - previous
    if delta >= 0:
        return delta
    if digits:
        modulus = 10.0 ** digits
        if 0 <= delta + modulus < modulus / 2:
            return delta + modulus
    return None


_ROLL = """
WITH k(m, i, b) AS (SELECT DISTINCT m, i, date_trunc('{unit}', at, $4::text)
                    FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS x(m, i, at)),
agg AS (
    SELECT k.m, k.i, k.b, a.usage, a.n_rows, a.intervals, a.estimated
    FROM k CROSS JOIN LATERAL (  -- one index range per bucket, whatever the planner thinks of the sizes
        SELECT sum({value}) AS usage, count(*) AS n_rows, coalesce(sum({intervals}), 0)::bigint AS intervals,
               coalesce(sum({estimated}), 0)::bigint AS estimated
        FROM {schema}.{source} s
        WHERE s.meter_id = k.m AND s.item = k.i AND s.{time_col} >= k.b
          AND s.{time_col} < ((k.b AT TIME ZONE $4::text) + interval '1 {unit}') AT TIME ZONE $4::text) a
),
gone AS (DELETE FROM {schema}.{target} t USING agg
         WHERE agg.n_rows = 0 AND t.meter_id = agg.m AND t.item = agg.i AND t.bucket = agg.b)
INSERT INTO {schema}.{target} (meter_id, item, bucket, usage, intervals, estimated)
SELECT m, i, b, usage, intervals, estimated FROM agg WHERE n_rows > 0
ON CONFLICT (meter_id, item, bucket) DO UPDATE
SET usage = EXCLUDED.usage, intervals = EXCLUDED.intervals, estimated = EXCLUDED.estimated"""

_STEPS = (
    ("hour", "usage_interval", "usage_hourly", "at", "s.delta", "1", "s.estimated::int"),
    ("day", "usage_hourly", "usage_daily", "bucket", "s.usage", "s.intervals", "s.estimated"),
    ("month", "usage_daily", "usage_monthly", "bucket", "s.usage", "s.intervals", "s.estimated"),
)


async def roll_up(conn: Connection, schema: str, touched: Touched, local_tz: str) -> None:
    """Plain PostgreSQL: recompute the hour, day and month buckets the rewritten intervals fall in."""
    if not touched.keys:
        return
    ordered = sorted(touched.keys)  # one lock order for every consumer
    cols = [[k[0] for k in ordered], [k[1] for k in ordered], [k[2] for k in ordered]]
    for unit, source, target, time_col, value, intervals, estimated in _STEPS:
        await conn.execute(_ROLL.format(schema=schema, unit=unit, source=source, target=target, time_col=time_col,
                                        value=value, intervals=intervals, estimated=estimated), *cols, local_tz)


async def mark_for_refresh(conn: Connection, schema: str, touched: Touched) -> None:
    """TimescaleDB: remember the window the continuous aggregates must refresh."""
    window = touched.window
    if window is not None:
        await conn.execute(f"INSERT INTO {schema}.refresh_window (lo, hi) VALUES ($1, $2)", *window)
