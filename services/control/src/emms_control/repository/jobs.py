"""SQL of command jobs and their per-device rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from emms_db.connection import Connection

FINAL = ("verified", "confirmed", "failed", "cancelled")


async def insert_job(conn: Connection, *, job_id: str, action: str, origin: str, reason: str, requested_by: str,
                     params: dict[str, Any], target: dict[str, Any], override_protection: bool,
                     override_reason: str | None, state: str, not_before: datetime | None,
                     confirm_by: datetime | None, total: int) -> None:
    await conn.execute(
        "INSERT INTO control.jobs (job_id, action, origin, reason, requested_by, params, target, override_protection,"
        " override_reason, state, not_before, confirm_by, total, started_at)"
        " VALUES ($1::uuid, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12, $13,"
        " CASE WHEN $10 = 'running' THEN now() END)",
        job_id, action, origin, reason, requested_by, json.dumps(params, default=str), json.dumps(target, default=str),
        override_protection, override_reason, state, not_before, confirm_by, total)


async def insert_devices(conn: Connection, job_id: str, devices: Sequence[tuple[str, str]]) -> None:
    """(meter_id, terminal) pairs in order; meter_id '' for a terminal-wide command."""
    await conn.execute(
        "INSERT INTO control.job_devices (job_id, meter_id, terminal, seq)"
        " SELECT $1::uuid, m, t, n FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(m, t, n)",
        job_id, [m for m, _ in devices], [t for _, t in devices])


async def job(conn: Connection, job_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM control.jobs WHERE job_id = $1::uuid" + (" FOR UPDATE" if lock else ""),
                              job_id)
    return None if row is None else dict(row)


async def progress(conn: Connection, job_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    rows = await conn.fetch(
        "SELECT job_id::text AS job_id, state, count(*) AS n FROM control.job_devices"
        " WHERE job_id = ANY($1::uuid[]) GROUP BY job_id, state", list(job_ids))
    out: dict[str, dict[str, int]] = {j: {} for j in job_ids}
    for r in rows:
        out[r["job_id"]][r["state"]] = int(r["n"])
    return out


async def list_jobs(conn: Connection, *, state: str | None, requested_by: str | None, limit: int,
                    offset: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM control.jobs WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR requested_by = $2)"
        " ORDER BY created_at DESC LIMIT $3 OFFSET $4", state, requested_by, limit, offset)
    return [dict(r) for r in rows]


async def devices_of(conn: Connection, job_id: str, *, state: str | None, limit: int,
                     offset: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM control.job_devices WHERE job_id = $1::uuid AND ($2::text IS NULL OR state = $2)"
        " ORDER BY seq LIMIT $3 OFFSET $4", job_id, state, limit, offset)
    return [dict(r) for r in rows]


async def set_state(conn: Connection, job_id: str, state: str, **fields: Any) -> None:
    sets = ["state = $2"] + [f"{k} = ${i}" for i, k in enumerate(fields, start=3)]
    await conn.execute(f"UPDATE control.jobs SET {', '.join(sets)} WHERE job_id = $1::uuid", job_id, state,
                       *fields.values())


async def cancel_pending(conn: Connection, job_id: str, reason: str) -> list[dict[str, Any]]:
    """Cancel the devices of a job not yet sent; returns them."""
    rows = await conn.fetch(
        "UPDATE control.job_devices SET state = 'cancelled', finished_at = now(), outcome = 'cancelled', reason = $2"
        " WHERE job_id = $1::uuid AND state = 'pending' RETURNING *", job_id, reason)
    return [dict(r) for r in rows]


async def jobs_since(conn: Connection, since: datetime, requested_by: str | None) -> tuple[int, int]:
    """(jobs, devices) created since ``since`` (by one operator, or by everyone)."""
    row = await conn.fetchrow(
        "SELECT count(*) AS jobs, COALESCE(sum(total), 0) AS devices FROM control.jobs"
        " WHERE created_at >= $1 AND ($2::text IS NULL OR requested_by = $2)", since, requested_by)
    assert row is not None
    return int(row["jobs"]), int(row["devices"])
