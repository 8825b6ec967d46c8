"""SQL of manual-read jobs (``manual_job``): any replica answers a poll from here."""

from __future__ import annotations

import json
from typing import Any

from emms_collector.repository.scope import UNRESTRICTED, Scope
from emms_collector.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where


async def insert_job(conn: Connection, job_id: str, requested_by: str, reason: str | None, request_json: str,
                     meters: list[str]) -> None:
    await conn.execute(f"INSERT INTO {SCHEMA}.manual_job (id, requested_by, reason, request, meters)"
                       " VALUES ($1, $2, $3, $4::jsonb, $5)", job_id, requested_by, reason, request_json, meters)


async def get_job(conn: Connection, job_id: str, scope: Scope = UNRESTRICTED) -> dict[str, Any] | None:
    """The job with its request and results decoded; None if there is none (or it was purged, or it read a
    meter outside ``scope``)."""
    w = Where([job_id])
    w.add("j.id = $1")
    if not scope.unrestricted:
        inside = Where(w.args)
        scope.meters("m.id", inside)
        w.parts.append(f"j.meters IS NOT NULL AND NOT EXISTS (SELECT 1 FROM unnest(j.meters) AS m(id)"
                       f" WHERE ({inside.sql()}) IS NOT TRUE)")
    row = await conn.fetchrow(f"SELECT j.* FROM {SCHEMA}.manual_job j WHERE {w.sql()}", *w.args)
    if row is None:
        return None
    job = dict(row)
    job.pop("meters", None)
    job["request"] = _json(job["request"])
    job["results"] = _json(job["results"])
    return job


async def finish_job(conn: Connection, job_id: str, status: str, results: list[dict[str, Any]]) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.manual_job SET status = $2, results = $3::jsonb, finished_at = now()"
                       " WHERE id = $1", job_id, status, json.dumps(results))


async def purge(conn: Connection, retention_h: float) -> int:
    """Delete the jobs older than ``retention_h``; how many."""
    result = await conn.execute(f"DELETE FROM {SCHEMA}.manual_job WHERE created_at < now()"
                                " - make_interval(hours => $1)", retention_h)
    return int(result.split()[-1])


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
