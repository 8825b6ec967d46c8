"""The joint electricity + water + gas + heat view of one customer or a set (R-4.3.4)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import ConfigDict

from emms_archive.access import admit
from emms_archive.api.deps import Archive, Conn, Reader, bad_request, parse_model
from emms_archive.api.query_params import ListParam, selection_of, selection_params
from emms_archive.api.responses import JointView
from emms_archive.metrics import QUERY_SECONDS
from emms_archive.query.filters import Selection, TimeRange
from emms_archive.query.joint import joint_view, parties_of
from emms_archive.scope import Scope
from emms_runtime import Principal

router = APIRouter(prefix="/api/v1", tags=["joint"])


class JointQuery(Selection, TimeRange):
    """Whose view (any selection condition) over which range, for which items (default all)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    items: list[str] | None = None


async def _joint(q: JointQuery, principal: Principal, conn: Any, archive: Archive) -> dict[str, Any]:
    admit(archive.limiter, archive.settings.limits, principal)
    if q.is_empty():
        raise bad_request("name whose view: customers, parties, groups, metering_points, meters or regions")
    started = time.perf_counter()
    scope = Scope.of(principal)
    parties = await parties_of(conn, q, scope)
    view = await joint_view(conn, parties, scope, q.start, q.end, q.items)
    QUERY_SECONDS.labels("joint").observe(time.perf_counter() - started)
    return {"from": q.start, "to": q.end, **view}


@router.get("/joint", response_model=JointView,
            summary="Archive, usage and anomalies of every utility of the selected customers")
async def get_joint(principal: Reader, conn: Conn, archive: Archive,
                    selection: Annotated[dict[str, Any], Depends(selection_params)],
                    start: Annotated[datetime, Query(alias="from")], end: Annotated[datetime, Query(alias="to")],
                    items: ListParam = None) -> dict[str, Any]:
    sel = selection_of(selection)
    q = parse_model(JointQuery, {**sel.model_dump(exclude_none=True), "from": start, "to": end, "items": items})
    return await _joint(q, principal, conn, archive)


@router.post("/joint", response_model=JointView, summary="The joint view for a custom set given as a JSON body")
async def post_joint(q: JointQuery, principal: Reader, conn: Conn, archive: Archive) -> dict[str, Any]:
    return await _joint(q, principal, conn, archive)
