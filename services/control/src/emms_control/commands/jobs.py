"""A job's life after submission: second confirmation, cancel, status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from emms_control.commands.log import detail_json
from emms_control.repository import command_log as log_sql
from emms_control.repository import jobs as job_sql
from emms_db.connection import Connection
from emms_runtime.errors import Conflict, NotFound


async def _locked(conn: Connection, job_id: str) -> dict[str, Any]:
    job = await job_sql.job(conn, job_id, lock=True)
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


async def confirm_job(conn: Connection, job_id: str, by: str) -> dict[str, Any]:
    """The second confirmation of a large job (before it starts, before it expires)."""
    job = await _locked(conn, job_id)
    if job["state"] != "awaiting_confirmation":
        raise Conflict(f"job {job_id} is {job['state']}: only a job awaiting confirmation is confirmed")
    now = datetime.now(UTC)
    if job["confirm_by"] is not None and job["confirm_by"] < now:
        raise Conflict(f"job {job_id}: the confirmation expired at {job['confirm_by'].isoformat()}")
    nb = job["not_before"]
    state = "scheduled" if nb is not None and nb > now else "running"
    await job_sql.set_state(conn, job_id, state, confirmed_by=by, confirmed_at=now,
                            started_at=now if state == "running" else None)
    await log_sql.insert_one(conn, kind="command", event="confirmed_by_operator", job_id=job_id, meter_id=None,
                             terminal=None, operator=by, origin=job["origin"], action=job["action"], request_id=None,
                             outcome=None, verified_state=None, detail=detail_json({"devices": job["total"]}))
    return await job_status(conn, job_id)


async def cancel_job(conn: Connection, job_id: str, by: str, reason: str = "cancelled by the operator"
                     ) -> dict[str, Any]:
    """Devices not yet sent end ``cancelled``; those with a request out end with its result."""
    job = await _locked(conn, job_id)
    if job["state"] not in ("awaiting_confirmation", "scheduled", "running"):
        raise Conflict(f"job {job_id} is {job['state']}: nothing to cancel")
    cancelled = await job_sql.cancel_pending(conn, job_id, f"{reason} ({by})")
    await job_sql.set_state(conn, job_id, "cancelled", cancelled_by=by, finished_at=datetime.now(UTC))
    await log_sql.insert_many(conn, [
        ("command", "final", job_id, d["meter_id"] or None, d["terminal"], by, job["origin"], job["action"],
         d["request_id"], "cancelled", None, detail_json({"reason": reason})) for d in cancelled])
    return await job_status(conn, job_id)


async def job_status(conn: Connection, job_id: str) -> dict[str, Any]:
    job = await job_sql.job(conn, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    counts = (await job_sql.progress(conn, [job_id]))[job_id]
    final = sum(counts.get(s, 0) for s in job_sql.FINAL)
    return {**job, "job_id": str(job["job_id"]), "counts": counts, "finished_devices": final,
            "progress": round(final / job["total"], 4) if job["total"] else 1.0}
