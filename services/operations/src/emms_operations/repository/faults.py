"""Faults: opened once per (kind, subject) while active, cleared when the condition ends."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_operations.schema import SCHEMA

S = SCHEMA
COLUMNS = ("fault_id, kind, level, subject, terminal, meter_id, severity, summary, detail, detected_at, cleared_at")


def _row(r: Any) -> dict[str, Any]:
    out = dict(r)
    if isinstance(out.get("detail"), str):
        out["detail"] = json.loads(out["detail"])
    return out


async def open_fault(conn: Connection, *, kind: str, level: str, subject: str, terminal: str | None,
                     meter_id: str | None, severity: str, summary: str, detail: dict[str, Any], at: datetime,
                     source_key: str | None = None) -> dict[str, Any] | None:
    """The new fault, or None when one is active for (kind, subject) already or the source opened one."""
    row = await conn.fetchrow(
        f"INSERT INTO {S}.faults (kind, level, subject, terminal, meter_id, severity, summary, detail, detected_at,"
        " source_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10) ON CONFLICT DO NOTHING"
        f" RETURNING {COLUMNS}",
        kind, level, subject, terminal, meter_id, severity, summary, json.dumps(detail, default=str), at, source_key)
    return None if row is None else _row(row)


async def active_subjects(conn: Connection, kind: str) -> dict[str, int]:
    rows = await conn.fetch(f"SELECT subject, fault_id FROM {S}.faults WHERE kind = $1 AND cleared_at IS NULL",
                            kind)
    return {r["subject"]: r["fault_id"] for r in rows}


async def clear(conn: Connection, fault_ids: Sequence[int], at: datetime) -> list[int]:
    if not fault_ids:
        return []
    rows = await conn.fetch(
        f"UPDATE {S}.faults SET cleared_at = $2 WHERE fault_id = ANY($1::bigint[]) AND cleared_at IS NULL"
        " RETURNING fault_id", list(fault_ids), at)
    return [r["fault_id"] for r in rows]


async def get(conn: Connection, fault_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM {S}.faults WHERE fault_id = $1", fault_id)
    return None if row is None else _row(row)


async def listing(conn: Connection, *, active: bool | None, level: str | None, kind: str | None,
                  subject: str | None, since: datetime | None, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM {S}.faults WHERE ($1::boolean IS NULL OR (cleared_at IS NULL) = $1)"
        " AND ($2::text IS NULL OR level = $2) AND ($3::text IS NULL OR kind = $3)"
        " AND ($4::text IS NULL OR subject = $4) AND ($5::timestamptz IS NULL OR detected_at >= $5)"
        " ORDER BY detected_at DESC, fault_id DESC LIMIT $6 OFFSET $7",
        active, level, kind, subject, since, limit, offset)
    return [_row(r) for r in rows]


async def active_counts(conn: Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT kind, level, severity, count(*)::int AS n FROM {S}.faults"
                            " WHERE cleared_at IS NULL GROUP BY kind, level, severity")
    return [dict(r) for r in rows]


async def statistics(conn: Connection, by: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Faults detected in [start, end) at terminals and meters, grouped by the terminal's kind, vendor or firmware
    (``by`` is one of those column names, checked by the caller)."""
    assert by in ("kind", "model", "vendor", "firmware")
    rows = await conn.fetch(
        f"SELECT COALESCE(t.{by}, 'unknown') AS value, count(*)::int AS faults,"
        " count(DISTINCT f.terminal)::int AS terminals,"
        " count(*) FILTER (WHERE f.kind = 'terminal_offline')::int AS offline,"
        " count(*) FILTER (WHERE f.level = 'meter')::int AS meter_faults"
        f" FROM {S}.faults f LEFT JOIN {S}.terminals t ON t.terminal = f.terminal"
        " WHERE f.terminal IS NOT NULL AND f.detected_at >= $1 AND f.detected_at < $2"
        " GROUP BY 1 ORDER BY faults DESC, value", start, end)
    return [dict(r) for r in rows]


async def population(conn: Connection, by: str) -> dict[str, int]:
    assert by in ("kind", "model", "vendor", "firmware")
    rows = await conn.fetch(f"SELECT COALESCE({by}, 'unknown') AS value, count(*)::int AS n FROM {S}.terminals"
                            " GROUP BY 1")
    return {r["value"]: r["n"] for r in rows}
