"""``/api/v1/anomalies``: list, detail and workflow transitions; ``/api/v1/statistics/rules``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from emms_runtime import Conflict, NotFound
from emms_validator.api.deps import METER_PATTERN, Operator, ValidatorDep, Viewer
from emms_validator.api.responses import AnomalyDetail, AnomalyPage, RuleStatistics
from emms_validator.repository import anomalies as repo
from emms_validator.runtime import SCHEMA

router = APIRouter(prefix="/api/v1", tags=["anomalies"])
AnomalyId = Annotated[str, Path(min_length=3, max_length=400, description="meter|item|rule|data time")]


class Transition(BaseModel):
    to: Literal["acknowledged", "resolved", "dismissed"]
    note: str = Field(default="", max_length=2000)


@router.get("/anomalies", response_model=AnomalyPage, summary="Anomalies, newest first, filtered and paged")
async def list_anomalies(
    vr: ValidatorDep, principal: Viewer,
    meter_id: Annotated[str | None, Query(pattern=METER_PATTERN)] = None,
    rule: Annotated[str | None, Query(max_length=60)] = None,
    status: Annotated[Literal["new", "acknowledged", "resolved", "dismissed"] | None, Query()] = None,
    severity: Annotated[Literal["important", "normal"] | None, Query()] = None,
    since: Annotated[datetime | None, Query(description="detected at or after")] = None,
    until: Annotated[datetime | None, Query(description="detected before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    f = repo.AnomalyFilter(meter_id, rule, status, severity, since, until)
    async with vr.pool.acquire() as conn:
        total, items = await repo.list_anomalies(conn, SCHEMA, f, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/anomalies/{anomaly_id}", response_model=AnomalyDetail, summary="One anomaly with its workflow history")
async def anomaly_detail(vr: ValidatorDep, principal: Viewer, anomaly_id: AnomalyId) -> dict[str, Any]:
    async with vr.pool.acquire() as conn:
        found = await repo.get_anomaly(conn, SCHEMA, anomaly_id)
    if found is None:
        raise NotFound("no such anomaly")
    return found


@router.post("/anomalies/{anomaly_id}/transitions", response_model=AnomalyDetail,
             summary="Acknowledge, resolve or dismiss an anomaly")
async def transition(vr: ValidatorDep, principal: Operator, anomaly_id: AnomalyId, body: Transition) -> dict[str, Any]:
    async with vr.pool.acquire() as conn:
        try:
            found = await repo.transition(conn, SCHEMA, anomaly_id, body.to, principal.subject, body.note)
        except repo.TransitionError as exc:
            raise Conflict(str(exc)) from None
    if found is None:
        raise NotFound("no such anomaly")
    return found


@router.get("/statistics/rules", response_model=RuleStatistics,
            summary="Findings per rule: totals, important, held, by workflow status")
async def rule_statistics(
    vr: ValidatorDep, principal: Viewer,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
) -> dict[str, Any]:
    async with vr.pool.acquire() as conn:
        rows = await repo.statistics(conn, SCHEMA, since, until)
    return {"since": since, "until": until, "rules": rows}
