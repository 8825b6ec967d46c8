"""Tickets, their history and the maintenance records linked to them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_operations.schema import SCHEMA

S = SCHEMA
COLUMNS = ("ticket_id, fault_id, title, level, subject, severity, state, assignee, due_at, escalations,"
           " closing_reason, created_by, created_at, updated_at, resolved_at, closed_at")


async def insert(conn: Connection, *, fault_id: int | None, title: str, level: str, subject: str, severity: str,
                 due_at: datetime, created_by: str, at: datetime, assignee: str | None = None,
                 state: str = "open") -> dict[str, Any] | None:
    """The new ticket; None when the fault has a ticket already."""
    row = await conn.fetchrow(
        f"INSERT INTO {S}.tickets (fault_id, title, level, subject, severity, due_at, created_by, created_at,"
        " updated_at, assignee, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)"
        f" ON CONFLICT DO NOTHING RETURNING {COLUMNS}",
        fault_id, title, level, subject, severity, due_at, created_by, at, assignee, state)
    return None if row is None else dict(row)


async def get(conn: Connection, ticket_id: int, *, for_update: bool = False) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM {S}.tickets WHERE ticket_id = $1"
                              f"{' FOR UPDATE' if for_update else ''}", ticket_id)
    return None if row is None else dict(row)


async def by_faults(conn: Connection, fault_ids: Sequence[int]) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {COLUMNS} FROM {S}.tickets WHERE fault_id = ANY($1::bigint[]) FOR UPDATE",
                            list(fault_ids))
    return [dict(r) for r in rows]


async def update(conn: Connection, ticket_id: int, at: datetime, **fields: Any) -> dict[str, Any]:
    names = list(fields)
    sets = ", ".join(f"{n} = ${i + 3}" for i, n in enumerate(names))
    row = await conn.fetchrow(
        f"UPDATE {S}.tickets SET updated_at = $2, {sets} WHERE ticket_id = $1 RETURNING {COLUMNS}",
        ticket_id, at, *fields.values())
    assert row is not None
    return dict(row)


async def add_history(conn: Connection, ticket_id: int, at: datetime, from_state: str | None, to_state: str,
                      actor: str, note: str) -> None:
    await conn.execute(
        f"INSERT INTO {S}.ticket_history (ticket_id, at, from_state, to_state, actor, note)"
        " VALUES ($1, $2, $3, $4, $5, $6)", ticket_id, at, from_state, to_state, actor, note)


async def history(conn: Connection, ticket_id: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT at, from_state, to_state, actor, note FROM {S}.ticket_history"
                            " WHERE ticket_id = $1 ORDER BY id", ticket_id)
    return [dict(r) for r in rows]


async def listing(conn: Connection, *, states: Sequence[str] | None, severity: str | None, assignee: str | None,
                  subject: str | None, overdue_at: datetime | None, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM {S}.tickets WHERE ($1::text[] IS NULL OR state = ANY($1::text[]))"
        " AND ($2::text IS NULL OR severity = $2) AND ($3::text IS NULL OR assignee = $3)"
        " AND ($4::text IS NULL OR subject = $4) AND ($5::timestamptz IS NULL OR due_at < $5)"
        " ORDER BY ticket_id DESC LIMIT $6 OFFSET $7",
        None if states is None else list(states), severity, assignee, subject, overdue_at, limit, offset)
    return [dict(r) for r in rows]


async def overdue(conn: Connection, states: Sequence[str], now: datetime, limit: int = 500) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM {S}.tickets WHERE state = ANY($1::text[]) AND due_at < $2"
        " ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED", list(states), now, limit)
    return [dict(r) for r in rows]


async def open_counts(conn: Connection, states: Sequence[str], now: datetime) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT severity, count(*)::int AS open, count(*) FILTER (WHERE due_at < $2)::int AS overdue"
        f" FROM {S}.tickets WHERE state = ANY($1::text[]) GROUP BY severity", list(states), now)
    return [dict(r) for r in rows]


async def add_maintenance(conn: Connection, *, ticket_id: int | None, device_kind: str, device_id: str, action: str,
                          performed_by: str, performed_at: datetime, note: str, recorded_by: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"INSERT INTO {S}.maintenance (ticket_id, device_kind, device_id, action, performed_by, performed_at, note,"
        " recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *",
        ticket_id, device_kind, device_id, action, performed_by, performed_at, note, recorded_by)
    assert row is not None
    return dict(row)


async def maintenance(conn: Connection, *, ticket_id: int | None, device_kind: str | None, device_id: str | None,
                      limit: int, offset: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT * FROM {S}.maintenance WHERE ($1::bigint IS NULL OR ticket_id = $1)"
        " AND ($2::text IS NULL OR device_kind = $2) AND ($3::text IS NULL OR device_id = $3)"
        " ORDER BY performed_at DESC, id DESC LIMIT $4 OFFSET $5", ticket_id, device_kind, device_id, limit, offset)
    return [dict(r) for r in rows]
