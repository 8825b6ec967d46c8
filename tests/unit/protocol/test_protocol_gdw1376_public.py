"""Every checksum-valid public 1376.1 frame decodes to the meaning its publisher gives."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import DEVICE_TZ, DataUnit, RawData, decode_frame, decode_units, encode_units
from emms_protocol.gdw1376.afn00 import PerUnitAck, UnitAck
from emms_protocol.gdw1376.afn10 import ForwardReply, ForwardRequest
from emms_protocol.gdw1376.energy_blocks import EnergyReading


def _units(hex_text: str, reencodes: bool = True) -> list[DataUnit]:
    frame = decode_frame(bytes.fromhex(hex_text))
    units = decode_units(frame)
    if reencodes:  # units re-encode to the body they came from
        assert encode_units(frame.afn, frame.control.direction, units) == frame.body
    return units


def test_pub07_f129_energy_with_ee_rates() -> None:
    units = _units("68 C6 00 C6 00 68 88 71 01 22 08 02 0C A2 01 01 01 10 18 16 28 08 18 04 00 01 00 00 00 EE EE EE "
                   "EE EE EE EE EE EE EE EE EE EE EE EE EE EE EE EE EE 02 39 19 16 28 00 8C 16")
    assert units == [DataUnit(1, 129, EnergyReading(datetime(2018, 8, 28, 16, 18, tzinfo=DEVICE_TZ), 0.01,
                                                    (None, None, None, None)))]


@pytest.mark.parametrize(
    ("hex_text", "fn", "tag"),
    [
        ("68 56 00 56 00 68 4B 71 01 22 08 02 0D E5 01 01 01 00 27 08 18 05 05 34 16 28 00 A1 16", 1,
         date(2018, 8, 27)),
        ("68 56 00 56 00 68 4B 71 01 22 08 02 0D E6 01 01 02 00 27 08 18 06 52 40 16 28 00 FD 16", 2,
         date(2018, 8, 27)),
        ("68 52 00 52 00 68 4B 71 01 22 08 02 0D E9 01 01 01 02 07 18 09 48 43 16 28 00 D5 16", 17,
         date(2018, 7, 1)),
        ("68 52 00 52 00 68 4B 71 01 22 08 02 0D EA 01 01 02 02 07 18 0A 40 45 16 28 00 D2 16", 18,
         date(2018, 7, 1)),
    ],
)
def test_afn0d_requests_carry_the_freeze_tag(hex_text: str, fn: int, tag: date) -> None:
    assert _units(hex_text) == [DataUnit(1, fn, tag)]


def test_pub04_per_unit_confirm_with_dt_03() -> None:
    units = _units("68 4A 00 4A 00 68 00 04 44 61 06 00 00 6A 00 00 03 00 02 00 00 01 00 00 1F 16", reencodes=False)
    assert units == [DataUnit(0, 3, PerUnitAck(2, (UnitAck(0, 1, True),)))]
    # re-encoding writes the standard DT of F3 (04 00), not the quirk
    assert encode_units(0, 0, units) == bytes.fromhex("00 00 04 00 02 00 00 01 00 00")


def test_pub04_without_the_quirk_option_reads_f1_f2() -> None:
    from emms_protocol.gdw1376 import Options

    frame = decode_frame(bytes.fromhex("68 4A 00 4A 00 68 00 04 44 61 06 00 00 6A 00 00 03 00 02 00 00 01 00 00 1F 16"))
    units = decode_units(frame, Options(afn00_dt03_is_f3=False))
    assert [(u.pn, u.fn) for u in units][:2] == [(0, 1), (0, 2)]


def test_pub05_non_standard_trailing_bytes_are_tolerated() -> None:
    units = _units("68 4A 00 4A 00 68 10 71 01 22 08 00 00 68 00 00 01 00 00 00 00 00 00 00 15 16")
    assert units[0] == DataUnit(0, 1, None)
    assert units[1].fn == 0 and isinstance(units[1].value, RawData) and units[1].value.data == bytes(6)


def test_pub24_forwarding_request_with_645_inside() -> None:
    units = _units("68 E2 00 E2 00 68 4B 00 02 34 12 04 10 E0 00 00 01 00 1F 6B BC 0A 10 00 68 61 10 01 30 12 15 68 "
                   "11 04 33 33 34 33 7B 16 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 13 51 23 21 05 A1 16")
    (unit,) = units
    req = unit.value
    assert isinstance(req, ForwardRequest)
    assert (req.port, req.control, req.frame_timeout, req.byte_timeout, len(req.payload)) == (31, 0x6B, 0xBC, 0x0A, 16)
    assert req.serial.baud == 2400 and req.serial.parity == "even" and req.serial.data_bits == 8
    assert req.frame_timeout_s == 60.0
    assert req.inner_protocol == "dlt645"
    assert req.inner.address == "151230011061"
    assert req.inner.body.di == 0x00010000


def test_pub25_forwarding_reply_645_energy() -> None:
    units = _units("68 AE 00 AE 00 68 A8 00 02 34 12 04 10 E0 00 00 01 00 1F 14 00 68 61 10 01 30 12 15 68 91 08 33 "
                   "33 34 33 AB 39 33 33 49 16 4F 00 00 06 50 23 21 05 AE 16")
    reply = units[0].value
    assert isinstance(reply, ForwardReply)
    assert reply.port == 31 and len(reply.payload) == 20
    assert reply.inner_protocol == "dlt645"
    assert reply.inner.body.value == 6.78


def test_pub34_terminal_clock() -> None:
    units = _units("68 4A 00 4A 00 68 88 00 00 01 00 02 0C 60 00 00 02 00 49 48 11 15 52 15 17 16")
    assert units == [DataUnit(0, 2, datetime(2015, 12, 15, 11, 48, 49, tzinfo=DEVICE_TZ))]
    assert units[0].value.isoweekday() == 2  # type: ignore[union-attr]  # the frame's week field says Tuesday


@pytest.mark.parametrize(
    "hex_text",
    [
        "68 32 00 32 00 68 C9 71 01 22 08 00 02 78 00 00 01 00 E0 16",
        "68 32 00 32 00 68 C9 71 01 22 08 00 02 79 00 00 04 00 E4 16",
        "68 32 00 32 00 68 4B 00 50 02 00 02 09 70 00 00 01 00 19 16",
        "68 4A 00 4A 00 68 4B 71 01 22 08 02 0C EB 01 01 01 03 0B 13 49 16 28 00 8B 16",
        "68 52 00 52 00 68 A0 00 02 34 12 04 00 E0 00 00 01 00 11 00 00 27 52 13 07 05 76 16",
    ],
)
def test_data_less_units(hex_text: str) -> None:
    assert all(u.value is None for u in _units(hex_text))


def test_pub48_broken_length_is_refused() -> None:
    with pytest.raises(ProtocolError):
        decode_frame(bytes.fromhex("68 0C 00 0C 00 68 4B 32 01 00 01 00 0C 60 01 01 01 00 EE 16"))
