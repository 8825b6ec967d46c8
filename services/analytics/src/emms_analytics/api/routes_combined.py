"""``/api/v1/analytics/combined``: one party (a person or business with customers of several utilities)
or one customer type (category) across the four utilities (R-4.5.3.5): monthly usage series and
trend per utility, and the share of usage in each block of a tiered (阶梯) tariff. The blocks come
from the request (``tiers=2760,4800``: upper bounds of the blocks, the last block open) or from
the settings; the tariffs in force are the control service's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from emms_analytics import analyses
from emms_analytics.api.deps import Reader, Runtime, period_of, scope_of
from emms_analytics.api.responses import ERRORS, CombinedAnswer
from emms_analytics.queries import usage_rows
from emms_analytics.selection import Selection
from emms_runtime import Invalid

router = APIRouter(prefix="/api/v1/analytics", tags=["combined"], responses=ERRORS)
Bounds = Annotated[str | None, Query(pattern=r"^\d+(\.\d+)?(,\d+(\.\d+)?){0,9}$",
                                     description="upper bounds of the blocks, ascending, comma-separated")]


@router.get("/combined", response_model=CombinedAnswer,
            summary="A party or a customer category across the four utilities: trend and tier shares")
async def get_combined(rt: Runtime, principal: Reader, key: Annotated[str, Query(pattern=r"^[0-9A-Za-z_.:-]{1,100}$")],
                       start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
                       by: Literal["party", "category"] = "party", tiers: Bounds = None) -> dict[str, Any]:
    period = period_of(rt, start, end)
    scope = scope_of(principal)
    out: dict[str, Any] = {}
    for utility, item in rt.settings.main_items.items():
        sel = Selection(parties=[key], utilities=[utility]) if by == "party" else Selection(
            categories=[key], utilities=[utility])
        monthly = await usage_rows(rt, scope, sel, period.start, period.end, "month", "total", [item])
        if not monthly:
            continue
        per_customer = await usage_rows(rt, scope, sel, period.start, period.end, "period", "customer", [item])
        annual = {r["key"]: float(r["usage"] or 0.0) for r in per_customer}
        out[utility] = {"item": item, "series": analyses.series(monthly),
                        "trend": analyses.trend([float(r["usage"] or 0.0) for r in monthly]),
                        "total": sum(annual.values()), "customers": len(annual),
                        "tiers": analyses.tier_share(annual, _bounds(rt, utility, tiers))}
    return {"by": by, "key": key, "utilities": out}


def _bounds(rt: Any, utility: str, tiers: str | None) -> list[tuple[str, float | None]]:
    if tiers:
        limits = [float(x) for x in tiers.split(",")]
        if limits != sorted(limits) or len(set(limits)) != len(limits):
            raise Invalid(f"tier bounds must rise: {tiers}")
        return [(f"tier{i + 1}", b) for i, b in enumerate(limits)] + [(f"tier{len(limits) + 1}", None)]
    return [(t.name, t.up_to) for t in rt.settings.tiers.get(utility, [])] or [("all", None)]
