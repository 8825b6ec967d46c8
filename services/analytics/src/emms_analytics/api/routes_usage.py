"""``/api/v1/analytics/usage`` and ``/ranking``: usage of every utility by bucket and dimension
(R-4.5.3.1–3, R-4.5.3.5), with month-on-month / year-on-year comparison, chart-ready.

Electricity, water and gas totals by customer, network node (community), region, category,
company … are this one query with ``utilities`` and ``group_by``; ``compare=true`` adds the
previous bucket and the same bucket a year before with their growth rates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from emms_analytics import analyses
from emms_analytics.api.deps import ListParam, Reader, Runtime, Selected, period_of, scope_of, zone
from emms_analytics.api.responses import ERRORS, RankingAnswer, UsageAnswer
from emms_analytics.calendar import Interval, add, truncate
from emms_analytics.queries import items_for, usage_rows
from emms_analytics.selection import GroupBy

router = APIRouter(prefix="/api/v1/analytics", tags=["usage"], responses=ERRORS)


@router.get("/usage", response_model=UsageAnswer,
            summary="Usage by local hour / day / month / quarter / year / period and dimension, chart-ready")
async def get_usage(rt: Runtime, principal: Reader, sel: Selected,
                    start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
                    interval: Interval = "day", group_by: GroupBy = "total", items: ListParam = None,
                    compare: bool = False) -> dict[str, Any]:
    period = period_of(rt, start, end)
    tz = zone(rt)
    wanted = items_for(rt, sel, items)
    scope = scope_of(principal)
    rows = await usage_rows(rt, scope, sel, period.start, period.end, interval, group_by, wanted)
    growth: list[dict[str, Any]] = []
    if compare and interval != "period":
        unit = interval
        first = truncate(period.start, unit, tz)
        earlier_start = min(add(first, "year", -1, tz), add(first, unit, -1, tz))
        earlier = await usage_rows(rt, scope, sel, earlier_start, period.start, interval, group_by, wanted)
        rows = analyses.compared(rows, interval, first, tz, analyses.totals(earlier))
        growth = [{"bucket": r["bucket"], "key": r["key"], "mom_rate": r.get("mom_rate"),
                   "yoy_rate": r.get("yoy_rate")} for r in rows]
    return {"interval": interval, "group_by": group_by, "local_tz": rt.settings.local_tz, "rows": rows,
            "series": analyses.series(rows, "line" if interval != "period" else "bar"),
            "pie": analyses.pie(rows), "growth": growth}


@router.get("/ranking", response_model=RankingAnswer,
            summary="Top N customers (or regions, industries, categories, groups …) by usage over a period")
async def get_ranking(rt: Runtime, principal: Reader, sel: Selected,
                      start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
                      group_by: GroupBy = "customer", items: ListParam = None,
                      top: Annotated[int, Query(ge=1, le=1000)] = 10) -> dict[str, Any]:
    period = period_of(rt, start, end)
    rows = await usage_rows(rt, scope_of(principal), sel, period.start, period.end, "period", group_by,
                            items_for(rt, sel, items))
    ranked = analyses.ranking(rows, top)
    return {"group_by": group_by, "rows": ranked,
            "bar": [{"name": r["key"], "type": "bar", "value": r["usage"]} for r in ranked]}
