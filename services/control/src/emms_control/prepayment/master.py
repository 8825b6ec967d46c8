"""Master-executed prepayment: evaluate accounts after their balance changed, in the caller's transaction.

Called after charges (the ``control-charges`` consumer, same transaction as the inbox claim) and
after payments and refunds (same transaction as the ledger entry). The account's setting row is
locked, its state compared with the balance (``rules.evaluate``); a step stores the new state and
its transition, an outbound notice, and — for a cut or a restore — one action per active meter of
the account for the command path (origin ``prepayment``). A redelivered batch or a repeated
payment leaves the balance, so the state, unchanged: no second step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from emms_control import metrics
from emms_control.prepayment.rules import CloseAction, State, Step, Thresholds, evaluate
from emms_control.repository import prepayment as repo
from emms_db.connection import Connection

ORIGIN = "prepayment"
MESSAGES = {
    "alarm": "balance {balance} is at or below the alarm threshold {alarm}: please top up",
    "trip": "balance {balance} is at or below the trip threshold {trip}: supply cut until a payment",
    "restore": "balance {balance} is above the trip threshold {trip} again: supply restored",
    "alarm_cleared": "balance {balance} is above the alarm threshold {alarm} again",
}


@dataclass
class Evaluated:
    steps: list[tuple[str, Step]] = field(default_factory=list)
    actions: int = 0


async def evaluate_accounts(conn: Connection, account_ids: Sequence[str], cause: str) -> Evaluated:
    """Evaluate the master-mode accounts among ``account_ids`` (others are ignored)."""
    out = Evaluated()
    if not account_ids:
        return out
    for row in await repo.master_accounts(conn, sorted(set(account_ids))):
        if row["status"] != "open":
            continue
        thresholds = Thresholds(row["alarm_threshold"], row["trip_threshold"])
        balance: Decimal = row["balance"]
        step = evaluate(State(row["state"]), balance, thresholds, row["utility"], CloseAction(row["close_action"]))
        if step is None:
            continue
        account_id = row["account_id"]
        await repo.set_state(conn, account_id, step.before.value, step.after.value, balance, cause)
        message = MESSAGES[step.notice].format(balance=balance, alarm=thresholds.alarm, trip=thresholds.trip)
        await repo.notify(conn, account_id, None, step.notice, message,
                          {"balance": str(balance), "alarm_threshold": str(thresholds.alarm),
                           "trip_threshold": str(thresholds.trip), "state": step.after.value, "cause": cause})
        if step.command is not None:
            for meter_id in await repo.active_meters(conn, account_id):
                await repo.add_action(conn, ORIGIN, account_id, meter_id, step.command, message,
                                      {"balance": str(balance), "state": step.after.value})
                out.actions += 1
        metrics.PREPAY_TRANSITIONS.labels(step.before.value, step.after.value).inc()
        out.steps.append((account_id, step))
    return out
