"""``/api/v1/clock``: terminal clocks, syncs and their results; meter sync approval (R-4.6.1).

Scope: lists hold the clocks and syncs of the caller's terminals (and meters) only; reading or syncing a
terminal outside the caller's scope (or unknown, for a restricted caller) is refused with 403, and a meter
sync outside it is answered 404 (see :mod:`emms_collector.api.scope`). A terminal the collector knows
nothing of (no master data, no point, no session) is answered 404 without asking the FEP.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from emms_collector import duty_log
from emms_collector.api.deps import CatalogViewer, ClockApprover, CollectorDep, Operator, Viewer
from emms_collector.api.params import Offset, RowId, TerminalPath, TerminalQuery
from emms_collector.api.responses import (
    ClockRead,
    ClockSync,
    ClockSyncs,
    CollectorCheck,
    CollectorClocks,
    MasterClock,
    MeterClockRead,
    MeterClockSync,
    TerminalClocks,
)
from emms_collector.api.scope import require_terminals, scope_of
from emms_collector.repository import clock as clock_sql
from emms_collector.repository import collector_clock as collector_sql
from emms_collector.repository import scope as scope_sql
from emms_runtime import Invalid, NotFound, Principal, UpstreamTimeout

router = APIRouter(prefix="/api/v1/clock", tags=["clock"])


@router.get("/terminals", response_model=TerminalClocks, summary="Latest clock deviation per terminal")
async def terminal_clocks(c: CollectorDep, principal: Viewer,
                          out_of_tolerance: Annotated[bool, Query()] = False,
                          limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
                          offset: Offset = 0) -> dict[str, Any]:
    """Clocks of the terminals in the caller's scope."""
    async with c.pool.acquire() as conn:
        total, items = await clock_sql.terminal_clocks(conn, tolerance_s=c.settings.timesync.tolerance_s,
                                                       out_of_tolerance=out_of_tolerance, limit=limit, offset=offset,
                                                       scope=scope_of(principal))
    return {"tolerance_s": c.settings.timesync.tolerance_s, "total": total, "items": items}


@router.get("/master", response_model=MasterClock, summary="The master's clock against its NTP servers")
async def master_clock(c: CollectorDep, principal: CatalogViewer,
                       check: Annotated[bool, Query(description="ask the servers now")] = False) -> dict[str, Any]:
    """The last check of each configured server (``check=true``: a new one first); the median offset."""
    if check:
        await c.timesync.master.check()
    return c.timesync.master.status()


