"""``/api/v1/quality``: execution quality per run and task, by terminal / region / meter type / protocol (R-4.2.5)
and by local communication scheme (R-4.6.7).

Scope: every figure is computed over the meters in the caller's scope only; a run or task outside it is
answered 404 (see :mod:`emms_collector.api.scope`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from emms_collector.api.deps import CollectorDep, Viewer
from emms_collector.api.params import RowId, TaskPath, TimeFilter
from emms_collector.api.responses import Quality, RunQuality, TaskQuality
from emms_collector.api.scope import scope_of, visible_task
from emms_collector.quality import Dimension, figures, runs_of
from emms_collector.repository import runs as run_sql
from emms_runtime import NotFound

router = APIRouter(prefix="/api/v1/quality", tags=["quality"])


@router.get("/runs/{run_id}", response_model=RunQuality,
            summary="Success rates and completeness of one run, optionally broken down")
async def run_quality(c: CollectorDep, principal: Viewer, run_id: RowId,
                      by: Annotated[Dimension | None, Query()] = None) -> dict[str, Any]:
    scope = scope_of(principal)
    async with c.pool.acquire() as conn:
        run = await run_sql.get_run(conn, run_id, scope)
        if run is None:
            raise NotFound(f"no run {run_id}")
        found = await figures(conn, run_id=run_id, by=by, scope=scope)
    return {"run": run, **found}


@router.get("/tasks/{task_id}", response_model=TaskQuality,
            summary="A task's quality over a period: overall, per run, by dimension")
async def task_quality(c: CollectorDep, principal: Viewer,
                       task_id: TaskPath,
                       since: Annotated[TimeFilter | None, Query(description="runs due at or after")] = None,
                       until: Annotated[TimeFilter | None, Query(description="runs due before")] = None,
                       by: Annotated[Dimension | None, Query()] = None) -> dict[str, Any]:
    scope = scope_of(principal)
    async with c.pool.acquire() as conn:
        await visible_task(conn, scope, task_id)
        found = await figures(conn, task_id=task_id, since=since, until=until, by=by, scope=scope)
        runs = await runs_of(conn, task_id, since, until, scope=scope)
    return {"task_id": task_id, **found, "runs": runs}


@router.get("", response_model=Quality, summary="Quality of every run in a period, by dimension")
async def all_quality(c: CollectorDep, principal: Viewer,
                      since: Annotated[TimeFilter | None, Query(description="runs due at or after")] = None,
                      until: Annotated[TimeFilter | None, Query(description="runs due before")] = None,
                      by: Annotated[Dimension | None, Query()] = None) -> dict[str, Any]:
    """Over every run (of any task) but only the caller's meters."""
    async with c.pool.acquire() as conn:
        return await figures(conn, since=since, until=until, by=by, scope=scope_of(principal))
