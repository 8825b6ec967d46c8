"""The concentrator's control commands: AFN05 F25 protection with its duration byte, checked against the
terminal's password, kept with its expiry in the ground truth; F1 under protection; F168 answers (two-byte M).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol.gdw1376 import DataUnit, Frame, decode_frame, decode_units, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn0c import SettlementInfo
from emms_protocol.gdw1376.afn05 import ProtectCommand, TripCommand
from emms_sim.answers import Outcome, answer
from emms_sim.controls import ControlLedger, LedgerChange
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.http_api import create_app
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
T0 = NOW.timestamp()
HOUR = 3600.0
# pub-13 of ../shared/protocol/public-frames.json: a master asks p1 F168 (published with terminal 0171-02082).
PUB_13 = "68 4A 00 4A 00 68 4B 71 01 22 08 02 0C E4 01 01 80 14 04 06 24 16 28 00 DB 16"


def _state() -> TerminalState:
    truth = GroundTruth(FleetConfig(seed=11, concentrators=4, meters_per=12, rates=FieldRates.quiet()))
    index = next(i for i in truth.fleet.terminals() if (m := truth.fleet.meter(i, 1)) and m.utility == "electricity")
    return TerminalState(truth, index, started_ts=T0 - 3 * 86400.0)


def _ask(state: TerminalState, units: list[DataUnit], ts: float, pw: bytes | None = None) -> Outcome:
    return answer(state, b.request(state.address, 0x05, units, 1, pw), ts)


def _confirmed(outcome: Outcome) -> bool:
    (frame,) = outcome.frames
    assert frame.afn == 0x00
    return decode_units(frame)[0].fn == 1


def _relay(state: TerminalState, ts: float) -> float | None:
    meter = state.meter_at(1, ts)
    assert meter is not None
    return state.truth.truth(meter.meter_id, "relay.state", datetime.fromtimestamp(ts, tz=UTC))


def test_f25_protects_for_its_duration_and_a_trip_is_refused_until_it_expires() -> None:
    state = _state()
    on = _ask(state, [DataUnit(0, 25, ProtectCommand(4))], T0)  # 2 h
    assert _confirmed(on)
    assert [e["kind"] for e in on.effects.runtime_events] == ["protection_on"]
    assert on.effects.runtime_events[0]["detail"] == {"duration_half_hours": 4,
                                                      "until": (NOW + timedelta(hours=2)).isoformat()}
    key = state.address.key
    assert state.truth.ledger.protection(key, T0 + HOUR) == (T0, T0 + 2 * HOUR)
    assert state.protected(T0 + 2 * HOUR - 1) and not state.protected(T0 + 2 * HOUR)
    assert not _confirmed(_ask(state, [DataUnit(1, 1, TripCommand())], T0 + HOUR))
    assert _relay(state, T0 + HOUR) == 1.0
    assert _confirmed(_ask(state, [DataUnit(1, 1, TripCommand())], T0 + 2 * HOUR + 60))
    assert _relay(state, T0 + 2 * HOUR + 61) == 0.0


def test_f25_of_zero_holds_until_f33_releases_it() -> None:
    state = _state()
    assert _confirmed(_ask(state, [DataUnit(0, 25, ProtectCommand(0))], T0))
    assert state.truth.ledger.protection(state.address.key, T0 + 1000 * HOUR) == (T0, None)
    off = _ask(state, [DataUnit(0, 33, None)], T0 + 5 * HOUR)
    assert _confirmed(off) and [e["kind"] for e in off.effects.runtime_events] == ["protection_off"]
    assert state.protected(T0 + 5 * HOUR - 1) and not state.protected(T0 + 5 * HOUR)
    assert _confirmed(_ask(state, [DataUnit(1, 1, TripCommand())], T0 + 6 * HOUR))
    # a release with nothing to release is confirmed and changes nothing
    again = _ask(state, [DataUnit(0, 33, None)], T0 + 7 * HOUR)
    assert _confirmed(again) and again.effects.runtime_events == []


def test_f25_without_its_byte_is_denied_and_changes_nothing() -> None:
    state = _state()
    template = b.request(state.address, 0x05, [], 1)
    legacy = Frame(template.control, state.address, 0x05, template.seq, bytes.fromhex("00 00 01 03"), pw=bytes(16))
    outcome = answer(state, decode_frame(encode_frame(legacy)), T0)
    assert not _confirmed(outcome)
    assert not state.protected(T0 + 1) and state.truth.ledger.protected_terminals() == []


def test_a_wrong_password_is_denied_and_the_right_one_is_taken() -> None:
    state = _state()
    state.password = bytes(range(16))
    wrong = _ask(state, [DataUnit(0, 25, ProtectCommand(2))], T0)  # 16 zero bytes, the FEP's default
    assert not _confirmed(wrong)
    assert not state.protected(T0 + 1)
    (event,) = wrong.effects.runtime_events
    assert event["kind"] == "password_refused" and event["detail"] == {"afn": 5}
    assert "00000000" not in repr(event) and bytes(16).hex() not in repr(event)
    assert not _confirmed(_ask(state, [DataUnit(1, 1, TripCommand())], T0))
    assert _relay(state, T0 + 1) == 1.0
    assert _confirmed(_ask(state, [DataUnit(0, 25, ProtectCommand(2))], T0, bytes(range(16))))
    assert state.protected(T0 + 1)


def test_protection_is_in_the_truth_api_with_its_expiry() -> None:
    state = _state()
    client = TestClient(create_app(state.truth))
    _ask(state, [DataUnit(0, 25, ProtectCommand(3))], T0)
    during = client.get("/protection", params={"terminal": state.index, "at": (NOW + timedelta(hours=1)).isoformat()})
    assert during.status_code == 200
    assert during.json()["terminals"] == [{"terminal": state.address.key, "protected": True, "since": NOW.isoformat(),
                                           "until": (NOW + timedelta(minutes=90)).isoformat()}]
    after = client.get("/protection", params={"at": (NOW + timedelta(hours=2)).isoformat()}).json()
    assert after["terminals"] == [{"terminal": state.address.key, "protected": False, "since": None, "until": None}]
    assert client.get("/protection", params={"terminal": 99}).status_code == 404


def test_the_f168_answer_to_pub13_carries_a_two_byte_count_and_the_true_register() -> None:
    state = _state()
    request = decode_frame(bytes.fromhex(PUB_13), reference=NOW)
    (frame,) = answer(state, request, T0).frames
    raw = decode_frame(encode_frame(frame), reference=NOW)
    assert raw.afn == 0x0C and raw.tp == request.tp and raw.seq.seq == request.seq.seq
    data = raw.body[4:]
    assert raw.body[:4] == bytes.fromhex("01 01 80 14") and data[5:7] == bytes.fromhex("04 00")
    ((pn, fn, value),) = [(u.pn, u.fn, u.value) for u in decode_units(raw)]
    assert (pn, fn) == (1, 168) and isinstance(value, SettlementInfo)
    meter = state.meter_at(1, T0)
    assert meter is not None and value.read_at is not None
    assert value.unsettled_total == state.truth.truth(meter.meter_id, "energy.active.import.total", value.read_at)
    assert value.settled_total is None and len(value.settled_rates) == len(value.unsettled_rates) == 4


# ---- the ledger ------------------------------------------------------------------------------------------------

Command = tuple[str, float, int]  # ("on", at, half hours) or ("off", at, 0)


def _model(commands: list[Command], ts: float) -> bool:
    """Protected at ``ts`` by the last command at or before it: on with 0 = forever, on with n = n half hours."""
    state = False
    for kind, at, half_hours in commands:
        if at > ts:
            break
        state = kind == "on" and (half_hours == 0 or ts < at + half_hours * 1800.0)
    return state


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(st.sampled_from(["on", "off"]), st.integers(0, 20 * 3600), st.integers(0, 12)),
                      max_size=12),
       probes=st.lists(st.integers(0, 30 * 3600), min_size=1, max_size=20))
def test_ledger_protection_follows_the_commands_and_replays_in_another_ledger(
        steps: list[tuple[str, int, int]], probes: list[int]) -> None:
    commands: list[Command] = [(kind, float(at), n if kind == "on" else 0) for kind, at, n in sorted(steps,
                                                                                               key=lambda s: s[1])]
    forwarded: list[LedgerChange] = []
    ledger = ControlLedger(listener=forwarded.append)
    for kind, at, half_hours in commands:
        if kind == "on":
            ledger.protect("3701-00001", at, at + half_hours * 1800.0 if half_hours else None)
        else:
            ledger.release("3701-00001", at)
    parent = ControlLedger()
    for change in forwarded:
        parent.apply(change)
    for ts in map(float, probes):
        assert ledger.protected("3701-00001", ts) == _model(commands, ts), (commands, ts)
        assert parent.protection("3701-00001", ts) == ledger.protection("3701-00001", ts)
    assert not ledger.protected("3701-00002", 0.0)


@pytest.mark.parametrize("change", [
    {"op": "protect", "terminal": "3701-00001", "ts": 1.0},
    {"op": "release", "ts": 1.0},
    {"op": "protect", "terminal": "3701-00001", "ts": None, "until": None},
    {"op": "shield", "terminal": "3701-00001", "ts": 1.0},
])
def test_a_malformed_protection_change_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ControlLedger().apply(change)


def test_a_second_f25_replaces_the_running_protection() -> None:
    state = _state()
    _ask(state, [DataUnit(0, 25, ProtectCommand(0))], T0)
    _ask(state, [DataUnit(0, 25, ProtectCommand(2))], T0 + HOUR)
    assert state.truth.ledger.protection(state.address.key, T0 + HOUR + 1) == (T0 + HOUR, T0 + 2 * HOUR)
    assert state.protected(T0 + 30) and not state.protected(T0 + 2 * HOUR)
