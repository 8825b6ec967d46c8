"""SQL of the immutable command / parameter log (insert and query only: the database refuses the rest)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_db.where import Where

COLUMNS = ("kind", "event", "job_id", "meter_id", "terminal", "operator", "origin", "action", "request_id",
           "outcome", "verified_state", "detail")


async def insert_one(conn: Connection, *, kind: str, event: str, job_id: str | None, meter_id: str | None,
                     terminal: str | None, operator: str, origin: str, action: str, request_id: str | None,
                     outcome: str | None, verified_state: str | None, detail: str) -> int:
    return int(await conn.fetchval(
        "INSERT INTO control.command_log (kind, event, job_id, meter_id, terminal, operator, origin, action,"
        " request_id, outcome, verified_state, detail)"
        " VALUES ($1, $2, $3::uuid, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb) RETURNING log_id",
        kind, event, job_id, meter_id, terminal, operator, origin, action, request_id, outcome, verified_state,
        detail))


async def insert_many(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows as tuples in the order of :data:`COLUMNS` (job_id a str or None, detail a JSON string)."""
    if not rows:
        return
    cols = list(zip(*rows, strict=True))
    await conn.execute(
        "INSERT INTO control.command_log (kind, event, job_id, meter_id, terminal, operator, origin, action,"
        " request_id, outcome, verified_state, detail)"
        " SELECT k, e, j::uuid, m, t, o, g, a, r, oc, v, d::jsonb FROM unnest($1::text[], $2::text[], $3::text[],"
        " $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],"
        " $12::text[]) AS u(k, e, j, m, t, o, g, a, r, oc, v, d)",
        *[list(c) for c in cols])


async def query(conn: Connection, *, since: datetime | None, until: datetime | None, meter_id: str | None,
                terminal: str | None, operator: str | None, action: str | None, outcome: str | None,
                job_id: str | None, kind: str | None, event: str | None, limit: int, offset: int,
                scope_sql: Any = None) -> list[dict[str, Any]]:
    where = Where([])
    for column, value in (("meter_id", meter_id), ("terminal", terminal), ("operator", operator),
                          ("action", action), ("outcome", outcome), ("kind", kind), ("event", event)):
        if value is not None:
            where.add(f"l.{column} = {{}}", value)
    if job_id is not None:
        where.add("l.job_id = {}::uuid", job_id)
    if since is not None:
        where.add("l.at >= {}", since)
    if until is not None:
        where.add("l.at < {}", until)
    if scope_sql is not None:
        scope_sql(where)
    where.args.extend([limit, offset])
    n = len(where.args)
    rows = await conn.fetch(
        f"SELECT l.* FROM control.command_log l WHERE {where.sql()} ORDER BY l.log_id"
        f" LIMIT ${n - 1} OFFSET ${n}", *where.args)
    return [dict(r) for r in rows]
