"""Accounts, their meters, payments, refunds and the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from emms_control.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where

S = SCHEMA
ACCOUNT_COLUMNS = ("account_id, customer_id, company_id, region_id, utility, category, tariff_id, status, balance,"
                   " charge_from, opened_at, opened_by, closed_at, closed_by, close_reason")


async def insert_account(conn: Connection, values: dict[str, Any]) -> None:
    await conn.execute(
        f"INSERT INTO {S}.account (account_id, customer_id, company_id, region_id, utility, category, tariff_id,"
        " charge_from, opened_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        values["account_id"], values["customer_id"], values["company_id"], values["region_id"], values["utility"],
        values["category"], values["tariff_id"], values["charge_from"], values["opened_by"])


async def meters_in_use(conn: Connection, meter_ids: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT meter_id, account_id FROM {S}.account_meter WHERE active"
                            " AND meter_id = ANY($1::text[]) ORDER BY meter_id", list(meter_ids))


async def insert_meters(conn: Connection, account_id: str, meters: Sequence[tuple[str, Decimal]]) -> None:
    await conn.executemany(f"INSERT INTO {S}.account_meter (account_id, meter_id, multiplier) VALUES ($1, $2, $3)",
                           [(account_id, m, k) for m, k in meters])


async def open_account_of(conn: Connection, customer_id: str, utility: str) -> str | None:
    value: str | None = await conn.fetchval(
        f"SELECT account_id FROM {S}.account WHERE customer_id = $1 AND utility = $2 AND status = 'open'",
        customer_id, utility)
    return value


async def account(conn: Connection, account_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {ACCOUNT_COLUMNS} FROM {S}.account WHERE account_id = $1"
                               f"{' FOR UPDATE' if lock else ''}", account_id)


async def meters_of(conn: Connection, account_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT meter_id, multiplier, active FROM {S}.account_meter WHERE account_id = $1"
                            " ORDER BY meter_id", account_id)


async def list_accounts(conn: Connection, where: Where, limit: int, offset: int) -> tuple[int, list[asyncpg.Record]]:
    total = await conn.fetchval(f"SELECT count(*) FROM {S}.account a WHERE {where.sql()}", *where.args)
    rows = await conn.fetch(f"SELECT {ACCOUNT_COLUMNS} FROM {S}.account a WHERE {where.sql()}"
                            f" ORDER BY a.account_id LIMIT {where.param(limit)} OFFSET {where.param(offset)}",
                            *where.args)
    return int(total), rows


async def post(conn: Connection, account_id: str, kind: str, amount: Decimal, ref: str, actor: str,
               note: str = "") -> asyncpg.Record:
    """Apply ``amount`` (signed) to the balance and append its ledger entry (the account row is locked)."""
    balance = await conn.fetchval(f"UPDATE {S}.account SET balance = balance + $2 WHERE account_id = $1"
                                  " RETURNING balance", account_id, amount)
    row: asyncpg.Record | None = await conn.fetchrow(
        f"INSERT INTO {S}.ledger (account_id, kind, amount, balance_after, ref, actor, note)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *", account_id, kind, amount, balance, ref, actor, note)
    assert row is not None
    return row


async def ledger(conn: Connection, account_id: str, kind: str | None, after: int, limit: int) -> list[asyncpg.Record]:
    where = Where()
    where.add("account_id = {}", account_id)
    where.add("entry_id > {}", after)
    where.add_if("kind = {}", kind)
    return await conn.fetch(f"SELECT * FROM {S}.ledger WHERE {where.sql()} ORDER BY entry_id"
                            f" LIMIT {where.param(limit)}", *where.args)


async def payment(conn: Connection, payment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT p.*, coalesce((SELECT sum(r.amount) FROM {S}.refund r WHERE r.payment_id = p.payment_id), 0)"
        f" AS refunded FROM {S}.payment p WHERE p.payment_id = $1", payment_id)


async def insert_payment(conn: Connection, account_id: str, payment_id: str, amount: Decimal, method: str,
                         paid_at: datetime, note: str, actor: str) -> None:
    await conn.execute(f"INSERT INTO {S}.payment (payment_id, account_id, amount, method, paid_at, note, recorded_by)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7)", payment_id, account_id, amount, method, paid_at, note,
                       actor)


async def payments(conn: Connection, account_id: str, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT p.*, coalesce((SELECT sum(r.amount) FROM {S}.refund r WHERE r.payment_id = p.payment_id), 0)"
        f" AS refunded FROM {S}.payment p WHERE p.account_id = $1 ORDER BY p.recorded_at, p.payment_id"
        " LIMIT $2 OFFSET $3", account_id, limit, offset)


async def refund(conn: Connection, refund_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT * FROM {S}.refund WHERE refund_id = $1", refund_id)


async def insert_refund(conn: Connection, refund_id: str, payment_id: str, account_id: str, amount: Decimal,
                        reason: str, actor: str) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"INSERT INTO {S}.refund (refund_id, payment_id, account_id, amount, reason, recorded_by)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *", refund_id, payment_id, account_id, amount, reason, actor)
    assert row is not None
    return row


async def close(conn: Connection, account_id: str, actor: str, reason: str) -> None:
    await conn.execute(f"UPDATE {S}.account SET status = 'closed', closed_at = now(), closed_by = $2,"
                       " close_reason = $3 WHERE account_id = $1", account_id, actor, reason)
    await conn.execute(f"UPDATE {S}.account_meter SET active = false WHERE account_id = $1", account_id)
