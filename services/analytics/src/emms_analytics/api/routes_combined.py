"""``/api/v1/analytics/combined``: one party (a person or business with customers of several utilities)
or one customer type (category) across the four utilities (R-4.5.3.5): monthly usage series, growth rates
and trend per utility, the share of usage in each block of a tiered (阶梯) tariff, and the peak analysis —
the peak and the valley day with their usage, the average day, peak-to-average ratio and load factor, and
for periods of up to 92 days the hour-of-day profile with its peak hours. The blocks come from the request
(``tiers=2760,4800``: upper bounds of the blocks, the last block open) or from the settings; the tariffs in
force are the control service's.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from emms_analytics import analyses
from emms_analytics.api.deps import Reader, Runtime, period_of, scope_of, zone
from emms_analytics.api.responses import ERRORS, CombinedAnswer
from emms_analytics.queries import usage_rows
from emms_analytics.runtime import SCHEMA
from emms_analytics.selection import Selection
from emms_runtime import Conflict, Invalid, NotFound

router = APIRouter(prefix="/api/v1/analytics", tags=["combined"], responses=ERRORS)
_ID = re.compile(r"^[0-9A-Za-z_.:-]{1,100}$")
Bounds = Annotated[str | None, Query(pattern=r"^\d+(\.\d+)?(,\d+(\.\d+)?){0,9}$",
                                     description="upper bounds of the blocks, ascending, comma-separated")]


@router.get("/combined", response_model=CombinedAnswer,
            summary="A party or a customer category across the four utilities: trend and tier shares")
async def get_combined(rt: Runtime, principal: Reader,
                       key: Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$",
                                                 description="the party (户号), the category, or the account name")],
                       start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
                       by: Literal["party", "category", "name"] = "party", tiers: Bounds = None) -> dict[str, Any]:
    """``by=name``: the account name (户名) of the party's customers, exactly; 404 when no customer in the
    caller's scope has it, 409 naming the parties when several do (ask again ``by=party``)."""
    period = period_of(rt, start, end)
    scope = scope_of(principal)
    asked = key
    if by == "name":
        key, by = await _party_named(rt, scope, key), "party"
    elif not _ID.match(key):
        raise Invalid(f"{by} {key!r}: letters, digits and _ . : - only")
    out: dict[str, Any] = {}
    for utility, item in rt.settings.main_items.items():
        sel = Selection(parties=[key], utilities=[utility]) if by == "party" else Selection(
            categories=[key], utilities=[utility])
        monthly = await usage_rows(rt, scope, sel, period.start, period.end, "month", "total", [item])
        if not monthly:
            continue
        per_customer = await usage_rows(rt, scope, sel, period.start, period.end, "period", "customer", [item])
        annual = {r["key"]: float(r["usage"] or 0.0) for r in per_customer}
        daily = await usage_rows(rt, scope, sel, period.start, period.end, "day", "total", [item])
        peak = analyses.peaks(daily)
        if (period.end - period.start).days <= 92:
            hourly = await usage_rows(rt, scope, sel, period.start, period.end, "hour", "total", [item])
            peak["hours"] = analyses.peak_hours(hourly, zone(rt))
        out[utility] = {"item": item, "series": analyses.series(monthly), "growth": analyses.growth(monthly),
                        "trend": analyses.trend([float(r["usage"] or 0.0) for r in monthly]),
                        "total": sum(annual.values()), "customers": len(annual),
                        "tiers": analyses.tier_share(annual, _bounds(rt, utility, tiers)), "peak": peak}
    return {"by": by, "key": key, "utilities": out} | ({"name": asked} if asked != key else {})


async def _party_named(rt: Any, scope: Any, name: str) -> str:
    async with rt.pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT c.customer_id, c.party_id FROM {SCHEMA}.customer c WHERE c.name = $1"
                                " ORDER BY c.party_id, c.customer_id", name)
        parties = list(dict.fromkeys([r["party_id"] for r in rows if await scope.allows(
            conn, r["customer_id"], view="customer", key="customer_id")]))
    if not parties:
        raise NotFound(f"no account named {name!r}")
    if len(parties) > 1:
        raise Conflict(f"several accounts are named {name!r}: {', '.join(parties[:20])}; ask by=party")
    return str(parties[0])


def _bounds(rt: Any, utility: str, tiers: str | None) -> list[tuple[str, float | None]]:
    if tiers:
        limits = [float(x) for x in tiers.split(",")]
        if limits != sorted(limits) or len(set(limits)) != len(limits):
            raise Invalid(f"tier bounds must rise: {tiers}")
        return [(f"tier{i + 1}", b) for i, b in enumerate(limits)] + [(f"tier{len(limits) + 1}", None)]
    return [(t.name, t.up_to) for t in rt.settings.tiers.get(utility, [])] or [("all", None)]
