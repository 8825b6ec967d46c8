"""The collector's important operations in the duty log (R-4.6.7, ``emms.operation.log.v1``).

What an operations team must find in one place, with who, when, what and the result: collection task
changes (create, change, delete, a manual run), parameter pushes — the request and, once the terminal
confirmed and the value was read back (or it was refused, or gave up), the result —, terminal resets, a new
terminal accepted, a meter the concentrator reported adopted, clock syncs and the approval of a meter's sync.
Each entry is published after its operation committed and never fails it (``emms_runtime.oplog``); its
``entry_id`` is stable, so an entry published twice is kept once.
"""

from __future__ import annotations

from typing import Any

from emms_bus import BusProducer
from emms_runtime import oplog

SERVICE = "collector"


async def task_changed(producer: BusProducer | None, *, actor: str, action: str, task: dict[str, Any],
                       reason: str | None = None) -> bool:
    """``task.create`` / ``task.update`` / ``task.delete`` / ``task.run`` of one task (its public view)."""
    version = task.get("version", "")
    step = task.get("run_id", version)
    return await oplog.record(
        producer, service=SERVICE, category="task", action=action, actor=actor, target=f"task {task['id']}",
        reason=reason, entry_id=f"{SERVICE}/task/{task['id']}/{action}/{step}",
        detail={k: task[k] for k in ("name", "type", "target", "enabled", "version", "run_id", "slot") if k in task})


async def push_requested(producer: BusProducer | None, push: dict[str, Any]) -> bool:
    """An operator's parameter push stored (the result follows as its own entry)."""
    return await oplog.record(
        producer, service=SERVICE, category="parameter", action="parameter.push", actor=push["requested_by"],
        outcome="requested", target=f"F{push['fn']}", terminal=push["terminal"],
        entry_id=f"{SERVICE}/push/{push['id']}/requested",
        detail={"push_id": push["id"], "fn": push["fn"], "kind": push.get("kind"), "value": push["value"]})


async def push_finished(producer: BusProducer | None, push: dict[str, Any], state: str, detail: str) -> bool:
    """A push's result: ``done`` (confirmed, read back equal), ``mismatch``, ``denied`` or ``failed``; the
    measurement-point table pushed from master data (actor: the master-data change) included."""
    return await oplog.record(
        producer, service=SERVICE, category="parameter", action=f"parameter.push.{state}",
        actor=push["requested_by"], outcome=state, target=f"F{push['fn']}", terminal=push["terminal"],
        reason=detail, entry_id=f"{SERVICE}/push/{push['id']}/{state}",
        detail={"push_id": push["id"], "fn": push["fn"], "kind": push.get("kind")})


async def terminal_action(producer: BusProducer | None, *, category: str, action: str, actor: str, terminal: str,
                          action_id: int | str, outcome: str, detail: dict[str, Any] | None = None,
                          meter_id: str | None = None) -> bool:
    """An operator's action on a terminal (reset, acceptance, adoption, clock sync) with its outcome."""
    return await oplog.record(
        producer, service=SERVICE, category=category, action=action, actor=actor, outcome=outcome,
        target=f"terminal {terminal}", terminal=terminal, meter_id=meter_id,
        entry_id=f"{SERVICE}/{action}/{action_id}", detail=detail)


async def meter_sync_approved(producer: BusProducer | None, *, actor: str, sync_id: int,
                              result: dict[str, Any]) -> bool:
    """An operator approved a meter's clock sync; the outcome is the sync's (``synced``, ``still_off`` …)."""
    return await oplog.record(
        producer, service=SERVICE, category="approval", action="meter_clock_sync.approve", actor=actor,
        outcome=str(result.get("outcome")), target=f"meter clock sync {sync_id}", meter_id=result.get("meter_id"),
        reason=result.get("detail"), entry_id=f"{SERVICE}/meter_clock_sync/{sync_id}/approve")
