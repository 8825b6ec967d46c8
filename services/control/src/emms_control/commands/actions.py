"""What each remote-control action is, which switch it works on, and what state proves it was done.

Electricity meters have a relay, water / gas / heat meters a valve. Trip / allow close / direct close
work on a relay, valve close / valve open on a valve; protect on / off (保电) is the terminal's state
and works on any meter's terminal. An action the device cannot do is refused before anything is
created (422).
"""

from __future__ import annotations

from enum import StrEnum

from emms_runtime.errors import Invalid


class Action(StrEnum):
    TRIP = "trip"
    ALLOW_CLOSE = "allow_close"
    DIRECT_CLOSE = "direct_close"
    VALVE_CLOSE = "valve_close"
    VALVE_OPEN = "valve_open"
    PROTECT_ON = "protect_on"
    PROTECT_OFF = "protect_off"
    OPERATION = "operation"  # an arbitrary data-unit set (parameters, AFN05 Fn, forwarded frames)


class Origin(StrEnum):
    MANUAL = "manual"
    PREPAYMENT = "prepayment"
    QUANTITY = "quantity"
    SCHEDULE = "schedule"


AUTOMATIC = frozenset({Origin.PREPAYMENT, Origin.QUANTITY, Origin.SCHEDULE})
"""Origins that never cut a protected customer's supply."""

CUTTING = frozenset({Action.TRIP, Action.VALVE_CLOSE})
"""Actions that cut the supply (refused for protected customers unless overridden by hand)."""

RELAY = frozenset({Action.TRIP, Action.ALLOW_CLOSE, Action.DIRECT_CLOSE})
VALVE = frozenset({Action.VALVE_CLOSE, Action.VALVE_OPEN})
TERMINAL_WIDE = frozenset({Action.PROTECT_ON, Action.PROTECT_OFF})

EXPECTED_STATE = {Action.TRIP: "open", Action.ALLOW_CLOSE: "closed", Action.DIRECT_CLOSE: "closed",
                  Action.VALVE_CLOSE: "closed", Action.VALVE_OPEN: "open",
                  Action.PROTECT_ON: "protected", Action.PROTECT_OFF: "unprotected"}
"""The switch state read back that verifies the action: a relay ``open`` after a trip; a valve
``closed`` after valve close. An allowed close leaves the relay closable, and the simulator (like a
meter without a local button press) closes it: read back ``closed``. Protect on / off: the terminal's F5
reports protection in force / not."""


def switch_kind(utility: str) -> str:
    """``relay`` for electricity, ``valve`` for water / gas / heat, ``none`` otherwise."""
    if utility == "electricity":
        return "relay"
    if utility in ("water", "gas", "heat"):
        return "valve"
    return "none"


def check_capable(action: Action, meter_id: str, utility: str) -> None:
    """Raise :class:`Invalid` (422) when the meter cannot do the action."""
    kind = switch_kind(utility)
    if action in RELAY and kind != "relay":
        raise Invalid(f"meter {meter_id} ({utility or 'unknown utility'}) has no relay: {action.value} needs an"
                      " electricity meter (use valve_close / valve_open for a valve)")
    if action in VALVE and kind != "valve":
        raise Invalid(f"meter {meter_id} ({utility or 'unknown utility'}) has no valve: {action.value} needs a"
                      " water, gas or heat meter (use trip / allow_close / direct_close for a relay)")
