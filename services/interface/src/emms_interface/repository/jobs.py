"""Statements on ``job``: the jobs business systems hand in, keyed by (caller, Idempotency-Key)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from emms_db.connection import Connection
from emms_interface.schema import SCHEMA

_COLUMNS = ("job_id, caller, idempotency_key, body_hash, kind, body, companies, state, reason, meter_id,"
            " metering_point_id, upstream, result, created_at, updated_at, finished_at, steps")


def _row(record: Any) -> dict[str, Any]:
    row = dict(record)
    for key in ("body", "upstream", "result"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    row["job_id"] = str(row["job_id"])
    row["companies"] = list(row.get("companies") or [])
    return row


async def insert(conn: Connection, *, caller: str, key: str, body_hash: str, kind: str, body: dict[str, Any],
                 companies: list[str], state: str, meter_id: str | None,
                 point_id: str | None) -> tuple[dict[str, Any], bool]:
    """The new job and True; or the job already under (caller, key) and False.

    The submitting request takes the first step; the worker leaves the job alone for two minutes (and
    takes it over after a crash)."""
    rec = await conn.fetchrow(
        f"INSERT INTO {SCHEMA}.job (job_id, caller, idempotency_key, body_hash, kind, body, companies, state,"
        " meter_id, metering_point_id, next_step_at)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, now() + interval '2 minutes')"
        f" ON CONFLICT (caller, idempotency_key) DO NOTHING RETURNING {_COLUMNS}",
        uuid.uuid4(), caller, key, body_hash, kind, json.dumps(body), companies, state, meter_id, point_id)
    if rec is not None:
        return _row(rec), True
    existing = await conn.fetchrow(f"SELECT {_COLUMNS} FROM {SCHEMA}.job WHERE caller = $1 AND idempotency_key = $2",
                                   caller, key)
    assert existing is not None
    return _row(existing), False


async def get(conn: Connection, job_id: str) -> dict[str, Any] | None:
    try:
        ident = uuid.UUID(job_id)
    except ValueError:
        return None
    rec = await conn.fetchrow(f"SELECT {_COLUMNS} FROM {SCHEMA}.job WHERE job_id = $1", ident)
    return _row(rec) if rec else None


async def page(conn: Connection, *, caller: str | None, companies: list[str], kind: str | None, state: str | None,
               limit: int, offset: int) -> list[dict[str, Any]]:
    recs = await conn.fetch(
        f"SELECT {_COLUMNS} FROM {SCHEMA}.job WHERE ($1::text IS NULL OR caller = $1)"
        " AND (cardinality($2::text[]) = 0 OR companies <@ $2) AND ($3::text IS NULL OR kind = $3)"
        " AND ($4::text IS NULL OR state = $4) ORDER BY created_at DESC, job_id LIMIT $5 OFFSET $6",
        caller, companies, kind, state, limit, offset)
    return [_row(r) for r in recs]


async def update(conn: Connection, job_id: str, *, from_state: str, state: str, reason: str = "",
                 upstream: dict[str, Any] | None = None, result: dict[str, Any] | None = None, finished: bool = False,
                 next_step_in_s: float = 0.0) -> dict[str, Any] | None:
    """Move the job on from ``from_state``; None when it is no longer in it (another step moved it)."""
    rec = await conn.fetchrow(
        f"UPDATE {SCHEMA}.job SET state = $2, reason = $3, upstream = upstream || $4::jsonb,"
        " result = result || $5::jsonb, updated_at = now(), steps = steps + 1,"
        " finished_at = CASE WHEN $6 THEN now() ELSE NULL END,"
        " next_step_at = now() + make_interval(secs => $7)"
        f" WHERE job_id = $1 AND state = $8 AND finished_at IS NULL RETURNING {_COLUMNS}",
        uuid.UUID(job_id), state, reason, json.dumps(upstream or {}), json.dumps(result or {}, default=str),
        finished, next_step_in_s, from_state)
    return _row(rec) if rec else None


async def claim_due(conn: Connection, limit: int, lease_s: float) -> list[dict[str, Any]]:
    """Open jobs whose next step is due, leased for ``lease_s`` (another replica skips them meanwhile)."""
    recs = await conn.fetch(
        f"UPDATE {SCHEMA}.job SET next_step_at = now() + make_interval(secs => $2)"
        f" WHERE job_id IN (SELECT job_id FROM {SCHEMA}.job WHERE finished_at IS NULL AND next_step_at <= now()"
        "  ORDER BY next_step_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
        f" RETURNING {_COLUMNS}", limit, lease_s)
    return [_row(r) for r in recs]


async def complete_first_readings(conn: Connection, readings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Work orders waiting for a meter's first reading at or after their installation: completed with it."""
    if not readings:
        return []
    recs = await conn.fetch(
        f"""WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb)
                     AS x(meter_id text, item text, data_time timestamptz, value double precision, unit text,
                          status text, method text, raw_source text)),
                first AS (SELECT DISTINCT ON (j.job_id) j.job_id, to_jsonb(r) AS reading
                          FROM {SCHEMA}.job j JOIN r ON r.meter_id = j.meter_id
                          WHERE j.state = 'awaiting_first_reading'
                            AND r.data_time >= (j.upstream->>'installed_at')::timestamptz
                          ORDER BY j.job_id, r.data_time)
            UPDATE {SCHEMA}.job j SET state = 'completed', finished_at = now(), updated_at = now(),
                   result = j.result || jsonb_build_object('first_reading', first.reading)
            FROM first WHERE j.job_id = first.job_id AND j.state = 'awaiting_first_reading'
            RETURNING {', '.join('j.' + c.strip() for c in _COLUMNS.split(','))}""",
        json.dumps(readings, default=str))
    return [_row(r) for r in recs]
