"""``/api/v1/commands``, ``/api/v1/jobs``, ``/api/v1/groups``, ``/api/v1/protected``, ``/api/v1/command-log``:
remote control (R-4.4.3) and control's part of the duty log (R-4.6.7)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from emms_control.api.deps import ControlDep
from emms_control.commands import cancel_job, confirm_job, job_status, submit_command
from emms_control.commands.actions import Action
from emms_control.commands.targets import ID, Target, meters_of
from emms_control.repository import command_log as log_sql
from emms_control.repository import devices as device_sql
from emms_control.repository import groups as group_sql
from emms_control.repository import jobs as job_sql
from emms_control.runtime import ControlRuntime
from emms_db.owner_scope import OwnerScope
from emms_db.where import Where
from emms_runtime import Permission, Principal, oplog, require
from emms_runtime.api_models import ApiModel
from emms_runtime.errors import Forbidden, NotFound

Sender = Annotated[Principal, require(Permission.CONTROL_SEND)]
"""Commands to devices in the caller's scope (a step-up permission)."""
Reader = Annotated[Principal, require(Permission.TERMINALS_READ)]
"""Jobs, groups, protection marks and the command log (viewers read)."""
Editor = Annotated[Principal, require(Permission.MASTERDATA_EDIT)]
"""Groups and protection marks."""
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
JobId = Annotated[str, Path(pattern=UUID)]
GroupId = Annotated[str, Path(pattern=ID)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


class Problem(ApiModel):
    detail: str


def _errors(**codes: str) -> dict[int | str, dict[str, Any]]:
    return {int(k[1:]): {"model": Problem, "description": v} for k, v in codes.items()}


COMMON = _errors(_400="The body cannot be read as JSON", _401="No valid bearer token",
                 _403="The token lacks the permission, a fresh step-up, or the device's scope",
                 _429="Over a quota (see Retry-After)", _503="Tokens cannot be verified just now")
commands = APIRouter(prefix="/api/v1/commands", tags=["commands"], responses=COMMON)
jobs = APIRouter(prefix="/api/v1/jobs", tags=["commands"], responses=COMMON)
groups = APIRouter(prefix="/api/v1/groups", tags=["commands"], responses=COMMON)
protected = APIRouter(prefix="/api/v1/protected", tags=["commands"], responses=COMMON)
command_log = APIRouter(prefix="/api/v1/command-log", tags=["commands"], responses=COMMON)
ROUTERS = (commands, jobs, groups, protected, command_log)


class CommandBody(BaseModel):
    action: Action
    target: Target
    reason: str = Field(min_length=1, max_length=500)
    override_protection: bool = False
    override_reason: str | None = Field(default=None, max_length=500)
    duration_half_hours: int | None = Field(default=None, ge=0, le=255, description="protect_on: 0 = until off")
    not_before: datetime | None = None


class JobView(ApiModel):
    job_id: str
    action: str
    origin: str
    reason: str
    requested_by: str
    state: str
    total: int
    counts: dict[str, int]
    finished_devices: int
    progress: float
    params: dict[str, Any]
    target: dict[str, Any]
    override_protection: bool
    override_reason: str | None
    not_before: datetime | None
    confirm_by: datetime | None
    confirmed_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _job(view: dict[str, Any]) -> dict[str, Any]:
    out = dict(view)
    for k in ("params", "target"):
        if isinstance(out.get(k), str):
            out[k] = json.loads(out[k])
    return out



class JobDeviceView(ApiModel):
    job_id: str
    meter_id: str = Field(description="'' for a terminal-wide command")
    terminal: str
    seq: int
    step: str
    state: str
    attempts: int
    request_id: str | None
    due_at: datetime | None
    retry_reason: str | None
    sent_at: datetime | None
    confirmed_at: datetime | None
    finished_at: datetime | None
    outcome: str | None
    reason: str | None
    verified_state: str | None


class GroupSummary(ApiModel):
    group_id: str
    name: str
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    members: int


class GroupView(ApiModel):
    group_id: str
    name: str
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    meter_ids: list[str]


class MarkView(ApiModel):
    kind: str
    id: str
    protection_class: str = Field(alias="class", description="key, medical, critical …")
    reason: str
    marked_by: str
    marked_at: datetime


class LogEntry(ApiModel):
    log_id: int
    at: datetime
    kind: str = Field(description="command | parameter")
    event: str = Field(description="submitted, confirmed_by, sent, resent, result, late_result, retry, final …")
    job_id: str | None
    meter_id: str | None
    terminal: str | None
    operator: str
    origin: str
    action: str
    request_id: str | None
    outcome: str | None
    verified_state: str | None
    detail: dict[str, Any]

class _Scope(OwnerScope):
    schema: str = "control"


async def _check_scope(conn: Any, principal: Principal, meter_ids: list[str]) -> None:
    scope = _Scope.of(principal)
    if scope.unrestricted:
        return
    where = Where([meter_ids])
    where.parts.append("o.meter_id = ANY($1::text[])")
    scope.owned("o", where)
    allowed = {r["meter_id"] for r in await conn.fetch(
        f"SELECT o.meter_id FROM control.device_owner o WHERE {where.sql()}", *where.args)}
    outside = [m for m in meter_ids if m not in allowed]
    if outside:
        raise Forbidden(f"outside your data scope: {', '.join(outside[:10])}; {scope.describe()}")


@commands.post("", response_model=JobView, status_code=201, summary="Command one or many devices (a job)",
               responses=_errors(_404="An unknown device or group (named)",
                                 _409="A protected customer without override, or an automatic cut refused",
                                 _422="An action the device cannot do, a bad target or value"))
async def post_command(cr: ControlDep, principal: Sender, body: CommandBody) -> dict[str, Any]:
    async with cr.pool.acquire() as conn, conn.transaction():
        meter_ids = await meters_of(conn, body.target)
        await _check_scope(conn, principal, meter_ids)
        params = {} if body.duration_half_hours is None else {"duration_half_hours": body.duration_half_hours}
        job_id = await submit_command(conn, meter_ids=meter_ids, action=body.action, origin="manual",
                                      reason=body.reason, requested_by=principal.subject,
                                      override_protection=body.override_protection,
                                      override_reason=body.override_reason, params=params,
                                      not_before=body.not_before, target=body.target.model_dump(exclude_none=True))
        job = _job(await job_status(conn, job_id))
    await _duty_log(cr, principal, job, "submitted", body.reason)
    return job


async def _duty_log(cr: ControlRuntime, principal: Principal, job: dict[str, Any], step: str,
                    reason: str | None) -> None:
    """The command's step in the duty log (emms.operation.log.v1), after it committed; never fails the request."""
    await oplog.record(cr.producer, service="control", category="control", action=f"command.{step}",
                       actor=principal.subject, target=f"job {job['job_id']}", reason=reason,
                       entry_id=f"control/{job['job_id']}/{step}",
                       detail={"action": job.get("action"), "devices": job.get("total"), "state": job.get("state")})


@jobs.get("", response_model=list[JobView], summary="Command jobs, newest first")
async def list_jobs(cr: ControlDep, principal: Reader,
                    state: Annotated[str | None, Query(pattern="^[a-z_]{1,32}$")] = None,
                    requested_by: Annotated[str | None, Query(max_length=200)] = None,
                    limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    async with cr.pool.acquire() as conn:
        rows = await job_sql.list_jobs(conn, state=state, requested_by=requested_by, limit=limit, offset=offset)
        progress = await job_sql.progress(conn, [str(r["job_id"]) for r in rows])
    out = []
    for r in rows:
        counts = progress[str(r["job_id"])]
        final = sum(counts.get(s, 0) for s in job_sql.FINAL)
        out.append(_job({**r, "job_id": str(r["job_id"]), "counts": counts, "finished_devices": final,
                         "progress": round(final / r["total"], 4) if r["total"] else 1.0}))
    return out


@jobs.get("/{job_id}", response_model=JobView, summary="A job's state and progress",
          responses=_errors(_404="No such job"))
async def get_job(cr: ControlDep, principal: Reader, job_id: JobId) -> dict[str, Any]:
    async with cr.pool.acquire() as conn:
        return _job(await job_status(conn, job_id))


@jobs.get("/{job_id}/devices", response_model=list[JobDeviceView],
          summary="Per-device rows of a job (state, attempts, result, state read back)",
          responses=_errors(_404="No such job"))
async def job_devices(cr: ControlDep, principal: Reader, job_id: JobId,
                      state: Annotated[str | None, Query(pattern="^[a-z_]{1,32}$")] = None,
                      limit: Limit = 1000, offset: Offset = 0) -> list[dict[str, Any]]:
    async with cr.pool.acquire() as conn:
        if await job_sql.job(conn, job_id) is None:
            raise NotFound(f"no job {job_id}")
        rows = await job_sql.devices_of(conn, job_id, state=state, limit=limit, offset=offset)
    return [{**r, "job_id": str(r["job_id"])} for r in rows]


@jobs.post("/{job_id}/confirm", response_model=JobView, summary="Second confirmation of a large job",
           responses=_errors(_404="No such job", _409="Not awaiting confirmation, or expired"))
async def post_confirm(cr: ControlDep, principal: Sender, job_id: JobId) -> dict[str, Any]:
    async with cr.pool.acquire() as conn, conn.transaction():
        job = _job(await confirm_job(conn, job_id, principal.subject))
    await _duty_log(cr, principal, job, "confirmed", None)
    return job


@jobs.post("/{job_id}/cancel", response_model=JobView, summary="Cancel a job: devices not yet sent are cancelled",
           responses=_errors(_404="No such job", _409="The job is over"))
async def post_cancel(cr: ControlDep, principal: Sender, job_id: JobId) -> dict[str, Any]:
    async with cr.pool.acquire() as conn, conn.transaction():
        job = _job(await cancel_job(conn, job_id, principal.subject))
    await _duty_log(cr, principal, job, "cancelled", None)
    return job


# ---- groups ----------------------------------------------------------------------------------------
class GroupBody(BaseModel):
    group_id: str = Field(pattern=ID)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=1000)
    meter_ids: list[Annotated[str, Field(pattern=ID)]] = Field(default_factory=list, max_length=100_000)


class MembersBody(BaseModel):
    add: list[Annotated[str, Field(pattern=ID)]] = Field(default_factory=list, max_length=100_000)
    remove: list[Annotated[str, Field(pattern=ID)]] = Field(default_factory=list, max_length=100_000)


@groups.get("", response_model=list[GroupSummary], summary="Named device groups")
async def list_groups(cr: ControlDep, principal: Reader, limit: Limit = 100, offset: Offset = 0
                      ) -> list[dict[str, Any]]:
    async with cr.pool.acquire() as conn:
        return await group_sql.list_groups(conn, limit, offset)


@groups.post("", response_model=GroupView, status_code=201, summary="Create a group", responses=_errors(
    _404="An unknown meter (named)", _409="The group exists", _422="A bad value"))
async def create_group(cr: ControlDep, principal: Editor, body: GroupBody) -> dict[str, Any]:
    async with cr.pool.acquire() as conn, conn.transaction():
        await _known(conn, body.meter_ids)
        return await group_sql.create(conn, body.group_id, body.name, body.description, principal.subject,
                                      body.meter_ids)


@groups.get("/{group_id}", response_model=GroupView, summary="A group and its members",
            responses=_errors(_404="No such group"))
async def get_group(cr: ControlDep, principal: Reader, group_id: GroupId) -> dict[str, Any]:
    async with cr.pool.acquire() as conn:
        return await group_sql.get(conn, group_id)


@groups.post("/{group_id}/members", response_model=GroupView, summary="Add / remove members",
             responses=_errors(_404="No such group or an unknown meter", _422="A bad value"))
async def change_members(cr: ControlDep, principal: Editor, group_id: GroupId, body: MembersBody) -> dict[str, Any]:
    async with cr.pool.acquire() as conn, conn.transaction():
        await _known(conn, body.add)
        return await group_sql.change_members(conn, group_id, body.add, body.remove)


@groups.delete("/{group_id}", status_code=204, response_class=Response, summary="Delete a group",
               responses=_errors(_404="No such group"))
async def delete_group(cr: ControlDep, principal: Editor, group_id: GroupId) -> None:
    async with cr.pool.acquire() as conn:
        await group_sql.delete(conn, group_id)


async def _known(conn: Any, meter_ids: list[str]) -> None:
    found = await device_sql.by_ids(conn, meter_ids)
    missing = [m for m in dict.fromkeys(meter_ids) if m not in found]
    if missing:
        raise NotFound(f"unknown device(s): {', '.join(missing[:20])}")


# ---- protection marks ---------------------------------------------------------------------------------
class MarkBody(BaseModel):
    kind: str = Field(pattern="^(customer|meter)$")
    id: str = Field(pattern=ID)
    protection_class: str = Field(pattern="^[a-z_]{1,32}$", description="e.g. key, medical, critical")
    reason: str = Field(min_length=1, max_length=500)


@protected.get("", response_model=list[MarkView], summary="Customers and meters marked protected through control")
async def list_marks(cr: ControlDep, principal: Reader, limit: Limit = 100, offset: Offset = 0
                     ) -> list[dict[str, Any]]:
    async with cr.pool.acquire() as conn:
        return await device_sql.marks(conn, limit, offset)


@protected.put("", response_model=MarkView, summary="Mark a customer or meter protected (trips need an override)",
               responses=_errors(_422="A bad value"))
async def put_mark(cr: ControlDep, principal: Editor, body: MarkBody) -> dict[str, Any]:
    async with cr.pool.acquire() as conn:
        return await device_sql.mark(conn, body.kind, body.id, body.protection_class, body.reason, principal.subject)


@protected.delete("/{kind}/{mark_id}", status_code=204, response_class=Response, summary="Remove a protection mark",
                  responses=_errors(_404="No such mark"))
async def delete_mark(cr: ControlDep, principal: Editor,
                      kind: Annotated[str, Path(pattern="^(customer|meter)$")],
                      mark_id: Annotated[str, Path(pattern=ID)]) -> None:
    async with cr.pool.acquire() as conn:
        if not await device_sql.unmark(conn, kind, mark_id):
            raise NotFound(f"no protection mark for {kind} {mark_id}")


# ---- the command log ----------------------------------------------------------------------------------
@command_log.get("", response_model=list[LogEntry],
                 summary="The immutable command / parameter log (duty log, R-4.6.7)")
async def get_log(cr: ControlDep, principal: Reader, since: datetime | None = None, until: datetime | None = None,
                  meter_id: Annotated[str | None, Query(pattern=ID)] = None,
                  terminal: Annotated[str | None, Query(pattern=r"^[0-9A-Fa-f]{4}-\d{5}$")] = None,
                  operator: Annotated[str | None, Query(max_length=200)] = None,
                  action: Annotated[str | None, Query(pattern="^[a-z0-9_.]{1,64}$")] = None,
                  outcome: Annotated[str | None, Query(pattern="^[a-z_]{1,32}$")] = None,
                  job_id: Annotated[str | None, Query(pattern=UUID)] = None,
                  kind: Annotated[str | None, Query(pattern="^(command|parameter)$")] = None,
                  event: Annotated[str | None, Query(pattern="^[a-z_]{1,32}$")] = None,
                  limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    async with cr.pool.acquire() as conn:
        rows = await log_sql.query(conn, since=since, until=until, meter_id=meter_id, terminal=terminal,
                                   operator=operator, action=action, outcome=outcome, job_id=job_id, kind=kind,
                                   event=event, limit=limit, offset=offset)
    return [{**r, "job_id": None if r["job_id"] is None else str(r["job_id"]),
             "detail": json.loads(r["detail"]) if isinstance(r["detail"], str) else r["detail"]} for r in rows]
