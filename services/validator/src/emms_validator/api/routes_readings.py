"""A meter's validation history, a point's audit trail, manual edits, and the review queue of held readings.

Scope: the review queue lists only held readings of meters in the caller's scope; a route that
names a meter outside it is 403.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field, StringConstraints

from emms_runtime import Invalid
from emms_validator import duty_log, metrics
from emms_validator.api.deps import (
    ITEM_PATTERN,
    LABEL,
    METER_PATTERN,
    PRINTABLE,
    AwareInstant,
    Instant,
    Offset,
    Operator,
    ValidatorDep,
    Viewer,
)
from emms_validator.api.responses import ERRORS, EditResult, MeterValidation, PointAudit, ReviewPage
from emms_validator.repository import review
from emms_validator.runtime import SCHEMA

router = APIRouter(prefix="/api/v1", tags=["readings"], responses=ERRORS)
MeterPath = Annotated[str, Path(pattern=METER_PATTERN)]
ItemPath = Annotated[str, Path(pattern=ITEM_PATTERN)]


class Edit(BaseModel):
    data_time: AwareInstant
    value: float = Field(strict=True, allow_inf_nan=False)
    reason: Annotated[str, StringConstraints(min_length=3, max_length=2000, pattern=PRINTABLE)]
    unit: Annotated[str, StringConstraints(max_length=20, pattern=LABEL)] | None = None


@router.get("/meters/{meter_id}/validation", response_model=MeterValidation,
            summary="A meter's validation history: versions, anomalies, gaps")
async def meter_validation(vr: ValidatorDep, caller: Viewer, meter_id: MeterPath,
                           since: Annotated[Instant | None, Query()] = None,
                           limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict[str, Any]:
    async with vr.pool.acquire() as conn:
        await caller.require_meter(conn, meter_id)
        return await review.meter_history(conn, SCHEMA, meter_id, since, limit)


@router.get("/meters/{meter_id}/items/{item}/audit", response_model=PointAudit,
            summary="Raw, back-filled and published values of one point")
async def point_audit(vr: ValidatorDep, caller: Viewer, meter_id: MeterPath, item: ItemPath,
                      data_time: Annotated[AwareInstant, Query(description="ISO 8601 with offset")]) -> dict[str, Any]:
    async with vr.pool.acquire() as conn:
        await caller.require_meter(conn, meter_id)
        return await review.point_history(conn, SCHEMA, meter_id, item, data_time)


@router.post("/meters/{meter_id}/items/{item}/edits", response_model=EditResult, status_code=201,
             summary="Publish a manually edited value as a new version (raw data stays untouched)")
async def edit_point(vr: ValidatorDep, caller: Operator, meter_id: MeterPath, item: ItemPath,
                     body: Edit) -> dict[str, Any]:
    async with vr.pool.acquire() as conn, conn.transaction():
        await caller.require_meter(conn, meter_id)
        try:
            edited = await review.manual_edit(conn, SCHEMA, meter_id, item, body.data_time, body.value, body.unit,
                                              body.reason, caller.subject)
        except LookupError as exc:
            raise Invalid(str(exc)) from None
        message = await review.edit_batch(conn, SCHEMA, edited)
        await vr.publish([message])
    metrics.EDITS.inc()
    await duty_log.reading_edited(vr.producer, actor=caller.subject, meter_id=meter_id, item=item,
                                  data_time=body.data_time.isoformat(), value=body.value, reason=body.reason,
                                  message_id=str(message.stable_id()))
    return {"published": edited.model_dump(mode="json"), "message_id": str(message.stable_id()),
            "edited_by": caller.subject, "reason": body.reason}


@router.get("/review", response_model=ReviewPage,
            summary="Held readings waiting for back-fill or for a person (the review queue)")
async def review_queue(
    vr: ValidatorDep, caller: Viewer,
    status: Annotated[Literal["awaiting_backfill", "unrepaired", "repaired", "edited"] | None, Query()] = None,
    meter_id: Annotated[str | None, Query(pattern=METER_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    async with vr.pool.acquire() as conn:
        total, items = await review.review_queue(conn, SCHEMA, status, meter_id, limit, offset, caller.scope)
    return {"total": total, "limit": limit, "offset": offset, "items": items}
