"""``/api/v1/accounts``: accounts per customer per utility, payments, refunds, the ledger and charges."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from emms_control import metrics
from emms_control.accounts import book, scope
from emms_control.accounts.bodies import ID_PATTERN, AccountBody, CloseBody, PaymentBody, RefundBody
from emms_control.api.deps import AccountEditor, AccountId, AccountReader, ControlDep, PaymentId
from emms_control.api.responses import Account, AccountPage, ChargePage, ClosedAccount, LedgerEntry, Payment, Refund
from emms_control.categories import Utility
from emms_control.charges.apply import charge_view
from emms_control.repository import accounts as repo
from emms_control.repository import charges as charges_repo
from emms_db.where import Where

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@router.get("", response_model=AccountPage, summary="Accounts in your data scope")
async def list_accounts(cr: ControlDep, principal: AccountReader,
                        customer_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                        company_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                        meter_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                        utility: Utility | None = None,
                        status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
                        limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    where = Where()
    scope.restrict(principal, where)
    where.add_if("a.customer_id = {}", customer_id)
    where.add_if("a.company_id = {}", company_id)
    where.add_if("a.utility = {}", utility)
    where.add_if("a.status = {}", status)
    if meter_id is not None:
        where.add("a.account_id IN (SELECT m.account_id FROM control.account_meter m WHERE m.meter_id = {})",
                  meter_id)
    async with cr.pool.acquire() as conn:
        total, rows = await repo.list_accounts(conn, where, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "items": [dict(r) for r in rows]}


@router.post("", response_model=Account, status_code=201, summary="Open an account for a customer and utility")
async def open_account(cr: ControlDep, principal: AccountEditor, body: AccountBody) -> dict[str, Any]:
    return await book.open_account(cr.pool, body, principal)


@router.get("/{account_id}", response_model=Account, summary="An account, its balance and meters")
async def get_account(cr: ControlDep, principal: AccountReader, account_id: AccountId) -> dict[str, Any]:
    async with cr.pool.acquire() as conn:
        return await book.describe(conn, principal, account_id)


@router.post("/{account_id}/close", response_model=ClosedAccount,
             summary="Close an account: settle its balance in the ledger and release its meters")
async def close_account(cr: ControlDep, principal: AccountEditor, account_id: AccountId,
                        body: CloseBody) -> dict[str, Any]:
    return await book.close(cr.pool, account_id, body, principal)


@router.get("/{account_id}/payments", response_model=list[Payment], summary="Payments, oldest first")
async def list_payments(cr: ControlDep, principal: AccountReader, account_id: AccountId,
                        limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
    async with cr.pool.acquire() as conn:
        await book.describe(conn, principal, account_id)
        return [dict(r) for r in await repo.payments(conn, account_id, limit, offset)]


@router.post("/{account_id}/payments", response_model=Payment, status_code=201,
             summary="Record a payment (idempotent by payment_id: 200 with the payment when it is recorded already)")
async def pay(cr: ControlDep, principal: AccountEditor, account_id: AccountId, body: PaymentBody,
              response: Response) -> dict[str, Any]:
    found, created = await book.pay(cr.pool, account_id, body, principal)
    metrics.PAYMENTS.labels("recorded" if created else "repeated").inc()
    if not created:
        response.status_code = 200
    return found


@router.post("/{account_id}/payments/{payment_id}/refunds", response_model=Refund, status_code=201,
             summary="Refund part or all of a payment (idempotent by refund_id; never more than paid nor the"
                     " balance)")
async def refund(cr: ControlDep, principal: AccountEditor, account_id: AccountId, payment_id: PaymentId,
                 body: RefundBody, response: Response) -> dict[str, Any]:
    found, created = await book.refund(cr.pool, account_id, payment_id, body, principal)
    metrics.REFUNDS.labels("recorded" if created else "repeated").inc()
    if not created:
        response.status_code = 200
    return found


@router.get("/{account_id}/ledger", response_model=list[LedgerEntry],
            summary="Every change of the balance, in order (page with after=<last entry_id>)")
async def ledger(cr: ControlDep, principal: AccountReader, account_id: AccountId,
                 kind: Annotated[str | None, Query(pattern="^(payment|refund|charge|settlement)$")] = None,
                 after: Annotated[int, Query(ge=0, le=2**62)] = 0, limit: Limit = 100) -> list[dict[str, Any]]:
    async with cr.pool.acquire() as conn:
        await book.describe(conn, principal, account_id)
        return [dict(r) for r in await repo.ledger(conn, account_id, kind, after, limit)]


@router.get("/{account_id}/charges", response_model=ChargePage,
            summary="Charges from validated readings, by end time; estimated / held readings marked")
async def charges(cr: ControlDep, principal: AccountReader, account_id: AccountId,
                  since: datetime | None = None, until: datetime | None = None,
                  meter_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
                  limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    async with cr.pool.acquire() as conn:
        await book.describe(conn, principal, account_id)
        total, rows = await charges_repo.charges(conn, account_id, since, until, meter_id, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "items": [charge_view(r) for r in rows]}
