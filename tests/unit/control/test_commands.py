"""Remote control, pure parts: frames of each action (decoded back with the codecs), the state read back,
capability and protection rules, master-data parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_control.commands.actions import CUTTING, Action, Origin, check_capable
from emms_control.commands.frames import NoFrame, command_units, verify_units
from emms_control.commands.policy import configure, policy
from emms_control.commands.readback import switch_state
from emms_control.commands.submit import ProtectedCustomer, check_protection
from emms_control.repository.devices import Device
from emms_control.topology.masterdata import protection_of, terminal_key
from emms_messages.terminal import DataUnitRequest
from emms_protocol import cjt188, dlt645
from emms_protocol.gdw1376 import Address, DataUnit, builders, encode_frame
from emms_protocol.gdw1376.afn10 import ForwardReply, ForwardRequest
from emms_protocol.gdw1376.control_state import ControlState
from emms_protocol.gdw1376.json_view import from_jsonable
from emms_runtime.errors import Invalid

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def device(utility: str = "electricity", *, pn: int | None = 3, protection: str | None = None,
           meter_id: str = "m-1") -> Device:
    protocol = "dlt645-2007" if utility == "electricity" else "cjt188-2004"
    address = "000000001234" if utility == "electricity" else "00000000005678"
    return Device(meter_id, "3701-00001", pn, 31 if utility == "electricity" else 2, protocol, address, utility,
                  "C-1", "CO-A", "R-1", None, protection, True)


def _forwarded(units: list[Any]) -> bytes:
    value = from_jsonable(units[0].data["value"], ForwardRequest)
    assert isinstance(value, ForwardRequest)
    return value.payload


def test_trip_and_allow_close_go_to_the_terminal_pn() -> None:
    afn, units = command_units(Action.TRIP, device(), {}, NOW)
    assert (afn, units[0].pn, units[0].fn) == (0x05, [3], [1])
    afn, units = command_units(Action.ALLOW_CLOSE, device(), {}, NOW)
    assert (afn, units[0].fn, units[0].data) == (0x05, [2], {})


@pytest.mark.parametrize(("action", "code"), [(Action.DIRECT_CLOSE, "close"), (Action.TRIP, "trip")])
def test_645_control_frames_forwarded(action: Action, code: str) -> None:
    afn, units = command_units(action, device(pn=None if action is Action.TRIP else 3), {}, NOW)
    assert afn == 0x10
    frame = dlt645.decode_frame(_forwarded(units))
    assert isinstance(frame.body, dlt645.ControlCommand) and frame.body.action == code
    assert frame.address == "000000001234"


@pytest.mark.parametrize(("action", "code"), [(Action.VALVE_CLOSE, "close"), (Action.VALVE_OPEN, "open")])
@pytest.mark.parametrize("utility", ["water", "gas", "heat"])
def test_188_valve_frames_forwarded(action: Action, code: str, utility: str) -> None:
    afn, units = command_units(action, device(utility), {}, NOW)
    frame = cjt188.decode_frame(_forwarded(units))
    assert afn == 0x10 and isinstance(frame.body, cjt188.ValveCommand) and frame.body.action == code


def test_protect_carries_its_duration_and_has_no_read_back() -> None:
    afn, units = command_units(Action.PROTECT_ON, None, {"duration_half_hours": 6}, NOW)
    assert (afn, units[0].fn, units[0].data["value"]["duration_half_hours"]) == (0x05, [25], 6)
    assert verify_units(Action.PROTECT_ON, None, {}) == (0x0C, [DataUnitRequest(pn=[0], fn=[5])])  # F5 read back
    assert command_units(Action.PROTECT_OFF, None, {}, NOW)[1][0].fn == [33]


def test_no_address_no_frame() -> None:
    with pytest.raises(NoFrame, match="no meter address"):
        command_units(Action.VALVE_CLOSE, Device("m", "3701-00001", 1, 2, "cjt188-2004", "", "water", None, None,
                                                 None, None, None, True), {}, NOW)


def _answer(afn: int, units: list[Any], reply: bytes) -> list[dict[str, Any]]:
    request = builders.request(Address(0x3701, 1), afn, [DataUnit(0, 1, from_jsonable(
        units[0].data["value"], ForwardRequest))], 1)
    response = builders.response(request, [DataUnit(0, 1, ForwardReply(31, reply))])
    return [{"raw_hex": encode_frame(response).hex()}]


@pytest.mark.parametrize(("word", "state"), [(0x0050, "open"), (0x0000, "closed")])
def test_relay_state_read_back_from_status_word_3(word: int, state: str) -> None:
    afn, units = verify_units(Action.TRIP, device(), {}) or (0, [])
    reply = dlt645.read_reply("000000001234", 0x04000503, word, preamble=4)
    assert switch_state(_answer(afn, units, reply)) == state


@pytest.mark.parametrize("valve", ["open", "closed"])
def test_valve_state_read_back_from_188_status(valve: str) -> None:
    afn, units = verify_units(Action.VALVE_CLOSE, device("water"), {}) or (0, [])
    reply = cjt188.write_reply(cjt188.WATER_COLD, "00000000005678", 0xA017, cjt188.status_word(valve), preamble=2)
    assert switch_state(_answer(afn, units, reply)) == valve


def test_no_state_in_an_unrelated_answer() -> None:
    assert switch_state([{"raw_hex": "00"}, {"no": "bytes"}]) is None


def test_capability() -> None:
    check_capable(Action.TRIP, "m", "electricity")
    check_capable(Action.VALVE_CLOSE, "m", "gas")
    with pytest.raises(Invalid, match="has no relay"):
        check_capable(Action.TRIP, "m", "water")
    with pytest.raises(Invalid, match="has no valve"):
        check_capable(Action.VALVE_OPEN, "m", "electricity")


@given(action=st.sampled_from(list(Action)), origin=st.sampled_from(list(Origin)),
       cls=st.sampled_from([None, "key", "medical", "critical", "ordinary"]), override=st.booleans(),
       why=st.sampled_from([None, "", "agreed"]))
def test_protection_rule(action: Action, origin: Origin, cls: str | None, override: bool, why: str | None) -> None:
    """A protected customer is never cut by an automatic origin, and by hand only with an override and reason;
    anything else passes."""
    protected = cls in policy().protected_classes
    refused = action in CUTTING and protected and (origin is not Origin.MANUAL or not override or not why)
    try:
        check_protection([device(protection=cls)], action, origin, override, why)
    except (ProtectedCustomer, Invalid):
        assert refused
    else:
        assert not refused


def test_protected_classes_are_configurable() -> None:
    before = policy().protected_classes
    try:
        configure(protected_classes=frozenset({"hospital"}))
        check_protection([device(protection="medical")], Action.TRIP, Origin.PREPAYMENT, False, None)
        with pytest.raises(ProtectedCustomer):
            check_protection([device(protection="hospital")], Action.TRIP, Origin.QUANTITY, False, None)
    finally:
        configure(protected_classes=before)


def test_masterdata_parsing() -> None:
    assert terminal_key("3701000C") == "3701-00012"
    assert terminal_key("3701-00012") == "3701-00012"
    assert terminal_key("x") is None
    assert protection_of({"protection_class": "medical"}) == (True, "medical")
    assert protection_of({"key_customer": True}) == (True, "key")
    assert protection_of({"protection_class": None}) == (True, None)
    assert protection_of({"name": "x"}) == (False, None)


@pytest.mark.parametrize(("protected", "state"), [(True, "protected"), (False, "unprotected")])
def test_protection_read_back_from_the_terminals_control_state(protected: bool, state: str) -> None:
    afn, _units = verify_units(Action.PROTECT_ON, None, {}) or (0, [])
    request = builders.request(Address(0x3701, 1), afn, [DataUnit(0, 5, None)], 1)
    response = builders.response(request, [DataUnit(0, 5, ControlState(protected))])
    assert switch_state([{"raw_hex": encode_frame(response).hex()}]) == state
