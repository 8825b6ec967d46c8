"""Setting an account's prepayment, and what a payment does in each mode — in the caller's transaction.

* ``configure``: the mode, thresholds, close action and (terminal / meter) price, checked against
  what the account's devices can do (``topology.refusal``: a 422 with the reason, nothing stored).
  Master mode evaluates the balance at once; meter mode queues the price for the meter (A010; for a
  DL/T 645 cost-control meter 04050101 and then one write per threshold, 04001001 / 02 / 03 / 05);
  terminal mode sends its rate and levels with each purchase.
* ``after_payment``: master mode evaluates (a payment may restore supply); terminal / meter mode
  turns the payment into one purchase — numbered 1, 2, 3 … per account, one per payment id (a
  repeated payment never reaches here: the payment book returns the recorded one first) — and
  queues it for the device (terminal mode: then "purchase control on", AFN05 F16).
* ``after_refund``: master mode evaluates (a refund may cut supply).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from emms_control import metrics
from emms_control.accounts import scope
from emms_control.commands import record_parameter_change
from emms_control.prepayment import master, topology, units
from emms_control.prepayment.bodies import PrepaymentBody
from emms_control.prepayment.rules import Mode
from emms_control.repository import accounts as accounts_repo
from emms_control.repository import prepayment as repo
from emms_db.connection import Connection
from emms_runtime import Conflict, Invalid, NotFound, Principal

ORIGIN = "prepayment"


async def visible_account(conn: Connection, principal: Principal, account_id: str, *, lock: bool) -> asyncpg.Record:
    row = await accounts_repo.account(conn, account_id, lock=lock)
    if row is None or not scope.sees(principal, row):
        raise NotFound(f"no account {account_id!r} in your data scope")
    return row


async def configure(pool: asyncpg.Pool, account_id: str, body: PrepaymentBody, principal: Principal) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        account = await visible_account(conn, principal, account_id, lock=True)
        if account["status"] != "open":
            raise Conflict(f"account {account_id} is closed")
        meters = await repo.active_meters(conn, account_id)
        reason = topology.refusal(body.mode, account["utility"], meters, await topology.devices(conn, meters)) \
            or topology.levels_refusal(body.mode, account["utility"], body.alarm_threshold, body.trip_threshold)
        if reason is not None:
            raise Invalid(reason)
        old = await repo.setting(conn, account_id, lock=True)
        if old is not None and old["mode"] != body.mode.value and old["state"] == "tripped":
            raise Conflict(f"account {account_id} is tripped in {old['mode']} mode; a payment restores it before"
                           " the mode changes")
        values = body.model_dump()
        values["mode"] = body.mode.value
        values["close_action"] = body.close_action.value
        await repo.upsert_setting(conn, account_id, values, "normal" if old is None else old["state"],
                                  principal.subject)
        before = None if old is None else {k: old[k] for k in ("mode", "alarm_threshold", "trip_threshold",
                                                                "close_action", "price")}
        for meter_id in meters:
            await record_parameter_change(conn, who=principal.subject, what="prepayment", origin="manual",
                                          meter_id=meter_id, before=before, after=values,
                                          reason=f"account {account_id}")
        if body.mode == Mode.MASTER:
            await master.evaluate_accounts(conn, [account_id], "settings")
        elif body.mode == Mode.METER:
            await _queue_meter_settings(conn, account_id, account["utility"], meters, body, old)
        return await describe(conn, account_id)


async def _queue_meter_settings(conn: Connection, account_id: str, utility: str, meters: list[str],
                                body: PrepaymentBody, old: asyncpg.Record | None) -> None:
    """The writes a meter-mode setting sends the meter: its price when it changed, and (a 645 cost-control
    meter) each threshold when the thresholds changed."""
    fresh = old is None or old["mode"] != Mode.METER.value
    price_changed = fresh or old is None or old["price"] != body.price
    levels_changed = fresh or old is None or (old["alarm_threshold"], old["trip_threshold"]) != (
        body.alarm_threshold, body.trip_threshold)
    for meter_id in meters:
        if price_changed:
            await repo.add_action(conn, ORIGIN, account_id, meter_id, "operation",
                                  f"price {body.price} for meter mode",
                                  {"kind": "price", "mode": body.mode.value, "price": str(body.price)})
        if utility == "electricity" and levels_changed:
            for di, amount in units.thresholds_645(body.alarm_threshold, body.trip_threshold):
                await repo.add_action(conn, ORIGIN, account_id, meter_id, "operation",
                                      f"threshold {di:08X} = {amount} for meter mode",
                                      {"kind": "threshold", "mode": body.mode.value, "di": f"{di:08X}",
                                       "amount": str(amount)})


async def describe(conn: Connection, account_id: str) -> dict[str, Any]:
    setting = await repo.setting(conn, account_id)
    if setting is None:
        raise NotFound(f"account {account_id} has no prepayment set")
    return {**dict(setting),
            "purchase_list": [dict(r) for r in await repo.purchases(conn, account_id)],
            "transitions": [dict(r) for r in await repo.transitions(conn, account_id, 1000)],
            "notices": [dict(r) for r in await repo.notices(conn, account_id, 1000)],
            "actions": [{**dict(r), "action_id": str(r["action_id"])}
                        for r in await repo.actions_of(conn, account_id=account_id, limit=1000)]}


async def after_payment(conn: Connection, account_id: str, payment_id: str, amount: Decimal) -> None:
    setting = await repo.setting(conn, account_id, lock=True)
    if setting is None:
        return
    if setting["mode"] == Mode.MASTER.value:
        await master.evaluate_accounts(conn, [account_id], "payment")
        return
    if await repo.purchase(conn, payment_id) is not None:
        return
    bought = await repo.add_purchase(conn, payment_id, account_id, amount)
    number = bought["purchase_number"]
    for meter_id in await repo.active_meters(conn, account_id):
        await repo.add_action(conn, ORIGIN, account_id, meter_id, "operation",
                              f"purchase {number} of {amount} ({setting['mode']} mode)",
                              {"kind": "purchase", "mode": setting["mode"], "purchase_number": number,
                               "amount": str(amount), "alarm": str(setting["alarm_threshold"]),
                               "trip": str(setting["trip_threshold"]), "price": str(setting["price"]),
                               "payment_id": payment_id, "customer": units.customer_number(account_id)})
        if setting["mode"] == Mode.TERMINAL.value:
            await repo.add_action(conn, ORIGIN, account_id, meter_id, "operation",
                                  f"purchase control on after purchase {number}",
                                  {"kind": "control_on", "mode": setting["mode"], "purchase_number": number})
    metrics.PREPAY_PURCHASES.labels(setting["mode"]).inc()


async def after_refund(conn: Connection, account_id: str) -> None:
    await master.evaluate_accounts(conn, [account_id], "refund")
