"""``fep.traffic_daily``: per-terminal traffic per day (public-network traffic management, R-4.6.7)."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from emms_fep.stats import FIELDS, TrafficDelta

CHUNK = 2000

ADD = """
INSERT INTO {schema}.traffic_daily AS t (terminal, day, {fields})
SELECT * FROM unnest($1::text[], $2::date[], $3::int8[], $4::int8[], $5::int8[], $6::int8[], $7::int8[],
                     $8::int8[], $9::int8[])
ON CONFLICT (terminal, day) DO UPDATE SET {sums}
"""


def _sql(schema: str) -> str:
    sums = ", ".join(f"{f} = t.{f} + EXCLUDED.{f}" for f in FIELDS)
    return ADD.format(schema=schema, fields=", ".join(FIELDS), sums=sums)


async def add_traffic(pool: asyncpg.Pool, schema: str, deltas: list[TrafficDelta]) -> None:
    """Add the deltas to each terminal's row of the day, in statements of at most ``CHUNK`` rows."""
    if not deltas:
        return
    sql = _sql(schema)
    async with pool.acquire() as conn, conn.transaction():  # all or nothing: a failed flush is given back whole
        for start in range(0, len(deltas), CHUNK):
            part = deltas[start:start + CHUNK]
            columns: list[list[Any]] = [[d.terminal for d in part], [d.day for d in part]]
            columns += [[d.values[i] for d in part] for i in range(len(FIELDS))]
            await conn.execute(sql, *columns)


async def traffic_of(pool: asyncpg.Pool, schema: str, terminal: str, first: date, last: date) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"SELECT day, {', '.join(FIELDS)} FROM {schema}.traffic_daily"
        " WHERE terminal = $1 AND day BETWEEN $2 AND $3 ORDER BY day", terminal, first, last)
    return [dict(r) for r in rows]


async def traffic_totals(pool: asyncpg.Pool, schema: str, day: date) -> dict[str, Any]:
    sums = ", ".join(f"COALESCE(sum({f}), 0)::int8 AS {f}" for f in FIELDS)
    row = await pool.fetchrow(
        f"SELECT count(*) AS terminals, {sums} FROM {schema}.traffic_daily WHERE day = $1", day)
    return dict(row) if row else {}
