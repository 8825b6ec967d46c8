"""``/api/v1/reads``: manual reading (召测, R-4.2.3b) — now, synchronously with a time-out, or as a job.

Scope: a read naming meters or terminals outside the caller's scope (or unknown, for a restricted caller)
is refused with 403; a job that read a meter outside it is answered 404 (see :mod:`emms_collector.api.scope`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from emms_collector.api.deps import CollectorDep, Operator, Viewer
from emms_collector.api.responses import ReadJob
from emms_collector.api.scope import require_meters, require_terminals, scope_of
from emms_collector.manual.reads import ManualRead
from emms_runtime import Invalid, NotFound

router = APIRouter(prefix="/api/v1/reads", tags=["reads"])
JobPath = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^read-[0-9a-z-]+$")]


@router.post("", response_model=ReadJob,
             summary="Read items of meters now; 200 with the values, or 202 with a job to poll",
             responses={202: {"description": "still running: poll /api/v1/reads/{job_id}"}})
async def manual_read(c: CollectorDep, principal: Operator, body: ManualRead, response: Response) -> dict[str, Any]:
    """403 when a meter or terminal is outside the caller's scope."""
    scope = scope_of(principal)
    async with c.pool.acquire() as conn:
        await require_meters(conn, scope, body.meters)
        await require_terminals(conn, scope, body.terminals)
    try:
        job_id, _ = await c.manual.start(body, f"{principal.role}:{principal.subject}")
    except LookupError as exc:
        raise NotFound(str(exc)) from None
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    job = await c.manual.wait(job_id, body.wait_s) if body.wait_s > 0 else None
    if job is None:
        response.status_code = 202
        response.headers["Location"] = f"/api/v1/reads/{job_id}"
        return {"id": job_id, "status": "running"}
    return job


@router.get("/{job_id}", response_model=ReadJob,
            summary="A manual read job: status and, when done, the values per meter")
async def read_job(c: CollectorDep, principal: Viewer, job_id: JobPath) -> dict[str, Any]:
    """404 when the job read a meter outside the caller's scope."""
    job = await c.manual.get(job_id, scope_of(principal))
    if job is None:
        raise NotFound(f"no read job {job_id}")
    return job
