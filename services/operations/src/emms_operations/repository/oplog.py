"""The duty log: inserted once per entry id, never changed (the table's trigger refuses UPDATE / DELETE)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_operations.schema import SCHEMA

S = SCHEMA
COLUMNS = "id, entry_id, service, category, action, actor, at, outcome, target, terminal, meter_id, reason, detail"


async def insert_many(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> int:
    """Rows (entry_id, service, category, action, actor, at, outcome, target, terminal, meter_id, reason, detail
    dict); an entry id already logged is skipped. Returns how many were new."""
    if not rows:
        return 0
    cols = list(zip(*rows, strict=True))
    result = await conn.fetch(
        f"INSERT INTO {S}.duty_log (entry_id, service, category, action, actor, at, outcome, target, terminal,"
        " meter_id, reason, detail) SELECT e, s, c, a, ac, t, o, tg, tm, m, r, d::jsonb FROM unnest($1::text[],"
        " $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::text[],"
        " $10::text[], $11::text[], $12::text[]) AS u(e, s, c, a, ac, t, o, tg, tm, m, r, d)"
        " ON CONFLICT (entry_id) DO NOTHING RETURNING id",
        *[list(c) for c in cols[:11]], [json.dumps(d, default=str) for d in cols[11]])
    return len(result)


async def query(conn: Connection, *, since: datetime | None, until: datetime | None, service: str | None,
                category: str | None, action: str | None, actor: str | None, target: str | None,
                terminal: str | None, meter_id: str | None, outcome: str | None, after_id: int,
                limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM {S}.duty_log WHERE ($1::timestamptz IS NULL OR at >= $1)"
        " AND ($2::timestamptz IS NULL OR at < $2) AND ($3::text IS NULL OR service = $3)"
        " AND ($4::text IS NULL OR category = $4) AND ($5::text IS NULL OR action = $5)"
        " AND ($6::text IS NULL OR actor = $6) AND ($7::text IS NULL OR target = $7)"
        " AND ($8::text IS NULL OR terminal = $8) AND ($9::text IS NULL OR meter_id = $9)"
        " AND ($10::text IS NULL OR outcome = $10) AND id > $11 ORDER BY id LIMIT $12",
        since, until, service, category, action, actor, target, terminal, meter_id, outcome, after_id, limit)
    out = []
    for r in rows:
        d = dict(r)
        d["detail"] = json.loads(d["detail"]) if isinstance(d["detail"], str) else d["detail"]
        out.append(d)
    return out
