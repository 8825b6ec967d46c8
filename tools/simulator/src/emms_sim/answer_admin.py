"""Answers that change or describe the terminal: reset (01), set / query parameters (04 / 0A),
control (05), version (09) and transparent forwarding (10).

Each handler returns the data units of a response (queries, version,
forwarding) or whether the command was accepted (set, control, reset), plus
the side effects the session must carry out (reboot, drop the link).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from emms_protocol.gdw1376 import DataUnit, RawData
from emms_protocol.gdw1376.afn04_0a import (
    EventConfig,
    MasterAddress,
    MeterConfig,
    MeterConfigQuery,
    MeterRecord,
    PointBasicParams,
    TerminalAddress,
    UplinkCommParams,
)
from emms_protocol.gdw1376.afn05 import ProtectCommand
from emms_protocol.gdw1376.afn09 import VersionInfo
from emms_protocol.gdw1376.afn10 import ForwardReply, ForwardRequest
from emms_protocol.gdw1376.purchase import EnergyRates, PurchaseControl
from emms_protocol.gdw1376.tariff import TariffPeriods
from emms_sim import answer_events, answer_purchase, auth_param, collectors
from emms_sim.terminal_state import TableEntry, TerminalState

F5_DADT = bytes((0, 0, 0x10, 0))  # p0 F5, the ERC3 parameter-change record's DA/DT
VERSION = VersionInfo("EMMS", "SIM00001", "1.00", date(2026, 1, 1), "SIM-20000", "1376", "1.00", date(2026, 1, 1))


@dataclass(slots=True)
class Effects:
    """What the session must do after answering."""

    accepted: bool = True
    reboot: bool = False
    disconnect: bool = False
    runtime_events: list[dict[str, object]] = field(default_factory=list)
    important: list[object] = field(default_factory=list)


def _event(state: TerminalState, ts: float, kind: str, pn: int = 0, **detail: object) -> dict[str, object]:
    meter = state.meter_at(pn, ts) if pn else None
    return {"at": datetime.fromtimestamp(ts, tz=UTC).isoformat(), "kind": kind, "terminal": state.address.key,
            "terminal_index": state.index, "pn": pn, "meter_id": meter.meter_id if meter else None,
            "detail": detail, "source": "runtime"}


def refused(state: TerminalState, ts: float, kind: str, **detail: object) -> dict[str, object]:
    """The run-time event of a command the terminal refused (e.g. a wrong PW; the PW itself is not kept)."""
    return _event(state, ts, kind, 0, **detail)


def reset(state: TerminalState, units: list[DataUnit], ts: float) -> Effects:
    fns = {u.fn for u in units}
    effects = Effects(accepted=bool(fns) and fns <= {1, 2, 3, 4})
    if not effects.accepted:
        return effects
    if fns & {2, 3, 4}:
        state.important.records.clear()
        state.normal.records.clear()
    if fns & {3, 4}:
        state.reset_params()
        answer_purchase.reset_tariff(state, ts)
    for fn in fns:
        state.resets[f"F{fn}"] = state.resets.get(f"F{fn}", 0) + 1
    effects.reboot = 1 in fns
    effects.important.append(answer_events.initialised(state, ts))
    effects.runtime_events.append(_event(state, ts, "terminal_reset", fns=sorted(fns)))
    return effects


def set_params(state: TerminalState, units: list[DataUnit], ts: float, master: int) -> Effects:
    effects = Effects()
    for unit in units:
        value = unit.value
        if isinstance(value, UplinkCommParams):
            if not value.heartbeat_min:  # a terminal without a heartbeat would be dropped: refused (AFN00 deny)
                effects.accepted = False
                continue
            state.set_uplink(value)
        elif isinstance(value, MeterConfig):
            for record in value.records:
                state.set_entry(TableEntry(record.serial, record.pn, record.port, record.protocol, record.address,
                                           record.tariffs))
            effects.important.append(answer_events.param_change(state, ts, master))
            effects.runtime_events.append(_event(state, ts, "meter_table_changed",
                                                 records=[{"serial": r.serial, "pn": r.pn, "address": r.address}
                                                          for r in value.records]))
        elif isinstance(value, MasterAddress | PointBasicParams | TerminalAddress | EventConfig):
            state.params[unit.fn] = value
        elif isinstance(value, EnergyRates):
            answer_purchase.set_rates(state, value, ts)
        elif isinstance(value, TariffPeriods):
            answer_purchase.set_periods(state, value, ts)
        elif isinstance(value, PurchaseControl):
            effects.accepted = answer_purchase.set_purchase(state, unit.pn, value, ts) and effects.accepted
        elif unit.fn == 5 and isinstance(value, RawData) and (new := auth_param.password_of(value.data)):
            state.password = new  # the frame was checked with the old PW; the next one needs the new
            effects.important.append(answer_events.param_change(state, ts, master, F5_DADT))
            effects.runtime_events.append(_event(state, ts, "password_changed"))  # never the PW itself
        else:
            effects.accepted = False
    return effects


def query_params(state: TerminalState, units: list[DataUnit], ts: float) -> list[DataUnit]:
    out = []
    for unit in units:
        if unit.fn == 1:
            out.append(DataUnit(0, 1, state.uplink()))
        elif unit.fn == 10:
            wanted = set(unit.value.serials) if isinstance(unit.value, MeterConfigQuery) else set()
            records = tuple(_record(e, state.index) for e in state.entries(ts) if not wanted or e.serial in wanted)
            out.append(DataUnit(0, 10, MeterConfig(records)))
        elif unit.fn == 89:
            out.append(DataUnit(0, 89, TerminalAddress(state.address.area, state.address.terminal)))
        elif unit.fn == 9 and isinstance(state.params.get(9), EventConfig):
            out.append(DataUnit(0, 9, state.params[9]))
        elif unit.fn in (21, 22, 47):
            found = answer_purchase.query(state, unit, ts)
            if found is not None:
                out.append(found)
        elif unit.fn in state.params:
            out.append(DataUnit(unit.pn, unit.fn, state.params[unit.fn]))
    return out


def _record(entry: TableEntry, terminal_index: int) -> MeterRecord:
    collector = collectors.collector_of_pn(terminal_index, entry.pn) if entry.pn else "000000000000"
    return MeterRecord(entry.serial, entry.pn, entry.port, 0, entry.protocol, entry.address[-12:], "000000000000",
                       entry.tariffs, 6, 2, collector, 0, 0)


def control(state: TerminalState, units: list[DataUnit], ts: float) -> Effects:
    effects = Effects()
    for unit in units:
        if unit.fn in (1, 2):
            _switch(state, unit, ts, effects)
        elif unit.fn in (25, 33):
            _protection(state, unit, ts, effects)
        elif unit.fn in (16, 24):
            effects.accepted = answer_purchase.set_control(state, unit.pn, unit.fn == 16, ts) and effects.accepted
        elif unit.fn == 31 and isinstance(unit.value, datetime):
            before = state.clock_offset(ts)
            state.set_clock(unit.value, ts)
            effects.runtime_events.append(_event(state, ts, "time_sync", offset_before_s=round(before, 3)))
        elif unit.fn in (29, 37):
            state.reporting = unit.fn == 29
        elif unit.fn == 38:
            pass  # the link is up: nothing to do
        elif unit.fn == 39:
            effects.disconnect = True
        else:
            effects.accepted = False
    return effects


def _switch(state: TerminalState, unit: DataUnit, ts: float, effects: Effects) -> None:
    """F1 trip / F2 allow closing of the meter at measurement point pn (the simulator's reading of pn)."""
    meter = state.meter_at(unit.pn, ts)
    trip = unit.fn == 1
    if meter is None or (trip and state.protected(ts)):  # a protected terminal refuses to trip
        effects.accepted = False
        return
    state.truth.ledger.set_cut_off(meter.meter_id, ts, trip)
    if trip:
        effects.important.append(answer_events.remote_trip(state, ts, unit.pn))
    effects.runtime_events.append(_event(state, ts, "remote_trip" if trip else "allow_close", unit.pn))


def _protection(state: TerminalState, unit: DataUnit, ts: float, effects: Effects) -> None:
    """F25 protection on for its duration (0 = until released; a new F25 replaces the running one), F33 off."""
    ledger = state.truth.ledger
    if unit.fn == 33:
        if ledger.release(state.address.key, ts):
            effects.runtime_events.append(_event(state, ts, "protection_off"))
        return
    if not isinstance(unit.value, ProtectCommand):
        effects.accepted = False
        return
    duration = unit.value.duration
    until = None if duration is None else ts + duration.total_seconds()
    ledger.protect(state.address.key, ts, until)
    effects.runtime_events.append(_event(
        state, ts, "protection_on", duration_half_hours=unit.value.duration_half_hours,
        until=None if until is None else datetime.fromtimestamp(until, tz=UTC).isoformat()))


def version(units: list[DataUnit]) -> list[DataUnit]:
    return [DataUnit(0, 1, VERSION) for u in units if u.fn == 1]


def forward(state: TerminalState, units: list[DataUnit], ts: float) -> tuple[list[DataUnit], list[dict[str, object]]]:
    out, events = [], []
    for unit in units:
        if unit.fn != 1 or not isinstance(unit.value, ForwardRequest):
            continue
        before = state.truth.ledger.touched_count()
        reply = state.bus.answer(unit.value.payload, ts)
        if state.truth.ledger.touched_count() != before or _is_control(unit.value.payload):
            events.append(_event(state, ts, "forwarded_command", payload=unit.value.payload.hex()))
        if reply is None and not _is_control(unit.value.payload):
            continue  # the meter did not answer: the unit is denied
        out.append(DataUnit(0, 1, ForwardReply(unit.value.port, reply or b"")))
    return out, events


def _is_control(payload: bytes) -> bool:
    start = 0
    while start < len(payload) and payload[start] == 0xFE:
        start += 1
    tail = payload[start:]
    if len(tail) > 8 and tail[7] == 0x68:
        return tail[8] in (0x1C, 0x08)
    return len(tail) > 9 and tail[9] == 0x04
