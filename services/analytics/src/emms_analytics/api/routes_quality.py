"""``/api/v1/analytics/quality/nodes``: quality of the collected data per network node (line,
transformer, pipe network …, with every node below; R-4.3.2): metering points, register values
collected against expected (one per point per local day for daily data), completeness, and the
share of estimated values among the usage intervals."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from emms_analytics.api.deps import ListParam, Reader, Runtime, period_of, scope_of
from emms_analytics.api.responses import ERRORS, QualityAnswer
from emms_analytics.repository import quality
from emms_analytics.runtime import SCHEMA
from emms_analytics.selection import Selection, unknown_names
from emms_runtime import NotFound

router = APIRouter(prefix="/api/v1/analytics/quality", tags=["quality"], responses=ERRORS)


@router.get("/nodes", response_model=QualityAnswer,
            summary="Collection completeness and share of estimated values per network node")
async def get_node_quality(rt: Runtime, principal: Reader, nodes: ListParam,
                           start: Annotated[datetime, Query(alias="from")],
                           end: Annotated[datetime, Query(alias="to")],
                           per_day: Annotated[int, Query(ge=1, le=1440)] = 1) -> dict[str, Any]:
    period = period_of(rt, start, end)
    async with rt.pool.acquire() as conn:
        missing = await unknown_names(conn, SCHEMA, Selection(nodes=nodes))
        if missing:
            raise NotFound(missing)
        rows = await quality.by_node(conn, SCHEMA, nodes or [], scope_of(principal), period.start, period.end,
                                     rt.settings.main_items, per_day)
    return {"rows": rows}
