"""Random and mutated bytes never crash the 645 / 188 decoders: a frame or ProtocolError, nothing else.

Mutations re-compute the checksum half of the time so that the body parsers,
not just the checksum test, see the damaged DATA.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol import ProtocolError, cjt188, dlt645
from emms_protocol.checksum import sum8

VALID_645 = [
    dlt645.read_request("151230011061", 0x00010000),
    dlt645.read_reply("151230011061", 0x00010000, 6.78),
    dlt645.read_reply("151230011061", 0x0201FF00, (220.1, 221.2, 219.9)),
    dlt645.read_reply("151230011061", 0x01010000, (1.2345, datetime(2024, 5, 1, 12, 30))),
    dlt645.read_reply("151230011061", 0x05060101, (1.0, 2.0, 3.0, 4.0, 5.0)),
    dlt645.read_reply("151230011061", 0x04000101, datetime(2024, 5, 1).date()),
    dlt645.control_command("151230011061", "trip", "02000000", "00000001"),
    dlt645.broadcast_time_sync(datetime(2024, 5, 1, 12, 0, 0)),
    dlt645.freeze("151230011061", minute=0, hour=0),
    dlt645.write_request("151230011061", 0x04000102, datetime(2024, 1, 1, 1, 2, 3).time(), password="02000000",
                         operator="00000001"),
    dlt645.error_reply("151230011061", 0x11, 2),
    dlt645.read_reply_1997("000000000414", 0x9010, 9580.15),
    dlt645.address_reply("151230011061"),
]
VALID_188 = [
    cjt188.read_request(0x10, "00000805000001"),
    cjt188.read_reply(0x10, "00000805000001", 0x901F, cjt188.WaterGasData(
        cjt188.Quantity(123.0, 0x2C, "m³"), cjt188.Quantity(100.0, 0x2C, "m³"), datetime(2015, 5, 11, 22, 1, 31),
        cjt188.status_word("closed", battery_low=True))),
    cjt188.read_reply(0x20, "00312718241912", 0x901F, cjt188.HeatData(
        *(cjt188.Quantity(1.5, 0x05, "kWh") for _ in range(5)), 60.5, 40.25, 1234, datetime(2020, 1, 1),
        cjt188.status_word("open"))),
    cjt188.valve_command(0x10, "00000805000001", "close"),
    cjt188.write_time(0x10, "00000805000001", datetime(2024, 5, 1, 8, 0, 0)),
    cjt188.write_reply(0x10, "00000805000001", 0xA017, 1),
    cjt188.error_reply(0x10, "00000805000001", 0x04, 0),
    cjt188.write_address(0x10, "00000805000002", "00000805000001"),
]


def _only_protocol_errors(decode: Callable[[bytes], object], raw: bytes) -> None:
    try:
        decode(raw)
    except ProtocolError:
        pass


def _fix_checksum(raw: bytes, header: int) -> bytes:
    start = len(raw) - len(raw.lstrip(b"\xfe"))
    if len(raw) - start < header + 2:
        return raw
    end = len(raw) - 2
    return raw[:end] + bytes((sum8(raw[start:end]),)) + raw[end + 1 :]


@st.composite
def mutated(draw: st.DrawFn, frames: list[bytes]) -> tuple[bytes, bool]:
    raw = bytearray(draw(st.sampled_from(frames)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        pos = draw(st.integers(0, max(0, len(raw) - 1)))
        if kind == "flip" and raw:
            raw[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and raw:
            raw[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            raw.insert(pos, draw(st.integers(0, 255)))
        elif raw:
            del raw[pos]
    return bytes(raw), draw(st.booleans())


@settings(max_examples=400, deadline=None)
@given(raw=st.binary(max_size=64))
def test_random_bytes(raw: bytes) -> None:
    _only_protocol_errors(dlt645.decode_frame, raw)
    _only_protocol_errors(cjt188.decode_frame, raw)


@settings(max_examples=600, deadline=None)
@given(case=mutated(VALID_645))
def test_mutated_645_frames(case: tuple[bytes, bool]) -> None:
    raw, fix = case
    _only_protocol_errors(dlt645.decode_frame, _fix_checksum(raw, 10) if fix else raw)


@settings(max_examples=600, deadline=None)
@given(case=mutated(VALID_188))
def test_mutated_188_frames(case: tuple[bytes, bool]) -> None:
    raw, fix = case
    _only_protocol_errors(cjt188.decode_frame, _fix_checksum(raw, 11) if fix else raw)


@settings(max_examples=300, deadline=None)
@given(frame=st.sampled_from(VALID_645), data=st.binary(max_size=40), control=st.integers(0, 255))
def test_any_data_under_any_control_code(frame: bytes, data: bytes, control: int) -> None:
    """Valid framing around arbitrary DATA exercises every body parser with garbage."""
    raw = dlt645.encode_frame(dlt645.Frame645("151230011061", control, data))
    _only_protocol_errors(dlt645.decode_frame, raw)
    raw188 = cjt188.encode_frame(cjt188.Frame188(0x10, "00000805000001", control, data))
    _only_protocol_errors(cjt188.decode_frame, raw188)
