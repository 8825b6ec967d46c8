"""Statements on ``payment``: the customers' online payments as the interface took them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from emms_db.connection import Connection
from emms_interface.schema import SCHEMA

_COLS = "payment_id, customer_id, account_id, amount, state, reason, paid_by, created_at, recorded_at"


async def take(conn: Connection, payment_id: str, customer_id: str, account_id: str, amount: Decimal,
               actor: str) -> tuple[dict[str, Any], bool]:
    """The new payment (pending) and True, or the payment already under this id and False."""
    rec = await conn.fetchrow(
        f"INSERT INTO {SCHEMA}.payment (payment_id, customer_id, account_id, amount, paid_by)"
        f" VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payment_id) DO NOTHING RETURNING {_COLS}",
        payment_id, customer_id, account_id, amount, actor)
    if rec is not None:
        return dict(rec), True
    existing = await conn.fetchrow(f"SELECT {_COLS} FROM {SCHEMA}.payment WHERE payment_id = $1", payment_id)
    assert existing is not None
    return dict(existing), False


async def settle(conn: Connection, payment_id: str, state: str, reason: str = "") -> dict[str, Any]:
    rec = await conn.fetchrow(
        f"UPDATE {SCHEMA}.payment SET state = $2, reason = $3,"
        " recorded_at = CASE WHEN $2 = 'recorded' THEN coalesce(recorded_at, now()) END"
        f" WHERE payment_id = $1 RETURNING {_COLS}", payment_id, state, reason)
    assert rec is not None
    return dict(rec)


async def of_accounts(conn: Connection, account_ids: list[str]) -> list[dict[str, Any]]:
    recs = await conn.fetch(f"SELECT {_COLS} FROM {SCHEMA}.payment WHERE account_id = ANY($1)"
                            " ORDER BY created_at, payment_id", account_ids)
    return [dict(r) for r in recs]


async def pending(conn: Connection, limit: int) -> list[dict[str, Any]]:
    recs = await conn.fetch(f"SELECT {_COLS} FROM {SCHEMA}.payment WHERE state = 'pending'"
                            " ORDER BY created_at LIMIT $1", limit)
    return [dict(r) for r in recs]
