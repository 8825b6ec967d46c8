"""Hand the actions prepayment and quantity control decided to the command path (``emms_control.commands``).

An action row (``control.auto_action``) is written in the same transaction as the decision (a
state transition, a purchase, a period exceeded). This worker takes waiting rows (``FOR UPDATE SKIP
LOCKED``) in decision order and, in the same transaction, submits each as a command job — ``submit_command`` for a
trip / close / valve action, ``submit_device_operation`` for data units to a device (a purchase,
cost-control parameters) — and marks the row taken with the job id: exactly one job per action,
whatever crashes. A refusal of the command path (a protected customer — automatic origins never cut
one —, an unknown device, an action the device cannot do) is final and recorded on the row
(``outcome = "refused: …"``); a rate limit leaves the row waiting for the next round. A meter's actions
go one after the other: one waits until the job of the one decided before it has a final result.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import structlog

from emms_control import commands, metrics
from emms_control.prepayment import units
from emms_control.repository import prepayment as repo
from emms_control.schema import SCHEMA
from emms_db.connection import Connection
from emms_runtime.errors import DomainError, NotFound, TooManyRequests

log = structlog.get_logger("emms.control.prepayment")
REQUESTED_BY = "control:prepayment"


async def _turn(conn: Connection, row: asyncpg.Record) -> str | None:
    """None when the action may go now; ``"waiting"`` while the meter's previous action is not done (a trip and
    the close after it, a purchase and the "control on" after it, never race); ``"refused: …"`` when the
    previous was a purchase that failed (control goes on only over a purchase the device took)."""
    before = await repo.previous_action(conn, row["meter_id"], row["seq"])
    if before is None or (before["taken_at"] is not None and not before["command_ref"]):
        return None  # first, or the previous never became a job (refused)
    if before["taken_at"] is None:
        return "waiting"
    status = await commands.job_status(conn, before["command_ref"])
    if status["finished_devices"] < status["total"]:
        return "waiting"
    failed = status["counts"].get("failed", 0) + status["counts"].get("cancelled", 0)
    if failed and row["action"] == "operation" and _payload(row).get("kind") == "control_on":
        return f"refused: purchase job {before['command_ref']} did not succeed"
    return None


def _payload(row: asyncpg.Record) -> dict[str, Any]:
    return row["payload"] if isinstance(row["payload"], dict) else _json(row["payload"])


async def hand_over(conn: Connection, row: asyncpg.Record) -> str:
    """Submit one action (in a savepoint) when its turn has come; returns the outcome stored on the row."""
    turn = await _turn(conn, row)
    if turn == "waiting":
        return turn
    if turn is not None:
        await repo.mark_taken(conn, row["action_id"], "", turn)
        metrics.AUTO_ACTIONS.labels(row["origin"], "refused").inc()
        return turn
    payload = _payload(row)
    try:
        async with conn.transaction():
            if row["action"] == "operation":
                job_id = await _operation(conn, row, payload)
            else:
                job_id = await commands.submit_command(
                    conn, meter_ids=[row["meter_id"]], action=row["action"], origin=row["origin"],
                    reason=row["reason"], requested_by=f"control:{row['origin']}")
    except TooManyRequests:
        return "waiting"
    except DomainError as exc:
        outcome = f"refused: {exc.reason}"
        await repo.mark_taken(conn, row["action_id"], "", outcome)
        log.warning("automatic action refused by the command path", action_id=str(row["action_id"]),
                    meter_id=row["meter_id"], action=row["action"], reason=exc.reason)
        metrics.AUTO_ACTIONS.labels(row["origin"], "refused").inc()
        return outcome
    await repo.mark_taken(conn, row["action_id"], job_id, "submitted")
    metrics.AUTO_ACTIONS.labels(row["origin"], "submitted").inc()
    return "submitted"


async def _operation(conn: Connection, row: asyncpg.Record, payload: dict[str, Any]) -> str:
    device = await conn.fetchrow(f"SELECT terminal, pn, port, protocol, meter_address, utility FROM {SCHEMA}.devices"
                                 " WHERE meter_id = $1", row["meter_id"])
    if device is None:
        raise NotFound(f"unknown device(s): {row['meter_id']}")
    plan = units.plan(payload, dict(device))
    return await commands.submit_device_operation(
        conn, afn=plan.afn, units=plan.units, origin=row["origin"], reason=row["reason"],
        requested_by=f"control:{row['origin']}", meter_id=row["meter_id"], verify=plan.verify, what=plan.what)


def _json(raw: Any) -> dict[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else dict(raw)
    assert isinstance(value, dict)
    return value


async def dispatch_waiting(pool: asyncpg.Pool, batch: int = 100) -> int:
    """One round: every waiting action (up to ``batch``) handed over; how many were taken."""
    taken = 0
    async with pool.acquire() as conn, conn.transaction():
        for row in await repo.waiting_actions(conn, batch):
            if await hand_over(conn, row) != "waiting":
                taken += 1
    return taken
