"""AFN05 F1 nibble order, AFN05 F25 with its duration byte, AFN0C F168 with a two-byte tariff count.

The evidence behind each choice is in docs/protocol.md ("Choices where the
sources disagree"). The third-party frames used here: pub-13 of
../shared/protocol/public-frames.json (a master's F168 request) and the one
captured F168 answer of the Kaitai description's samples
(liangminhua/qgdw376.1.ksy ``packet-sample/rafn12f168.3761``, the answer to
that same request). No public frame carries AFN05 F1 or F25; their byte layouts
are checked against what terminal firmware reads out of the byte.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import (
    DEVICE_TZ,
    Address,
    DataUnit,
    Frame,
    Options,
    TimeLabel,
    decode_frame,
    decode_units,
    encode_frame,
)
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn0c import SettlementInfo
from emms_protocol.gdw1376.afn05 import ProtectCommand, TripCommand
from emms_protocol.gdw1376.units import decode_body, encode_units

TERMINAL = Address(0x3701, 12, master=1)
TM = datetime(2026, 11, 25, 8, 15, tzinfo=DEVICE_TZ)
REVERSED = Options(trip_time_high_nibble=True)
ONE_BYTE_M = Options(f168_rate_count_bytes=1)

# pub-13: the master asks p1 F168 (DT 80 14); the terminal's captured answer to it (Tp 04 06 24 16 28 00 echoed).
PUB_13 = "68 4A 00 4A 00 68 4B 71 01 22 08 02 0C E4 01 01 80 14 04 06 24 16 28 00 DB 16"
KSY_F168_ANSWER = ("68 7A 00 7A 00 68 88 71 01 22 08 02 0C A4 01 01 80 14 23 16 28 08 18 EE EE EE EE EE EE 55 "
                   "04 06 24 16 28 00 42 16")

A14 = st.one_of(st.none(), st.integers(0, 10**10 - 1).map(lambda n: n / 10**4))
MINUTE = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=DEVICE_TZ))


def firmware_reads(byte: int) -> tuple[int, int]:
    """(限电时间 half hours, 告警延时 minutes) as terminal firmware takes them out of the F1 byte
    (gdgly/NUC97X_JS Terminal_Contrl_Remote.c: ``&0xf`` for the limit, ``>>4 & 0xf`` for the delay)."""
    return byte & 0x0F, (byte >> 4) & 0x0F


# -- AFN05 F1 ------------------------------------------------------------------------------------------------

def test_f1_puts_the_limit_in_the_low_nibble_and_the_alarm_delay_in_the_high_one() -> None:
    body = encode_units(0x05, 0, [DataUnit(1, 1, TripCommand(limit_half_hours=4, alarm_delay_min=2))])
    assert body == bytes.fromhex("01 01 01 00 24")  # p1 F1, 告警延时 2 min in D7..D4, 限电时间 2 h in D3..D0
    assert decode_body(0x05, 0, bytes.fromhex("01 01 01 00 35")) == [DataUnit(1, 1, TripCommand(5, 3))]


@settings(max_examples=80, deadline=None)
@given(limit=st.integers(0, 15), delay=st.integers(0, 15), pn=st.integers(1, 8))
def test_f1_byte_is_what_the_terminal_firmware_reads(limit: int, delay: int, pn: int) -> None:
    command = TripCommand(limit, delay)
    frame = decode_frame(encode_frame(b.request(TERMINAL, 0x05, [DataUnit(pn, 1, command)], 3)))
    assert frame.pw == bytes(16)
    assert firmware_reads(frame.body[-1]) == (limit, delay)
    assert decode_units(frame) == [DataUnit(pn, 1, command)]


@settings(max_examples=80, deadline=None)
@given(limit=st.integers(0, 15), delay=st.integers(0, 15))
def test_f1_reverse_order_stays_selectable_and_round_trips(limit: int, delay: int) -> None:
    unit = DataUnit(1, 1, TripCommand(limit, delay))
    body = encode_units(0x05, 0, [unit], REVERSED)
    assert body[-1] == (limit << 4) | delay
    assert decode_body(0x05, 0, body, REVERSED) == [unit]
    if limit != delay:  # the two readings of one byte swap the fields
        assert decode_body(0x05, 0, body) == [DataUnit(1, 1, TripCommand(delay, limit))]


# -- AFN05 F25 -----------------------------------------------------------------------------------------------

def test_f25_carries_its_duration_byte_before_the_password() -> None:
    frame = b.request(TERMINAL, 0x05, [DataUnit(0, 25, ProtectCommand(4))], 2)
    raw = encode_frame(frame)
    assert frame.body == bytes.fromhex("00 00 01 03 04")  # p0 F25, 4 × 0.5 h
    assert raw[-18:-2] == bytes(16)  # the PW follows the duration
    back = decode_frame(raw)
    assert decode_units(back) == [DataUnit(0, 25, ProtectCommand(4))]
    assert ProtectCommand(4).duration == timedelta(hours=2) and ProtectCommand(0).duration is None


@settings(max_examples=80, deadline=None)
@given(duration=st.integers(0, 255), pw=st.binary(min_size=16, max_size=16), tp=st.booleans())
def test_f25_round_trips_with_any_duration_and_password(duration: int, pw: bytes, tp: bool) -> None:
    label = TimeLabel(7, TM, 5) if tp else None
    raw = encode_frame(b.request(TERMINAL, 0x05, [DataUnit(0, 25, ProtectCommand(duration))], 9, pw, tp=label))
    frame = decode_frame(raw, reference=TM)
    assert frame.pw == pw
    assert decode_units(frame) == [DataUnit(0, 25, ProtectCommand(duration))]


def test_f25_without_its_byte_is_refused_and_a_duration_is_required_to_encode() -> None:
    # What the codec used to send: DA/DT only, then the PW. Terminals refuse it (F25 one byte short of the
    # data area, or the PW read one byte late); this codec refuses the unit as short.
    legacy = Frame(b.request(TERMINAL, 0x05, [], 1).control, TERMINAL, 0x05,
                   b.request(TERMINAL, 0x05, [], 1).seq, bytes.fromhex("00 00 01 03"), pw=bytes(16))
    with pytest.raises(ProtocolError) as err:
        decode_units(decode_frame(encode_frame(legacy)))
    assert err.value.kind == "short"
    with pytest.raises(ProtocolError):
        encode_units(0x05, 0, [DataUnit(0, 25, None)])
    with pytest.raises(ProtocolError):
        ProtectCommand(256)
    # F33 (protection off) still carries nothing
    assert encode_units(0x05, 0, [DataUnit(0, 33, None)]) == bytes.fromhex("00 00 01 04")


# -- AFN0C F168 ----------------------------------------------------------------------------------------------

def test_pub13_request_is_answered_with_a_two_byte_tariff_count() -> None:
    request = decode_frame(bytes.fromhex(PUB_13))
    assert decode_units(request) == [DataUnit(1, 168, None)]
    info = SettlementInfo(TM, 1234.5678, (600.0, 634.5678), 12.0, (5.0, 7.0))
    answer = decode_frame(encode_frame(b.response(request, [DataUnit(1, 168, info)])))
    data = answer.body[4:]
    assert data[5:7] == bytes.fromhex("02 00")  # M = 2, A.8
    assert len(data) == 5 + 2 + 2 * 3 * 5
    assert data[7:12] == bytes.fromhex("78 56 34 12 00")  # settled total 1234.5678 kWh, A.14
    assert decode_units(answer) == [DataUnit(1, 168, info)]


def test_f168_tariff_count_is_bcd_and_an_absent_count_means_no_rates() -> None:
    twelve = SettlementInfo(None, None, (1.0,) * 12, None, (2.0,) * 12)
    body = encode_units(0x0C, 1, [DataUnit(1, 168, twelve)])
    assert body[4 + 5:4 + 7] == bytes.fromhex("12 00")  # A.8 is BCD: 12, not 0C
    assert decode_body(0x0C, 1, body) == [DataUnit(1, 168, twelve)]
    no_data = bytes.fromhex("01 01 80 14") + bytes.fromhex("15 08 25 11 26") + b"\xee" * (2 + 10)
    assert decode_body(0x0C, 1, no_data) == [
        DataUnit(1, 168, SettlementInfo(datetime(2026, 11, 25, 8, 15, tzinfo=DEVICE_TZ), None, (), None, ()))]
    too_many = bytes.fromhex("01 01 80 14") + b"\xee" * 5 + bytes.fromhex("15 00") + bytes(160)
    with pytest.raises(ProtocolError) as err:
        decode_body(0x0C, 1, too_many)
    assert err.value.kind == "value" and err.value.offset == 9


def test_the_captured_f168_answer_is_refused_under_either_width() -> None:
    """The one captured answer (Tm, then EE EE EE EE EE EE 55) fits neither layout: read with A.8 the count is
    absent and the five bytes left cannot hold the settled and unsettled totals; read with one byte the count is
    EE = 238. The same terminal's F34 and F167 answers also break their layouts (docs/protocol.md)."""
    frame = decode_frame(bytes.fromhex(KSY_F168_ANSWER), reference=datetime(2018, 8, 28, 16, 30, tzinfo=DEVICE_TZ))
    assert frame.afn == 0x0C and frame.seq.seq == 4 and frame.body[:4] == bytes.fromhex("01 01 80 14")
    with pytest.raises(ProtocolError) as two:
        decode_units(frame)
    assert two.value.kind == "short"
    with pytest.raises(ProtocolError) as one:
        decode_units(frame, ONE_BYTE_M)
    assert one.value.kind == "value" and "238" in one.value.detail


