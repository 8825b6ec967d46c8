"""``/api/v1/status``: the operating status in one answer — the master (services, broker lag, database),
the channels (FEP ports) and the fleet (installed / in operation / online terminals, success rates)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from emms_operations.api.deps import OpsDep, StatusReader
from emms_operations.api.responses import OperatingStatus, errors

router = APIRouter(prefix="/api/v1/status", tags=["status"])


@router.get("", response_model=OperatingStatus, responses=errors(), summary="The operating status")
async def status(ops: OpsDep, _: StatusReader,
                 worst: Annotated[int, Query(ge=1, le=1000, description="worst terminals listed")] = 20,
                 ) -> dict[str, Any]:
    return await ops.status(worst)
