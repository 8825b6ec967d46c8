"""The master-executed prepayment rule: where a balance stands against an account's thresholds, and
what a change of that standing does — each transition once.

States: ``normal`` (balance above the alarm threshold), ``alarm`` (at or below it, above the trip
threshold), ``tripped`` (at or below the trip threshold: supply cut). The stored state is the last
one acted on, so evaluating the same balance again (a redelivered batch, a repeated payment)
yields no step. Steps:

* normal → alarm: an alarm (event + outbound notice);
* normal / alarm → tripped: a cut (trip or valve close, origin ``prepayment``) and its notice;
* tripped → alarm / normal (a payment lifted the balance above the trip threshold): a restore
  (allow close or direct close for a relay, valve open for a valve) and its notice;
* alarm → normal: the alarm clears (a notice, no command).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class State(StrEnum):
    NORMAL = "normal"
    ALARM = "alarm"
    TRIPPED = "tripped"


class Mode(StrEnum):
    MASTER = "master"
    TERMINAL = "terminal"
    METER = "meter"


class CloseAction(StrEnum):
    ALLOW_CLOSE = "allow_close"
    DIRECT_CLOSE = "direct_close"


@dataclass(frozen=True, slots=True)
class Thresholds:
    alarm: Decimal
    trip: Decimal

    def __post_init__(self) -> None:
        if not self.alarm > self.trip:
            raise ValueError(f"the alarm threshold {self.alarm} must be above the trip threshold {self.trip}")


@dataclass(frozen=True, slots=True)
class Step:
    """What one evaluation does: the new state, the notice kind, the command (None: no command)."""

    before: State
    after: State
    notice: str
    command: str | None


def standing(balance: Decimal, thresholds: Thresholds) -> State:
    if balance <= thresholds.trip:
        return State.TRIPPED
    if balance <= thresholds.alarm:
        return State.ALARM
    return State.NORMAL


def cut_action(utility: str) -> str:
    return "trip" if utility == "electricity" else "valve_close"


def restore_action(utility: str, close: CloseAction) -> str:
    return close.value if utility == "electricity" else "valve_open"


def evaluate(state: State, balance: Decimal, thresholds: Thresholds, utility: str,
             close: CloseAction = CloseAction.ALLOW_CLOSE) -> Step | None:
    """The step from ``state`` for ``balance``; None when nothing changes."""
    target = standing(balance, thresholds)
    if target == state:
        return None
    if target == State.TRIPPED:
        return Step(state, target, "trip", cut_action(utility))
    if state == State.TRIPPED:
        return Step(state, target, "restore", restore_action(utility, close))
    if target == State.ALARM:
        return Step(state, target, "alarm", None)
    return Step(state, target, "alarm_cleared", None)
