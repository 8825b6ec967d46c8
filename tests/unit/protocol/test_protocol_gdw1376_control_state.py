"""AFN0C F5 终端控制设置状态: the flags byte (D0 protection, D1 removal, D2 fee alarm), the group bitmap and six
bytes per present group, through a whole frame and the JSON view."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import Address, DataUnit, decode_frame, decode_units, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.control_state import ControlState, GroupControlState
from emms_protocol.gdw1376.json_view import from_jsonable, to_jsonable

TERMINAL = Address(0x3701, 12, master=1)
BYTE = st.integers(0, 255)
GROUPS = st.lists(st.integers(1, 8), unique=True).map(sorted).flatmap(
    lambda ns: st.tuples(*[st.builds(GroupControlState, st.just(n), BYTE, BYTE, BYTE, BYTE, BYTE, BYTE)
                           for n in ns]))
STATES = st.builds(ControlState, st.booleans(), st.booleans(), st.booleans(), GROUPS)


def _answer(state: ControlState) -> ControlState:
    request = b.request(TERMINAL, 0x0C, [DataUnit(0, 5, None)], 2)
    answer = decode_frame(encode_frame(b.response(request, [DataUnit(0, 5, state)])))
    (unit,) = decode_units(answer)
    assert isinstance(unit.value, ControlState)
    return unit.value


@given(STATES)
def test_f5_round_trips_through_a_frame_and_the_json_view(state: ControlState) -> None:
    assert _answer(state) == state
    assert from_jsonable(to_jsonable(state)) == state


def test_f5_layout() -> None:
    state = ControlState(True, False, True, (GroupControlState(2, energy_state=0x02),))
    request = b.request(TERMINAL, 0x0C, [DataUnit(0, 5, None)], 2)
    raw = encode_frame(b.response(request, [DataUnit(0, 5, state)]))
    assert bytes.fromhex("0502" + "000000020000") in raw  # flags D0+D2, group 2 present, 电控状态 D1
    assert _answer(state).groups[0].purchase_control and _answer(state).protected


@pytest.mark.parametrize("bad", [lambda: GroupControlState(9), lambda: GroupControlState(1, power_scheme=256),
                                 lambda: ControlState(False, groups=(GroupControlState(2), GroupControlState(1)))])
def test_f5_refuses_what_it_cannot_carry(bad: object) -> None:
    with pytest.raises(ProtocolError):
        bad()  # type: ignore[operator]
