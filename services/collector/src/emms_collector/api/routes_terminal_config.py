"""``/api/v1/terminal-config``: remote configuration, drift, first connect, measurement-point tables, resets.

Reading needs ``terminals:read``, changing ``terminals:operate``, adopting a meter into the collector's
points ``masterdata:edit``, a reset ``control:send`` with step-up (as control's commands). A terminal outside
the caller's scope is refused with 403; one the collector knows nothing of (no master data, point, session or
first login) is 404; a push of a terminal outside the scope is 404, as if it did not exist. The lists across
terminals (drift, new terminals, unknown meters, pushes, actions) need a caller without company restriction
(a new terminal belongs to no company yet), or name one terminal of the caller's.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, Field

from emms_collector import duty_log
from emms_collector.api.deps import CollectorDep
from emms_collector.api.params import RowId, TerminalPath, TerminalQuery
from emms_collector.api.responses_terminal_config import (
    AdoptedMeter,
    Drifting,
    MeterTableRead,
    ParamCheck,
    ParamPush,
    ParamPushes,
    Registered,
    RegisteredTerminal,
    ResetResult,
    TerminalActions,
    TerminalParams,
    UnknownMeters,
)
from emms_collector.api.scope import require_terminals, require_unrestricted, scope_of
from emms_collector.repository import scope as scope_sql
from emms_collector.repository import terminal_config as sql
from emms_collector.terminal_config import resets
from emms_collector.terminal_config.adoption import ArchiveCustomer, ArchiveTerminal, accept_terminal, adopt_meter
from emms_collector.terminal_config.setup import TerminalManagement
from emms_collector.terminal_config.values import BadParameter
from emms_runtime import Invalid, NotFound, Permission, Principal, Unavailable, UpstreamTimeout, require

router = APIRouter(prefix="/api/v1/terminal-config", tags=["terminal management"])
Reader = Annotated[Principal, require(Permission.TERMINALS_READ)]
Operator = Annotated[Principal, require(Permission.TERMINALS_OPERATE)]
Editor = Annotated[Principal, require(Permission.MASTERDATA_EDIT)]
Resetter = Annotated[Principal, require(Permission.CONTROL_SEND)]
Fn = Annotated[int, Path(ge=1, le=248)]
Pn = Annotated[int, Path(ge=1, le=2040)]
Limit = Annotated[int, Query(ge=1, le=10_000)]
UPSTREAM: dict[int | str, dict[str, Any]] = {
    504: {"description": "The terminal did not answer in time (offline or the FEP is away)"}}
ARCHIVE: dict[int | str, dict[str, Any]] = {
    503: {"description": "The archive could not be reached (or failed) when the record was to be written there"}}


class ParamBody(BaseModel):
    value: dict[str, Any] = Field(description="the parameter in the JSON view (``type`` may be left out)")


ArchiveId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@\-]*$")]


class AdoptBody(BaseModel):
    meter_id: ArchiveId
    utility: Literal["electricity", "water", "gas", "heat"] | None = None
    customer_id: ArchiveId | None = Field(default=None, description=(
        "with the customer fields the meter is imported into the archive too (customer, metering point, meter,"
        " installation on this terminal and pn); without them it becomes a point of the collector only"))
    customer_name: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    category: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
    company_id: ArchiveId | None = None
    region_id: ArchiveId | None = None
    metering_point_id: ArchiveId | None = None

    def customer(self) -> ArchiveCustomer | None:
        names = (self.customer_id, self.customer_name, self.category, self.company_id, self.region_id,
                 self.metering_point_id)
        if all(n is None for n in names):
            return None
        if any(n is None for n in names):
            raise Invalid("to write the meter into the archive give customer_id, customer_name, category,"
                          " company_id, region_id and metering_point_id together")
        return ArchiveCustomer(*names)  # type: ignore[arg-type]


class AcceptBody(BaseModel):
    """Where the terminal belongs: it is created in the archive with what it reported at its first login."""

    terminal_id: ArchiveId
    company_id: ArchiveId
    region_id: ArchiveId | None = None


class ResetBody(BaseModel):
    kind: Literal["hardware", "data", "factory", "parameters_and_data"]


def management(c: CollectorDep) -> TerminalManagement:
    if c.terminals is None:
        raise Unavailable("terminal management is not set up on this replica")
    return c.terminals


async def known_terminal(c: CollectorDep, principal: Principal, terminal: str) -> str:
    key = terminal.upper()
    async with c.pool.acquire() as conn:
        await require_terminals(conn, scope_of(principal), [key])
        if not await scope_sql.terminal_known(conn, key) and await sql.registry_status(conn, key) is None:
            raise NotFound(f"terminal {key} is unknown (no master data, point, session or first login)")
    return key


@router.get("/terminals/{terminal}", response_model=TerminalParams, summary="A terminal's parameters and pushes")
async def terminal_params(c: CollectorDep, principal: Reader, terminal: TerminalPath) -> dict[str, Any]:
    key = await known_terminal(c, principal, terminal)
    async with c.pool.acquire() as conn:
        params = await sql.params_of(conn, key)
        reg = [r for r in await sql.registry(conn, None, 10_000) if r["terminal"] == key]
        pushes = await sql.list_pushes(conn, key, None, 50)
    return {"terminal": key, "params": params, "registry": reg[0] if reg else None, "pushes": pushes}


@router.put("/terminals/{terminal}/params/{fn}", response_model=ParamPush, status_code=202,
            summary="Set a parameter: pushed (AFN04), confirmed, read back and compared")
async def set_param(c: CollectorDep, principal: Operator, terminal: TerminalPath, fn: Fn,
                    body: ParamBody) -> dict[str, Any]:
    """202 with the push; its state moves on in the background (``GET /pushes/{id}``). 422 for a value the
    codec refuses or an Fn the master does not manage."""
    key = await known_terminal(c, principal, terminal)
    try:
        return await management(c).config.request_push(key, fn, body.value, principal.subject)
    except BadParameter as exc:
        raise Invalid(str(exc)) from None


@router.get("/pushes", response_model=ParamPushes, summary="Parameter pushes, newest first")
async def pushes(c: CollectorDep, principal: Reader, terminal: TerminalQuery = None,
                 state: Annotated[str | None, Query(max_length=20, pattern=r"^[a-z_]+$")] = None,
                 limit: Limit = 100) -> dict[str, Any]:
    if terminal is None:
        require_unrestricted(scope_of(principal), "the list of every terminal's pushes")
    else:
        terminal = await known_terminal(c, principal, terminal)
    async with c.pool.acquire() as conn:
        return {"items": await sql.list_pushes(conn, terminal, state, limit)}


@router.get("/pushes/{push_id}", response_model=ParamPush, summary="One push")
async def push(c: CollectorDep, principal: Reader, push_id: RowId) -> dict[str, Any]:
    async with c.pool.acquire() as conn:
        row = await sql.get_push(conn, push_id)
    if row is None:
        raise NotFound(f"no push {push_id}")
    async with c.pool.acquire() as conn:
        if await scope_sql.terminals_outside(conn, scope_of(principal), [row["terminal"]]):
            raise NotFound(f"no push {push_id}")  # outside the caller's scope: as if it did not exist
    return row


@router.post("/terminals/{terminal}/check", response_model=ParamCheck, responses=UPSTREAM,
             summary="Read every managed parameter back now and compare (drift)")
async def check(c: CollectorDep, principal: Operator, terminal: TerminalPath) -> dict[str, Any]:
    key = await known_terminal(c, principal, terminal)
    result = await management(c).config.check(key)
    if result["outcome"] != "answered":
        raise UpstreamTimeout(f"terminal {key} did not answer the read-back: {result['outcome']} {result['detail']}")
    return result


@router.get("/drift", response_model=Drifting, summary="Parameters whose read-back differs from the master's")
async def drift(c: CollectorDep, principal: Reader, limit: Limit = 1000) -> dict[str, Any]:
    require_unrestricted(scope_of(principal), "the drift list")
    async with c.pool.acquire() as conn:
        return {"items": await sql.drifting(conn, limit)}


@router.get("/registered", response_model=Registered,
            summary="Terminals seen logging in; status=new: not in master data, to accept")
async def registered(c: CollectorDep, principal: Reader,
                     status: Annotated[Literal["new", "accepted", "known"] | None, Query()] = None,
                     limit: Limit = 1000) -> dict[str, Any]:
    require_unrestricted(scope_of(principal), "the list of terminals seen")
    async with c.pool.acquire() as conn:
        return {"items": await sql.registry(conn, status, limit)}


@router.post("/registered/{terminal}/accept", response_model=RegisteredTerminal, responses=ARCHIVE,
             summary="Accept a new terminal; with a body it is created in the archive's master data")
async def accept(c: CollectorDep, principal: Operator, terminal: TerminalPath, request: Request,
                 body: Annotated[AcceptBody | None, Body()] = None) -> dict[str, Any]:
    """404 when the terminal was never seen; 409 when it is not ``new`` (known or accepted already). With
    ``terminal_id`` and ``company_id`` the archive creates it (vendor, firmware, hardware version and serial as
    reported by AFN09) under the caller's token; the archive's refusal is the answer."""
    require_unrestricted(scope_of(principal), "accepting a terminal of no company")
    archive = ArchiveTerminal(body.terminal_id, body.company_id, body.region_id) if body else None
    key = terminal.upper()
    accepted = await accept_terminal(management(c), key, principal.subject, request.headers.get("authorization", ""),
                                     archive)
    await duty_log.terminal_action(c.producer, category="masterdata", action="terminal.accept",
                                   actor=principal.subject, terminal=key, action_id=key, outcome="accepted",
                                   detail={"archive_id": archive.terminal_id if archive else None})
    return accepted


@router.post("/terminals/{terminal}/table/read", response_model=MeterTableRead, responses=UPSTREAM,
             summary="Read the concentrator's measurement-point table (AFN0A F10); list meters master data lacks")
async def read_table(c: CollectorDep, principal: Operator, terminal: TerminalPath) -> dict[str, Any]:
    key = await known_terminal(c, principal, terminal)
    result = await management(c).meter_table.read_table(key)
    if result["outcome"] != "answered":
        raise UpstreamTimeout(f"terminal {key} did not answer the table read: {result['outcome']} {result['detail']}")
    return result


@router.get("/unknown-meters", response_model=UnknownMeters,
            summary="Meters in concentrators' tables that master data lacks")
async def unknown(c: CollectorDep, principal: Reader, terminal: TerminalQuery = None,
                  state: Annotated[Literal["listed", "adopted", "gone"] | None, Query()] = "listed",
                  limit: Limit = 1000) -> dict[str, Any]:
    if terminal is None:
        require_unrestricted(scope_of(principal), "the list of every terminal's unknown meters")
    else:
        terminal = await known_terminal(c, principal, terminal)
    async with c.pool.acquire() as conn:
        return {"items": await sql.unknown_meters(conn, terminal, state, limit)}


@router.post("/unknown-meters/{terminal}/{pn}/adopt", response_model=AdoptedMeter, responses=ARCHIVE,
             summary="Adopt a listed meter: a point of the collector, collected from the next run")
async def adopt(c: CollectorDep, principal: Editor, terminal: TerminalPath, pn: Pn, body: AdoptBody,
                request: Request) -> dict[str, Any]:
    """404 when no meter is listed at that measurement point; 409 when the archive lacks the terminal (with the
    customer fields). With the customer fields the archive imports the meter first (its refusal is the answer)."""
    key = await known_terminal(c, principal, terminal)
    row = await adopt_meter(management(c), key, pn, body.meter_id, body.utility, principal.subject,
                            request.headers.get("authorization", ""), body.customer())
    if row is None:
        raise NotFound(f"no unknown meter listed at {key} pn {pn}")
    await duty_log.terminal_action(c.producer, category="masterdata", action="meter.adopt",
                                   actor=principal.subject, terminal=key, action_id=f"{key}/{pn}/{body.meter_id}",
                                   outcome="adopted", meter_id=body.meter_id, detail={"pn": pn})
    return row


@router.post("/terminals/{terminal}/reset", response_model=ResetResult, responses=UPSTREAM,
             summary="Reset a terminal (AFN01): hardware, data area, factory, parameters and data")
async def reset(c: CollectorDep, principal: Resetter, terminal: TerminalPath,
                body: Annotated[ResetBody, Body()]) -> dict[str, Any]:
    """Needs ``control:send`` with step-up; recorded before it is sent. 404 for an unknown terminal."""
    key = await known_terminal(c, principal, terminal)
    return await resets.reset(management(c).config, key, body.kind, principal.subject)


@router.get("/actions", response_model=TerminalActions, summary="Operator actions on terminals, newest first")
async def actions(c: CollectorDep, principal: Reader, terminal: TerminalQuery = None, limit: Limit = 100
                  ) -> dict[str, Any]:
    if terminal is None:
        require_unrestricted(scope_of(principal), "every terminal's actions")
    else:
        terminal = await known_terminal(c, principal, terminal)
    async with c.pool.acquire() as conn:
        return {"items": await sql.actions(conn, terminal, limit)}
