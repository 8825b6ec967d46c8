"""Online payments of customers into control's accounts: idempotent by payment id, reconciled.

The payment is written to the interface's log first (``pending``), then recorded in control with the
same payment id (control is idempotent by it too), then marked ``recorded``. A control that is down
leaves it ``pending``: the worker records it later, and the reconciliation shows it meanwhile. The
same id again with the same account and amount is the same payment; with another: 409.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from emms_interface.repository import payments as repo
from emms_interface.upstream import Upstream, UpstreamDown, UpstreamRefused, seg
from emms_runtime import Conflict, DomainError
from emms_runtime.periodic import PeriodicWorker


async def _record(pool: asyncpg.Pool, up: Upstream, payment: dict[str, Any]) -> dict[str, Any]:
    try:
        await up.call("control", "POST", f"/api/v1/accounts/{seg(payment['account_id'])}/payments",
                      json={"payment_id": payment["payment_id"], "amount": str(payment["amount"]), "method": "online",
                            "paid_at": payment["created_at"].isoformat(), "note": f"online, {payment['paid_by']}"})
    except UpstreamRefused as exc:
        async with pool.acquire() as conn:
            await repo.settle(conn, payment["payment_id"], "refused", exc.reason[:300])
        raise exc.domain_error() from None
    except UpstreamDown:
        return payment
    async with pool.acquire() as conn:
        return await repo.settle(conn, payment["payment_id"], "recorded")


async def pay(pool: asyncpg.Pool, up: Upstream, *, payment_id: str, customer_id: str, account_id: str,
              amount: Decimal, actor: str) -> tuple[dict[str, Any], bool]:
    async with pool.acquire() as conn:
        payment, created = await repo.take(conn, payment_id, customer_id, account_id, amount, actor)
    if not created and (payment["account_id"] != account_id or payment["amount"] != amount
                        or payment["customer_id"] != customer_id):
        raise Conflict(f"payment {payment_id} was made already with another account or amount"
                       f" ({payment['account_id']}, {payment['amount']}); a new payment needs a new id")
    if payment["state"] == "pending":
        payment = await _record(pool, up, payment)
    return payment, created


def reconcile(customer_id: str, ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare the interface's payment log with control's payments of the same accounts."""
    by_id = {p["payment_id"]: p for p in theirs}
    matched, missing, mismatch = [], [], []
    for p in ours:
        if p["state"] == "refused":
            continue
        other = by_id.get(p["payment_id"])
        if other is None:
            missing.append({"payment_id": p["payment_id"], "account_id": p["account_id"], "amount": p["amount"],
                            "state": p["state"]})
        elif Decimal(str(other["amount"])) != p["amount"] or other["account_id"] != p["account_id"]:
            mismatch.append({"payment_id": p["payment_id"], "ours": p["amount"], "control": other["amount"]})
        else:
            matched.append({"payment_id": p["payment_id"], "amount": p["amount"], "account_id": p["account_id"]})
    ours_ids = {p["payment_id"] for p in ours}
    control_only = [{"payment_id": t["payment_id"], "account_id": t["account_id"], "amount": t["amount"],
                     "method": t.get("method")} for t in theirs if t["payment_id"] not in ours_ids]
    return {"customer_id": customer_id, "matched": matched, "missing_in_control": missing,
            "amount_mismatch": mismatch, "control_only": control_only, "balanced": not missing and not mismatch}


class PendingPayments:
    """Records the payments control did not take when they were made (it was down)."""

    def __init__(self, pool: asyncpg.Pool, up: Upstream, every_s: float) -> None:
        self._pool, self._up = pool, up
        self.worker = PeriodicWorker("pending-payments", self.step, every_s)

    async def step(self) -> int:
        async with self._pool.acquire() as conn:
            pending = await repo.pending(conn, 100)
        for payment in pending:
            try:
                await _record(self._pool, self._up, payment)
            except DomainError:  # control refused it: recorded on the payment as refused; go on with the others
                continue
        return len(pending)
