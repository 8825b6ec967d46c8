"""``/api/v1/tasks``: collection tasks — create, list, read, change, delete, members, run now (R-4.2.1).

Scope (see :mod:`emms_collector.api.scope`): a task belongs to its owner company (and the regions its creator
was restricted to) and reads only their meters. A restricted caller lists only tasks it owns; a task outside
its scope is answered 404 (read, change, delete, run, members, runs); a target naming meters, terminals or
regions outside its scope, or meters of several companies, is refused with 403.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict

from emms_collector import duty_log
from emms_collector.api.deps import CollectorDep, Operator, Viewer
from emms_collector.api.params import Offset, TaskPath
from emms_collector.api.responses import MemberPage, RunPage, RunStarted, TaskOut, TaskPage, TaskWithRuns
from emms_collector.api.scope import scope_of, task_owner, visible_task
from emms_collector.inputs import Instant
from emms_collector.reading.datatime import run_data_time
from emms_collector.repository import runs as run_sql
from emms_collector.repository import tasks as task_sql
from emms_collector.tasks.model import Task, TaskBody, TaskPatch
from emms_collector.tasks.periods import PeriodUnit
from emms_collector.tasks.types import TaskType
from emms_runtime import Conflict, Invalid, NotFound, Principal

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])
RunState = Literal["pending", "running", "done", "failed", "missed", "cancelled"]
MAX_VERSION = 2**31 - 1


def _planned_from(task: Task, now: datetime) -> datetime:
    """Where the scheduler starts: now, or just before a one-time task's instant if that is past."""
    if task.period.unit is PeriodUnit.ONCE and task.valid_from is not None:
        return min(now, task.valid_from - timedelta(microseconds=1))
    return now


@router.post("", response_model=TaskOut, status_code=201, summary="Create a collection task")
async def create_task(c: CollectorDep, principal: Operator, body: TaskBody) -> dict[str, Any]:
    """The task belongs to ``company_id`` (by default the caller's only company, else that of the meters it
    names); 403 when its target reaches outside the caller's scope or spans companies."""
    now = datetime.now(UTC)
    task_id = body.id or f"task-{now.strftime('%Y%m%d%H%M%S%f')}"
    async with c.pool.acquire() as conn:
        owner = await task_owner(conn, scope_of(principal), body.target, body.company_id)
        task = Task.model_validate({**body.model_dump(), "id": task_id, "created_by": principal.subject,
                                    "company_id": owner.company_id, "scope_regions": owner.scope_regions})
        try:
            stored = await task_sql.insert_task(conn, task, planned_from=_planned_from(task, now))
        except task_sql.TaskExists as exc:
            raise Conflict(str(exc)) from None
    c.poke_scheduler()
    public = stored.as_public()
    await duty_log.task_changed(c.producer, actor=principal.subject, action="task.create", task=public)
    return public


