"""Events (important / normal) and anomalies, by selection, class and time (R-4.5.4.3, R-4.3.4)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from emms_archive.access import admit
from emms_archive.api.deps import Archive, Conn, EventReader, bad_request, parse_model
from emms_archive.api.query_params import ListParam, selection_of, selection_params
from emms_archive.api.responses import EventPage
from emms_archive.query import events as queries
from emms_archive.query.cursor import BadCursor
from emms_archive.query.filters import TimeRange, select_points
from emms_archive.scope import Scope

router = APIRouter(prefix="/api/v1", tags=["events"])

Limit = Annotated[int, Query(ge=1, le=10_000)]


@router.get("/events", response_model=EventPage, summary="Terminal and meter events, newest first")
async def list_events(principal: EventReader, conn: Conn, archive: Archive,
                      selection: Annotated[dict[str, Any], Depends(selection_params)],
                      start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
                      terminals: ListParam = None, classes: ListParam = None, codes: ListParam = None,
                      limit: Limit = 100, cursor: str | None = None) -> dict[str, Any]:
    admit(archive.limiter, archive.settings.limits, principal, limit)
    span = parse_model(TimeRange, {"from": start, "to": end})
    points = await select_points(conn, selection_of(selection), Scope.of(principal))
    try:
        return await queries.events(conn, points=points, start=span.start, end=span.end, terminals=terminals,
                                    classes=classes, codes=codes, limit=limit, after=cursor)
    except BadCursor as exc:
        raise bad_request(str(exc)) from None


@router.get("/anomalies", response_model=EventPage, summary="Findings of validation rules, newest first")
async def list_anomalies(principal: EventReader, conn: Conn, archive: Archive,
                         selection: Annotated[dict[str, Any], Depends(selection_params)],
                         start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
                         severities: ListParam = None, rules: ListParam = None,
                         limit: Limit = 100, cursor: str | None = None) -> dict[str, Any]:
    admit(archive.limiter, archive.settings.limits, principal, limit)
    span = parse_model(TimeRange, {"from": start, "to": end})
    points = await select_points(conn, selection_of(selection), Scope.of(principal))
    try:
        return await queries.anomalies(conn, points=points, start=span.start, end=span.end, severities=severities,
                                       rules=rules, limit=limit, after=cursor)
    except BadCursor as exc:
        raise bad_request(str(exc)) from None
