"""Encode → decode round trip for every supported (AFN, direction, Fn), and DA/DT grouping."""

from __future__ import annotations

import string
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import DEVICE_TZ, Address, DataUnit, RawData, decode_frame, decode_units, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn0c import PowerQuality, PurchaseInfo, SettlementInfo
from emms_protocol.gdw1376.afn0d_curves import CURVE_FNS, DENSITY_MINUTES, Curve, CurveTag
from emms_protocol.gdw1376.afn0e import EventBatch, EventRecord, EventRequest, PointEvent, PowerEvent
from emms_protocol.gdw1376.afn00 import PerUnitAck, UnitAck
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
from emms_protocol.gdw1376.afn05 import ProtectCommand, TripCommand
from emms_protocol.gdw1376.afn09 import VersionInfo
from emms_protocol.gdw1376.afn10 import ForwardReply, ForwardRequest
from emms_protocol.gdw1376.energy_blocks import EnergyReading, ForwardEnergies, Register, ReverseEnergies
from emms_protocol.gdw1376.registry import supported
from emms_protocol.gdw1376.units import decode_body, encode_units


def num(width: int, scale: int, signed: bool = False) -> st.SearchStrategy[float | None]:
    top = 80 if signed else 100
    limit = top * 100 ** (width - 1) - 1
    ints = st.integers(-limit if signed else 0, limit)
    return st.one_of(st.none(), ints.map(lambda n: n / 10**scale))


A5, A7, A9, A11, A14 = num(2, 1, True), num(2, 1), num(3, 4, True), num(4, 2), num(5, 4)
A22, A23, A25 = num(1, 1), num(3, 4), num(3, 3, True)
CLOCK = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59)).map(
    lambda d: d.replace(microsecond=0, tzinfo=DEVICE_TZ))
MINUTE = CLOCK.map(lambda d: d.replace(second=0))
DAY = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
MONTH = DAY.map(lambda d: d.replace(day=1))
TEXT = st.text(alphabet=string.ascii_letters + string.digits + ".-", max_size=4)
NONE = st.none()
HEX12 = st.binary(min_size=6, max_size=6).map(lambda raw: raw.hex())


def register(m: int, value: st.SearchStrategy[float | None]) -> st.SearchStrategy[Register]:
    return st.builds(Register, value, st.tuples(*[value] * m))


@st.composite
def forward(draw: st.DrawFn, td: st.SearchStrategy[Any] = NONE) -> ForwardEnergies:
    m = draw(st.integers(0, 12))
    return ForwardEnergies(draw(st.one_of(st.none(), MINUTE)), draw(register(m, A14)), draw(register(m, A11)),
                           draw(register(m, A11)), draw(register(m, A11)), draw(td))


@st.composite
def reverse(draw: st.DrawFn, td: st.SearchStrategy[Any] = NONE) -> ReverseEnergies:
    f = draw(forward(td))
    return ReverseEnergies(f.read_at, f.active, f.reactive, f.q1, f.q4, f.td)


@st.composite
def reading(draw: st.DrawFn, value: st.SearchStrategy[float | None] = A14,
            td: st.SearchStrategy[Any] = NONE) -> EnergyReading:
    m = draw(st.integers(0, 12))
    return EnergyReading(draw(st.one_of(st.none(), MINUTE)), draw(value), tuple(draw(value) for _ in range(m)),
                         draw(td))


@st.composite
def settlement(draw: st.DrawFn) -> SettlementInfo:
    m = draw(st.integers(0, 12))
    return SettlementInfo(draw(st.one_of(st.none(), MINUTE)), draw(A14), tuple(draw(A14) for _ in range(m)),
                          draw(A14), tuple(draw(A14) for _ in range(m)))


@st.composite
def event_batch(draw: st.DrawFn) -> EventBatch:
    records = []
    for _ in range(draw(st.integers(0, 4))):
        erc = draw(st.sampled_from([1, 3, 13, 14, 31, 99]))
        rest = draw(st.binary(max_size=20))
        if erc == 14:
            rest = bytes.fromhex("30 12 01 02 24") + rest
        records.append(EventRecord.build(erc, draw(MINUTE), rest))
    start = draw(st.integers(0, 255))
    return EventBatch(draw(st.integers(0, 255)), draw(st.integers(0, 255)), start, (start + len(records)) % 256,
                      tuple(records))