@router.get("/syncs", response_model=ClockSyncs, summary="Clock measurements and syncs with their results")
async def syncs(c: CollectorDep, principal: Viewer,
                terminal: TerminalQuery = None,
                level: Annotated[Literal["terminal", "collector", "meter"] | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> dict[str, Any]:
    """Measurements and syncs of the terminals (and meters) in the caller's scope."""
    async with c.pool.acquire() as conn:
        items = await clock_sql.list_syncs(conn, terminal=terminal, level=level, limit=limit,
                                           scope=scope_of(principal))
    return {"items": items}


async def _require_terminal(c: CollectorDep, principal: Principal, terminal: str) -> str:
    """The terminal's address as the collector keeps it (hex digits in capitals), once it may be asked."""
    key = terminal.upper()
    async with c.pool.acquire() as conn:
        await require_terminals(conn, scope_of(principal), [key])
        if not await scope_sql.terminal_known(conn, key):
            raise NotFound(f"terminal {key} is unknown to the collector (no master data, point or session)")
    return key


UPSTREAM: dict[int | str, dict[str, Any]] = {
    504: {"description": "The terminal did not answer in time (offline or the FEP is away)"}}


@router.post("/terminals/{terminal}/read", response_model=ClockRead, responses=UPSTREAM,
             summary="Poll a terminal's clock now")
async def read_terminal_clock(c: CollectorDep, principal: Operator, terminal: TerminalPath) -> dict[str, Any]:
    """403 when the terminal is outside the caller's scope; 404 when the collector does not know it."""
    terminal = await _require_terminal(c, principal, terminal)
    reading = await c.timesync.poll(terminal)
    if reading is None:
        raise UpstreamTimeout(f"terminal {terminal} did not answer the clock read")
    return {"terminal": terminal, "terminal_clock": reading.terminal_clock.isoformat(),
            "deviation_s": reading.deviation_s, "round_trip_ms": reading.round_trip_s * 1000}


@router.post("/terminals/{terminal}/sync", response_model=ClockSync, responses=UPSTREAM,
             summary="Sync a terminal's clock now (delay-compensated)")
async def sync_terminal(c: CollectorDep, principal: ClockApprover, terminal: TerminalPath,
                        force: Annotated[bool, Query(description="even within tolerance or the quiet minutes")]
                        = False) -> dict[str, Any]:
    """403 when the terminal is outside the caller's scope; 404 when the collector does not know it."""
    terminal = await _require_terminal(c, principal, terminal)
    result = await c.timesync.sync_terminal(terminal, force=force)
    await duty_log.terminal_action(c.producer, category="clock", action="clock.sync", actor=principal.subject,
                                   terminal=terminal, action_id=f"{terminal}/{uuid.uuid4().hex}",
                                   outcome=str(result.get("outcome")),
                                   detail={"force": force, "detail": result.get("detail")})
    return result


@router.post("/terminals/{terminal}/collectors/check", response_model=CollectorCheck, responses=UPSTREAM,
             summary="Find a concentrator's collectors, read their clocks, sync those out of tolerance")
async def check_collectors(c: CollectorDep, principal: ClockApprover, terminal: TerminalPath,
                           sync: Annotated[bool, Query(description="set the clocks found off")] = True,
                           mode: Annotated[Literal["auto", "broadcast", "point"], Query(description=(
                               "auto: broadcast when half or more of the collectors are off, else point to point"))]
                           = "auto") -> dict[str, Any]:
    """403 / 404 as for a terminal's clock; 504 when the concentrator's point table could not be read."""
    terminal = await _require_terminal(c, principal, terminal)
    body = await c.timesync.collectors.check(terminal, sync=sync, mode=mode)
    if not body["collectors"] and "not read" in body["detail"]:
        raise UpstreamTimeout(f"terminal {terminal}: {body['detail']}")
    return body


@router.get("/collectors", response_model=CollectorClocks, summary="Latest clock per collector (采集器)")
async def collector_clocks(c: CollectorDep, principal: Viewer, terminal: TerminalQuery = None,
                           out_of_tolerance: Annotated[bool, Query()] = False,
                           limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> dict[str, Any]:
    tolerance = c.settings.timesync.collector_tolerance_s
    async with c.pool.acquire() as conn:
        items = await collector_sql.listed(conn, terminal=terminal, out_of_tolerance_s=tolerance if out_of_tolerance
                                           else None, limit=limit, scope=scope_of(principal))
    return {"tolerance_s": tolerance, "items": items}


@router.post("/meters/{meter_id}/read", response_model=MeterClockRead, responses=UPSTREAM,
             summary="Read a DL/T 645 meter's clock through its terminal now")
async def read_meter_clock(c: CollectorDep, principal: Operator,
                           meter_id: Annotated[str, Path(min_length=1, max_length=64,
                                                         pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@\-]*$")]
                           ) -> dict[str, Any]:
    """404 for a meter outside the caller's scope or not in the point table; 422 for a meter whose clock the
    master cannot read (CJ/T 188: its ERC 12 tells); 504 when the terminal or the meter did not answer. Beyond
    the meter tolerance a sync is recorded to approve (``sync``)."""
    scope = scope_of(principal)
    if not scope.unrestricted:
        async with c.pool.acquire() as conn:
            if await scope_sql.meters_outside(conn, scope, [meter_id]):
                raise NotFound(f"no meter {meter_id}")
    try:
        row = await c.timesync.check_meter(meter_id)
    except LookupError as exc:
        raise NotFound(str(exc)) from None
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if row.get("deviation_before_s") is None:
        raise UpstreamTimeout(f"meter {meter_id} clock not read: {row.get('detail')}")
    return row


@router.post("/meter-syncs/{sync_id}/approve", response_model=MeterClockSync,
             summary="Approve a meter clock sync reported by a terminal")
async def approve(c: CollectorDep, principal: ClockApprover, sync_id: RowId) -> dict[str, Any]:
    """404 when the sync's terminal or meter is outside the caller's scope."""
    scope = scope_of(principal)
    if not scope.unrestricted:
        async with c.pool.acquire() as conn:
            if not await clock_sql.sync_in_scope(conn, sync_id, scope):
                raise NotFound(f"no meter clock sync {sync_id} to approve")
    try:
        result = await c.timesync.approve_meter_sync(sync_id, principal.subject)
    except LookupError as exc:
        raise NotFound(str(exc)) from None
    await duty_log.meter_sync_approved(c.producer, actor=principal.subject, sync_id=sync_id, result=result)
    return result
