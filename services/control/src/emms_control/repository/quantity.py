"""Quantity-control limits, per-period counters and the periods exceeded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from emms_control.quantity.rules import Counter
from emms_control.schema import SCHEMA
from emms_db.connection import Connection

S = SCHEMA


async def put_limit(conn: Connection, meter_id: str, values: Mapping[str, Any], actor: str) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"INSERT INTO {S}.quantity_limit (meter_id, period, utility, usage_limit, action, utc_offset_minutes,"
        " updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (meter_id, period) DO UPDATE SET"
        " utility = EXCLUDED.utility, usage_limit = EXCLUDED.usage_limit, action = EXCLUDED.action,"
        " utc_offset_minutes = EXCLUDED.utc_offset_minutes, updated_at = now(), updated_by = EXCLUDED.updated_by"
        " RETURNING *", meter_id, values["period"], values["utility"], values["usage_limit"], values["action"],
        values["utc_offset_minutes"], actor)
    assert row is not None
    return row


async def delete_limits(conn: Connection, meter_id: str) -> None:
    await conn.execute(f"DELETE FROM {S}.quantity_limit WHERE meter_id = $1", meter_id)
    await conn.execute(f"DELETE FROM {S}.quantity_counter WHERE meter_id = $1", meter_id)


async def limits(conn: Connection, meter_ids: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT * FROM {S}.quantity_limit WHERE meter_id = ANY($1::text[])"
                            " ORDER BY meter_id, period", list(meter_ids))


async def counters(conn: Connection, meter_ids: Sequence[str]) -> dict[tuple[str, str], Counter]:
    """The current counters of the meters, locked (FOR UPDATE) in key order."""
    rows = await conn.fetch(f"SELECT * FROM {S}.quantity_counter WHERE meter_id = ANY($1::text[])"
                            " ORDER BY meter_id, period FOR UPDATE", list(meter_ids))
    return {(r["meter_id"], r["period"]): Counter(r["period_key"], r["start_value"], r["last_value"], r["last_time"],
                                                  r["exceeded_at"]) for r in rows}


async def save_counter(conn: Connection, meter_id: str, period: str, c: Counter) -> None:
    await conn.execute(
        f"INSERT INTO {S}.quantity_counter (meter_id, period, period_key, start_value, last_value, last_time,"
        " exceeded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (meter_id, period) DO UPDATE SET"
        " period_key = EXCLUDED.period_key, start_value = EXCLUDED.start_value, last_value = EXCLUDED.last_value,"
        " last_time = EXCLUDED.last_time, exceeded_at = EXCLUDED.exceeded_at",
        meter_id, period, c.period_key, c.start_value, c.last_value, c.last_time, c.exceeded_at)


async def record_exceeded(conn: Connection, meter_id: str, period: str, c: Counter, limit: Any, action: str) -> bool:
    """One row per meter, period and period key; False when the period was recorded before."""
    status = await conn.execute(
        f"INSERT INTO {S}.quantity_exceeded (meter_id, period, period_key, used, usage_limit, action, at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        meter_id, period, c.period_key, c.used, limit, action, c.exceeded_at)
    return bool(status.endswith(" 1"))


async def exceeded(conn: Connection, meter_id: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT * FROM {S}.quantity_exceeded WHERE meter_id = $1 ORDER BY at DESC LIMIT $2",
                            meter_id, limit)


async def counter_rows(conn: Connection, meter_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT * FROM {S}.quantity_counter WHERE meter_id = $1 ORDER BY period", meter_id)
