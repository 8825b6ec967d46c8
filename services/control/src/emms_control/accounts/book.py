"""Opening and closing accounts, payments and refunds: each in one transaction on the locked account row.

Payments are idempotent by ``payment_id``: the same id for the same account and amount returns
the payment already recorded; for another account or amount it is refused (409). Refunds are
idempotent by ``refund_id`` the same way, and never exceed what is left of their payment nor
the balance. Every change of a balance appends one ledger entry; closing settles the balance with
a ``settlement`` entry (a payout of credit left, or the amount due) and releases the meters.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from emms_control.accounts import scope
from emms_control.accounts.bodies import AccountBody, CloseBody, PaymentBody, RefundBody
from emms_control.categories import check_category
from emms_control.prepayment import book as prepayment
from emms_control.repository import accounts as repo
from emms_control.schema import SCHEMA
from emms_control.tariffs import catalog
from emms_control.tariffs.errors import TariffError
from emms_db.connection import Connection
from emms_runtime import Conflict, Invalid, NotFound, Principal


async def _visible(conn: Connection, principal: Principal, account_id: str, *, lock: bool) -> asyncpg.Record:
    row = await repo.account(conn, account_id, lock=lock)
    if row is None or not scope.sees(principal, row):
        raise NotFound(f"no account {account_id!r} in your data scope")
    return row


async def describe(conn: Connection, principal: Principal, account_id: str) -> dict[str, Any]:
    row = await _visible(conn, principal, account_id, lock=False)
    return {**dict(row), "meters": [dict(m) for m in await repo.meters_of(conn, account_id)]}


async def _check_tariff(conn: Connection, body: AccountBody, charge_from: datetime) -> None:
    tariffs = await catalog.load(conn, [body.tariff_id])
    tariff = tariffs.get(body.tariff_id)
    if tariff is None:
        raise Invalid(f"no tariff {body.tariff_id!r}")
    if tariff.utility != body.utility:
        raise Invalid(f"tariff {body.tariff_id!r} is a {tariff.utility} tariff, the account is {body.utility}")
    try:
        tariff.quote(charge_from, body.category)
    except TariffError as exc:
        raise Invalid(f"{exc}: charges from {charge_from.isoformat()} could not be priced") from None
    in_force = tariff.version_at(charge_from)
    for version in tariff.versions:
        if (version.effective_from > charge_from or version is in_force) and body.category not in version.prices:
            raise Invalid(f"version {version.number} of tariff {body.tariff_id!r} gives no prices for category"
                              f" {body.category!r}")


async def open_account(pool: asyncpg.Pool, body: AccountBody, principal: Principal) -> dict[str, Any]:
    reason = check_category(body.utility, body.category)
    if reason:
        raise Invalid(reason)
    meter_ids = [m.meter_id for m in body.meters]
    if len(set(meter_ids)) != len(meter_ids):
        raise Invalid("a meter is listed twice")
    values = {**body.model_dump(), "account_id": str(uuid.uuid4()), "opened_by": principal.subject,
              "charge_from": body.charge_from or datetime.now(UTC)}
    scope.require(principal, values)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"LOCK TABLE {SCHEMA}.account_meter IN SHARE ROW EXCLUSIVE MODE")
        await _check_tariff(conn, body, values["charge_from"])
        existing = await repo.open_account_of(conn, body.customer_id, body.utility)
        if existing is not None:
            raise Conflict(f"customer {body.customer_id!r} has an open {body.utility} account already: {existing}")
        taken = await repo.meters_in_use(conn, meter_ids)
        if taken:
            raise Conflict("meters already on an open account: "
                           + ", ".join(f"{r['meter_id']} ({r['account_id']})" for r in taken))
        await repo.insert_account(conn, values)
        await repo.insert_meters(conn, values["account_id"], [(m.meter_id, m.multiplier) for m in body.meters])
        return await describe(conn, principal, values["account_id"])


def _payment(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row)


async def pay(pool: asyncpg.Pool, account_id: str, body: PaymentBody,
              principal: Principal) -> tuple[dict[str, Any], bool]:
    """The payment and whether this call recorded it (False: the same payment was recorded before)."""
    async with pool.acquire() as conn, conn.transaction():
        account = await _visible(conn, principal, account_id, lock=True)
        existing = await repo.payment(conn, body.payment_id)
        if existing is not None:
            if existing["account_id"] != account_id or existing["amount"] != body.amount:
                raise Conflict(f"payment {body.payment_id!r} was recorded already with amount {existing['amount']}"
                               f" on account {existing['account_id']}; a payment id names one payment")
            return _payment(existing), False
        if account["status"] != "open":
            raise Conflict(f"account {account_id} is closed; payments go to an open account")
        try:
            await repo.insert_payment(conn, account_id, body.payment_id, body.amount, body.method.value,
                                      body.paid_at or datetime.now(UTC), body.note, principal.subject)
        except asyncpg.UniqueViolationError:
            raise Conflict(f"payment {body.payment_id!r} is being recorded on another account") from None
        await repo.post(conn, account_id, "payment", body.amount, body.payment_id, principal.subject, body.note)
        await prepayment.after_payment(conn, account_id, body.payment_id, body.amount)
        row = await repo.payment(conn, body.payment_id)
        assert row is not None
        return _payment(row), True


async def refund(pool: asyncpg.Pool, account_id: str, payment_id: str, body: RefundBody,
                 principal: Principal) -> tuple[dict[str, Any], bool]:
    async with pool.acquire() as conn, conn.transaction():
        account = await _visible(conn, principal, account_id, lock=True)
        paid = await repo.payment(conn, payment_id)
        if paid is None or paid["account_id"] != account_id:
            raise NotFound(f"no payment {payment_id!r} on account {account_id}")
        existing = await repo.refund(conn, body.refund_id)
        if existing is not None:
            if (existing["payment_id"], existing["amount"]) != (payment_id, body.amount):
                raise Conflict(f"refund {body.refund_id!r} was recorded already: {existing['amount']} of payment"
                               f" {existing['payment_id']}")
            return dict(existing), False
        if account["status"] != "open":
            raise Conflict(f"account {account_id} is closed; its balance was settled")
        left = paid["amount"] - paid["refunded"]
        if body.amount > left:
            raise Conflict(f"refund {body.amount} exceeds what is left of payment {payment_id}: paid"
                           f" {paid['amount']}, refunded {paid['refunded']} (left {left})")
        if body.amount > account["balance"]:
            raise Conflict(f"refund {body.amount} exceeds the balance {account['balance']}: what was used is not"
                           " refunded")
        try:
            row = await repo.insert_refund(conn, body.refund_id, payment_id, account_id, body.amount, body.reason,
                                           principal.subject)
        except asyncpg.UniqueViolationError:
            raise Conflict(f"refund {body.refund_id!r} is being recorded elsewhere") from None
        await repo.post(conn, account_id, "refund", -body.amount, body.refund_id, principal.subject, body.reason)
        await prepayment.after_refund(conn, account_id)
        return dict(row), True


async def close(pool: asyncpg.Pool, account_id: str, body: CloseBody, principal: Principal) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        account = await _visible(conn, principal, account_id, lock=True)
        if account["status"] != "open":
            raise Conflict(f"account {account_id} was closed at {account['closed_at'].isoformat()}")
        balance: Decimal = account["balance"]
        outcome = "payout" if balance > 0 else "due" if balance < 0 else "none"
        note = {"payout": f"credit {balance} paid out to the customer",
                "due": f"{-balance} due from the customer", "none": "nothing to settle"}[outcome]
        entry = await repo.post(conn, account_id, "settlement", -balance, f"close:{account_id}", principal.subject,
                                note)
        await repo.close(conn, account_id, principal.subject, body.reason)
        found = await describe(conn, principal, account_id)
        found["settlement"] = {"outcome": outcome, "amount": abs(balance), "entry_id": entry["entry_id"],
                               "note": note}
        return found
