"""The standard procedure of a fault ticket: which state may follow which, and what each step needs.

    open ──► assigned ──► in_progress ──► resolved ──► closed
      │          ▲  │           │            │
      └──────────┴──┴─► escalated ◄──────────┘ (overdue: the escalation worker)
                                             resolved ──► in_progress (reopened)

* ``assigned`` needs an assignee (a reassignment is assigned → assigned);
* ``resolved`` may come from any open state (the fault cleared, or the work is done);
* ``closed`` only from ``resolved``, with a closing reason; a closed ticket never changes again;
* ``escalated`` is set by the escalation worker when a ticket is past its due time (or by hand);
  an escalated ticket that is overdue again escalates again (its count rises).

A forbidden step raises :class:`TransitionRefused` (a 409) naming what is allowed from the current state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from emms_runtime.errors import Conflict, Invalid


class State(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"


ACTIVE = frozenset({State.OPEN, State.ASSIGNED, State.IN_PROGRESS, State.ESCALATED})
"""States in which work is due (the escalation worker watches them)."""

ALLOWED: dict[State, frozenset[State]] = {
    State.OPEN: frozenset({State.ASSIGNED, State.ESCALATED, State.RESOLVED}),
    State.ASSIGNED: frozenset({State.ASSIGNED, State.IN_PROGRESS, State.ESCALATED, State.RESOLVED}),
    State.IN_PROGRESS: frozenset({State.ASSIGNED, State.ESCALATED, State.RESOLVED}),
    State.ESCALATED: frozenset({State.ASSIGNED, State.IN_PROGRESS, State.ESCALATED, State.RESOLVED}),
    State.RESOLVED: frozenset({State.CLOSED, State.IN_PROGRESS}),
    State.CLOSED: frozenset(),
}


class TransitionRefused(Conflict):
    """The procedure does not allow this step from the ticket's state (409)."""


def parse_state(value: str) -> State:
    try:
        return State(value)
    except ValueError:
        raise Invalid(f"unknown ticket state {value!r}; one of {[s.value for s in State]}") from None


def parse_severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise Invalid(f"unknown severity {value!r}; one of {[s.value for s in Severity]}") from None


def check(current: State, target: State, *, assignee: str | None, closing_reason: str | None) -> None:
    """Raise unless ``current → target`` is a step of the procedure with what it needs."""
    allowed = ALLOWED[current]
    if target not in allowed:
        if not allowed:
            raise TransitionRefused(f"the ticket is {current.value}: a closed ticket does not change")
        names = ", ".join(sorted(s.value for s in allowed))
        raise TransitionRefused(f"a ticket in state {current.value} cannot go to {target.value}; allowed: {names}")
    if target is State.ASSIGNED and not (assignee or "").strip():
        raise Invalid("assigning a ticket needs an assignee")
    if target is State.CLOSED and not (closing_reason or "").strip():
        raise Invalid("closing a ticket needs a closing_reason")


def due_at(severity: Severity, start: datetime, due_h: dict[str, float]) -> datetime:
    """When a ticket of this severity opened at ``start`` is due."""
    hours = due_h.get(severity.value)
    if hours is None:
        raise Invalid(f"no due time configured for severity {severity.value}")
    return start + timedelta(hours=hours)
