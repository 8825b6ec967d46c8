"""AFN 04 / 0A F9, the terminal's event record configuration (which ERCs are recorded, which are important —
events on demand, R-4.5.4.3): two BS64, bit ERC − 1; round trip through frames and the JSON view."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376 import Address, DataUnit, builders, decode_frame, decode_units, encode_frame
from emms_protocol.gdw1376.afn04_0a import EventConfig
from emms_protocol.gdw1376.json_view import from_jsonable, to_jsonable

CODES = st.lists(st.integers(1, 64), unique=True, max_size=64).map(lambda c: tuple(sorted(c)))


@given(CODES, CODES)
def test_f9_round_trips_through_a_frame_and_the_json_view(recorded: tuple[int, ...],
                                                          important: tuple[int, ...]) -> None:
    value = EventConfig(recorded, important)
    frame = builders.request(Address(0x6201, 7), 0x04, [DataUnit(0, 9, value)], 3)
    units = decode_units(decode_frame(encode_frame(frame)))
    assert units == [DataUnit(0, 9, value)]
    assert from_jsonable(to_jsonable(value), EventConfig) == value


def test_f9_bits_are_erc_minus_one_recorded_first() -> None:
    frame = builders.request(Address(0x6201, 7), 0x04, [DataUnit(0, 9, EventConfig((1, 64), (3,)))], 3)
    raw = encode_frame(frame)
    body = raw.index(bytes((0x00, 0x00, 0x01, 0x01))) + 4  # p0, F9 (DT1 = 0x01, DT2 = 0x01)
    assert raw[body:body + 16] == bytes((0x01, 0, 0, 0, 0, 0, 0, 0x80, 0x04, 0, 0, 0, 0, 0, 0, 0))


def test_an_erc_outside_the_bit_string_is_refused() -> None:
    with pytest.raises(ProtocolError):
        encode_frame(builders.request(Address(0x6201, 7), 0x04, [DataUnit(0, 9, EventConfig((65,), ()))], 3))



def test_f9_encodes_a_public_terminal_test_benchs_value_as_it_meant() -> None:
    """A public 1376.1 terminal test bench sets F9 to ``40 00 … 00`` (16 bytes) before a purchase-control test
    and then expects the trip recorded as ERC 7: byte 0 bit 6 is ERC 7, the second 8 bytes the importance
    flags (none important). Public C and JavaScript implementations lay F9 out the same way (8 bytes of
    record-valid flags, then 8 of importance flags; byte j, bit i = ERC 8j + i + 1)."""
    raw = encode_frame(builders.request(Address(0x6201, 7), 0x04, [DataUnit(0, 9, EventConfig((7,), ()))], 3))
    body = raw.index(bytes((0x00, 0x00, 0x01, 0x01))) + 4  # p0, F9
    assert raw[body:body + 16] == bytes.fromhex("40" + "00" * 15)
