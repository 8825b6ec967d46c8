"""``/api/v1/faults``: detected faults, located (master / channel / terminal / meter), and their statistics
by terminal kind, model, vendor or firmware."""

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path

from emms_operations.api.deps import Limit, Offset, OpsDep, Reader, Text
from emms_operations.api.responses import FaultOut, FaultStatistics, errors
from emms_operations.faults.model import KINDS
from emms_operations.repository import faults as sql
from emms_runtime import Invalid, NotFound

router = APIRouter(prefix="/api/v1/faults", tags=["faults"])


@router.get("", response_model=list[FaultOut], responses=errors(),
            summary="Faults, newest first; filter by active, level, kind, subject, since")
async def list_faults(ops: OpsDep, _: Reader, active: bool | None = None,
                      level: Literal["master", "channel", "terminal", "meter"] | None = None,
                      kind: Text = None, subject: Text = None, since: datetime | None = None, limit: Limit = 100,
                      offset: Offset = 0) -> list[dict[str, Any]]:
    if kind is not None and kind not in KINDS:
        raise Invalid(f"unknown fault kind {kind!r}; one of {list(KINDS)}")
    async with ops.pool.acquire() as conn:
        return await sql.listing(conn, active=active, level=level, kind=kind, subject=subject, since=since,
                                 limit=limit, offset=offset)


@router.get("/statistics", response_model=FaultStatistics, responses=errors(),
            summary="Faults at terminals and their meters by terminal kind / model / vendor / firmware")
async def statistics(ops: OpsDep, _: Reader, by: Literal["kind", "model", "vendor", "firmware"] = "vendor",
                     start: datetime | None = None, end: datetime | None = None,
                     ) -> dict[str, Any]:
    end = end or ops.now()
    start = start or end - timedelta(days=30)
    if end <= start:
        raise Invalid("end must be after start")
    async with ops.pool.acquire() as conn:
        rows = await sql.statistics(conn, by, start, end)
        population = await sql.population(conn, by)
    for r in rows:
        n = population.get(r["value"], 0)
        r["installed"] = n
        r["faults_per_terminal"] = round(r["faults"] / n, 4) if n else None
    return {"by": by, "start": start, "end": end, "rows": rows}


@router.get("/{fault_id}", response_model=FaultOut, responses=errors(e404="No such fault"), summary="One fault")
async def get_fault(ops: OpsDep, _: Reader, fault_id: Annotated[int, Path(ge=1, le=2**62)]) -> dict[str, Any]:
    async with ops.pool.acquire() as conn:
        fault = await sql.get(conn, fault_id)
    if fault is None:
        raise NotFound(f"no fault {fault_id}")
    return fault
