"""The terminal's tariff periods of 1376.1: AFN04 / AFN0A F21 (48 half-hour rate numbers, 0-based, then M).

Layout as public code transcribes the standard's table (docs/protocol.md, "Tariff periods: AFN04 F21"):
liming's C library ``sMtAfn04F21_TmPeriodRate {UINT8 ucRateID[48]; UINT8 ucRateNum;}``, a JavaScript
decoder and a C# master-station tool that prints "费率号: value+1".
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import Address, DataUnit, decode_frame, decode_units, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.codec import DEFAULT_OPTIONS, FnCodec
from emms_protocol.gdw1376.json_view import from_jsonable, to_jsonable
from emms_protocol.gdw1376.purchase import EnergyRates
from emms_protocol.gdw1376.registry import lookup
from emms_protocol.gdw1376.tariff import HALF_HOURS, TariffPeriods

TERMINAL = Address(0x3701, 12, master=1)

def _codec(afn: int, direction: int) -> FnCodec:
    codec = lookup(afn, direction, 21)
    assert codec is not None
    return codec


F21_SET = _codec(0x04, 0)
F21_ANSWER = _codec(0x0A, 1)


@st.composite
def periods(draw: st.DrawFn) -> TariffPeriods:
    count = draw(st.integers(1, 48))
    slots = draw(st.lists(st.integers(0, count - 1), min_size=HALF_HOURS, max_size=HALF_HOURS))
    return TariffPeriods(tuple(slots), count)


def test_f21_bytes_are_48_half_hours_then_m() -> None:
    slots = ((3,) * 14 + (2,) * 2 + (1,) * 4 + (0,) * 2 + (1,) * 2 + (2,) * 12 + (1,) * 2 + (0,) * 4
             + (1,) * 4 + (3,) * 2)
    value = TariffPeriods(slots, 4)
    raw = F21_SET.encode(value, DEFAULT_OPTIONS)
    assert len(raw) == 49 and raw[0] == 3 and raw[47] == 3 and raw[48] == 4
    assert raw[20] == 0  # 10:00–10:30: rate number 0 = 费率 1
    assert value.rate_of(20) == 1 and value.rate_of(0) == 4


@given(periods())
def test_f21_set_round_trips_through_a_frame_and_json(value: TariffPeriods) -> None:
    frame = decode_frame(encode_frame(b.request(TERMINAL, 0x04, [DataUnit(0, 21, value)], 3)))
    assert decode_units(frame) == [DataUnit(0, 21, value)]
    assert from_jsonable(to_jsonable(value)) == value


@given(periods(), st.lists(st.integers(0, 9_999_999), min_size=1, max_size=48))
def test_f21_and_f22_answer_together(value: TariffPeriods, rates: list[int]) -> None:
    query = b.request(TERMINAL, 0x0A, [DataUnit(0, 21, None), DataUnit(0, 22, None)], 4)
    units = [DataUnit(0, 21, value), DataUnit(0, 22, EnergyRates(tuple(rates)))]
    answer = decode_frame(encode_frame(b.response(query, units)))
    assert decode_units(answer) == units


def test_f21_query_carries_no_data() -> None:
    frame = decode_frame(encode_frame(b.request(TERMINAL, 0x0A, [DataUnit(0, 21, None)], 5)))
    assert decode_units(frame) == [DataUnit(0, 21, None)]
    assert frame.body[:4] == bytes((0x00, 0x00, 1 << ((21 - 1) % 8), (21 - 1) // 8))


@pytest.mark.parametrize(("raw", "why"), [
    (bytes(48) + b"\x00", "rate count"),  # M = 0
    (bytes(48) + b"\x31", "rate count"),  # M = 49
    (bytes(47) + b"\x04" + b"\x04", "rate number 4"),  # a half hour's rate number = M
    (bytes(47) + b"\xff" + b"\x04", "rate number 255"),
])
def test_f21_decoding_refuses_malformed_data(raw: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        F21_ANSWER.decode(raw, 0, len(raw), DEFAULT_OPTIONS)


@pytest.mark.parametrize("size", [0, 10, 48])
def test_f21_decoding_refuses_short_data(size: int) -> None:
    with pytest.raises(ProtocolError) as caught:
        F21_ANSWER.decode(bytes(size), 0, size, DEFAULT_OPTIONS)
    assert caught.value.kind == "short"


@pytest.mark.parametrize(("slots", "count", "why"), [
    ((0,) * 49, 4, "48 half hours"),
    ((0,) * 47, 4, "48 half hours"),
    ((0,) * 47 + (4,), 4, r"47 \(23:30–24:00\): rate number 4 is not 0..3"),
    ((0,) * 47 + (-1,), 4, "rate number -1"),
    ((0,) * 48, 0, "1..48"),
    ((0,) * 48, 49, "1..48"),
    ((0.0,) * 48, 4, "rate number 0.0"),
])
def test_f21_refuses_values_it_cannot_carry(slots: tuple[int, ...], count: int, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        TariffPeriods(slots, count)


def test_f21_from_json_refuses_a_slot_beyond_m() -> None:
    with pytest.raises(ProtocolError, match="rate number 5"):
        from_jsonable({"type": "TariffPeriods", "slots": [5] * 48, "rate_count": 4})


def test_f21_encoder_refuses_another_type() -> None:
    with pytest.raises(ProtocolError):
        F21_SET.encode(EnergyRates((1,)), DEFAULT_OPTIONS)
