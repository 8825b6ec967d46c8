"""Builders reproduce the real frames of both sides byte for byte."""

from __future__ import annotations

from datetime import datetime

import pytest

from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import DEVICE_TZ, Address, DataUnit, RawData, TimeLabel, decode_frame, encode_frame
from emms_protocol.gdw1376 import builders as b

TERMINAL_A = Address(0x0171, 2082)
TERMINAL_B = Address(0x0200, 0x1234)
REF = datetime(2018, 8, 28, 17, 0, tzinfo=DEVICE_TZ)


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


def _tp(hex_text: str, reference: datetime = REF) -> TimeLabel:
    return TimeLabel.from_bytes(_hex(hex_text), reference)


def test_terminal_link_frames() -> None:
    assert encode_frame(b.login(TERMINAL_A, 8)) == _hex("68 32 00 32 00 68 C9 71 01 22 08 00 02 78 00 00 01 00 E0 16")
    assert encode_frame(b.heartbeat(TERMINAL_A, 9)) == _hex(
        "68 32 00 32 00 68 C9 71 01 22 08 00 02 79 00 00 04 00 E4 16")
    assert encode_frame(b.logout(TERMINAL_A, 1)) == _hex(
        "68 32 00 32 00 68 C9 71 01 22 08 00 02 71 00 00 02 00 DA 16")


def test_heartbeat_with_clock_round_trips() -> None:
    clock = datetime(2024, 2, 29, 23, 59, 58, tzinfo=DEVICE_TZ)
    frame = b.heartbeat(TERMINAL_A, 3, clock)
    from emms_protocol.gdw1376 import decode_units

    again = decode_frame(encode_frame(frame))
    assert decode_units(again) == [DataUnit(0, 3, clock)]


def test_master_confirms_a_login() -> None:
    login = decode_frame(_hex("68 32 00 32 00 68 C9 00 02 34 12 00 02 71 00 00 01 00 85 16"))
    assert encode_frame(b.confirm(login)) == _hex("68 32 00 32 00 68 0B 00 02 34 12 00 00 61 00 00 01 00 B5 16")
    denied = b.deny(login)
    assert denied.body == _hex("00 00 02 00") and denied.control.to_byte() == 0x0B


def test_terminal_confirms_a_command_with_events_waiting() -> None:
    command = b.request(Address(0x0200, 0x1234, master=2), 0x05, [DataUnit(1, 2, None)], 0,
                        tp=_tp("00 27 52 13 07 05"))
    answer = b.confirm(command, ec=(17, 0))
    assert encode_frame(answer) == _hex(
        "68 52 00 52 00 68 A0 00 02 34 12 04 00 E0 00 00 01 00 11 00 00 27 52 13 07 05 76 16")
    with pytest.raises(ProtocolError):
        b.confirm(answer, ec=(1, 0))  # a downlink answer cannot carry EC


def test_master_requests() -> None:
    a = Address(0x0171, 2082, master=1)
    f25 = b.request(a, 0x0C, [DataUnit(1, 25, None)], 11, tp=_tp("0B 13 49 16 28 00"))
    assert encode_frame(f25) == _hex("68 4A 00 4A 00 68 4B 71 01 22 08 02 0C EB 01 01 01 03 0B 13 49 16 28 00 8B 16")
    clock = b.request(Address(0, 1), 0x0C, [DataUnit(0, 2, None)], 0, master=1, function=10)
    assert encode_frame(clock) == _hex("68 32 00 32 00 68 4A 00 00 01 00 02 0C 60 00 00 02 00 BB 16")
    version = b.request(Address(0x5000, 2, master=1), 0x09, [DataUnit(0, 1, None)], 0, con=True)
    assert encode_frame(version) == _hex("68 32 00 32 00 68 4B 00 50 02 00 02 09 70 00 00 01 00 19 16")


def test_forwarding_request_carries_zero_pw() -> None:
    raw = _hex("68 E2 00 E2 00 68 4B 00 02 34 12 04 10 E0 00 00 01 00 1F 6B BC 0A 10 00 68 61 10 01 30 12 15 68 "
               "11 04 33 33 34 33 7B 16 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 13 51 23 21 05 A1 16")
    ref = datetime(2018, 8, 25, tzinfo=DEVICE_TZ)
    body = RawData(0x10, 1, 0, _hex("1F 6B BC 0A 10 00 68 61 10 01 30 12 15 68 11 04 33 33 34 33 7B 16"))
    frame = b.request(TERMINAL_B, 0x10, [DataUnit(0, 1, body)], 0, master=2, tp=_tp("00 13 51 23 21 05", ref))
    assert encode_frame(frame) == raw
    with pytest.raises(ProtocolError):
        b.request(TERMINAL_B, 0x0C, [DataUnit(0, 2, None)], 0, pw=bytes(16))


def test_response_echoes_rseq_tp_and_address() -> None:
    req = b.request(Address(0x0171, 2082, master=1), 0x0C, [DataUnit(0, 2, None)], 7, tp=_tp("02 39 19 16 28 00"))
    resp = b.response(req, [DataUnit(0, 2, RawData(0x0C, 2, 0, bytes(6)))], fir=False, fin=True, acd_ec=(3, 4))
    assert resp.seq.seq == 7 and resp.tp == req.tp and resp.address == req.address
    assert resp.control.to_byte() == 0xA8 and resp.ec == (3, 4)
    assert not resp.seq.fir and resp.seq.fin
    assert decode_frame(encode_frame(resp), reference=REF) == resp