METER = st.builds(MeterRecord, st.integers(1, 2040), st.integers(0, 2040), st.integers(1, 31),
                  st.sampled_from([0, 600, 1200, 2400, 4800, 7200, 9600, 19200]), st.sampled_from([0, 1, 2, 30, 31]),
                  HEX12, HEX12, st.integers(0, 48), st.integers(4, 7), st.integers(1, 4), HEX12,
                  st.integers(0, 15), st.integers(0, 15))
IP = st.ip_addresses(v=4).map(str)

STRATEGIES: dict[tuple[int, int, int], st.SearchStrategy[Any]] = {
    (0x00, 0, 3): st.builds(PerUnitAck, st.integers(0, 255), st.lists(st.builds(
        UnitAck, st.integers(0, 2040), st.integers(1, 248), st.booleans()), max_size=5).map(tuple)),
    (0x02, 1, 3): st.one_of(st.none(), CLOCK),
    (0x04, 0, 1): st.builds(UplinkCommParams, st.integers(0, 255), st.integers(0, 255), st.integers(0, 4095),
                            st.integers(0, 3), st.booleans(), st.booleans(), st.booleans(), st.integers(0, 255)),
    (0x04, 0, 3): st.builds(MasterAddress, IP, st.integers(0, 65535), IP, st.integers(0, 65535),
                            st.text(alphabet=string.ascii_letters + ".", max_size=16)),
    (0x04, 0, 9): st.builds(EventConfig, *[st.lists(st.integers(1, 64), unique=True).map(lambda c: tuple(sorted(c)))
                                          for _ in range(2)]),
    (0x04, 0, 10): st.builds(MeterConfig, st.lists(METER, max_size=4).map(tuple)),
    (0x04, 0, 25): st.builds(PointBasicParams, st.integers(0, 65535), st.integers(0, 65535), A7, A22, A23,
                             st.integers(0, 3), st.integers(0, 3)),
    (0x04, 0, 89): st.builds(TerminalAddress, st.integers(0, 65535), st.integers(0, 65535)),
    (0x0A, 0, 10): st.builds(MeterConfigQuery, st.lists(st.integers(0, 65535), max_size=8).map(tuple)),
    (0x05, 0, 1): st.builds(TripCommand, st.integers(0, 15), st.integers(0, 15)),
    (0x05, 0, 25): st.builds(ProtectCommand, st.integers(0, 255)),
    (0x05, 0, 31): CLOCK,
    (0x09, 1, 1): st.builds(VersionInfo, TEXT, TEXT, TEXT, st.one_of(st.none(), DAY), TEXT,
                            st.one_of(st.none(), TEXT), TEXT, st.one_of(st.none(), DAY)),
    (0x0C, 1, 2): CLOCK,
    (0x0C, 1, 25): st.builds(PowerQuality, st.one_of(st.none(), MINUTE), *[A9] * 8, *[A5] * 4, *[A7] * 3,
                             *[A25] * 4, *[A9] * 4),
    (0x0C, 1, 33): forward(),
    (0x0C, 1, 34): reverse(),
    (0x0C, 1, 129): reading(),
    (0x0C, 1, 130): reading(A11),
    (0x0C, 1, 167): st.builds(PurchaseInfo, st.one_of(st.none(), MINUTE), st.one_of(st.none(), st.integers(0, 9999)),
                              A14, A14, A11, A11, A11, A11, A11, A11),
    (0x0C, 1, 168): settlement(),
    (0x0D, 1, 1): forward(DAY), (0x0D, 1, 2): reverse(DAY), (0x0D, 1, 17): forward(MONTH),
    (0x0D, 1, 18): reverse(MONTH), (0x0D, 1, 161): reading(td=DAY), (0x0D, 1, 177): reading(td=MONTH),
    (0x0D, 0, 1): DAY, (0x0D, 0, 2): DAY, (0x0D, 0, 161): DAY,
    (0x0D, 0, 17): MONTH, (0x0D, 0, 18): MONTH, (0x0D, 0, 177): MONTH,
    (0x0E, 0, 1): st.builds(EventRequest, st.integers(0, 255), st.integers(0, 255)),
    (0x0E, 0, 2): st.builds(EventRequest, st.integers(0, 255), st.integers(0, 255)),
    (0x0E, 1, 1): event_batch(), (0x0E, 1, 2): event_batch(),
    (0x10, 0, 1): st.builds(ForwardRequest, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255),
                            st.integers(0, 255), st.binary(max_size=64)),
    (0x10, 1, 1): st.builds(ForwardReply, st.integers(0, 255), st.binary(max_size=64)),
}
STRATEGIES[(0x00, 1, 3)] = STRATEGIES[(0x00, 0, 3)]
for _fn in (1, 3, 9, 10, 25, 89):
    STRATEGIES[(0x0A, 1, _fn)] = STRATEGIES[(0x04, 0, _fn)]
