"""Readings and usage: single-point and batch queries with combined conditions, cursor paging,
CSV export and the near-real-time latest values (R-4.3.4, R-4.3.3a).

Every request is counted against the caller's role limits (rate, rows) and restricted to the
caller's company / region scope; naming a company outside it is a 403.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from emms_archive.access import admit
from emms_archive.api.deps import Archive, Conn, Reader, bad_request, parse_model, sees_held
from emms_archive.api.query_params import ListParam, reading_query_params, selection_of, selection_params
from emms_archive.api.responses import LatestReading, ReadingPage, Usage
from emms_archive.metrics import QUERY_SECONDS
from emms_archive.query import readings
from emms_archive.query.cursor import BadCursor
from emms_archive.query.export import stream_csv
from emms_archive.query.filters import ReadingQuery, TimeRange, select_points
from emms_archive.query.usage import GroupBy, Interval, usage
from emms_archive.scope import Scope
from emms_runtime import Invalid, Principal

router = APIRouter(prefix="/api/v1", tags=["readings"])

QueryParams = Annotated[ReadingQuery, Depends(reading_query_params)]


async def _page(q: ReadingQuery, principal: Principal, conn: Any, archive: Archive) -> dict[str, Any]:
    admit(archive.limiter, archive.settings.limits, principal, q.limit)
    started = time.perf_counter()
    points = await select_points(conn, q, Scope.of(principal))
    try:
        result = await readings.page(conn, q, points, show_held=sees_held(principal))
    except BadCursor as exc:
        raise bad_request(str(exc)) from None
    QUERY_SECONDS.labels("readings").observe(time.perf_counter() - started)
    return result


@router.get("/readings", response_model=ReadingPage,
            summary="Readings matching combined conditions, one page (next_cursor for the next)")
async def get_readings(q: QueryParams, principal: Reader, conn: Conn, archive: Archive) -> dict[str, Any]:
    return await _page(q, principal, conn, archive)


@router.post("/readings/query", response_model=ReadingPage,
             summary="Batch query: the same conditions as a JSON body (long lists)")
async def post_readings(q: ReadingQuery, principal: Reader, conn: Conn, archive: Archive) -> dict[str, Any]:
    return await _page(q, principal, conn, archive)


async def _export(q: ReadingQuery, principal: Principal, conn: Any, archive: Archive,
                  max_rows: int | None) -> StreamingResponse:
    role = admit(archive.limiter, archive.settings.limits, principal)
    rows = min(max_rows or role.max_export_rows, role.max_export_rows)
    if q.cursor:
        raise bad_request("an export covers the whole query; leave out the cursor")
    points = await select_points(conn, q, Scope.of(principal))
    stream = stream_csv(archive.pool, q, points, max_rows=rows, show_held=sees_held(principal))
    name = f"readings-{q.layer}-{q.start:%Y%m%d}-{q.end:%Y%m%d}.csv"
    return StreamingResponse(stream, media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/readings/export.csv", summary="CSV export of a reading query (all pages, up to the role's limit)",
            response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
async def export_readings(q: QueryParams, principal: Reader, conn: Conn, archive: Archive,
                          max_rows: Annotated[int | None, Query(ge=1)] = None) -> StreamingResponse:
    return await _export(q, principal, conn, archive, max_rows)


@router.post("/readings/export", summary="CSV export of a JSON reading query",
             response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
async def export_readings_body(q: ReadingQuery, principal: Reader, conn: Conn, archive: Archive,
                               max_rows: Annotated[int | None, Query(ge=1)] = None) -> StreamingResponse:
    return await _export(q, principal, conn, archive, max_rows)


@router.get("/readings/latest", response_model=list[LatestReading],
            summary="Latest raw value of each item of the selected metering points")
async def latest_readings(principal: Reader, conn: Conn, archive: Archive,
                          selection: Annotated[dict[str, Any], Depends(selection_params)],
                          items: ListParam = None,
                          limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[dict[str, Any]]:
    admit(archive.limiter, archive.settings.limits, principal, limit)
    sel = selection_of(selection)
    if sel.is_empty():
        raise bad_request("name the metering points: customers, metering_points, meters, regions, groups…")
    points = await select_points(conn, sel, Scope.of(principal)) or []
    if len(points) > limit:
        raise Invalid(f"the selection has {len(points)} metering points; at most {limit} at once")
    return await readings.latest(conn, points, items)


@router.get("/usage", response_model=Usage, summary="Usage (register increments × multiplier) by period and dimension")
async def get_usage(principal: Reader, conn: Conn, archive: Archive,
                    selection: Annotated[dict[str, Any], Depends(selection_params)],
                    start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
                    items: ListParam = None, interval: Interval = "day", group_by: GroupBy = "metering_point",
                    layer: Literal["raw", "validated"] = "raw") -> dict[str, Any]:
    admit(archive.limiter, archive.settings.limits, principal)
    span = parse_model(TimeRange, {"from": start, "to": end})
    sel = selection_of(selection)
    started = time.perf_counter()
    points = await select_points(conn, sel, Scope.of(principal))
    rows = await usage(conn, points, items, span.start, span.end, interval=interval, group_by=group_by, layer=layer,
                       local_tz=archive.settings.local_tz)
    QUERY_SECONDS.labels("usage").observe(time.perf_counter() - started)
    return {"interval": interval, "group_by": group_by, "layer": layer, "rows": rows}
