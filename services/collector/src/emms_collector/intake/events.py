"""Event records (AFN 0E, ERC) → ``DeviceEvent`` (R-4.2.3c, R-4.5.4.3).

Records arrive typed (``EventBatch`` / ``EventRecord`` decoded from the frame's
bytes by :mod:`emms_collector.reading.answers`). F1 carries important events, F2
normal ones. A record about a measurement point (ERC 12 meter clock drift, 13 meter fault, 31 read failure, 33 status
word change) is attributed to the meter on that point. ERC 12 is also the
meter clock-deviation event of layered time synchronisation (R-4.6.1.5): the
caller hands it to the time-sync component for approval.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from emms_collector.reading.answers import TypedFrame
from emms_collector.repository.points import Point
from emms_messages.events import DeviceEvent, EventClass
from emms_protocol.gdw1376.afn0e import EventBatch, EventRecord, PointEvent
from emms_protocol.gdw1376.json_view import to_jsonable

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


def _utc(moment: datetime | None, fallback: datetime) -> datetime:
    if moment is None:
        return fallback
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def events_of(frames: Iterable[TypedFrame], terminal: str, points: Mapping[int, Point], received_at: datetime,
              ) -> tuple[list[DeviceEvent], list[MeterClockEvent]]:
    """Device events in AFN 0E frames, and the meter clock events among them."""
    out: list[DeviceEvent] = []
    clocks: list[MeterClockEvent] = []
    for frame in frames:
        if frame.afn != 0x0E:
            continue
        for unit in frame.units:
            batch = unit.value
            if not isinstance(batch, EventBatch):
                continue
            event_class = EventClass.IMPORTANT if unit.fn == 1 else EventClass.NORMAL
            for record in batch.records:
                event, clock = _one(record, terminal, points, received_at, event_class)
                out.append(event)
                if clock is not None:
                    clocks.append(clock)
    return out, clocks


def _detail(record: EventRecord) -> dict[str, Any]:
    """The record's typed detail as the event's JSON detail (its fields, as before: no type tag)."""
    if record.detail is None:
        return {}
    return {f.name: to_jsonable(getattr(record.detail, f.name)) for f in dataclasses.fields(record.detail)}


def _one(record: EventRecord, terminal: str, points: Mapping[int, Point], received_at: datetime,
         event_class: EventClass) -> tuple[DeviceEvent, MeterClockEvent | None]:
    erc = record.erc
    occurred = _utc(record.occurred_at, received_at)
    detail = _detail(record)
    pn = record.detail.pn if isinstance(record.detail, PointEvent) else None
    point = points.get(pn) if pn is not None else None
    detail.update({"erc": erc, "name": ERC_NAMES.get(erc, f"ERC {erc}"), "raw": record.data.hex()})
    event = DeviceEvent(terminal=terminal, meter_id=point.meter_id if point else None, code=f"ERC{erc}",
                        event_class=event_class, occurred_at=occurred, received_at=received_at, detail=detail)
    clock = None
    if erc == METER_CLOCK_ERC and isinstance(record.detail, PointEvent):
        clock = MeterClockEvent(terminal, point.meter_id if point else None, record.detail.pn, occurred,
                                record.detail.started)
    return event, clock
