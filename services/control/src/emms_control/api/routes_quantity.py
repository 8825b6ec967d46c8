"""``/api/v1/quantity/{meter_id}``: quantity control of one measuring and control device (R-4.4.1)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from emms_control.api.deps import AccountReader, ControlDep, ControlSender, MeterId
from emms_control.api.responses_prepayment import QuantityView
from emms_control.quantity import book
from emms_control.quantity.bodies import QuantityBody

router = APIRouter(prefix="/api/v1/quantity", tags=["quantity"])


@router.put("/{meter_id}", response_model=QuantityView,
            summary="Set a device's quantity control: utility, limits per day / month and the action on exceeding")
async def set_quantity(cr: ControlDep, principal: ControlSender, meter_id: MeterId,
                       body: QuantityBody) -> dict[str, Any]:
    return await book.configure(cr.pool, meter_id, body, principal)


@router.get("/{meter_id}", response_model=QuantityView,
            summary="A device's quantity control: limits, counts of the current periods, periods exceeded, actions")
async def get_quantity(cr: ControlDep, principal: AccountReader, meter_id: MeterId) -> dict[str, Any]:
    async with cr.pool.acquire() as conn:
        return await book.describe(conn, meter_id, principal)
