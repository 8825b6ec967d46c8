"""Schedules of report delivery and their history (``schedule``, ``delivery``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_reports.schema import SCHEMA

COLUMNS = ("schedule_id, report, format, cadence, at_hour, target_kind, target, enabled, created_by, created_at,"
           " run_for, next_run_at")


async def create(conn: Connection, s: dict[str, Any]) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.schedule (schedule_id, report, format, cadence, at_hour, target_kind, target,"
        f" created_by, run_for, next_run_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        s["schedule_id"], s["report"], s["format"], s["cadence"], s["at_hour"], s["target_kind"], s["target"],
        s["created_by"], s["run_for"])


async def listing(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(f"SELECT {COLUMNS} FROM {SCHEMA}.schedule ORDER BY created_at")]


async def get(conn: Connection, schedule_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM {SCHEMA}.schedule WHERE schedule_id = $1", schedule_id)
    return dict(row) if row is not None else None


async def disable(conn: Connection, schedule_id: str) -> bool:
    done = await conn.execute(f"UPDATE {SCHEMA}.schedule SET enabled = false WHERE schedule_id = $1", schedule_id)
    return bool(done.endswith(" 1"))


async def claim_due(conn: Connection, now: datetime) -> dict[str, Any] | None:
    """One due schedule, locked (replicas skip it) for the caller's transaction."""
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM {SCHEMA}.schedule WHERE enabled AND next_run_at <= $1"
                              " ORDER BY next_run_at LIMIT 1 FOR UPDATE SKIP LOCKED", now)
    return dict(row) if row is not None else None


async def advance(conn: Connection, schedule_id: str, run_for: datetime, next_run_at: datetime) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.schedule SET run_for = $2, next_run_at = $3 WHERE schedule_id = $1",
                       schedule_id, run_for, next_run_at)


async def record(conn: Connection, d: dict[str, Any]) -> int:
    return int(await conn.fetchval(
        f"INSERT INTO {SCHEMA}.delivery (schedule_id, period_start, period_end, started_at, finished_at, status,"
        f" rows, bytes, location, error) VALUES ($1, $2, $3, $4, now(), $5, $6, $7, $8, $9) RETURNING delivery_id",
        d["schedule_id"], d["period_start"], d["period_end"], d["started_at"], d["status"], d.get("rows"),
        d.get("bytes"), d.get("location"), d.get("error")))


async def history(conn: Connection, schedule_id: str, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT delivery_id, schedule_id, period_start, period_end, started_at, finished_at, status, rows, bytes,"
        f" location, error FROM {SCHEMA}.delivery WHERE schedule_id = $1 ORDER BY delivery_id DESC LIMIT $2",
        schedule_id, limit)
    return [dict(r) for r in rows]
