"""Planned maintenance windows (excluded from availability)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_operations.schema import SCHEMA

S = SCHEMA


async def insert(conn: Connection, *, level: str, subject: str, starts_at: datetime, ends_at: datetime, reason: str,
                 created_by: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"INSERT INTO {S}.planned_maintenance (level, subject, starts_at, ends_at, reason, created_by)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *", level, subject, starts_at, ends_at, reason, created_by)
    assert row is not None
    return dict(row)


async def overlapping(conn: Connection, level: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT * FROM {S}.planned_maintenance WHERE level = $1 AND starts_at < $3 AND ends_at > $2"
        " ORDER BY starts_at", level, start, end)
    return [dict(r) for r in rows]
