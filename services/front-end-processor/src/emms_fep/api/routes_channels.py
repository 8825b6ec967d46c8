"""``/api/v1/terminals/{terminal}/channel``, ``…/route`` and ``/api/v1/traffic/allowance``: communication
channels and routes per terminal (R-4.6.6).

A terminal's channel configuration: the primary and the standby channel (``tcp`` — the terminal connects to
the FEP's listener; ``dialout`` — the FEP connects to the terminal's host and port; ``serial`` — a device
path), the terminal it is reached through when it is relayed (``relay_via``: the route is the chain of
those), the SIM card and its traffic allowance per day and month. The allowance is watched
(:mod:`emms_fep.allowance`); ``/api/v1/traffic/allowance`` lists each terminal's use of it. Scope as for the
other terminal routes (403 outside it); changing a configuration needs ``terminals:operate``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field, model_validator

from emms_fep.api.deps import TERMINAL_PATTERN, Caller, Day, FepDep, Viewer, _scoped
from emms_fep.api.responses import ERRORS, NOT_FOUND, AllowanceUse, TerminalChannel, TerminalRoute
from emms_fep.channel_match import active_channel
from emms_fep.repository import channels as channel_sql
from emms_fep.repository.sessions import get_session
from emms_fep.runtime import SCHEMA
from emms_runtime import Conflict, NotFound, Permission

router = APIRouter(prefix="/api/v1", tags=["channels"], responses=ERRORS)
TerminalPath = Annotated[str, Path(pattern=TERMINAL_PATTERN, description="terminal address, e.g. 0171-00001")]
Operator = Annotated[Caller, _scoped(Permission.TERMINALS_OPERATE)]
Text = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]


class Channel(BaseModel):
    kind: Literal["tcp", "dialout", "serial"]
    host: Text | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    device: Text | None = None
    baud: int | None = Field(default=None, ge=300, le=115200)
    apn: Text | None = None

    @model_validator(mode="after")
    def _complete(self) -> Channel:
        if self.kind == "dialout" and (self.host is None or self.port is None):
            raise ValueError("a dial-out channel needs the terminal's host and port")
        if self.kind == "serial" and self.device is None:
            raise ValueError("a serial channel needs its device")
        return self


class ChannelConfig(BaseModel):
    primary_channel: Channel
    standby_channel: Channel | None = None
    relay_via: Annotated[str, Field(pattern=TERMINAL_PATTERN)] | None = None
    sim_iccid: Annotated[str, Field(pattern=r"^[0-9]{18,22}[0-9A-Fa-f]?$")] | None = None
    allowance_day_bytes: int | None = Field(default=None, gt=0, le=2**62)
    allowance_month_bytes: int | None = Field(default=None, gt=0, le=2**62)


@router.put("/terminals/{terminal}/channel", response_model=TerminalChannel,
            summary="Set a terminal's primary / standby channel, relay route and SIM allowance")
async def put_channel(fep: FepDep, caller: Operator, terminal: TerminalPath, body: ChannelConfig) -> dict[str, Any]:
    """409 when the relay route would loop back to the terminal; 422 for an incomplete channel."""
    async with fep.pool.acquire() as conn:
        await caller.require_terminal(conn, terminal)
        via = body.relay_via
        if via is not None and (via == terminal or terminal in await channel_sql.relay_chain(conn, SCHEMA, via)):
            raise Conflict(f"relaying {terminal} through {via} would loop")
        row = await channel_sql.put(conn, SCHEMA, terminal, body.model_dump(mode="json"), caller.principal.subject)
    await fep.relays.refresh()  # this replica relays at once; the others within relay_refresh_s
    return row


@router.get("/terminals/{terminal}/channel", response_model=TerminalChannel, responses=NOT_FOUND,
            summary="A terminal's channel configuration and the channel its session is on (primary / standby)")
async def get_channel(fep: FepDep, caller: Viewer, terminal: TerminalPath) -> dict[str, Any]:
    async with fep.pool.acquire() as conn:
        await caller.require_terminal(conn, terminal)
        row = await channel_sql.get(conn, SCHEMA, terminal)
    if row is None:
        raise NotFound(f"no channel configured for terminal {terminal}")
    session = await get_session(fep.pool, SCHEMA, terminal)
    return {**row, "active": active_channel(row, session), "session_channel": session["port"] if session else None}


@router.delete("/terminals/{terminal}/channel", response_class=Response, status_code=204, responses=NOT_FOUND,
               summary="Remove a terminal's channel configuration")
async def delete_channel(fep: FepDep, caller: Operator, terminal: TerminalPath) -> Response:
    async with fep.pool.acquire() as conn:
        await caller.require_terminal(conn, terminal)
        if not await channel_sql.remove(conn, SCHEMA, terminal):
            raise NotFound(f"no channel configured for terminal {terminal}")
    await fep.relays.refresh()
    return Response(status_code=204)


@router.get("/terminals/{terminal}/route", response_model=TerminalRoute,
            summary="The relay route to a terminal: the terminals it is reached through, nearest first")
async def get_route(fep: FepDep, caller: Viewer, terminal: TerminalPath) -> dict[str, Any]:
    async with fep.pool.acquire() as conn:
        await caller.require_terminal(conn, terminal)
        via = await channel_sql.relay_chain(conn, SCHEMA, terminal)
    return {"terminal": terminal, "via": via, "direct": not via}


@router.get("/traffic/allowance", response_model=AllowanceUse,
            summary="SIM traffic of the day and the month against each terminal's allowance")
async def allowance(fep: FepDep, caller: Viewer, day: Day | None = None,
                    terminal: Annotated[str | None, Query(pattern=TERMINAL_PATTERN,
                                                          description="one terminal (403 outside the scope)")] = None,
                    over: Annotated[bool, Query(description="only terminals over an allowance")] = False,
                    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> dict[str, Any]:
    """The terminals of the caller's scope with an allowance; a named terminal outside the scope is a 403."""
    when = day or datetime.now(UTC).date()
    async with fep.pool.acquire() as conn:
        if terminal is not None:
            await caller.require_terminal(conn, terminal)
        rows = await channel_sql.usage(conn, SCHEMA, when, terminal=terminal, over_only=over, limit=limit)
        items = [r for r in rows if await caller.scope.allows_terminal(conn, r["terminal"])]
    return {"day": when.isoformat(), "items": items}
