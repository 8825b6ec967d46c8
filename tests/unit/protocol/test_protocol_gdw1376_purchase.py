"""Purchase control of 1376.1: AFN04 / AFN0A F47, AFN05 F16 / F24, AFN0C F23 and data format A.3.

Layouts from the standard's tables as public code transcribes them (docs/protocol.md, "Purchase
control"): a terminal's AFN0A F47 answer writes bill number (4 bytes, low first), the flag byte and
three A.3 values; a vendor tool reads 55H as add and anything else as refresh.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import Address, DataUnit, decode_frame, decode_units, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.codec import DEFAULT_OPTIONS
from emms_protocol.gdw1376.json_view import from_jsonable, to_jsonable
from emms_protocol.gdw1376.purchase import (
    A3_LIMIT,
    A3_MAX,
    EnergyRates,
    PurchaseControl,
    RemainingAmount,
    dec_a3,
    enc_a3,
)
from emms_protocol.gdw1376.registry import lookup

TERMINAL = Address(0x3701, 12, master=1)

A3_VALUES = st.one_of(st.integers(-A3_MAX, A3_MAX),
                      st.integers(-A3_MAX, A3_MAX).map(lambda n: n * 1000))
PURCHASES = st.builds(PurchaseControl, st.integers(0, 2**32 - 1), st.booleans(), st.one_of(st.none(), A3_VALUES),
                      st.one_of(st.none(), A3_VALUES), st.one_of(st.none(), A3_VALUES))


def test_a3_layout_sign_and_unit_bits() -> None:
    assert enc_a3(1234567) == bytes.fromhex("67452301")
    assert enc_a3(-50) == bytes.fromhex("50000010")  # S = D4 of byte 4
    assert enc_a3(12_345_000) == bytes.fromhex("45230140")  # G = D6: whole MWh / 元
    assert dec_a3(bytes.fromhex("45230150"), 0) == -12_345_000
    assert dec_a3(b"\xee" * 4, 0) is None


@given(A3_VALUES)
def test_a3_round_trips(value: int) -> None:
    assert dec_a3(enc_a3(value), 0) == value


@pytest.mark.parametrize("bad", [A3_MAX + 2, A3_LIMIT + 1000, 1.5, True])
def test_a3_refuses_what_it_cannot_carry(bad: object) -> None:
    with pytest.raises(ProtocolError):
        enc_a3(bad)  # type: ignore[arg-type]


def test_a3_refuses_non_bcd() -> None:
    with pytest.raises(ProtocolError):
        dec_a3(bytes.fromhex("0a000000"), 0)


def test_f47_bytes_in_the_standards_order() -> None:
    value = PurchaseControl(7, False, 100_000, 20_000, 5_000)
    raw = lookup(0x04, 0, 47).encode(value, DEFAULT_OPTIONS)  # type: ignore[union-attr]
    assert raw == bytes.fromhex("07000000" "55" "00001000" "00000200" "00500000")
    refresh = lookup(0x04, 0, 47).encode(PurchaseControl(7, True, 1, 0, 0), DEFAULT_OPTIONS)  # type: ignore[union-attr]
    assert refresh[4] == 0xAA


@given(PURCHASES, st.integers(1, 8))
def test_f47_set_round_trips_through_a_frame(value: PurchaseControl, group: int) -> None:
    frame = decode_frame(encode_frame(b.request(TERMINAL, 0x04, [DataUnit(group, 47, value)], 3)))
    assert decode_units(frame) == [DataUnit(group, 47, value)]
    assert from_jsonable(to_jsonable(value)) == value


def test_f47_refuses_an_unknown_flag() -> None:
    raw = bytearray(lookup(0x04, 0, 47).encode(PurchaseControl(1, False, 1, 0, 0), DEFAULT_OPTIONS))  # type: ignore[union-attr]
    raw[4] = 0x00
    with pytest.raises(ProtocolError):
        lookup(0x04, 0, 47).decode(bytes(raw), 0, len(raw), DEFAULT_OPTIONS)  # type: ignore[union-attr]


@given(st.one_of(st.none(), A3_VALUES), st.integers(1, 8))
def test_f23_answer_round_trips(remaining: int | None, group: int) -> None:
    request = b.request(TERMINAL, 0x0C, [DataUnit(group, 23, None)], 4)
    answer = decode_frame(encode_frame(b.response(request, [DataUnit(group, 23, RemainingAmount(remaining))])))
    assert decode_units(answer) == [DataUnit(group, 23, RemainingAmount(remaining))]


@pytest.mark.parametrize("fn", [16, 24])
def test_purchase_control_on_and_off_carry_no_data(fn: int) -> None:
    frame = decode_frame(encode_frame(b.request(TERMINAL, 0x05, [DataUnit(1, fn, None)], 5)))
    assert decode_units(frame) == [DataUnit(1, fn, None)]
    assert frame.body[:4] == bytes((0x01, 0x01, 1 << ((fn - 1) % 8), (fn - 1) // 8))


@given(st.lists(st.one_of(st.none(), A3_VALUES), min_size=1, max_size=48))
def test_f22_rates_round_trip_with_the_purchase_in_one_frame(rates: list[int | None]) -> None:
    units = [DataUnit(0, 22, EnergyRates(tuple(rates))), DataUnit(1, 47, PurchaseControl(3, False, 5000, 1000, 0))]
    frame = decode_frame(encode_frame(b.request(TERMINAL, 0x04, units, 6)))
    assert decode_units(frame) == units
    assert from_jsonable(to_jsonable(units[0].value)) == units[0].value


def test_f22_refuses_no_rates() -> None:
    with pytest.raises(ProtocolError):
        EnergyRates(())
