"""Prepayment purses in the simulator: a concentrator's purchase control (AFN04 F22 / F47, AFN05 F16 / F24,
AFN0C F23, ERC23 / ERC7) and a prepaid CJ/T 188 meter (A010 / A013 / 8105), counted down with the modelled
consumption, alarming and cutting once at the crossing, restored by a purchase — all through real frames,
with the ground truth (register, relay / valve, purse) agreeing at every step."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from emms_protocol.cjt188 import decode_frame as decode_188
from emms_protocol.cjt188 import purchase as p188
from emms_protocol.gdw1376 import DataUnit, decode_units
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn0e import EventRequest
from emms_protocol.gdw1376.purchase import EnergyRates, PurchaseControl, RemainingAmount
from emms_sim.answers import Outcome, answer
from emms_sim.fleet import FieldRates, FleetConfig, MeterSpec
from emms_sim.http_api import create_app
from emms_sim.meter_side import METER_TYPE_188
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0


def _state(utility: str) -> tuple[TerminalState, MeterSpec]:
    truth = GroundTruth(FleetConfig(seed=11, concentrators=6, meters_per=12, rates=FieldRates.quiet()))
    for index in truth.fleet.terminals():
        for meter in truth.fleet.meters_of(index):
            if meter.utility == utility and meter.present(T0) and meter.pn <= 8 and meter.replaced_at is None:
                return TerminalState(truth, index, started_ts=T0 - 86400.0), meter
    raise AssertionError(f"no {utility} meter in the fleet")


def _ask(state: TerminalState, afn: int, units: list[DataUnit], ts: float) -> Outcome:
    return answer(state, b.request(state.address, afn, units, 1), ts)


def _confirmed(outcome: Outcome) -> bool:
    (frame,) = outcome.frames
    return frame.afn == 0x00 and decode_units(frame)[0].fn == 1


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _remaining(state: TerminalState, group: int, ts: float) -> int:
    (frame,) = _ask(state, 0x0C, [DataUnit(group, 23, None)], ts).frames
    (unit,) = decode_units(frame)
    assert isinstance(unit.value, RemainingAmount) and unit.value.remaining is not None
    return unit.value.remaining


def test_a_concentrators_purse_counts_down_alarms_trips_once_and_a_purchase_restores_it() -> None:
    state, meter = _state("electricity")
    pn, truth = meter.pn, state.truth
    rate = 800  # 厘 per kWh
    purchase = PurchaseControl(1, False, 20_000, 12_000, 4_000)
    assert _confirmed(_ask(state, 0x04, [DataUnit(0, 22, EnergyRates((None,)))], T0))
    assert not _confirmed(_ask(state, 0x04, [DataUnit(pn, 47, purchase)], T0))  # no rate 1: refused
    assert _confirmed(_ask(state, 0x04, [DataUnit(0, 22, EnergyRates((rate,))), DataUnit(pn, 47, purchase)], T0))
    assert _confirmed(_ask(state, 0x05, [DataUnit(pn, 16, None)], T0))
    assert truth.purse_states(meter.meter_id, _at(T0))[0]["remaining"] == 20_000
    start = truth.truth(meter.meter_id, "energy.active.import.total", _at(T0))
    assert start is not None

    ts, seen = T0, []
    while not truth.purses.get(f"{state.address.key}/{pn}").tripped:  # type: ignore[union-attr]
        ts += HOUR
        seen.append(_remaining(state, pn, ts))
        assert ts < T0 + 60 * 86400, "the purse never tripped"
    (purse,) = truth.purse_states(meter.meter_id, _at(ts))
    kinds = [e["kind"] for e in purse["history"]]
    assert kinds == ["purchase", "control_on", "alarm", "trip"]  # each once
    alarm_at, trip_at = (e["ts"] for e in purse["history"][2:])
    assert T0 < alarm_at < trip_at <= ts
    used = truth.truth(meter.meter_id, "energy.active.import.total", _at(trip_at))
    assert used is not None and abs(20_000 - (used - start) * rate - 4_000) <= rate * 0.02  # display resolution
    assert truth.truth(meter.meter_id, "relay.state", _at(trip_at + 1)) == 0.0
    assert truth.truth(meter.meter_id, "relay.state", _at(trip_at - 1)) == 1.0
    frozen = truth.truth(meter.meter_id, "energy.active.import.total", _at(ts + 5 * HOUR))
    assert frozen == truth.truth(meter.meter_id, "energy.active.import.total", _at(trip_at + 1))
    assert _remaining(state, pn, ts + 5 * HOUR) == seen[-1]  # no consumption while cut
    ercs = [r.erc for r in state.important.records]
    assert ercs.count(23) == 1 and ercs.count(7) == 1 and 19 in ercs
    events = _ask(state, 0x0E, [DataUnit(0, 1, EventRequest(0, state.important.counter))], ts).frames
    assert events and decode_units(events[0])

    later = ts + 6 * HOUR
    again = PurchaseControl(2, False, 30_000, 12_000, 4_000)
    assert _confirmed(_ask(state, 0x04, [DataUnit(pn, 47, again)], later))
    assert truth.truth(meter.meter_id, "relay.state", _at(later + 1)) == 1.0
    assert _remaining(state, pn, later) == seen[-1] + 30_000
    assert _confirmed(_ask(state, 0x04, [DataUnit(pn, 47, again)], later + 60))  # the same bill: no change
    (purse,) = truth.purse_states(meter.meter_id, _at(later + 60))
    assert purse["purchases"] == 2 and purse["purchase_number"] == 2
    (frame,) = _ask(state, 0x0A, [DataUnit(pn, 47, None)], later).frames
    assert decode_units(frame)[0].value == PurchaseControl(2, False, 30_000, 12_000, 4_000)


def test_purchase_control_off_releases_a_trip() -> None:
    state, meter = _state("electricity")
    pn = meter.pn
    assert _confirmed(_ask(state, 0x04, [DataUnit(0, 22, EnergyRates((1000,))),
                                         DataUnit(pn, 47, PurchaseControl(9, True, 0, 500, 100))], T0))
    assert _confirmed(_ask(state, 0x05, [DataUnit(pn, 16, None)], T0 + 60))
    assert state.truth.truth(meter.meter_id, "relay.state", _at(T0 + 120)) == 0.0  # nothing left: cut at once
    assert _confirmed(_ask(state, 0x05, [DataUnit(pn, 24, None)], T0 + HOUR))
    assert state.truth.truth(meter.meter_id, "relay.state", _at(T0 + HOUR + 1)) == 1.0


def _forward_188(state: TerminalState, raw: bytes, ts: float) -> bytes | None:
    return state.bus.answer(raw, ts)


def test_a_prepaid_188_meter_closes_its_valve_at_zero_and_opens_it_after_a_purchase() -> None:
    state, meter = _state("water")
    mtype, address = METER_TYPE_188[meter.utility], meter.address(0)
    truth = state.truth
    assert _forward_188(state, p188.read_purchase(mtype, address), T0) is not None  # not prepaid: an error reply
    refused = _forward_188(state, p188.write_purchase(mtype, address, p188.PurchaseWrite(1, 500)), T0)
    assert refused is not None and decode_188(refused).error  # no price written: not a prepaid meter
    ok = _forward_188(state, p188.write_price(mtype, address, 150_000), T0)  # 1500.00 yuan per m³
    assert ok is not None and not decode_188(ok).error
    ok = _forward_188(state, p188.write_purchase(mtype, address, p188.PurchaseWrite(1, 2_000)), T0)
    assert ok is not None and not decode_188(ok).error
    assert decode_188(_forward_188(state, p188.write_purchase(mtype, address, p188.PurchaseWrite(5, 100)),
                                   T0) or b"").error  # not the next number
    ts = T0
    while truth.truth(meter.meter_id, "valve.state", _at(ts)) != 0.0:
        ts += HOUR
        assert ts < T0 + 90 * 86400, "the valve never closed"
    reply = _forward_188(state, p188.read_purchase(mtype, address), ts)
    assert reply is not None
    held = p188.parse_state(decode_188(reply).data[3:])
    assert (held.number, held.last_cents, held.total_cents, held.remaining_cents) == (1, 2_000, 2_000, 0)
    (purse,) = truth.purse_states(meter.meter_id, _at(ts))
    assert [e["kind"] for e in purse["history"]] == ["purchase", "alarm", "trip"] and purse["tripped"]
    ok = _forward_188(state, p188.write_purchase(mtype, address, p188.PurchaseWrite(2, 5_000)), ts + 60)
    assert ok is not None and not decode_188(ok).error
    assert truth.truth(meter.meter_id, "valve.state", _at(ts + 61)) == 1.0
    held = p188.parse_state(decode_188(_forward_188(state, p188.read_purchase(mtype, address), ts + 61) or b"")
                            .data[3:])
    assert held.number == 2 and held.total_cents == 7_000 and 0 < held.remaining_cents <= 5_000


def test_the_truth_api_lists_the_purses() -> None:
    state, meter = _state("electricity")
    assert _confirmed(_ask(state, 0x04, [DataUnit(0, 22, EnergyRates((500,))),
                                         DataUnit(meter.pn, 47, PurchaseControl(4, False, 9_000, 3_000, 1_000))], T0))
    body = TestClient(create_app(state.truth)).get("/purses", params={"key": meter.meter_id, "at": _at(T0).isoformat()})
    assert body.status_code == 200
    (purse,) = body.json()["purses"]
    assert (purse["owner"], purse["remaining"], purse["purchase_number"], purse["control_on"]) == (
        "terminal", 9000, 4, False)
