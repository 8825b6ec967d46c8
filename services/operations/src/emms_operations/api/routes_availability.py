"""``/api/v1/availability``: monthly / yearly availability of the master and of the terminals;
``/api/v1/planned-maintenance``: the windows excluded from it."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from emms_operations import availability_report as report
from emms_operations.api.bodies import NewPlanned
from emms_operations.api.deps import OpsDep, Reader, Worker
from emms_operations.api.responses import MasterAvailability, PlannedOut, TerminalAvailability, errors
from emms_operations.repository import planned as planned_sql

router = APIRouter(prefix="/api/v1", tags=["availability"])
Year = Annotated[int, Query(ge=2000, le=2200)]
Month = Annotated[int | None, Query(ge=1, le=12, description="omit for the whole year")]
TerminalParam = Annotated[list[Annotated[str, Query(pattern=r"^[0-9A-Fa-f]{4}-\d{5}$")]] | None,
                          Query(description="terminal addresses (repeat); default every terminal")]


@router.get("/availability/master", response_model=MasterAvailability, responses=errors(),
            summary="The master's availability in a month or year, and each service's")
async def master(ops: OpsDep, _: Reader, year: Year, month: Month = None) -> dict[str, Any]:
    async with ops.pool.acquire() as conn:
        return await report.master(conn, ops.settings, year, month, ops.now())


@router.get("/availability/terminals", response_model=TerminalAvailability, responses=errors(),
            summary="Each terminal's availability in a month or year (from its sessions) and the fleet's")
async def terminals(ops: OpsDep, _: Reader, year: Year, month: Month = None,
                    terminal: TerminalParam = None) -> dict[str, Any]:
    async with ops.pool.acquire() as conn:
        return await report.terminals(conn, ops.settings, year, month, ops.now(),
                                      None if not terminal else [t.upper() for t in terminal])


@router.get("/planned-maintenance", response_model=list[PlannedOut], responses=errors(),
            summary="Planned maintenance windows overlapping a time range")
async def list_planned(ops: OpsDep, _: Reader, level: Literal["master", "terminal"], start: datetime,
                       end: datetime) -> list[dict[str, Any]]:
    async with ops.pool.acquire() as conn:
        return await planned_sql.overlapping(conn, level, start, end)


@router.post("/planned-maintenance", response_model=PlannedOut, status_code=201, responses=errors(),
             summary="Declare a planned maintenance window (not counted against availability)")
async def add_planned(ops: OpsDep, principal: Worker, body: NewPlanned) -> dict[str, Any]:
    async with ops.pool.acquire() as conn:
        return await planned_sql.insert(conn, level=body.level, subject=body.subject, starts_at=body.starts_at,
                                        ends_at=body.ends_at, reason=body.reason, created_by=principal.subject)
