"""Charges and the state they are computed from: meter links, baselines and tier usage."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from emms_control.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where

S = SCHEMA


async def lock_links(conn: Connection, meter_ids: Sequence[str]) -> list[asyncpg.Record]:
    """The open accounts of these meters with their meter link, the accounts locked (in id order)."""
    return await conn.fetch(
        f"SELECT m.meter_id, m.multiplier, a.account_id, a.utility, a.category, a.tariff_id, a.charge_from"
        f" FROM {S}.account_meter m JOIN {S}.account a USING (account_id)"
        " WHERE m.active AND a.status = 'open' AND m.meter_id = ANY($1::text[])"
        " ORDER BY a.account_id, m.meter_id FOR UPDATE OF a", list(meter_ids))


async def baselines(conn: Connection, pairs: Sequence[tuple[str, str]]) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT b.* FROM {S}.meter_baseline b JOIN unnest($1::text[], $2::text[]) AS k(account_id, meter_id)"
        " USING (account_id, meter_id)", [p[0] for p in pairs], [p[1] for p in pairs])


async def save_baselines(conn: Connection, rows: Sequence[tuple[str, str, datetime, dict[str, str], str,
                                                                 datetime | None]]) -> None:
    await conn.executemany(
        f"INSERT INTO {S}.meter_baseline (account_id, meter_id, data_time, registers, status, held_since)"
        " VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT (account_id, meter_id) DO UPDATE SET"
        " data_time = excluded.data_time, registers = excluded.registers, status = excluded.status,"
        " held_since = excluded.held_since",
        [(a, m, t, json.dumps(v), s, h) for a, m, t, v, s, h in rows])


async def tier_usage(conn: Connection, account_ids: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT * FROM {S}.tier_usage WHERE account_id = ANY($1::text[])", list(account_ids))


async def save_tier_usage(conn: Connection, rows: Sequence[tuple[str, str, str, Decimal]]) -> None:
    await conn.executemany(
        f"INSERT INTO {S}.tier_usage (account_id, basis, period_key, quantity) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (account_id, basis, period_key) DO UPDATE SET quantity = excluded.quantity", rows)


async def insert_charges(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[Any]:
    """Insert charges not stored yet; the ids of those inserted."""
    if not rows:
        return set()
    inserted = await conn.fetch(
        f"INSERT INTO {S}.charge (charge_id, account_id, meter_id, tariff_id, start_time, end_time, quantity, amount,"
        " flags, start_status, end_status, lines)"
        " SELECT c, a, m, t, s, e, q, am, CASE WHEN f = '' THEN '{}'::text[] ELSE string_to_array(f, ',') END,"
        " ss, es, l FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],"
        " $6::timestamptz[], $7::numeric[], $8::numeric[], $9::text[], $10::text[], $11::text[], $12::jsonb[])"
        " AS u(c, a, m, t, s, e, q, am, f, ss, es, l)"
        " ON CONFLICT (charge_id) DO NOTHING RETURNING charge_id",
        [r["charge_id"] for r in rows], [r["account_id"] for r in rows], [r["meter_id"] for r in rows],
        [r["tariff_id"] for r in rows], [r["start"] for r in rows], [r["end"] for r in rows],
        [r["quantity"] for r in rows], [r["amount"] for r in rows], [",".join(r["flags"]) for r in rows],
        [r["start_status"] for r in rows], [r["end_status"] for r in rows], [json.dumps(r["lines"]) for r in rows])
    return {r["charge_id"] for r in inserted}


async def charges(conn: Connection, account_id: str, since: datetime | None, until: datetime | None,
                  meter_id: str | None, limit: int, offset: int) -> tuple[int, list[asyncpg.Record]]:
    where = Where()
    where.add("account_id = {}", account_id)
    where.add_if("end_time > {}", since)
    where.add_if("start_time < {}", until)
    where.add_if("meter_id = {}", meter_id)
    total = await conn.fetchval(f"SELECT count(*) FROM {S}.charge WHERE {where.sql()}", *where.args)
    rows = await conn.fetch(f"SELECT * FROM {S}.charge WHERE {where.sql()} ORDER BY end_time, meter_id"
                            f" LIMIT {where.param(limit)} OFFSET {where.param(offset)}", *where.args)
    return int(total), rows
