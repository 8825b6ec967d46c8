"""Scheduled delivery of reports (daily / monthly, to the file store or a webhook) and its history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from emms_reports.api.deps import Runtime, Scheduler, checked_format
from emms_reports.api.responses import DeliveryOut, ScheduleOut, TickOut
from emms_reports.delivery import check_target, first_due
from emms_reports.repository import schedules as repo
from emms_runtime import NotFound

router = APIRouter(prefix="/api/v1/reports/schedules", tags=["schedules"])


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report: str = Field(min_length=1, max_length=64, description="a dedicated report's name or a definition id")
    format: str = "xlsx"
    cadence: Literal["daily", "monthly"] = "daily"
    at_hour: int = Field(default=1, ge=0, le=23, description="local hour of the run")
    target_kind: Literal["file", "webhook"] = "file"
    target: str = Field(min_length=1, max_length=500)


@router.post("", response_model=ScheduleOut, status_code=201, summary="Deliver a report daily or monthly")
async def create(rt: Runtime, principal: Scheduler, body: ScheduleIn) -> dict[str, Any]:
    checked_format(body.format)
    check_target(body.target_kind, body.target)
    await rt.definition_of(body.report)  # 404 for an unknown report
    s = {**body.model_dump(), "schedule_id": uuid.uuid4().hex[:12], "created_by": principal.subject,
         "run_for": first_due(body.cadence, body.at_hour, datetime.now(UTC), rt.runner.tz)}
    async with rt.pool.acquire() as conn:
        await repo.create(conn, s)
        found = await repo.get(conn, s["schedule_id"])
    assert found is not None
    return found


@router.get("", response_model=list[ScheduleOut], summary="Schedules")
async def listing(rt: Runtime, _: Scheduler) -> list[dict[str, Any]]:
    async with rt.pool.acquire() as conn:
        return await repo.listing(conn)


@router.delete("/{schedule_id}", status_code=204, response_class=Response, summary="Stop a schedule")
async def stop(rt: Runtime, _: Scheduler, schedule_id: str) -> Response:
    async with rt.pool.acquire() as conn:
        if not await repo.disable(conn, schedule_id):
            raise NotFound(f"no schedule {schedule_id!r}")
    return Response(status_code=204)


@router.get("/{schedule_id}/deliveries", response_model=list[DeliveryOut], summary="A schedule's deliveries")
async def deliveries(rt: Runtime, _: Scheduler, schedule_id: str,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    async with rt.pool.acquire() as conn:
        if await repo.get(conn, schedule_id) is None:
            raise NotFound(f"no schedule {schedule_id!r}")
        return await repo.history(conn, schedule_id, limit)


@router.post("/run-due", response_model=TickOut, summary="Deliver every due run now (the worker does it each tick)")
async def run_due(rt: Runtime, _: Scheduler,
                  limit: Annotated[int | None, Query(ge=1, le=10_000, description="at most this many runs")] = None,
                  ) -> dict[str, Any]:
    return {"tried": await rt.delivery.tick(limit)}
