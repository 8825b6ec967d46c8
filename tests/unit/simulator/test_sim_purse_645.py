"""A DL/T 645-2007 cost-control meter in the simulator (meter-executed prepayment for electricity): price and
thresholds written with 14H, plaintext recharges (03H 070102FF) numbered previous + 1, the purse counted down
with the modelled consumption, alarming once, tripping itself at the overdraft limit, restored by the next
recharge; a repeated recharge refused with SERR and the balance unchanged — through real frames, with the
ground truth (register, relay, purse) agreeing at every step."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from fastapi.testclient import TestClient

from emms_protocol import dlt645
from emms_protocol.dlt645 import ErrorReply, ReadReply
from emms_protocol.dlt645 import purchase as p645
from emms_sim.fleet import FieldRates, FleetConfig, MeterSpec
from emms_sim.http_api import create_app
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0
PW, OP = "02000000", "00000000"
CUSTOMER = "000012345678"


def _state() -> tuple[TerminalState, MeterSpec]:
    truth = GroundTruth(FleetConfig(seed=11, concentrators=6, meters_per=12, rates=FieldRates.quiet()))
    for index in truth.fleet.terminals():
        for meter in truth.fleet.meters_of(index):
            if meter.utility == "electricity" and meter.present(T0) and meter.pn <= 8 \
                    and meter.replaced_at is None and meter.removed_at is None:
                return TerminalState(truth, index, started_ts=T0 - 86400.0), meter
    raise AssertionError("no electricity meter in the fleet")


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _send(state: TerminalState, raw: bytes, ts: float) -> bytes:
    reply = state.bus.answer(raw, ts)
    assert reply is not None, "the meter did not answer"
    return reply


def _written(state: TerminalState, address: str, di: int, value: str, ts: float) -> bool:
    raw = (p645.price_write(address, value, password=PW, operator=OP) if di == p645.PRICE_1
           else p645.threshold_write(address, di, value, password=PW, operator=OP))
    return not dlt645.decode_frame(_send(state, raw, ts)).error


def _read(state: TerminalState, address: str, di: int, ts: float) -> object:
    body = dlt645.decode_frame(_send(state, dlt645.read_request(address, di), ts)).body
    if isinstance(body, ErrorReply):
        return body
    assert isinstance(body, ReadReply)
    return body.value


def _recharge(state: TerminalState, address: str, cents: int, count: int, ts: float,
              customer: str = CUSTOMER) -> p645.RechargeAnswer:
    raw = p645.recharge_request(address, p645.Recharge(cents, count, customer), OP)
    return p645.parse_recharge_answer(_send(state, raw, ts))


def test_a_cost_control_meter_counts_down_alarms_trips_itself_and_a_recharge_restores_it() -> None:
    state, meter = _state()
    truth, address = state.truth, meter.address(0)
    assert isinstance(_read(state, address, p645.REMAINING, T0), ErrorReply)  # no price: not a purse yet
    assert not _recharge(state, address, 1_000, 1, T0).ok  # refused before a price
    assert _written(state, address, p645.PRICE_1, "1.2345", T0)  # yuan per kWh
    for di, yuan in ((p645.ALARM_1, "20.00"), (p645.ALARM_2, "10.00"), (p645.OVERDRAFT_LIMIT, "5.00"),
                     (p645.ALLOW_CLOSE_LIMIT, "0.00")):
        assert _written(state, address, di, yuan, T0)
        assert _read(state, address, di, T0) == float(yuan)
    assert _read(state, address, p645.PRICE_1, T0) == 1.2345
    start = truth.truth(meter.meter_id, "energy.active.import.total", _at(T0))
    assert start is not None

    assert _recharge(state, address, 5_000, 1, T0).ok  # 50.00 yuan, count 0 → 1
    assert _read(state, address, p645.PURCHASE_COUNT, T0) == 1
    assert _read(state, address, p645.REMAINING, T0) == 50.0
    repeated = _recharge(state, address, 5_000, 1, T0 + 10)  # the same count again: a repeat, refused
    assert not repeated.ok and repeated.errors == ("repeated_recharge",)
    skipped = _recharge(state, address, 5_000, 3, T0 + 10)
    assert not skipped.ok and skipped.errors == ("recharge_count_error",)
    (purse,) = truth.purse_states(meter.meter_id, _at(T0 + 10))
    assert purse["purchases"] == 1 and purse["total_bought"] == 5_000 and purse["customer"] == CUSTOMER

    ts = T0
    while truth.truth(meter.meter_id, "relay.state", _at(ts)) != 0.0:
        ts += HOUR
        assert ts < T0 + 120 * 86400, "the meter never tripped"
    (purse,) = truth.purse_states(meter.meter_id, _at(ts))
    history = cast(list[dict[str, Any]], purse["history"])
    assert [e["kind"] for e in history] == ["purchase", "alarm", "trip"]
    alarm_at, trip_at = history[1]["ts"], history[2]["ts"]
    used = truth.truth(meter.meter_id, "energy.active.import.total", _at(trip_at))
    assert used is not None and abs(5_000 - (used - start) * 123.45 - (-500)) <= 123.45 * 0.02
    assert truth.truth(meter.meter_id, "relay.state", _at(trip_at + 1)) == 0.0
    assert truth.truth(meter.meter_id, "relay.state", _at(alarm_at + 1)) == 1.0
    status = _read(state, address, p645.STATUS_WORD_3, ts)
    assert isinstance(status, int) and status & p645.RELAY_OPEN
    assert _read(state, address, p645.REMAINING, ts) == 0.0  # never below 0 on the wire
    overdraft = _read(state, address, p645.OVERDRAFT, ts)
    assert isinstance(overdraft, float) and 4.9 <= overdraft <= 5.1

    later = ts + 6 * HOUR
    assert not _recharge(state, address, 3_000, 2, later, customer="999999999999").ok  # another customer's
    assert _recharge(state, address, 3_000, 2, later).ok
    assert truth.truth(meter.meter_id, "relay.state", _at(later + 1)) == 1.0
    remaining = _read(state, address, p645.REMAINING, later)
    assert isinstance(remaining, float) and 24.0 <= remaining <= 25.1  # 30 − the overdraft used
    assert _read(state, address, p645.PURCHASE_COUNT, later) == 2


def test_the_allow_close_and_hoarding_limits_hold() -> None:
    state, meter = _state()
    truth, address = state.truth, meter.address(0)
    assert _written(state, address, p645.PRICE_1, "1000.0000", T0)  # dear: a purse empties in minutes
    assert _written(state, address, p645.ALLOW_CLOSE_LIMIT, "20.00", T0)
    assert _written(state, address, p645.HOARD_LIMIT, "100.00", T0)
    assert _recharge(state, address, 100, 1, T0).ok
    ts = T0
    while truth.truth(meter.meter_id, "relay.state", _at(ts)) != 0.0:
        ts += 600
        assert ts < T0 + 30 * 86400, "the meter never tripped"
    assert _recharge(state, address, 1_000, 2, ts + 60).ok  # 10 yuan: not above the allow-close limit
    assert truth.truth(meter.meter_id, "relay.state", _at(ts + 61)) == 0.0
    refused = _recharge(state, address, 9_500, 3, ts + 120)  # would lift the purse above 100 yuan
    assert not refused.ok and refused.errors == ("hoarding_limit_exceeded",)
    assert _recharge(state, address, 2_000, 3, ts + 120).ok  # 30 yuan > 20: the relay closes
    assert truth.truth(meter.meter_id, "relay.state", _at(ts + 121)) == 1.0


def test_the_truth_api_lists_a_645_purse() -> None:
    state, meter = _state()
    address = meter.address(0)
    assert _written(state, address, p645.PRICE_1, "0.5000", T0)
    assert _recharge(state, address, 2_500, 1, T0).ok
    body = TestClient(create_app(state.truth)).get("/purses", params={"key": meter.meter_id, "at": _at(T0).isoformat()})
    assert body.status_code == 200
    (purse,) = body.json()["purses"]
    assert (purse["owner"], purse["remaining"], purse["purchase_number"], purse["price"]) == ("meter", 2500, 1, 50.0)