@st.composite
def settlement(draw: st.DrawFn) -> SettlementInfo:
    m = draw(st.integers(0, 14))
    return SettlementInfo(draw(st.one_of(st.none(), MINUTE)), draw(A14), tuple(draw(A14) for _ in range(m)),
                          draw(A14), tuple(draw(A14) for _ in range(m)))


@settings(max_examples=120, deadline=None)
@given(info=settlement(), pn=st.integers(1, 2040), width=st.sampled_from([1, 2]))
def test_f168_round_trips_with_either_count_width(info: SettlementInfo, pn: int, width: int) -> None:
    options = Options(f168_rate_count_bytes=width)
    body = encode_units(0x0C, 1, [DataUnit(pn, 168, info)], options)
    assert len(body) == 4 + 5 + width + 10 * (len(info.settled_rates) + 1)
    assert decode_body(0x0C, 1, body, options) == [DataUnit(pn, 168, info)]


def test_f168_encoder_and_options_refuse_what_does_not_fit() -> None:
    with pytest.raises(ProtocolError):
        encode_units(0x0C, 1, [DataUnit(1, 168, SettlementInfo(None, 1.0, (1.0,), 1.0, ()))])
    with pytest.raises(ProtocolError):
        encode_units(0x0C, 1, [DataUnit(1, 168, SettlementInfo(None, 1.0, (1.0,) * 15, 1.0, (1.0,) * 15))])
    with pytest.raises(ProtocolError):
        Options(f168_rate_count_bytes=3)
