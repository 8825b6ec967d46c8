"""Meters on metering points: install, replace, remove, history (R-4.6.4, R-4.6.5).

Each change is audited and published as ``MasterDataChange(entity="meter_installation")``
with the communication parameters (terminal, pn, port, meter address, protocol…), so the
collector configures or drops reading of that point by itself. ``GET /installations`` is the
current table of "which meter is where" for a terminal or everything in scope.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from emms_archive.api.deps import Archive, Conn, MasterReader, Writer
from emms_archive.api.responses import InstallationChange, InstallationPeriod
from emms_archive.audit import Change
from emms_archive.masterdata import meter_periods, repository
from emms_archive.masterdata.entities import ENTITIES, ScopeKind
from emms_archive.masterdata.meter_periods import PeriodError
from emms_archive.masterdata.models import Installation, Removal, Replacement
from emms_archive.schema import SCHEMA
from emms_archive.scope import Scope
from emms_db.where import Where
from emms_runtime import Conflict, Forbidden, Invalid, NotFound, Principal

router = APIRouter(prefix="/api/v1", tags=["installations"])
POINT = ENTITIES["metering_point"]
METER = ENTITIES["meter"]


async def _point(conn: Any, point_id: str, principal: Principal) -> dict[str, Any]:
    row = await repository.get(conn, POINT, (point_id,), Scope.of(principal))
    if row is None:
        exists = await repository.get(conn, POINT, (point_id,)) is not None
        if exists:
            raise Forbidden(f"metering point {point_id} is outside your data scope")
        raise NotFound(f"no metering point {point_id}")
    return row


async def _meter_for(conn: Any, meter_id: str, point: dict[str, Any], principal: Principal) -> None:
    meter = await repository.get(conn, METER, (meter_id,), Scope.of(principal))
    if meter is None:
        raise Invalid(f"no meter {meter_id} in your data scope; create it first (POST /api/v1/meters)")
    if meter["utility"] != point["utility"]:
        raise Invalid(f"a {meter['utility']} meter cannot measure {point['utility']} point {point['id']}")


async def _apply(conn: Any, archive: Any, operation: Callable[[], Awaitable[Change]]) -> dict[str, Any]:
    """Run one meter-period change in its own transaction (a conflicting history is 409), then wake the
    outbox relay so the change is published at once."""
    try:
        async with conn.transaction():
            change = await operation()
    except PeriodError as exc:
        raise Conflict(str(exc)) from None
    archive.outbox.poke()
    return {"change_id": str(change.change_id), "action": change.action, "metering_point_id": change.entity_id}


@router.get("/metering-points/{point_id}/meters", response_model=list[InstallationPeriod],
            summary="Which meter was on this metering point when")
async def meter_history(point_id: str, principal: MasterReader, conn: Conn) -> list[dict[str, Any]]:
    await _point(conn, point_id, principal)
    return await meter_periods.history(conn, point_id)


@router.post("/metering-points/{point_id}/install-meter", response_model=InstallationChange, status_code=201,
             summary="Put a meter on a metering point that has none")
async def install_meter(point_id: str, body: Installation, principal: Writer, conn: Conn,
                        archive: Archive) -> dict[str, Any]:
    point = await _point(conn, point_id, principal)
    await _meter_for(conn, body.meter_id, point, principal)
    return await _apply(conn, archive, lambda: meter_periods.install(
        conn, point_id, body.meter_id, body.at, body.reason, principal.subject))


@router.post("/metering-points/{point_id}/replace-meter", response_model=InstallationChange,
             summary="Replace the point's meter: close its period at `at`, open one for the new meter")
async def replace_meter(point_id: str, body: Replacement, principal: Writer, conn: Conn,
                        archive: Archive) -> dict[str, Any]:
    point = await _point(conn, point_id, principal)
    await _meter_for(conn, body.new_meter_id, point, principal)
    return await _apply(conn, archive, lambda: meter_periods.replace(
        conn, point_id, body.new_meter_id, body.at, body.reason, principal.subject))


@router.post("/metering-points/{point_id}/remove-meter", response_model=InstallationChange,
             summary="Take the point's meter off at `at`")
async def remove_meter(point_id: str, body: Removal, principal: Writer, conn: Conn,
                       archive: Archive) -> dict[str, Any]:
    await _point(conn, point_id, principal)
    return await _apply(conn, archive, lambda: meter_periods.remove(
        conn, point_id, body.at, body.reason, principal.subject))


@router.get("/installations", response_model=list[InstallationPeriod],
            summary="Meters on metering points at a time (default now), by terminal")
async def installations(principal: MasterReader, conn: Conn,
                        terminal_id: Annotated[str | None, Query()] = None,
                        at: Annotated[datetime | None, Query(description="UTC time; default now")] = None,
                        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[dict[str, Any]]:
    if at is not None and at.tzinfo is None:
        raise Invalid("at: give a UTC offset (e.g. ...Z)")
    w = Where()
    w.add("i.valid_from <= coalesce({}, now()) AND (i.valid_to IS NULL OR i.valid_to > coalesce({}, now()))", at, at)
    if terminal_id:
        w.add("i.terminal_id = {}", terminal_id)
    Scope.of(principal).restrict(ScopeKind.CUSTOMER_OF, "i", w)
    rows = await conn.fetch(f"SELECT i.* FROM {SCHEMA}.installation i WHERE {w.sql()}"
                            f" ORDER BY i.terminal_id, i.pn, i.metering_point_id LIMIT {int(limit)}", *w.args)
    return [dict(r) for r in rows]
