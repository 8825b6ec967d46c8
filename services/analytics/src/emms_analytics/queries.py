"""One usage query as the routes run it: names checked (404), budget checked (422), then the rollups read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_analytics.api.deps import check_estimate, check_rows, check_scan, zone
from emms_analytics.calendar import COARSEST, pieces
from emms_analytics.repository import usage as usage_repo
from emms_analytics.runtime import SCHEMA, AnalyticsRuntime
from emms_analytics.scope import Scope
from emms_analytics.selection import Selection, unknown_names
from emms_analytics.tariffs import split
from emms_runtime import NotFound


async def usage_rows(rt: AnalyticsRuntime, scope: Scope, sel: Selection, start: datetime, end: datetime,
                     interval: str, group_by: str, items: list[str]) -> list[dict[str, Any]]:
    tz = zone(rt)
    parts = pieces(start, end, tz, COARSEST[interval])
    async with rt.pool.acquire() as conn:
        missing = await unknown_names(conn, SCHEMA, sel)
        if missing:
            raise NotFound(missing)
        table = usage_repo.rollup_for(sel, scope, parts, interval, group_by)
        if table is None:
            points = await usage_repo.count_points(conn, SCHEMA, sel, scope)
            check_scan(rt, points, len(items), parts)
        else:
            check_estimate(rt, await usage_repo.dimension_rows_estimate(conn, SCHEMA, table, sel, scope, items, parts))
        rows = await usage_repo.usage(conn, SCHEMA, sel, scope, parts, items, interval, group_by, start,
                                      rt.settings.local_tz, rt.settings.budget.statement_timeout_ms, table)
    check_rows(rt, rows)
    return rows


async def by_tariff_rows(rt: AnalyticsRuntime, scope: Scope, sel: Selection, start: datetime, end: datetime,
                         interval: str, group_by: str, item: str) -> list[dict[str, Any]]:
    """The split of ``item``'s interval usage by the tariff in force of each point's terminal
    (:mod:`emms_analytics.tariffs.split`), under the scan budget: the points' intervals, 15-minute ones assumed."""
    async with rt.pool.acquire() as conn:
        points = await usage_repo.count_points(conn, SCHEMA, sel, scope)
        check_estimate(rt, int(points * ((end - start).total_seconds() / 900 + 1)),
                       f" ({points} metering points' intervals for the split by tariff, asked for with by_tariff=true)")
        rows, tariffs = await split.slot_rows(conn, SCHEMA, sel, scope, item, start, end, interval, group_by,
                                              rt.settings.local_tz, rt.settings.budget.statement_timeout_ms)
    answer = split.assign(rows, tariffs)
    check_rows(rt, answer)
    return answer


def items_for(rt: AnalyticsRuntime, sel: Selection, items: list[str] | None) -> list[str]:
    """The items asked for, or the main register of each selected utility (all four by default)."""
    if items:
        return items
    utilities = sel.utilities or list(rt.settings.main_items)
    return [rt.settings.main_items[u] for u in utilities if u in rt.settings.main_items]
