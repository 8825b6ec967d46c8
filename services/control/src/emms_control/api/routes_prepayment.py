"""``/api/v1/accounts/{id}/prepayment``: an account's prepayment mode, thresholds, purchases and state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from emms_control.api.deps import AccountId, AccountReader, CollectionRunner, ControlDep, ControlSender
from emms_control.api.responses_prepayment import PrepaymentView
from emms_control.prepayment import book, readback
from emms_control.prepayment.bodies import PrepaymentBody
from emms_runtime import Invalid
from emms_runtime.errors import Unavailable

router = APIRouter(prefix="/api/v1/accounts", tags=["prepayment"])


@router.put("/{account_id}/prepayment", response_model=PrepaymentView,
            summary="Set the account's prepayment: mode (master / terminal / meter), thresholds, close action, price")
async def set_prepayment(cr: ControlDep, principal: ControlSender, account_id: AccountId,
                         body: PrepaymentBody) -> dict[str, Any]:
    return await book.configure(cr.pool, account_id, body, principal)


@router.get("/{account_id}/prepayment", response_model=PrepaymentView,
            summary="The account's prepayment: state, purchases, read-back remaining amount, transitions, notices")
async def get_prepayment(cr: ControlDep, principal: AccountReader, account_id: AccountId) -> dict[str, Any]:
    async with cr.pool.acquire() as conn:
        await book.visible_account(conn, principal, account_id, lock=False)
        return await book.describe(conn, account_id)


@router.post("/{account_id}/prepayment/read", response_model=PrepaymentView, status_code=202,
             summary="Read the remaining amount back from the device now (terminal / meter mode); the answer lands on"
                     " the account's remaining / remaining_at")
async def read_prepayment(cr: ControlDep, principal: CollectionRunner, account_id: AccountId) -> dict[str, Any]:
    async with cr.pool.acquire() as conn:
        await book.visible_account(conn, principal, account_id, lock=False)
        found = await book.describe(conn, account_id)
    if found["mode"] == "master":
        raise Invalid("a master-mode account keeps its balance here; there is nothing to read from a device")
    if cr.producer is None:
        raise Unavailable("the bus producer is not running")
    if not await readback.request_reads(cr.pool, cr.producer, account_id):
        raise Invalid(f"account {account_id}: no meter of it is at a concentrator in the topology")
    return found
