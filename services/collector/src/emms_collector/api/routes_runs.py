"""``/api/v1/runs``: how tasks ran — runs, per-meter status with failure reasons (R-4.2.1, R-4.2.5).

Scope: a run is the caller's when its task is (see :mod:`emms_collector.api.scope`); lists hold only those,
a run outside the scope is answered 404, and its per-meter rows and figures cover the meters in scope.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from emms_collector.api.deps import CollectorDep, Viewer
from emms_collector.api.params import Offset, RowId, TaskQuery, TimeFilter
from emms_collector.api.responses import Page, RunDetail, RunPage
from emms_collector.api.scope import scope_of
from emms_collector.repository import runs as run_sql
from emms_collector.repository import status as status_sql
from emms_runtime import NotFound

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])
RunState = Literal["pending", "running", "done", "failed", "missed", "cancelled"]


@router.get("", response_model=RunPage, summary="Runs of every task, newest first")
async def list_runs(
    c: CollectorDep, principal: Viewer,
    task_id: TaskQuery = None,
    status: Annotated[RunState | None, Query()] = None,
    since: Annotated[TimeFilter | None, Query(description="due at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Runs of the tasks in the caller's scope."""
    async with c.pool.acquire() as conn:
        total, items = await run_sql.list_runs(conn, task_id=task_id, status=status, since=since, limit=limit,
                                               offset=offset, scope=scope_of(principal))
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def _rates(run: dict[str, Any]) -> dict[str, float | None]:
    expected = run["expected"]
    if not expected:
        return {"success_first": None, "success_after_retries": None, "success_final": None}
    return {"success_first": run["ok_first"] / expected, "success_after_retries": run["ok_retry"] / expected,
            "success_final": run["ok_final"] / expected}


@router.get("/{run_id}", response_model=RunDetail, summary="One run with its success rates and failure reasons")
async def get_run(c: CollectorDep, principal: Viewer, run_id: RowId) -> dict[str, Any]:
    """404 when the run's task is outside the caller's scope; meter states and reasons over meters in it."""
    scope = scope_of(principal)
    async with c.pool.acquire() as conn:
        run = await run_sql.get_run(conn, run_id, scope)
        if run is None:
            raise NotFound(f"no run {run_id}")
        reasons = await status_sql.failure_reasons(conn, run_id, scope=scope)
        states = await status_sql.state_counts(conn, run_id, scope)
    return {**run, **_rates(run), "meter_states": states, "failure_reasons": reasons}


@router.get("/{run_id}/meters", response_model=Page,
            summary="Per-meter status of a run: items expected and collected, reason")
async def run_meters(c: CollectorDep, principal: Viewer, run_id: RowId,
                     state: Annotated[Literal["pending", "ok", "partial", "failed"] | None, Query()] = None,
                     limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                     offset: Offset = 0) -> dict[str, Any]:
    """404 when the run's task is outside the caller's scope; only meters in it are listed."""
    scope = scope_of(principal)
    async with c.pool.acquire() as conn:
        if await run_sql.get_run(conn, run_id, scope) is None:
            raise NotFound(f"no run {run_id}")
        total, items = await status_sql.meters_of_run(conn, run_id, state=state, limit=limit, offset=offset,
                                                      scope=scope)
    return {"total": total, "limit": limit, "offset": offset, "items": items}
