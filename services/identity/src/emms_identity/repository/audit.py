"""The audit table: append one entry, read entries filtered and paged."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_db.where import Where
from emms_identity.schema import SCHEMA

_COLUMNS = "id, at, actor, action, target, outcome, reason, detail, companies, client_ip, source_service"


async def insert(conn: Connection, *, actor: str, action: str, outcome: str, target: str | None = None,
                 reason: str | None = None, detail: dict[str, Any] | None = None,
                 companies: list[str] | None = None, client_ip: str | None = None,
                 source_service: str = "identity", event_id: str | None = None,
                 at: datetime | None = None) -> int | None:
    """Append one entry; None when ``event_id`` was already recorded (a redelivered refusal)."""
    value: int | None = await conn.fetchval(
        f"INSERT INTO {SCHEMA}.audit (at, actor, action, target, outcome, reason, detail, companies, client_ip,"
        " source_service, event_id)"
        " VALUES (COALESCE($1, now()), $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11)"
        " ON CONFLICT (event_id) DO NOTHING RETURNING id",
        at, actor, action, target, outcome, reason, json.dumps(detail or {}, default=str),
        list(companies or ()), client_ip, source_service, event_id)
    return value


async def entries(conn: Connection, *, actor: str | None, action: str | None, target: str | None,
                  outcome: str | None, since: datetime | None, until: datetime | None, after_id: int,
                  limit: int, companies: tuple[str, ...]) -> list[dict[str, Any]]:
    """Entries in order of ``id`` after ``after_id``; ``companies`` (a restricted reader): only entries
    about users or clients of those companies (nobody's entries are not theirs)."""
    where = Where()
    where.add("id > {}", after_id)
    if companies:
        where.add("cardinality(companies) > 0 AND companies <@ {}::text[]", list(companies))
    where.add_if("actor = {}", actor)
    if action is not None:  # ``signin`` matches every ``signin.*``
        where.add("(action = {0} OR action LIKE {0} || '.%')", action)
    where.add_if("target = {}", target)
    where.add_if("outcome = {}", outcome)
    where.add_if("at >= {}", since)
    where.add_if("at < {}", until)
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM {SCHEMA}.audit WHERE {where.sql()} ORDER BY id"
                            f" LIMIT {int(limit)}", *where.args)
    return [{**dict(r), "detail": json.loads(r["detail"]) if isinstance(r["detail"], str) else r["detail"]}
            for r in rows]
