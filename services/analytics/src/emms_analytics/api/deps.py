"""Dependencies of the analytics routes: the runtime, the caller's scope, the period and the selection.

Bad input: an inverted period, one longer than ``budget.max_period_days`` or a query that would
read more rollup rows than ``budget.max_scan_rows`` is a 422 naming the limit; an unknown
region / customer / group / node / company is a 404 naming it.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Query

from emms_analytics.calendar import Piece
from emms_analytics.runtime import AnalyticsRuntime
from emms_analytics.scope import Scope
from emms_analytics.selection import Selection
from emms_runtime import Invalid, Permission, Principal, require, state_dependency

Runtime = Annotated[AnalyticsRuntime, Depends(state_dependency(AnalyticsRuntime))]
Reader = Annotated[Principal, require(Permission.AGGREGATES_READ)]
Marker = Annotated[Principal, require(Permission.MASTERDATA_EDIT)]
NAME = r"^[0-9A-Za-z][0-9A-Za-z_.:/-]{0,99}$"
ListParam = Annotated[list[Annotated[str, Query(pattern=NAME)]] | None, Query()]
Instant = Annotated[datetime, Query(description="ISO 8601; without an offset it is UTC")]
FIRST_YEAR, LAST_YEAR = 1900, 8999


def selection_params(regions: ListParam = None, customers: ListParam = None, parties: ListParam = None,
                     companies: ListParam = None, industries: ListParam = None, categories: ListParam = None,
                     nodes: ListParam = None, groups: ListParam = None, utilities: ListParam = None,
                     metering_points: ListParam = None) -> Selection:
    return Selection(regions=regions, customers=customers, parties=parties, companies=companies,
                     industries=industries, categories=categories, nodes=nodes, groups=groups, utilities=utilities,
                     metering_points=metering_points)


Selected = Annotated[Selection, Depends(selection_params)]


def aware(t: datetime) -> datetime:
    if not FIRST_YEAR <= t.year <= LAST_YEAR:
        raise Invalid(f"year {t.year} is out of range: give a time in the years {FIRST_YEAR} to {LAST_YEAR}")
    return (t if t.tzinfo is not None else t.replace(tzinfo=UTC)).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime


def period_of(rt: AnalyticsRuntime, start: datetime, end: datetime) -> Period:
    start, end = aware(start), aware(end)
    if end <= start:
        raise Invalid(f"the period is inverted or empty: from {start.isoformat()} is not before to {end.isoformat()}")
    days = (end - start).total_seconds() / 86_400
    limit = rt.settings.budget.max_period_days
    if days > limit:
        raise Invalid(f"the period covers {days:.0f} days; at most {limit} days at once")
    return Period(start, end)


def scope_of(principal: Principal) -> Scope:
    return Scope.of(principal)


def check_scan(rt: AnalyticsRuntime, points: int, items: int, parts: list[Piece]) -> None:
    """Refuse (422, with the limit) a query that would read more rollup rows than the budget."""
    per_point = 0.0
    for p in parts:
        seconds = (p.end - p.start).total_seconds()
        per_point += {"monthly": seconds / (30 * 86_400), "daily": seconds / 86_400, "hourly": seconds / 3600,
                      "interval": seconds / 900}[p.level] + 1
    check_estimate(rt, int(points * items * per_point), f" ({points} metering points)")


def check_estimate(rt: AnalyticsRuntime, estimate: int, detail: str = "") -> None:
    limit = rt.settings.budget.max_scan_rows
    if estimate > limit:
        raise Invalid(f"the query would read about {estimate} rollup rows{detail}; the limit"
                      f" is {limit}: narrow the selection or coarsen the interval")


def check_rows(rt: AnalyticsRuntime, rows: list[Any]) -> None:
    limit = rt.settings.budget.max_buckets
    if len(rows) > limit:
        raise Invalid(f"the answer has {len(rows)} rows; at most {limit}: coarsen the interval or the grouping")


def zone(rt: AnalyticsRuntime) -> ZoneInfo:
    return ZoneInfo(rt.settings.local_tz)
