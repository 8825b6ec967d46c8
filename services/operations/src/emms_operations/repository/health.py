"""The master's services' health polls (their up/down history)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_operations.schema import SCHEMA

S = SCHEMA


async def insert_polls(conn: Connection, rows: Sequence[tuple[str, datetime, bool, str]]) -> None:
    await conn.executemany(
        f"INSERT INTO {S}.service_health (service, checked_at, up, detail) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING", rows)


async def polls(conn: Connection, start: datetime, end: datetime) -> list[tuple[str, datetime, bool]]:
    """Polls in [start, end), and the last poll of each service before ``start`` (its state at the start)."""
    rows = await conn.fetch(
        f"(SELECT DISTINCT ON (service) service, checked_at, up FROM {S}.service_health WHERE checked_at < $1"
        " ORDER BY service, checked_at DESC)"
        f" UNION ALL (SELECT service, checked_at, up FROM {S}.service_health WHERE checked_at >= $1"
        " AND checked_at < $2) ORDER BY 2", start, end)
    return [(r["service"], r["checked_at"], r["up"]) for r in rows]


async def latest(conn: Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT DISTINCT ON (service) service, checked_at, up, detail FROM {S}.service_health"
        " ORDER BY service, checked_at DESC")
    return [dict(r) for r in rows]


async def down_since(conn: Connection) -> dict[str, datetime]:
    """Services whose latest poll is down → the first poll of that unbroken down run."""
    rows = await conn.fetch(
        f"WITH last_up AS (SELECT service, max(checked_at) AS at FROM {S}.service_health WHERE up GROUP BY service)"
        f" SELECT h.service, min(h.checked_at) AS since FROM {S}.service_health h"
        " LEFT JOIN last_up u ON u.service = h.service"
        " WHERE NOT h.up AND (u.at IS NULL OR h.checked_at > u.at) GROUP BY h.service")
    return {r["service"]: r["since"] for r in rows}


async def purge(conn: Connection, before: datetime) -> None:
    await conn.execute(f"DELETE FROM {S}.service_health WHERE checked_at < $1", before)
