"""SQL of terminals' channels, relay routes and SIM traffic allowances (``terminal_channel``, R-4.6.6), and the
traffic they are held against (``traffic_daily``)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from emms_db.connection import Connection


def _row(row: Any) -> dict[str, Any]:
    out = dict(row)
    for key in ("primary_channel", "standby_channel"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    return out


async def put(conn: Connection, schema: str, terminal: str, values: dict[str, Any], by: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"INSERT INTO {schema}.terminal_channel (terminal, primary_channel, standby_channel, relay_via, sim_iccid,"
        " allowance_day_bytes, allowance_month_bytes, updated_by) VALUES ($1, $2::jsonb, $3::jsonb, $4, $5, $6, $7, $8)"
        " ON CONFLICT (terminal) DO UPDATE SET primary_channel = excluded.primary_channel,"
        " standby_channel = excluded.standby_channel, relay_via = excluded.relay_via, sim_iccid = excluded.sim_iccid,"
        " allowance_day_bytes = excluded.allowance_day_bytes, allowance_month_bytes = excluded.allowance_month_bytes,"
        " updated_by = excluded.updated_by, updated_at = now() RETURNING *",
        terminal, json.dumps(values["primary_channel"]),
        None if values.get("standby_channel") is None else json.dumps(values["standby_channel"]),
        values.get("relay_via"), values.get("sim_iccid"), values.get("allowance_day_bytes"),
        values.get("allowance_month_bytes"), by)
    return _row(row)


async def get(conn: Connection, schema: str, terminal: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT * FROM {schema}.terminal_channel WHERE terminal = $1", terminal)
    return _row(row) if row else None


async def remove(conn: Connection, schema: str, terminal: str) -> bool:
    return bool(await conn.fetchval(f"DELETE FROM {schema}.terminal_channel WHERE terminal = $1 RETURNING true",
                                    terminal))


MAX_HOPS = 8
"""A relay route ends after this many terminals (the API's chain and the FEP's routes alike)."""


async def relay_chain(conn: Connection, schema: str, terminal: str, limit: int = MAX_HOPS) -> list[str]:
    """The terminals ``terminal`` is reached through, nearest first (a loop ends the chain)."""
    rows = await conn.fetch(
        f"""WITH RECURSIVE chain(terminal, via, depth, seen) AS (
              SELECT terminal, relay_via, 1, ARRAY[terminal] FROM {schema}.terminal_channel WHERE terminal = $1
              UNION ALL
              SELECT c.terminal, c.relay_via, chain.depth + 1, chain.seen || c.terminal
              FROM {schema}.terminal_channel c JOIN chain ON c.terminal = chain.via
              WHERE NOT c.terminal = ANY(chain.seen) AND chain.depth < $2)
            SELECT via FROM chain WHERE via IS NOT NULL ORDER BY depth""", terminal, limit)
    return [r["via"] for r in rows]


async def usage(conn: Connection, schema: str, day: date, *, terminal: str | None = None,
                over_only: bool = False, limit: int = 1000) -> list[dict[str, Any]]:
    """Per terminal with an allowance: bytes (in + out) of ``day`` and of its month, the allowances and whether
    either is exceeded; the worst share first."""
    first = day.replace(day=1)
    rows = await conn.fetch(
        f"""SELECT c.terminal, c.sim_iccid, c.allowance_day_bytes, c.allowance_month_bytes,
                   coalesce(sum(t.bytes_in + t.bytes_out) FILTER (WHERE t.day = $1), 0)::int8 AS day_bytes,
                   coalesce(sum(t.bytes_in + t.bytes_out), 0)::int8 AS month_bytes
            FROM {schema}.terminal_channel c
            LEFT JOIN {schema}.traffic_daily t ON t.terminal = c.terminal AND t.day BETWEEN $2 AND $1
            WHERE (c.allowance_day_bytes IS NOT NULL OR c.allowance_month_bytes IS NOT NULL)
              AND ($3::text IS NULL OR c.terminal = $3)
            GROUP BY c.terminal""", day, first, terminal)
    out = []
    for r in rows:
        d = dict(r)
        d["day_over"] = d["allowance_day_bytes"] is not None and d["day_bytes"] > d["allowance_day_bytes"]
        d["month_over"] = d["allowance_month_bytes"] is not None and d["month_bytes"] > d["allowance_month_bytes"]
        shares = [d["day_bytes"] / d["allowance_day_bytes"] if d["allowance_day_bytes"] else 0.0,
                  d["month_bytes"] / d["allowance_month_bytes"] if d["allowance_month_bytes"] else 0.0]
        d["share"] = round(max(shares), 4)
        if d["day_over"] or d["month_over"] or not over_only:
            out.append(d)
    out.sort(key=lambda d: (-d["share"], d["terminal"]))
    return out[:limit]


async def relay_map(conn: Connection, schema: str) -> dict[str, str]:
    """terminal → the terminal it is relayed through, for every relayed terminal (the FEP's relay routes)."""
    rows = await conn.fetch(f"SELECT terminal, relay_via FROM {schema}.terminal_channel WHERE relay_via IS NOT NULL")
    return {r["terminal"]: r["relay_via"] for r in rows}