_CURVE_VALUES = {"A.9": A9, "A.7": A7, "A.25": A25, "A.5": A5}
_DENSITY = st.sampled_from(sorted(DENSITY_MINUTES))
# AFN0D curves: one Fn per value format here (Td_c down, Td_c + n values up); every curve Fn's round trip is in
# test_protocol_gdw1376_curves.py (sampled over all of them, with their own ranges)
STRATEGIES[(0x0D, 0, 81)] = st.builds(CurveTag, st.one_of(st.none(), MINUTE), _DENSITY, st.integers(1, 255))
for _fn in (81, 89, 92, 105):
    STRATEGIES[(0x0D, 1, _fn)] = st.builds(Curve, st.one_of(st.none(), MINUTE), _DENSITY,
                                           st.lists(_CURVE_VALUES[CURVE_FNS[_fn].fmt], min_size=1, max_size=12)
                                           .map(tuple))
CURVES_ELSEWHERE = {(0x0D, d, fn) for fn in CURVE_FNS for d in (0, 1)}
# purchase control (AFN04/0A F22, F47; AFN0C F23): round trips with their own value ranges in
# test_protocol_gdw1376_purchase.py
CURVES_ELSEWHERE |= {(0x04, 0, 22), (0x0A, 1, 22), (0x04, 0, 47), (0x0A, 1, 47), (0x0C, 1, 23)}
# the control settings state (AFN0C F5): test_protocol_gdw1376_control_state.py
CURVES_ELSEWHERE |= {(0x0C, 1, 5)}
# the tariff periods (AFN04/0A F21): test_protocol_gdw1376_tariff.py
CURVES_ELSEWHERE |= {(0x04, 0, 21), (0x0A, 1, 21)}
# daily voltage statistics (AFN0D F27) and harmonics (AFN0C F57 / F58): test_protocol_gdw1376_supply_quality.py
CURVES_ELSEWHERE |= {(0x0D, 0, 27), (0x0D, 1, 27), (0x0C, 1, 57), (0x0C, 1, 58)}

SUPPORTED = [(afn, d, fn) for afn, d, fn, _ in supported()]


def test_every_supported_fn_has_a_strategy_or_no_data() -> None:
    for key in SUPPORTED:
        if key not in STRATEGIES and key not in CURVES_ELSEWHERE:
            afn, d, fn = key
            assert decode_body(afn, d, encode_units(afn, d, [DataUnit(0, fn, None)])) == [DataUnit(0, fn, None)]


@pytest.mark.parametrize("key", sorted(STRATEGIES), ids=lambda k: f"afn{k[0]:02X}-{'up' if k[1] else 'down'}-F{k[2]}")
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_round_trip(key: tuple[int, int, int], data: st.DataObject) -> None:
    afn, direction, fn = key
    value = data.draw(STRATEGIES[key])
    pn = data.draw(st.integers(1, 2040)) if (afn in (0x0C, 0x0D) and fn != 2) or (afn, fn) == (4, 25) else 0
    body = encode_units(afn, direction, [DataUnit(pn, fn, value)])
    assert decode_body(afn, direction, body) == [DataUnit(pn, fn, value)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 24), reading()), min_size=1, max_size=10))
def test_several_points_group_and_split_back(points: list[tuple[int, EnergyReading]]) -> None:
    units = [DataUnit(pn, 129, value) for pn, value in points]
    body = encode_units(0x0C, 1, units)
    assert decode_body(0x0C, 1, body) == units


