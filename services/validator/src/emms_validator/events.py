"""What a device event means for VEE: valve closed / opened, power off / on, replacement, clock.

Events explain readings (zeros during an outage, a register restarting after a
replacement) or contradict them (volume advancing behind a closed valve). The
code → meaning table is a setting (``vee.event_codes``), since terminals and
the collector name events in their own ways.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_messages.events import DeviceEvent
from emms_validator.model import Finding
from emms_validator.rules.timing import clock_deviation
from emms_validator.state import MeterState

EVENT_ITEM = "event"


def _number(detail: dict[str, Any], *names: str) -> float | None:
    for n in names:
        value = detail.get(n)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def apply_event(event: DeviceEvent, meaning: str, state: MeterState,
                clock_tolerance_s: float | None) -> Finding | None:
    """Change the meter's state by one event; a clock event beyond tolerance is a finding."""
    t = event.occurred_at.timestamp()
    detail = event.detail
    if meaning == "valve_closed":
        state.valve(t, True)
    elif meaning == "valve_opened":
        state.valve(t, False)
    elif meaning == "power_off":
        state.power_off(t)
    elif meaning == "power_on":
        state.power_on(t)
    elif meaning == "power_cycle":
        _power_cycle(event, state)
    elif meaning == "meter_replaced":
        start = _number(detail, "start_value", "initial_reading", "new_start_value")
        state.replaced(t, start or 0.0)
    elif meaning == "clock_deviation" and clock_tolerance_s is not None:
        return _clock(event, clock_tolerance_s)
    return None


def _clock(event: DeviceEvent, tolerance_s: float) -> Finding | None:
    """A measured deviation is judged against the tolerance; a bare drift record (ERC 12) is one already."""
    t = event.occurred_at.timestamp()
    deviation = _number(event.detail, "deviation_s", "deviation", "clock_deviation_s")
    if deviation is not None:
        found = clock_deviation(deviation, tolerance_s)
        return Finding("clock_tolerance", EVENT_ITEM, t, {**found, "event": event.code}) if found else None
    if event.detail.get("started", True) is False:  # the drift ended
        return None
    return Finding("clock_tolerance", EVENT_ITEM, t, {"deviation_s": None, "tolerance_s": tolerance_s,
                                                      "event": event.code, "reported_by": "terminal"})


def _power_cycle(event: DeviceEvent, state: MeterState) -> None:
    """ERC14-style record: off and/or on times in the detail, or a state word."""
    off = event.detail.get("power_off_at")
    on = event.detail.get("power_on_at")
    if isinstance(off, str):
        state.power_off(datetime.fromisoformat(off).timestamp())
    if isinstance(on, str):
        state.power_on(datetime.fromisoformat(on).timestamp())
    if off is None and on is None:
        word = str(event.detail.get("state", "")).lower()
        if word == "off":
            state.power_off(event.occurred_at.timestamp())
        elif word == "on":
            state.power_on(event.occurred_at.timestamp())
