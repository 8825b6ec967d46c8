"""``/api/v1/customers/{customer_id}``: the customer-scoped value-added services (R-4.5.7).

A customer's token (role ``customer``) names its customer ids (one per utility); every route checks the
path's customer against them (403 otherwise) before anything is read. Staff reach the customers of
their companies. Rate limits and the refusal audit are the runtime's, as for every caller.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from emms_interface.api.deps import AggregatesReader, ReadingsReader, Runtime
from emms_interface.api.responses import Advice, CustomerOverview, PaymentOut, Reconciliation, UsageComparison
from emms_interface.customers import payments, usage
from emms_interface.customers.scope import accounts_of, customer_of, may_pay_for_others
from emms_interface.repository import payments as payments_repo
from emms_interface.upstream import UpstreamDown, UpstreamRefused, as_domain_error, seg
from emms_runtime import Forbidden, Invalid
from emms_runtime.instants import AnyInstant

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
ID = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"


class PaymentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payment_id: str = Field(pattern=ID, description="the payment's id at the payment provider: the same id twice"
                                                    " is one payment")
    account_id: str = Field(pattern=ID)
    amount: Decimal = Field(gt=0, le=Decimal("1000000"), decimal_places=2)


@router.get("/{customer_id}", response_model=CustomerOverview, summary="The customer and their accounts")
async def overview(rt: Runtime, principal: ReadingsReader, customer_id: str) -> dict[str, Any]:
    customer = await customer_of(rt.upstream, principal, customer_id)
    try:
        accounts = await accounts_of(rt.upstream, customer_id)
    except (UpstreamRefused, UpstreamDown) as exc:
        raise as_domain_error(exc) from None
    return {"customers": [customer], "accounts": accounts}


@router.get("/{customer_id}/usage", response_model=UsageComparison,
            summary="Usage over a period, monthly, compared with customers of the same category and region")
async def usage_inquiry(rt: Runtime, principal: AggregatesReader, customer_id: str,
                        from_: Annotated[AnyInstant, Query(alias="from")], to: Annotated[AnyInstant, Query()]
                        ) -> dict[str, Any]:
    if from_.tzinfo is None or to.tzinfo is None or to <= from_:
        raise Invalid("from / to: UTC offsets, and to after from")
    if to - from_ > timedelta(days=400):
        raise Invalid("a usage inquiry covers at most 400 days")
    customer = await customer_of(rt.upstream, principal, customer_id)
    try:
        return await usage.comparison(rt.upstream, customer, from_, to)
    except (UpstreamRefused, UpstreamDown) as exc:
        raise as_domain_error(exc) from None


@router.get("/{customer_id}/advice", response_model=Advice,
            summary="Shifting load to valley hours: the saving from your own hourly usage and your tariff")
async def advice(rt: Runtime, principal: AggregatesReader, customer_id: str,
                 days: Annotated[int, Query(ge=1, le=92)] = 30,
                 shift_share: Annotated[float, Query(gt=0, le=1)] = 0.2) -> dict[str, Any]:
    customer = await customer_of(rt.upstream, principal, customer_id)
    try:
        accounts = [a for a in await accounts_of(rt.upstream, customer_id) if a["status"] == "open"]
        if not accounts:
            raise Invalid(f"customer {customer_id} has no open account (no tariff to compute a saving with)")
        return await usage.advice(rt.upstream, customer, accounts[0], rt.tz, datetime.now(UTC), days, shift_share)
    except (UpstreamRefused, UpstreamDown) as exc:
        raise as_domain_error(exc) from None


@router.post("/{customer_id}/payments", response_model=PaymentOut, status_code=201,
             summary="Pay online into one of the customer's accounts (idempotent by payment_id)")
async def pay(rt: Runtime, principal: ReadingsReader, customer_id: str, response: Response,
              body: Annotated[PaymentBody, Body(openapi_examples={"topup": {"value": {
                  "payment_id": "alipay-2026120612000001", "account_id": "acc-elec-0001", "amount": "100.00"}}})],
              ) -> dict[str, Any]:
    await customer_of(rt.upstream, principal, customer_id)
    if not principal.customers and not may_pay_for_others(principal):
        raise Forbidden("paying for a customer needs the customer's own token or masterdata:edit")
    try:
        accounts = {a["account_id"] for a in await accounts_of(rt.upstream, customer_id)}
    except (UpstreamRefused, UpstreamDown) as exc:
        raise as_domain_error(exc) from None
    if body.account_id not in accounts:
        raise Forbidden(f"account {body.account_id} is not customer {customer_id}'s")
    payment, created = await payments.pay(rt.pool, rt.upstream, payment_id=body.payment_id, customer_id=customer_id,
                                          account_id=body.account_id, amount=body.amount, actor=principal.key)
    response.status_code = 201 if created else 200
    if payment["state"] == "pending":
        response.status_code = 202
    return payment


@router.get("/{customer_id}/payments/reconciliation", response_model=Reconciliation,
            summary="The interface's payment log against control's payments of the customer's accounts")
async def reconciliation(rt: Runtime, principal: ReadingsReader, customer_id: str) -> dict[str, Any]:
    await customer_of(rt.upstream, principal, customer_id)
    try:
        account_ids = [a["account_id"] for a in await accounts_of(rt.upstream, customer_id)]
        theirs: list[dict[str, Any]] = []
        for account_id in account_ids:
            theirs.extend(await rt.upstream.call("control", "GET", f"/api/v1/accounts/{seg(account_id)}/payments"))
    except (UpstreamRefused, UpstreamDown) as exc:
        raise as_domain_error(exc) from None
    async with rt.pool.acquire() as conn:
        ours = await payments_repo.of_accounts(conn, account_ids)
    return payments.reconcile(customer_id, ours, theirs)
