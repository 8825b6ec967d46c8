"""Prepayment settings, transitions, purchases, notices and the actions waiting for the command path."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from emms_control.schema import SCHEMA
from emms_db.connection import Connection

S = SCHEMA


async def setting(conn: Connection, account_id: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT * FROM {S}.prepay_setting WHERE account_id = $1"
                               f"{' FOR UPDATE' if lock else ''}", account_id)


async def upsert_setting(conn: Connection, account_id: str, values: Mapping[str, Any], state: str,
                         actor: str) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"INSERT INTO {S}.prepay_setting (account_id, mode, alarm_threshold, trip_threshold, close_action, price,"
        " state, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (account_id) DO UPDATE SET mode = EXCLUDED.mode, alarm_threshold = EXCLUDED.alarm_threshold,"
        " trip_threshold = EXCLUDED.trip_threshold, close_action = EXCLUDED.close_action, price = EXCLUDED.price,"
        " updated_at = now(), updated_by = EXCLUDED.updated_by RETURNING *",
        account_id, values["mode"], values["alarm_threshold"], values["trip_threshold"], values["close_action"],
        values.get("price"), state, actor)
    assert row is not None
    return row


async def master_accounts(conn: Connection, account_ids: Sequence[str]) -> list[asyncpg.Record]:
    """Master-mode accounts among ``account_ids`` with balance and utility (rows locked, id order)."""
    return await conn.fetch(
        f"SELECT s.*, a.balance, a.utility, a.status FROM {S}.prepay_setting s JOIN {S}.account a USING (account_id)"
        " WHERE s.account_id = ANY($1::text[]) AND s.mode = 'master' ORDER BY s.account_id FOR UPDATE OF s",
        list(account_ids))


async def set_state(conn: Connection, account_id: str, before: str, after: str, balance: Decimal,
                    cause: str) -> None:
    await conn.execute(f"UPDATE {S}.prepay_setting SET state = $2, state_since = now() WHERE account_id = $1",
                       account_id, after)
    await conn.execute(f"INSERT INTO {S}.prepay_transition (account_id, from_state, to_state, balance, cause)"
                       " VALUES ($1, $2, $3, $4, $5)", account_id, before, after, balance, cause)


async def transitions(conn: Connection, account_id: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT * FROM {S}.prepay_transition WHERE account_id = $1 ORDER BY transition_id"
                            " LIMIT $2", account_id, limit)


async def notify(conn: Connection, account_id: str | None, meter_id: str | None, kind: str, message: str,
                 detail: Mapping[str, Any]) -> None:
    await conn.execute(f"INSERT INTO {S}.notice (account_id, meter_id, kind, message, detail)"
                       " VALUES ($1, $2, $3, $4, $5::jsonb)", account_id, meter_id, kind, message,
                       json.dumps(detail, default=str))


async def unsent_notices(conn: Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT * FROM {S}.notice WHERE sent_at IS NULL ORDER BY notice_id LIMIT $1"
                            " FOR UPDATE SKIP LOCKED", limit)


async def mark_sent(conn: Connection, notice_ids: Sequence[int]) -> None:
    await conn.execute(f"UPDATE {S}.notice SET sent_at = now() WHERE notice_id = ANY($1::bigint[])", list(notice_ids))


async def notices(conn: Connection, account_id: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT * FROM {S}.notice WHERE account_id = $1 ORDER BY notice_id LIMIT $2",
                            account_id, limit)


async def add_action(conn: Connection, origin: str, account_id: str | None, meter_id: str, action: str, reason: str,
                     payload: Mapping[str, Any] | None = None) -> uuid.UUID:
    action_id = uuid.uuid4()
    await conn.execute(f"INSERT INTO {S}.auto_action (action_id, origin, account_id, meter_id, action, reason,"
                       " payload) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)", action_id, origin, account_id,
                       meter_id, action, reason, json.dumps(payload or {}, default=str))
    return action_id


async def actions_of(conn: Connection, *, account_id: str | None = None, meter_id: str | None = None,
                     limit: int = 100) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT * FROM {S}.auto_action WHERE ($1::text IS NULL OR account_id = $1)"
        " AND ($2::text IS NULL OR meter_id = $2) ORDER BY seq LIMIT $3", account_id, meter_id,
        limit)


async def waiting_actions(conn: Connection, limit: int) -> list[asyncpg.Record]:
    """Actions not yet taken by the command path, oldest first, locked (SKIP LOCKED: one taker each)."""
    return await conn.fetch(f"SELECT * FROM {S}.auto_action WHERE taken_at IS NULL ORDER BY seq"
                            " LIMIT $1 FOR UPDATE SKIP LOCKED", limit)


async def previous_action(conn: Connection, meter_id: str, seq: int) -> asyncpg.Record | None:
    """The meter's action decided just before ``seq``."""
    return await conn.fetchrow(f"SELECT * FROM {S}.auto_action WHERE meter_id = $1 AND seq < $2 ORDER BY seq DESC"
                               " LIMIT 1", meter_id, seq)


async def mark_taken(conn: Connection, action_id: uuid.UUID, command_ref: str, outcome: str) -> None:
    await conn.execute(f"UPDATE {S}.auto_action SET taken_at = now(), command_ref = $2, outcome = $3"
                       " WHERE action_id = $1", action_id, command_ref, outcome)


async def active_meters(conn: Connection, account_id: str) -> list[str]:
    rows = await conn.fetch(f"SELECT meter_id FROM {S}.account_meter WHERE account_id = $1 AND active"
                            " ORDER BY meter_id", account_id)
    return [r["meter_id"] for r in rows]


async def purchase(conn: Connection, payment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT * FROM {S}.prepay_purchase WHERE payment_id = $1", payment_id)


async def add_purchase(conn: Connection, payment_id: str, account_id: str, amount: Decimal) -> asyncpg.Record:
    """The next purchase number of the account (the setting row is locked by the caller)."""
    number = await conn.fetchval(f"UPDATE {S}.prepay_setting SET purchases = purchases + 1 WHERE account_id = $1"
                                 " RETURNING purchases", account_id)
    row: asyncpg.Record | None = await conn.fetchrow(
        f"INSERT INTO {S}.prepay_purchase (payment_id, account_id, purchase_number, amount)"
        " VALUES ($1, $2, $3, $4) RETURNING *", payment_id, account_id, number, amount)
    assert row is not None
    return row


async def purchases(conn: Connection, account_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT * FROM {S}.prepay_purchase WHERE account_id = $1 ORDER BY purchase_number",
                            account_id)


async def save_readback(conn: Connection, account_id: str, remaining: Decimal | None, count: int | None,
                        at: datetime) -> None:
    await conn.execute(f"UPDATE {S}.prepay_setting SET remaining = $2, device_count = $3, remaining_at = $4"
                       " WHERE account_id = $1", account_id, remaining, count, at)