def test_a_group_shares_one_da_dt() -> None:
    readings = [EnergyReading(None, float(i), ()) for i in range(3)]
    units = [DataUnit(pn, fn, r) for pn, r in zip((9, 10, 11), readings, strict=True) for fn in (129,)]
    body = encode_units(0x0C, 1, units)
    assert body[:4] == bytes((0x07, 0x02, 0x01, 0x10))  # p9..p11 in DA group 2, F129
    assert body.count(bytes((0x07, 0x02))) == 1
    requests = [DataUnit(pn, fn, None) for pn in (1, 2) for fn in (129, 130)]
    assert encode_units(0x0C, 0, requests) == bytes((0x03, 0x01, 0x03, 0x10))


def test_unknown_fn_becomes_raw_data() -> None:
    body = bytes((0x01, 0x01, 0x01, 0x1E)) + b"\x12\x34"  # p1 F241 uplink, unknown
    units = decode_body(0x0C, 1, body)
    assert units == [DataUnit(1, 241, RawData(0x0C, 241, 1, b"\x12\x34"))]
    assert encode_units(0x0C, 1, units) == body


def test_truncated_known_fn_raises_protocol_error() -> None:
    body = encode_units(0x0C, 1, [DataUnit(1, 129, EnergyReading(None, 1.0, (2.0,)))])
    with pytest.raises(ProtocolError):
        decode_body(0x0C, 1, body[:-1])


def test_encoder_refuses_wrong_types_clearly() -> None:
    with pytest.raises(ProtocolError):
        encode_units(0x0C, 1, [DataUnit(1, 129, "not a reading")])
    with pytest.raises(ProtocolError):
        encode_units(0x0C, 1, [DataUnit(1, 241, None)])
    with pytest.raises(ProtocolError):
        encode_units(0x05, 0, [DataUnit(1, 1, TripCommand(3, 4)), DataUnit(0, 2, 5)])


def test_event_details() -> None:
    power = EventRecord.build(14, datetime(2024, 1, 2, 3, 4, tzinfo=DEVICE_TZ), bytes.fromhex("30 12 01 02 24"))
    assert power.detail == PowerEvent(datetime(2024, 1, 2, 3, 4, tzinfo=DEVICE_TZ),
                                      datetime(2024, 2, 1, 12, 30, tzinfo=DEVICE_TZ))
    failure = EventRecord.build(31, datetime(2024, 1, 2, 3, 4, tzinfo=DEVICE_TZ), bytes((0x05, 0x80)))
    assert failure.detail == PointEvent(5, True)


def test_simulator_answers_a_master_request_end_to_end() -> None:
    address = Address(0x3701, 12, master=1)
    request = b.request(address, 0x0D, [DataUnit(pn, 161, date(2024, 5, 1)) for pn in (1, 2)], 4)
    wire = encode_frame(request)
    seen = decode_frame(wire)
    asked = decode_units(seen)
    assert [(u.pn, u.value) for u in asked] == [(1, date(2024, 5, 1)), (2, date(2024, 5, 1))]
    answer = b.response(seen, [DataUnit(u.pn, 161, EnergyReading(datetime(2024, 5, 2, 0, 5, tzinfo=DEVICE_TZ),
                                                                  100.0 + u.pn, (40.0, 60.0), u.value))
                               for u in asked])
    got = decode_units(decode_frame(encode_frame(answer)))
    assert [u.value.total for u in got] == [101.0, 102.0]  # type: ignore[union-attr]


AFNS = sorted({k[0] for k in SUPPORTED})


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(AFNS), st.integers(0, 1), st.sampled_from(sorted({k[2] for k in SUPPORTED})),
       st.integers(0, 255), st.binary(max_size=120))
def test_random_data_after_a_known_dt_raises_only_protocol_error(afn: int, direction: int, fn: int, da2: int,
                                                                 data: bytes) -> None:
    dt1, dt2 = 1 << ((fn - 1) % 8), (fn - 1) // 8
    body = bytes((0x01 if da2 else 0, da2, dt1, dt2)) + data
    try:
        units = decode_body(afn, direction, body)
    except ProtocolError:
        return
    assert all(isinstance(u, DataUnit) for u in units)
