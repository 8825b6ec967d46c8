"""``/api/v1/anomalies``: list, detail and workflow transitions; ``/api/v1/statistics/rules``.

Scope: lists and statistics count only anomalies of meters in the caller's scope; the detail or a
transition of an anomaly of a meter outside it is 403 (an unknown anomaly id is 404).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from emms_db.connection import Connection
from emms_runtime import Conflict, NotFound
from emms_validator import duty_log
from emms_validator.api.deps import (
    LABEL,
    METER_PATTERN,
    RULE_PATTERN,
    Caller,
    Instant,
    Note,
    Offset,
    Operator,
    ValidatorDep,
    Viewer,
)
from emms_validator.api.responses import CONFLICT, ERRORS, NOT_FOUND, AnomalyDetail, AnomalyPage, RuleStatistics
from emms_validator.repository import anomalies as repo
from emms_validator.runtime import SCHEMA

router = APIRouter(prefix="/api/v1", tags=["anomalies"], responses=ERRORS)
AnomalyId = Annotated[str, Path(min_length=3, max_length=400, pattern=LABEL, description="meter|item|rule|data time")]


class Transition(BaseModel):
    to: Literal["acknowledged", "resolved", "dismissed"]
    note: Note = ""


async def _require_anomaly(conn: Connection, caller: Caller, anomaly_id: str) -> None:
    """404 for an anomaly that does not exist, 403 for one of a meter outside the caller's scope."""
    meter_id = await repo.meter_of(conn, SCHEMA, anomaly_id)
    if meter_id is None:
        raise NotFound("no such anomaly")
    if not await caller.scope.allows_meter(conn, meter_id):
        raise caller.refuse(f"anomaly {anomaly_id} (meter {meter_id})")


@router.get("/anomalies", response_model=AnomalyPage, summary="Anomalies, newest first, filtered and paged")
async def list_anomalies(
    vr: ValidatorDep, caller: Viewer,
    meter_id: Annotated[str | None, Query(pattern=METER_PATTERN)] = None,
    rule: Annotated[str | None, Query(pattern=RULE_PATTERN)] = None,
    status: Annotated[Literal["new", "acknowledged", "resolved", "dismissed"] | None, Query()] = None,
    severity: Annotated[Literal["important", "normal"] | None, Query()] = None,
    since: Annotated[Instant | None, Query(description="detected at or after")] = None,
    until: Annotated[Instant | None, Query(description="detected before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    f = repo.AnomalyFilter(meter_id, rule, status, severity, since, until, caller.scope)
    async with vr.pool.acquire() as conn:
        total, items = await repo.list_anomalies(conn, SCHEMA, f, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/anomalies/{anomaly_id}", response_model=AnomalyDetail, responses=NOT_FOUND,
            summary="One anomaly with its workflow history")
async def anomaly_detail(vr: ValidatorDep, caller: Viewer, anomaly_id: AnomalyId) -> dict[str, Any]:
    async with vr.pool.acquire() as conn:
        await _require_anomaly(conn, caller, anomaly_id)
        found = await repo.get_anomaly(conn, SCHEMA, anomaly_id)
    if found is None:
        raise NotFound("no such anomaly")
    return found


@router.post("/anomalies/{anomaly_id}/transitions", response_model=AnomalyDetail, responses={**NOT_FOUND, **CONFLICT},
             summary="Acknowledge, resolve or dismiss an anomaly")
async def transition(vr: ValidatorDep, caller: Operator, anomaly_id: AnomalyId, body: Transition) -> dict[str, Any]:
    async with vr.pool.acquire() as conn:
        await _require_anomaly(conn, caller, anomaly_id)
        try:
            found = await repo.transition(conn, SCHEMA, anomaly_id, body.to, caller.subject, body.note)
        except repo.TransitionError as exc:
            raise Conflict(str(exc)) from None
    if found is None:
        raise NotFound("no such anomaly")
    await duty_log.anomaly_moved(vr.producer, actor=caller.subject, anomaly=found, to=str(body.to), note=body.note)
    return found


@router.get("/statistics/rules", response_model=RuleStatistics,
            summary="Findings per rule over the meters in the caller's scope: totals, important, held, by status")
async def rule_statistics(
    vr: ValidatorDep, caller: Viewer,
    since: Annotated[Instant | None, Query()] = None,
    until: Annotated[Instant | None, Query()] = None,
) -> dict[str, Any]:
    async with vr.pool.acquire() as conn:
        rows = await repo.statistics(conn, SCHEMA, since, until, caller.scope)
    return {"since": since, "until": until, "rules": rows}
