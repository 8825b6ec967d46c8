"""Class-3 data: the terminal's ERC records, filled from the seeded field schedule and from run-time actions.

Scheduled events are pulled from the truth lazily (each time the terminal is
about to talk) for the interval since the last pull, so no per-terminal timer
runs. Records: ERC14 power off/on, ERC12 meter clock out of tolerance, ERC37
meter cover opened, ERC3 parameter (F10 table) change, ERC35 unknown meter
found, ERC5 remote trip, ERC1 initialisation. A valve reporting closed while
water flows is *not* an event: the validator must find it in the data.
"""

from __future__ import annotations

from datetime import UTC, datetime

from emms_protocol.bcd import digits_to_bcd_le
from emms_protocol.gdw1376 import DataUnit
from emms_protocol.gdw1376.afn0e import EventBatch, EventRecord, EventRequest
from emms_protocol.gdw1376.afn04_0a import EventConfig
from emms_protocol.gdw1376.codec import DEFAULT_OPTIONS
from emms_protocol.gdw1376.formats import enc_a15
from emms_sim.field_events import FieldEvent
from emms_sim.terminal_state import TerminalState

F10_DADT = bytes((0, 0, 0x02, 0x01))  # p0 F10
_NO_POWER = b"\xee\xee\xee\xee"


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _pn_word(pn: int, started: bool = True) -> bytes:
    return ((pn & 0x0FFF) | (0x8000 if started else 0)).to_bytes(2, "little")


def record_for(event: FieldEvent) -> tuple[EventRecord, bool] | None:
    """The ERC record of a scheduled field event and whether it is important; None if none is reported."""
    at = _time(event.ts)
    if event.kind == "power_on":
        off = _time(float(event.detail["off_at"]))  # type: ignore[arg-type]
        return EventRecord.build(14, off, enc_a15(at, DEFAULT_OPTIONS)), True
    if event.kind == "meter_clock_drift":
        return EventRecord.build(12, at, _pn_word(event.pn)), False
    if event.kind == "cover_open":
        return EventRecord.build(37, at, _pn_word(event.pn)), True
    if event.kind in ("meter_replaced", "meter_removed"):
        return EventRecord.build(3, at, b"\x00" + F10_DADT), True
    if event.kind == "meter_added":
        address = str(event.detail.get("address", "0" * 12))[-12:]
        return EventRecord.build(35, at, bytes((31, 1)) + digits_to_bcd_le(address, 6)), False
    return None


def pull_scheduled(state: TerminalState, ts: float) -> list[EventRecord]:
    """Add the field events since the last pull to the logs; return the new important records."""
    if ts <= state.events_scanned_to:
        return []
    events = state.truth.schedule.events(state.index, state.events_scanned_to, ts)
    state.events_scanned_to = ts
    important: list[EventRecord] = []
    for event in events:
        found = record_for(event)
        if found is None:
            continue
        record, is_important = found
        add(state, record, is_important)
        if is_important:
            important.append(record)
        if event.kind == "meter_added":  # the concentrator also records its table change
            change = EventRecord.build(3, _time(event.ts), b"\x00" + F10_DADT)
            add(state, change, True)
            important.append(change)
    return important


def add(state: TerminalState, record: EventRecord, important: bool) -> None:
    """Record the event — as the master's AFN 04 F9 says when it set one: whether the ERC is recorded at all and
    whether it is important (class 1, raises ACD)."""
    config = state.params.get(9)
    if isinstance(config, EventConfig):
        if record.erc not in config.recorded:
            return
        important = record.erc in config.important
    (state.important if important else state.normal).add(record)


def param_change(state: TerminalState, ts: float, master: int, dadt: bytes = F10_DADT) -> EventRecord:
    record = EventRecord.build(3, state.clock(ts), bytes((master & 0xFF,)) + dadt)
    add(state, record, True)
    return record


def remote_trip(state: TerminalState, ts: float, pn: int) -> EventRecord:
    record = EventRecord.build(5, state.clock(ts), bytes((pn & 0xFF,)) + _NO_POWER)
    add(state, record, True)
    return record


def initialised(state: TerminalState, ts: float) -> EventRecord:
    record = EventRecord.build(1, state.clock(ts), b"\x01" + b"1.00" + b"1.00")
    add(state, record, True)
    return record


def class3(state: TerminalState, requested: list[DataUnit]) -> list[DataUnit]:
    out = []
    for unit in requested:
        if unit.pn != 0 or unit.fn not in (1, 2) or not isinstance(unit.value, EventRequest):
            continue
        log = state.important if unit.fn == 1 else state.normal
        records = log.between(unit.value.start, unit.value.end)
        end = (unit.value.start + len(records)) % 256
        ec1, ec2 = state.ec
        out.append(DataUnit(0, unit.fn, EventBatch(ec1, ec2, unit.value.start, end, tuple(records))))
        if unit.fn == 1:
            state.important_seen = ec1
    return out
