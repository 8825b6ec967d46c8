"""Event records (AFN 0E, ERC) → ``DeviceEvent`` (R-4.2.3c, R-4.5.4.3).

F1 carries important events, F2 normal ones. A record about a measurement
point (ERC 12 meter clock drift, 13 meter fault, 31 read failure, 33 status
word change) is attributed to the meter on that point. ERC 12 is also the
meter clock-deviation event of layered time synchronisation (R-4.6.1.5): the
caller hands it to the time-sync component for approval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emms_collector.repository.points import Point
from emms_messages.events import DeviceEvent, EventClass

ERC_NAMES = {1: "initialisation / version change", 2: "parameter loss", 3: "parameter change", 4: "state change",
             5: "remote trip", 6: "power-control trip", 7: "energy-control trip", 8: "meter parameter change",
             9: "current loop fault", 10: "voltage loop fault", 11: "phase sequence fault", 12: "meter clock drift",
             13: "meter fault", 14: "terminal power off / on", 31: "RS-485 read failure",
             32: "traffic over limit", 33: "meter status word change", 35: "unknown meter found"}
METER_CLOCK_ERC = 12


@dataclass(frozen=True, slots=True)
class MeterClockEvent:
    terminal: str
    meter_id: str | None
    pn: int
    occurred_at: datetime
    started: bool


def _time(text: Any, fallback: datetime) -> datetime:
    if not text:
        return fallback
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return fallback
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def events_of(frames: list[dict[str, Any]], terminal: str, points: Mapping[int, Point], received_at: datetime,
              ) -> tuple[list[DeviceEvent], list[MeterClockEvent]]:
    """Device events in AFN 0E frames (their JSON view), and the meter clock events among them."""
    out: list[DeviceEvent] = []
    clocks: list[MeterClockEvent] = []
    for frame in frames:
        if int(frame.get("afn") or 0) != 0x0E:
            continue
        for unit in frame.get("units") or []:
            batch = unit.get("value") if isinstance(unit, dict) else None
            if not isinstance(batch, dict):
                continue
            event_class = EventClass.IMPORTANT if unit.get("fn") == 1 else EventClass.NORMAL
            for record in batch.get("records") or []:
                event, clock = _one(record, terminal, points, received_at, event_class)
                if event is not None:
                    out.append(event)
                if clock is not None:
                    clocks.append(clock)
    return out, clocks


def _one(record: dict[str, Any], terminal: str, points: Mapping[int, Point], received_at: datetime,
         event_class: EventClass) -> tuple[DeviceEvent | None, MeterClockEvent | None]:
    erc = record.get("erc")
    if not isinstance(erc, int):
        return None, None
    occurred = _time(record.get("occurred_at"), received_at)
    detail = dict(record.get("detail") or {})
    pn = detail.get("pn")
    point = points.get(pn) if isinstance(pn, int) else None
    detail.update({"erc": erc, "name": ERC_NAMES.get(erc, f"ERC {erc}"), "raw": record.get("data", "")})
    event = DeviceEvent(terminal=terminal, meter_id=point.meter_id if point else None, code=f"ERC{erc}",
                        event_class=event_class, occurred_at=occurred, received_at=received_at, detail=detail)
    clock = None
    if erc == METER_CLOCK_ERC and isinstance(pn, int):
        clock = MeterClockEvent(terminal, point.meter_id if point else None, pn, occurred,
                                bool(detail.get("started", True)))
    return event, clock
