"""``/api/v1/quality``: execution quality per run and task, by terminal / region / meter type (R-4.2.5)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from emms_collector.api.deps import CollectorDep, Viewer
from emms_collector.api.responses import Quality, RunQuality, TaskQuality
from emms_collector.quality import Dimension, figures, runs_of
from emms_collector.repository import runs as run_sql
from emms_collector.repository import tasks as task_sql
from emms_runtime import NotFound

router = APIRouter(prefix="/api/v1/quality", tags=["quality"])


@router.get("/runs/{run_id}", response_model=RunQuality,
            summary="Success rates and completeness of one run, optionally broken down")
async def run_quality(c: CollectorDep, principal: Viewer, run_id: Annotated[int, Path(ge=1)],
                      by: Annotated[Dimension | None, Query()] = None) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        run = await run_sql.get_run(conn, run_id)
        if run is None:
            raise NotFound(f"no run {run_id}")
        found = await figures(conn, run_id=run_id, by=by)
    return {"run": run, **found}


@router.get("/tasks/{task_id}", response_model=TaskQuality,
            summary="A task's quality over a period: overall, per run, by dimension")
async def task_quality(c: CollectorDep, principal: Viewer,
                       task_id: Annotated[str, Path(min_length=1, max_length=80)],
                       since: Annotated[datetime | None, Query(description="runs due at or after")] = None,
                       until: Annotated[datetime | None, Query(description="runs due before")] = None,
                       by: Annotated[Dimension | None, Query()] = None) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        if await task_sql.get_task(conn, task_id) is None:
            raise NotFound(f"no task {task_id}")
        found = await figures(conn, task_id=task_id, since=since, until=until, by=by)
        runs = await runs_of(conn, task_id, since, until)
    return {"task_id": task_id, **found, "runs": runs}


@router.get("", response_model=Quality, summary="Quality of every run in a period, by dimension")
async def all_quality(c: CollectorDep, principal: Viewer,
                      since: Annotated[datetime | None, Query()] = None,
                      until: Annotated[datetime | None, Query()] = None,
                      by: Annotated[Dimension | None, Query()] = None) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        return await figures(conn, since=since, until=until, by=by)
