"""Tickets in the database: opened from faults (one per fault) or by hand, moved through the procedure,
escalated when overdue, resolved when their fault clears; each step in the ticket's history and the duty log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_operations.repository import oplog as oplog_sql
from emms_operations.repository import tickets as sql
from emms_operations.tickets.procedure import ACTIVE, Severity, State, check, due_at, parse_state
from emms_runtime.errors import NotFound

SYSTEM = "operations"


async def _log(conn: Connection, ticket: dict[str, Any], action: str, actor: str, at: datetime,
               reason: str | None, detail: dict[str, Any]) -> None:
    await oplog_sql.insert_many(conn, [(
        f"operations/ticket/{ticket['ticket_id']}/{uuid.uuid4().hex}", "operations", "ticket", action, actor, at,
        "success", f"ticket {ticket['ticket_id']}", None, None, reason,
        {"subject": ticket["subject"], "level": ticket["level"], "state": ticket["state"], **detail})])


async def open_for_fault(conn: Connection, fault: dict[str, Any], due_h: dict[str, float],
                         at: datetime) -> dict[str, Any] | None:
    """The fault's ticket, opened now; None when it has one (redelivery, a second detector replica)."""
    severity = Severity(fault["severity"])
    ticket = await sql.insert(conn, fault_id=fault["fault_id"], title=fault["summary"], level=fault["level"],
                              subject=fault["subject"], severity=severity.value,
                              due_at=due_at(severity, at, due_h), created_by=SYSTEM, at=at)
    if ticket is not None:
        await sql.add_history(conn, ticket["ticket_id"], at, None, State.OPEN.value, SYSTEM,
                              f"opened for fault {fault['fault_id']} ({fault['kind']})")
        await _log(conn, ticket, "ticket.opened", SYSTEM, at, fault["summary"], {"fault_id": fault["fault_id"]})
    return ticket


async def open_by_hand(conn: Connection, *, title: str, level: str, subject: str, severity: Severity,
                       actor: str, assignee: str | None, due_h: dict[str, float], at: datetime) -> dict[str, Any]:
    state = State.ASSIGNED if assignee else State.OPEN
    ticket = await sql.insert(conn, fault_id=None, title=title, level=level, subject=subject,
                              severity=severity.value, due_at=due_at(severity, at, due_h), created_by=actor, at=at,
                              assignee=assignee, state=state.value)
    assert ticket is not None
    await sql.add_history(conn, ticket["ticket_id"], at, None, state.value, actor, "opened by hand")
    await _log(conn, ticket, "ticket.opened", actor, at, title, {"assignee": assignee})
    return ticket


async def transition(conn: Connection, ticket_id: int, target: str, *, actor: str, assignee: str | None,
                     closing_reason: str | None, note: str, at: datetime) -> dict[str, Any]:
    """Move a ticket one step of the procedure (409 with the reason when the procedure forbids it)."""
    ticket = await sql.get(conn, ticket_id, for_update=True)
    if ticket is None:
        raise NotFound(f"no ticket {ticket_id}")
    current, goal = State(ticket["state"]), parse_state(target)
    check(current, goal, assignee=assignee, closing_reason=closing_reason)
    fields: dict[str, Any] = {"state": goal.value}
    if goal is State.ASSIGNED:
        fields["assignee"] = (assignee or "").strip()
    if goal is State.RESOLVED:
        fields["resolved_at"] = at
    if goal is State.CLOSED:
        fields["closed_at"], fields["closing_reason"] = at, (closing_reason or "").strip()
    if goal is State.ESCALATED:
        fields["escalations"] = ticket["escalations"] + 1
    if current is State.RESOLVED and goal is State.IN_PROGRESS:
        fields["resolved_at"] = None
    updated = await sql.update(conn, ticket_id, at, **fields)
    text = note or (f"assigned to {fields['assignee']}" if goal is State.ASSIGNED else "")
    await sql.add_history(conn, ticket_id, at, current.value, goal.value, actor, text)
    await _log(conn, updated, f"ticket.{goal.value}", actor, at, closing_reason or note or None,
               {"from": current.value, "assignee": updated["assignee"]})
    return updated


async def escalate_overdue(conn: Connection, due_h: dict[str, float], at: datetime) -> list[dict[str, Any]]:
    """Escalate every active ticket past its due time; its next due time is one more period of its severity."""
    out = []
    for ticket in await sql.overdue(conn, [s.value for s in ACTIVE], at):
        severity = Severity(ticket["severity"])
        updated = await sql.update(conn, ticket["ticket_id"], at, state=State.ESCALATED.value,
                                   escalations=ticket["escalations"] + 1, due_at=due_at(severity, at, due_h))
        await sql.add_history(conn, ticket["ticket_id"], at, ticket["state"], State.ESCALATED.value, SYSTEM,
                              f"overdue since {ticket['due_at'].isoformat()} (escalation {updated['escalations']})")
        await _log(conn, updated, "ticket.escalated", SYSTEM, at, "overdue",
                   {"from": ticket["state"], "due_at": ticket["due_at"], "escalations": updated["escalations"]})
        out.append(updated)
    return out


async def resolve_for_cleared(conn: Connection, fault_ids: list[int], at: datetime) -> list[dict[str, Any]]:
    """The tickets of cleared faults still being worked on move to resolved (an operator closes them)."""
    out = []
    for ticket in await sql.by_faults(conn, fault_ids):
        if State(ticket["state"]) not in ACTIVE:
            continue
        updated = await sql.update(conn, ticket["ticket_id"], at, state=State.RESOLVED.value, resolved_at=at)
        await sql.add_history(conn, ticket["ticket_id"], at, ticket["state"], State.RESOLVED.value, SYSTEM,
                              f"fault {ticket['fault_id']} cleared")
        await _log(conn, updated, "ticket.resolved", SYSTEM, at, "fault cleared", {"from": ticket["state"]})
        out.append(updated)
    return out
