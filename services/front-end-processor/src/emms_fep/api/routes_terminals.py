"""``/api/v1/terminals``: online terminals (filter, paging), one terminal's session, counters and traffic.

Scope: the list holds only terminals in the caller's scope; the detail or the traffic of a terminal
outside it is 403 (see :mod:`emms_fep.api.deps`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from emms_fep.api.deps import REPLICA_PATTERN, TERMINAL_PATTERN, Day, FepDep, Offset, Viewer
from emms_fep.api.responses import ERRORS, NOT_FOUND, TerminalDetail, TerminalPage, TerminalTraffic
from emms_fep.repository.sessions import get_session, list_sessions
from emms_fep.repository.traffic import traffic_of
from emms_fep.runtime import SCHEMA
from emms_runtime import Invalid, NotFound

router = APIRouter(prefix="/api/v1/terminals", tags=["terminals"], responses=ERRORS)
TerminalPath = Annotated[str, Path(pattern=TERMINAL_PATTERN, description="terminal address, e.g. 0171-00001")]
MAX_DAYS = 366


@router.get("", response_model=TerminalPage,
            summary="Terminals of the caller's scope known to the FEP fleet (default: online), filtered and paged")
async def list_terminals(
    fep: FepDep, caller: Viewer,
    state: Annotated[Literal["online", "offline", "any"], Query()] = "online",
    replica: Annotated[str | None, Query(pattern=REPLICA_PATTERN,
                                         description="only those held by this replica")] = None,
    prefix: Annotated[str | None, Query(pattern=r"^[0-9A-Za-z_-]{1,32}$",
                                        description="address prefix, e.g. an area code")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    total, items = await list_sessions(fep.pool, SCHEMA, state=None if state == "any" else state,
                                       replica=replica, prefix=prefix, limit=limit, offset=offset,
                                       scope=caller.scope)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/{terminal}", response_model=TerminalDetail, responses=NOT_FOUND,
            summary="One terminal: session, live counters on this replica, recent daily traffic")
async def terminal_detail(fep: FepDep, caller: Viewer, terminal: TerminalPath) -> dict[str, Any]:
    async with fep.pool.acquire() as conn:
        await caller.require_terminal(conn, terminal)
    row = await get_session(fep.pool, SCHEMA, terminal)
    session = fep.sessions.get(terminal)
    if row is None and session is None:
        raise NotFound(f"terminal {terminal} has never been connected")
    counters = fep.traffic.get(terminal)
    today = datetime.now(UTC).date()
    return {
        "terminal": terminal,
        "session": row,
        "held_here": session is not None,
        "live": session.as_dict() if session is not None else None,
        "counters_since_start": counters.as_dict() if counters is not None else None,
        "requests": fep.dispatcher.describe(terminal),
        "traffic_daily": await traffic_of(fep.pool, SCHEMA, terminal, today - timedelta(days=6), today),
    }


@router.get("/{terminal}/traffic", response_model=TerminalTraffic,
            summary="Daily traffic of one terminal (public-network traffic management)")
async def terminal_traffic(
    fep: FepDep, caller: Viewer, terminal: TerminalPath,
    first: Annotated[Day | None, Query(description="first day (UTC), default 30 days ago")] = None,
    last: Annotated[Day | None, Query(description="last day (UTC), default today")] = None,
) -> dict[str, Any]:
    async with fep.pool.acquire() as conn:
        await caller.require_terminal(conn, terminal)
    last = last or datetime.now(UTC).date()
    first = first or last - timedelta(days=29)
    if first > last:
        raise Invalid("first must not be after last")
    if (last - first).days >= MAX_DAYS:
        raise Invalid(f"at most {MAX_DAYS} days per request")
    days = await traffic_of(fep.pool, SCHEMA, terminal, first, last)
    totals = {k: sum(d[k] for d in days) for k in ("frames_in", "frames_out", "bytes_in", "bytes_out",
                                                   "illegal_frames", "requests", "answered")}
    totals["success_rate"] = round(totals["answered"] / totals["requests"], 4) if totals["requests"] else None
    return {"terminal": terminal, "first": first, "last": last, "days": days, "totals": totals}
