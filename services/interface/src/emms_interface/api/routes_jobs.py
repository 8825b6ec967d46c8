"""``/api/v1/jobs``: collection tasks, control tasks and install / replace / remove work orders (R-4.7)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from emms_interface.api.deps import (
    Collector,
    Commander,
    ControlRequester,
    IdempotencyKey,
    JobReader,
    Runtime,
    WorkOrders,
    bearer_of,
)
from emms_interface.api.responses import Job
from emms_interface.jobs import service
from emms_interface.jobs.model import CollectionJob, ControlJob, WorkOrder, WorkOrderKind, public
from emms_interface.repository import jobs as repo
from emms_runtime import Invalid, NotFound
from emms_runtime.auth import stepped_up

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
JobId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$", description="a job id (UUID)")]

_WORK_ORDER_EXAMPLE = {"metering_point_id": "mp-000001-0003", "meter_id": "m-new-0001",
                       "at": "2026-12-06T08:00:00+08:00", "reason": "new connection", "order_ref": "WO-2026-0042"}


def _answer(response: Response, job: dict[str, Any], created: bool) -> dict[str, Any]:
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/api/v1/jobs/{job['job_id']}"
    return public(job)


@router.post("/work-orders/{kind}", response_model=Job, status_code=201,
             summary="An install / replace / remove work order; ends with the new meter's first reading")
async def work_order(rt: Runtime, principal: WorkOrders, kind: WorkOrderKind, request: Request, response: Response,
                     body: Annotated[WorkOrder, Body(openapi_examples={"install": {"value": _WORK_ORDER_EXAMPLE}})],
                     key: IdempotencyKey = None) -> dict[str, Any]:
    if kind in ("install", "replace") and not body.meter_id:
        raise Invalid(f"meter_id: a {kind} work order names the meter to put on the point")
    job, created = await service.submit(rt, principal, key, kind, body, bearer_of(request))
    return _answer(response, job, created)


@router.post("/collection", response_model=Job, status_code=201,
             summary="A collection task for the collector, run now (the caller's scope applies)")
async def collection(rt: Runtime, principal: Collector, request: Request, response: Response,
                     body: Annotated[CollectionJob, Body(openapi_examples={"daily": {"value": {
                         "task": {"name": "billing re-read", "type": "daily_frozen",
                                  "target": {"meters": ["m-000001-0003"]}, "period": {"unit": "once"}},
                         "run_now": True}}})], key: IdempotencyKey = None) -> dict[str, Any]:
    job, created = await service.submit(rt, principal, key, "collection", body, bearer_of(request))
    return _answer(response, job, created)


@router.post("/control", response_model=Job, status_code=201,
             summary="A remote-control command for the control service: sent at once with a step-up token,"
                     " else kept awaiting another person's approval")
async def control(rt: Runtime, principal: ControlRequester, request: Request, response: Response,
                  body: Annotated[ControlJob, Body(openapi_examples={"trip": {"value": {
                      "command": {"action": "trip", "target": {"meter_ids": ["m-000001-0003"]},
                                  "reason": "arrears"}}}})], key: IdempotencyKey = None) -> dict[str, Any]:
    job, created = await service.submit(rt, principal, key, "control", body, bearer_of(request),
                                        await_approval=not stepped_up(request, principal))
    return _answer(response, job, created)


class Decline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f]+$")


@router.post("/{job_id}/approve", response_model=Job,
             summary="Approve a control job awaiting approval: sent to control with your step-up token"
                     " (not the person who asked for it)")
async def approve(rt: Runtime, principal: Commander, request: Request, job_id: JobId) -> dict[str, Any]:
    return public(await service.approve(rt, principal, job_id, bearer_of(request)))


@router.post("/{job_id}/decline", response_model=Job, summary="Decline a control job awaiting approval")
async def decline(rt: Runtime, principal: Commander, job_id: JobId, body: Decline) -> dict[str, Any]:
    return public(await service.decline(rt, principal, job_id, body.reason))


@router.get("", response_model=list[Job], summary="Your jobs, newest first")
async def list_jobs(rt: Runtime, principal: JobReader,
                    kind: Annotated[str | None, Query(pattern="^(collection|control|install|replace|remove)$")] = None,
                    state: Annotated[str | None, Query(max_length=40)] = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0) -> list[dict[str, Any]]:
    caller = None if principal.unrestricted and principal.kind != "client" else principal.key
    async with rt.pool.acquire() as conn:
        rows = await repo.page(conn, caller=caller, companies=list(principal.companies), kind=kind, state=state,
                               limit=limit, offset=offset)
    return [public(r) for r in rows]


@router.get("/{job_id}", response_model=Job, summary="One job")
async def get_job(rt: Runtime, principal: JobReader, job_id: str) -> dict[str, Any]:
    async with rt.pool.acquire() as conn:
        job = await repo.get(conn, job_id)
    visible = job is not None and (job["caller"] == principal.key or (
        principal.kind != "client" and all(principal.may_see_company(c) for c in job["companies"])))
    if job is None or not visible:
        raise NotFound(f"no job {job_id} of yours")
    return public(job)
