"""``/api/v1/clock``: terminal clocks, syncs and their results; meter sync approval (R-4.6.1)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from emms_collector.api.deps import ClockApprover, CollectorDep, Operator, Viewer
from emms_collector.api.responses import ClockRead, ClockSync, ClockSyncs, MeterClockSync, TerminalClocks
from emms_collector.repository import clock as clock_sql
from emms_runtime import NotFound, UpstreamTimeout

router = APIRouter(prefix="/api/v1/clock", tags=["clock"])
TerminalPath = Annotated[str, Path(pattern=r"^[0-9A-Fa-f]{4}-\d{5}$", description="terminal address, e.g. 3701-00012")]


@router.get("/terminals", response_model=TerminalClocks, summary="Latest clock deviation per terminal")
async def terminal_clocks(c: CollectorDep, principal: Viewer,
                          out_of_tolerance: Annotated[bool, Query()] = False,
                          limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                          offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        total, items = await clock_sql.terminal_clocks(conn, tolerance_s=c.settings.timesync.tolerance_s,
                                                       out_of_tolerance=out_of_tolerance, limit=limit, offset=offset)
    return {"tolerance_s": c.settings.timesync.tolerance_s, "total": total, "items": items}


@router.get("/syncs", response_model=ClockSyncs, summary="Clock measurements and syncs with their results")
async def syncs(c: CollectorDep, principal: Viewer,
                terminal: Annotated[str | None, Query(pattern=r"^[0-9A-Fa-f]{4}-\d{5}$")] = None,
                level: Annotated[Literal["terminal", "meter"] | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        items = await clock_sql.list_syncs(conn, terminal=terminal, level=level, limit=limit)
    return {"items": items}


@router.post("/terminals/{terminal}/read", response_model=ClockRead, summary="Poll a terminal's clock now")
async def read_terminal_clock(c: CollectorDep, principal: Operator, terminal: TerminalPath) -> dict[str, Any]:
    reading = await c.timesync.poll(terminal)
    if reading is None:
        raise UpstreamTimeout(f"terminal {terminal} did not answer the clock read")
    return {"terminal": terminal, "terminal_clock": reading.terminal_clock.isoformat(),
            "deviation_s": reading.deviation_s, "round_trip_ms": reading.round_trip_s * 1000}


@router.post("/terminals/{terminal}/sync", response_model=ClockSync,
             summary="Sync a terminal's clock now (delay-compensated)")
async def sync_terminal(c: CollectorDep, principal: ClockApprover, terminal: TerminalPath,
                        force: Annotated[bool, Query(description="even within tolerance or the quiet minutes")]
                        = False) -> dict[str, Any]:
    return await c.timesync.sync_terminal(terminal, force=force)


@router.post("/meter-syncs/{sync_id}/approve", response_model=MeterClockSync,
             summary="Approve a meter clock sync reported by a terminal")
async def approve(c: CollectorDep, principal: ClockApprover, sync_id: Annotated[int, Path(ge=1)]) -> dict[str, Any]:
    try:
        return await c.timesync.approve_meter_sync(sync_id, principal.subject)
    except LookupError as exc:
        raise NotFound(str(exc)) from None