@router.get("", response_model=TaskPage, summary="Collection tasks, filtered and paged")
async def list_tasks(
    c: CollectorDep, principal: Viewer,
    type: Annotated[TaskType | None, Query()] = None,
    enabled: Annotated[bool | None, Query()] = None,
    auto: Annotated[bool | None, Query(description="made from a template")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The tasks the caller owns (all of them for an unrestricted caller)."""
    async with c.pool.acquire() as conn:
        total, tasks = await task_sql.list_tasks(conn, task_type=type.value if type else None, enabled=enabled,
                                                 auto=auto, limit=limit, offset=offset, scope=scope_of(principal))
    return {"total": total, "limit": limit, "offset": offset, "items": [t.as_public() for t in tasks]}


async def _get(c: CollectorDep, principal: Principal, task_id: str) -> Task:
    async with c.pool.acquire() as conn:
        return await visible_task(conn, scope_of(principal), task_id)


@router.get("/{task_id}", response_model=TaskWithRuns, summary="One task with its last runs")
async def get_task(c: CollectorDep, principal: Viewer, task_id: TaskPath) -> dict[str, Any]:
    """404 when the task is outside the caller's scope."""
    task = await _get(c, principal, task_id)
    async with c.pool.acquire() as conn:
        _, last = await run_sql.list_runs(conn, task_id=task_id, limit=5)
    return {**task.as_public(), "last_runs": last}


async def _store(c: CollectorDep, principal: Principal, old: Task, new: Task, version: int | None
                 ) -> dict[str, Any]:
    schedule_moved = (new.period != old.period or new.valid_from != old.valid_from
                      or new.valid_to != old.valid_to or (new.enabled and not old.enabled))
    now = datetime.now(UTC)
    async with c.pool.acquire() as conn, conn.transaction():
        try:
            stored = await task_sql.update_task(conn, new, expected_version=version,
                                                reschedule_from=_planned_from(new, now) if schedule_moved else None)
        except task_sql.VersionConflict as exc:
            raise Conflict(str(exc)) from None
        except KeyError:
            raise NotFound(f"no task {old.id}") from None
    c.poke_scheduler()
    public = stored.as_public()
    await duty_log.task_changed(c.producer, actor=principal.subject, action="task.update", task=public)
    return public


@router.put("/{task_id}", response_model=TaskOut, summary="Replace a task (version guards against lost updates)")
async def replace_task(c: CollectorDep, principal: Operator, task_id: TaskPath, body: TaskBody,
                       version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None) -> dict[str, Any]:
    """404 when the task is outside the caller's scope; 403 when the new target reaches outside it."""
    if body.id is not None and body.id != task_id:
        raise Invalid(f"body id {body.id} differs from the path's {task_id}")
    old = await _get(c, principal, task_id)
    if old.auto:
        raise Conflict("a task made from a template is changed through its template")
    async with c.pool.acquire() as conn:
        owner = await task_owner(conn, scope_of(principal), body.target, body.company_id, current=old)
    new = Task.model_validate({**body.model_dump(), "id": task_id, "created_by": old.created_by,
                               "company_id": owner.company_id, "scope_regions": owner.scope_regions})
    return await _store(c, principal, old, new, version)


@router.patch("/{task_id}", response_model=TaskOut, summary="Change some fields of a task")
async def patch_task(c: CollectorDep, principal: Operator, task_id: TaskPath, body: TaskPatch,
                     version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None) -> dict[str, Any]:
    """404 when the task is outside the caller's scope; 403 when the changed target reaches outside it."""
    old = await _get(c, principal, task_id)
    changed = body.model_dump(exclude_unset=True)
    if old.auto and set(changed) - {"enabled", "priority"}:
        raise Conflict("a task made from a template only takes enabled / priority here; "
                                        "change the template for the rest")
    try:
        new = body.apply(old)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if not old.auto:
        async with c.pool.acquire() as conn:
            owner = await task_owner(conn, scope_of(principal), new.target,
                                     new.company_id if "company_id" in changed else None, current=old)
        new = new.model_copy(update={"company_id": owner.company_id, "scope_regions": owner.scope_regions})
    return await _store(c, principal, old, new, version)


@router.delete("/{task_id}", response_class=Response, status_code=204, summary="Delete a task (its runs stay readable)")
async def delete_task(c: CollectorDep, principal: Operator, task_id: TaskPath) -> Response:
    """404 when the task is outside the caller's scope."""
    async with c.pool.acquire() as conn, conn.transaction():
        task = await visible_task(conn, scope_of(principal), task_id)
        if not await task_sql.delete_task(conn, task_id):
            raise NotFound(f"no task {task_id}")
    await duty_log.task_changed(c.producer, actor=principal.subject, action="task.delete",
                                task={"id": task_id, "name": task.name, "version": task.version})
    return Response(status_code=204)


@router.get("/{task_id}/members", response_model=MemberPage, summary="The explicit member meters of a task")
async def task_members(c: CollectorDep, principal: Viewer, task_id: TaskPath,
                       limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
                       offset: Offset = 0) -> dict[str, Any]:
    """404 when the task is outside the caller's scope; only member meters inside it are listed."""
    scope = scope_of(principal)
    async with c.pool.acquire() as conn:
        await visible_task(conn, scope, task_id)
        total, meters = await task_sql.members(conn, task_id, limit=limit, offset=offset, scope=scope)
    return {"total": total, "limit": limit, "offset": offset, "items": meters}


class RunNow(BaseModel):
    """Run a task now (manual re-collection, R-4.2.3a); ``slot`` re-collects the data of a past slot."""

    model_config = ConfigDict(extra="forbid")

    slot: Instant | None = None


@router.post("/{task_id}/runs", response_model=RunStarted, status_code=202,
             summary="Run the task now, or re-run a past slot")
async def run_now(c: CollectorDep, principal: Operator, task_id: TaskPath,
                  body: RunNow | None = None) -> dict[str, Any]:
    """404 when the task is outside the caller's scope."""
    task = await _get(c, principal, task_id)
    now = datetime.now(UTC)
    slot = body.slot if body and body.slot else now
    if slot > now + timedelta(seconds=1):
        raise Invalid("slot is in the future; the scheduler runs future slots")
    data_time = run_data_time(task.type, slot, c.tz, freeze_at=c.settings.freeze_at)
    async with c.pool.acquire() as conn:
        run_id = await run_sql.create_run(conn, task_id, slot, data_time, min(task.priority, 2), "manual")
    if run_id is None:
        raise Conflict(f"a manual run of slot {slot.isoformat()} exists already")
    c.poke_scheduler()
    await duty_log.task_changed(c.producer, actor=principal.subject, action="task.run", task={
        "id": task_id, "name": task.name, "run_id": run_id, "slot": slot.isoformat()})
    return {"run_id": run_id, "task_id": task_id, "due_at": slot.isoformat(), "data_time": data_time.isoformat()}


@router.get("/{task_id}/runs", response_model=RunPage, summary="Runs of one task, newest first")
async def task_runs(c: CollectorDep, principal: Viewer, task_id: TaskPath,
                    status: Annotated[RunState | None, Query()] = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    offset: Offset = 0) -> dict[str, Any]:
    """404 when the task (deleted ones too: their runs stay readable) is unknown or outside the caller's scope."""
    async with c.pool.acquire() as conn:
        await visible_task(conn, scope_of(principal), task_id, include_deleted=True)
        total, items = await run_sql.list_runs(conn, task_id=task_id, status=status, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}
