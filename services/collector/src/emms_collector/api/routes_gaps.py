"""``/api/v1/gaps``: the gap index and manual back-fill (R-4.2.6).

Scope: the list holds gaps of the caller's meters only; a back-fill naming meters outside the caller's
scope (or unknown to the collector, for a restricted caller) is refused with 403
(see :mod:`emms_collector.api.scope`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from emms_collector.api.deps import CollectorDep, Operator, Viewer
from emms_collector.api.params import MeterQuery, Offset, TaskQuery, TimeFilter
from emms_collector.api.responses import BackfillStarted, Page
from emms_collector.api.scope import require_meters, scope_of
from emms_collector.inputs import Code, Instant, Reason, Ref
from emms_collector.repository import gaps as gap_sql
from emms_collector.repository import points as point_sql
from emms_collector.repository.gaps import Gap
from emms_collector.tasks.types import TaskType
from emms_protocol.items import ITEMS
from emms_runtime import Invalid, NotFound

router = APIRouter(prefix="/api/v1/gaps", tags=["gaps"])
MAX_GAPS = 1_000_000
"""Gaps one back-fill request may open (meters × items × freezes)."""


@router.get("", response_model=Page, summary="Gaps: (meter, item, data time) expected and not collected")
async def list_gaps(
    c: CollectorDep, principal: Viewer,
    meter_id: MeterQuery = None,
    state: Annotated[Literal["open", "filled", "abandoned"] | None, Query()] = None,
    task_id: TaskQuery = None,
    since: Annotated[TimeFilter | None, Query(description="data time at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Gaps of the meters in the caller's scope."""
    async with c.pool.acquire() as conn:
        total, items = await gap_sql.list_gaps(conn, meter_id=meter_id, state=state, task_id=task_id, since=since,
                                               limit=limit, offset=offset, scope=scope_of(principal))
    return {"total": total, "limit": limit, "offset": offset, "items": items}


class BackfillBody(BaseModel):
    """Re-collect daily frozen ``items`` of ``meters`` for every day whose freeze falls in [start, end]."""

    model_config = ConfigDict(extra="forbid")

    meters: list[Ref] = Field(min_length=1, max_length=10_000)
    items: list[Code] = Field(min_length=1, max_length=64)
    start: Instant
    end: Instant
    reason: Reason = "manual back-fill"

    @model_validator(mode="after")
    def _sound(self) -> BackfillBody:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        unknown = [i for i in self.items if i not in ITEMS]
        if unknown:
            raise ValueError(f"unknown item codes {unknown[:5]}")
        return self


@router.post("/backfill", response_model=BackfillStarted, status_code=202,
             summary="Open gaps for a manual back-fill and start it")
async def backfill(c: CollectorDep, principal: Operator, body: BackfillBody) -> dict[str, Any]:
    """403 when a meter is outside the caller's scope (or unknown, for a restricted caller)."""
    if body.end > datetime.now(UTC):
        raise Invalid("end is in the future: only past freezes can be back-filled")
    instants = c.backfill.freezes_between(body.start, body.end)
    if not instants:
        raise Invalid("no daily freeze falls between start and end")
    if len(set(body.meters)) * len(set(body.items)) * len(instants) > MAX_GAPS:
        raise Invalid(f"the request would open more than {MAX_GAPS:,} gaps (meters × items × freezes):"
                      " split it")
    async with c.pool.acquire() as conn, conn.transaction():
        await require_meters(conn, scope_of(principal), body.meters)
        points = await point_sql.by_meters(conn, body.meters, active_only=False)
        unknown = sorted(set(body.meters) - set(points))
        if len(unknown) == len(body.meters):
            raise NotFound(f"none of the meters is known to the collector: {unknown[:5]}")
        opened = await gap_sql.open_gaps(conn, [
            Gap(m, item, at, TaskType.DAILY_FROZEN.value, p.terminal, reason=f"{principal.subject}: {body.reason}",
                origin="request") for m, p in points.items() for item in body.items for at in instants])
    c.backfill.poke()
    return {"gaps": opened, "freezes": [i.isoformat() for i in instants], "unknown_meters": unknown}
