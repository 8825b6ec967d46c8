"""``/api/v1/runs``: how tasks ran — runs, per-meter status with failure reasons (R-4.2.1, R-4.2.5)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from emms_collector.api.deps import CollectorDep, Viewer
from emms_collector.api.responses import Page, RunDetail, RunPage
from emms_collector.repository import runs as run_sql
from emms_collector.repository import status as status_sql
from emms_runtime import NotFound

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])
RunState = Literal["pending", "running", "done", "failed", "missed", "cancelled"]


@router.get("", response_model=RunPage, summary="Runs of every task, newest first")
async def list_runs(
    c: CollectorDep, principal: Viewer,
    task_id: Annotated[str | None, Query(max_length=80)] = None,
    status: Annotated[RunState | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="due at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        total, items = await run_sql.list_runs(conn, task_id=task_id, status=status, since=since, limit=limit,
                                               offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def _rates(run: dict[str, Any]) -> dict[str, float | None]:
    expected = run["expected"]
    if not expected:
        return {"success_first": None, "success_after_retries": None, "success_final": None}
    return {"success_first": run["ok_first"] / expected, "success_after_retries": run["ok_retry"] / expected,
            "success_final": run["ok_final"] / expected}


@router.get("/{run_id}", response_model=RunDetail, summary="One run with its success rates and failure reasons")
async def get_run(c: CollectorDep, principal: Viewer, run_id: Annotated[int, Path(ge=1)]) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        run = await run_sql.get_run(conn, run_id)
        if run is None:
            raise NotFound(f"no run {run_id}")
        reasons = await status_sql.failure_reasons(conn, run_id)
        states = await status_sql.state_counts(conn, run_id)
    return {**run, **_rates(run), "meter_states": states, "failure_reasons": reasons}


@router.get("/{run_id}/meters", response_model=Page,
            summary="Per-meter status of a run: items expected and collected, reason")
async def run_meters(c: CollectorDep, principal: Viewer, run_id: Annotated[int, Path(ge=1)],
                     state: Annotated[Literal["pending", "ok", "partial", "failed"] | None, Query()] = None,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                     offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        if await run_sql.get_run(conn, run_id) is None:
            raise NotFound(f"no run {run_id}")
        total, items = await status_sql.meters_of_run(conn, run_id, state=state, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}
