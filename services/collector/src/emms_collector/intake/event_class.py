"""Which events are important: the terminal class's ERC codes (R-4.5.4.3), when its class sets them."""

from __future__ import annotations

from collections.abc import Sequence

from emms_messages.events import DeviceEvent, EventClass


def classify(events: Sequence[DeviceEvent], important: set[int] | None) -> list[DeviceEvent]:
    """The events with their class decided by the terminal class's important ERC codes (as read when None)."""
    if important is None:
        return list(events)
    out = []
    for e in events:
        erc = int(e.code[3:]) if e.code.startswith("ERC") and e.code[3:].isdigit() else -1
        wanted = EventClass.IMPORTANT if erc in important else EventClass.NORMAL
        out.append(e if e.event_class is wanted else e.model_copy(update={"event_class": wanted}))
    return out
