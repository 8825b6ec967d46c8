"""``/api/v1/analytics/exports``: large results as CSV streamed from the database (issue 16 item 8).

``usage.csv`` is ``/usage`` (the same parameters, names checked → 404, period and scan budget →
422, the caller's scope) without the answer-size limit ``max_buckets``; ``readings.csv`` is the
validated register values of the selected points. Both are ``COPY … TO STDOUT`` through psycopg 3
(``exports/database.py``), sent as the database produces them; timestamps are local.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from emms_analytics.api.deps import ListParam, Reader, Runtime, Selected, check_scan, period_of, scope_of, zone
from emms_analytics.api.responses import ERRORS
from emms_analytics.calendar import COARSEST, Interval, pieces
from emms_analytics.exports.queries import readings_export, usage_export
from emms_analytics.queries import items_for
from emms_analytics.repository import usage as usage_repo
from emms_analytics.runtime import SCHEMA, AnalyticsRuntime
from emms_analytics.scope import Scope
from emms_analytics.selection import GroupBy, Selection, unknown_names
from emms_runtime import NotFound, Unavailable

router = APIRouter(prefix="/api/v1/analytics/exports", tags=["exports"], responses=ERRORS)
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "CSV with a header line, streamed"}}


async def _checked(rt: AnalyticsRuntime, scope: Scope, sel: Selection) -> int:
    """404 for an unknown name; the number of selected metering points."""
    async with rt.pool.acquire() as conn:
        missing = await unknown_names(conn, SCHEMA, sel)
        if missing:
            raise NotFound(missing)
        return await usage_repo.count_points(conn, SCHEMA, sel, scope)


def _stream(rt: AnalyticsRuntime, query: str, args: list[object], filename: str) -> StreamingResponse:
    if rt.exports is None:
        raise Unavailable("exports are not set up in this instance")
    body = rt.exports.csv(query, list(args), rt.settings.local_tz, rt.settings.budget.export_timeout_ms)
    return StreamingResponse(body, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/usage.csv", response_class=StreamingResponse, responses=CSV,
            summary="Usage by bucket and dimension as CSV (the /usage query, streamed)")
async def export_usage(rt: Runtime, principal: Reader, sel: Selected,
                       start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
                       interval: Interval = "day", group_by: GroupBy = "total",
                       items: ListParam = None) -> StreamingResponse:
    period = period_of(rt, start, end)
    scope = scope_of(principal)
    wanted = items_for(rt, sel, items)
    parts = pieces(period.start, period.end, zone(rt), COARSEST[interval])
    check_scan(rt, await _checked(rt, scope, sel), len(wanted), parts)
    query, args = usage_export(SCHEMA, sel, scope, parts, wanted, interval, group_by, period.start,
                               rt.settings.local_tz)
    return _stream(rt, query, args, "usage.csv")


@router.get("/readings.csv", response_class=StreamingResponse, responses=CSV,
            summary="Validated register values of the selected metering points as CSV, streamed")
async def export_readings(rt: Runtime, principal: Reader, sel: Selected,
                          start: Annotated[datetime, Query(alias="from")],
                          end: Annotated[datetime, Query(alias="to")], items: ListParam = None) -> StreamingResponse:
    period = period_of(rt, start, end)
    scope = scope_of(principal)
    await _checked(rt, scope, sel)
    query, args = readings_export(SCHEMA, sel, scope, items_for(rt, sel, items), period.start, period.end)
    return _stream(rt, query, args, "readings.csv")
