"""``/api/v1/duty-log``: the duty log (R-4.6.7), every important operation across services, append-only."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from emms_operations.api.deps import DutyReader, Limit, OpsDep, Text
from emms_operations.api.responses import DutyEntry, errors
from emms_operations.repository import oplog as sql
from emms_runtime import Invalid

router = APIRouter(prefix="/api/v1/duty-log", tags=["duty log"])


@router.get("", response_model=list[DutyEntry], responses=errors(e422="until before since"),
            summary="Duty-log entries in order; page with after_id (the last id of the previous page)")
async def duty_log(ops: OpsDep, _: DutyReader, since: datetime | None = None, until: datetime | None = None,
                   service: Text = None, category: Text = None, action: Text = None, actor: Text = None,
                   target: Text = None, terminal: Text = None, meter_id: Text = None, outcome: Text = None,
                   after_id: Annotated[int, Query(ge=0)] = 0, limit: Limit = 100) -> list[dict[str, Any]]:
    if since is not None and until is not None and until <= since:
        raise Invalid("until must be after since")
    async with ops.pool.acquire() as conn:
        return await sql.query(conn, since=since, until=until, service=service, category=category, action=action,
                               actor=actor, target=target, terminal=terminal, meter_id=meter_id, outcome=outcome,
                               after_id=after_id, limit=limit)
