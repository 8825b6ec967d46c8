"""1376.1 frame layer: the public third-party frames' headers, exact round trip, refusal of bad input."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import (
    AFN,
    DEVICE_TZ,
    Address,
    Control,
    DataUnit,
    Frame,
    Seq,
    TimeLabel,
    decode_frame,
    decode_units,
    encode_frame,
)

# The 1376.1 frames of ../shared/protocol/public-frames.json (published by third parties).
PUBLIC = {
    "pub-01": "68 32 00 32 00 68 C9 71 01 22 08 00 02 78 00 00 01 00 E0 16",
    "pub-02": "68 32 00 32 00 68 C9 71 01 22 08 00 02 79 00 00 04 00 E4 16",
    "pub-03": "68 32 00 32 00 68 C9 71 01 22 08 00 02 71 00 00 02 00 DA 16",
    "pub-04": "68 4A 00 4A 00 68 00 04 44 61 06 00 00 6A 00 00 03 00 02 00 00 01 00 00 1F 16",
    "pub-05": "68 4A 00 4A 00 68 10 71 01 22 08 00 00 68 00 00 01 00 00 00 00 00 00 00 15 16",
    "pub-07": "68 C6 00 C6 00 68 88 71 01 22 08 02 0C A2 01 01 01 10 18 16 28 08 18 04 00 01 00 00 00 EE EE EE "
              "EE EE EE EE EE EE EE EE EE EE EE EE EE EE EE EE EE 02 39 19 16 28 00 8C 16",
    "pub-08": "68 4A 00 4A 00 68 4B 71 01 22 08 02 0C EB 01 01 01 03 0B 13 49 16 28 00 8B 16",
    "pub-10": "68 4A 00 4A 00 68 4B 71 01 22 08 02 0C EC 01 01 01 04 0C 09 50 16 28 00 8B 16",
    "pub-11": "68 4A 00 4A 00 68 4B 71 01 22 08 02 0C ED 01 01 02 04 0D 22 51 16 28 00 A8 16",
    "pub-12": "68 4A 00 4A 00 68 4B 71 01 22 08 02 0C E3 01 01 40 14 03 59 21 16 28 00 E9 16",
    "pub-13": "68 4A 00 4A 00 68 4B 71 01 22 08 02 0C E4 01 01 80 14 04 06 24 16 28 00 DB 16",
    "pub-15": "68 56 00 56 00 68 4B 71 01 22 08 02 0D E5 01 01 01 00 27 08 18 05 05 34 16 28 00 A1 16",
    "pub-16": "68 56 00 56 00 68 4B 71 01 22 08 02 0D E6 01 01 02 00 27 08 18 06 52 40 16 28 00 FD 16",
    "pub-17": "68 52 00 52 00 68 4B 71 01 22 08 02 0D E9 01 01 01 02 07 18 09 48 43 16 28 00 D5 16",
    "pub-18": "68 52 00 52 00 68 4B 71 01 22 08 02 0D EA 01 01 02 02 07 18 0A 40 45 16 28 00 D2 16",
    "pub-19": "68 32 00 32 00 68 C9 00 02 34 12 00 02 71 00 00 01 00 85 16",
    "pub-20": "68 32 00 32 00 68 0B 00 02 34 12 00 00 61 00 00 01 00 B5 16",
    "pub-21": "68 32 00 32 00 68 C9 00 02 34 12 00 02 71 00 00 04 00 88 16",
    "pub-23": "68 52 00 52 00 68 A0 00 02 34 12 04 00 E0 00 00 01 00 11 00 00 27 52 13 07 05 76 16",
    "pub-24": "68 E2 00 E2 00 68 4B 00 02 34 12 04 10 E0 00 00 01 00 1F 6B BC 0A 10 00 68 61 10 01 30 12 15 68 "
              "11 04 33 33 34 33 7B 16 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 13 51 23 21 05 A1 16",
    "pub-25": "68 AE 00 AE 00 68 A8 00 02 34 12 04 10 E0 00 00 01 00 1F 14 00 68 61 10 01 30 12 15 68 91 08 33 "
              "33 34 33 AB 39 33 33 49 16 4F 00 00 06 50 23 21 05 AE 16",
    "pub-33": "68 32 00 32 00 68 4A 00 00 01 00 02 0C 60 00 00 02 00 BB 16",
    "pub-34": "68 4A 00 4A 00 68 88 00 00 01 00 02 0C 60 00 00 02 00 49 48 11 15 52 15 17 16",
    "pub-35": "68 32 00 32 00 68 C9 05 21 B2 A1 00 02 79 00 00 01 00 BE 16",
    "pub-36": "68 32 00 32 00 68 4B 00 50 02 00 02 09 70 00 00 01 00 19 16",
    "pub-38": "68 32 00 32 00 68 C9 03 41 A9 F9 00 02 7F 00 00 04 00 34 16",
    "pub-39": "68 32 00 32 00 68 0B 04 19 11 00 00 00 61 00 00 01 00 9B 16",
    "pub-40": "68 32 00 32 00 68 C9 00 10 02 00 00 02 70 00 00 01 00 4E 16",
    "pub-41": "68 32 00 32 00 68 C9 03 44 04 00 00 02 72 00 00 04 00 8C 16",
}
BROKEN = {"pub-48": "68 0C 00 0C 00 68 4B 32 01 00 01 00 0C 60 01 01 01 00 EE 16"}

# id: (C, key, MSA, AFN, SEQ byte, [(pn, Fn)...] of the units, PW?, EC, Tp bytes or None)
HEADERS: dict[str, tuple[int, str, int, int, int, list[tuple[int, int]], bool, tuple[int, int] | None,
                         str | None]] = {
    "pub-01": (0xC9, "0171-02082", 0, 0x02, 0x78, [(0, 1)], False, None, None),
    "pub-02": (0xC9, "0171-02082", 0, 0x02, 0x79, [(0, 3)], False, None, None),
    "pub-03": (0xC9, "0171-02082", 0, 0x02, 0x71, [(0, 2)], False, None, None),
    "pub-04": (0x00, "4404-01633", 0, 0x00, 0x6A, [(0, 3)], False, None, None),
    "pub-05": (0x10, "0171-02082", 0, 0x00, 0x68, [(0, 1), (0, 0)], False, None, None),
    "pub-07": (0x88, "0171-02082", 1, 0x0C, 0xA2, [(1, 129)], False, None, "02 39 19 16 28 00"),
    "pub-08": (0x4B, "0171-02082", 1, 0x0C, 0xEB, [(1, 25)], False, None, "0B 13 49 16 28 00"),
    "pub-10": (0x4B, "0171-02082", 1, 0x0C, 0xEC, [(1, 33)], False, None, "0C 09 50 16 28 00"),
    "pub-11": (0x4B, "0171-02082", 1, 0x0C, 0xED, [(1, 34)], False, None, "0D 22 51 16 28 00"),
    "pub-12": (0x4B, "0171-02082", 1, 0x0C, 0xE3, [(1, 167)], False, None, "03 59 21 16 28 00"),
    "pub-13": (0x4B, "0171-02082", 1, 0x0C, 0xE4, [(1, 168)], False, None, "04 06 24 16 28 00"),
    "pub-15": (0x4B, "0171-02082", 1, 0x0D, 0xE5, [(1, 1)], False, None, "05 05 34 16 28 00"),
    "pub-16": (0x4B, "0171-02082", 1, 0x0D, 0xE6, [(1, 2)], False, None, "06 52 40 16 28 00"),
    "pub-17": (0x4B, "0171-02082", 1, 0x0D, 0xE9, [(1, 17)], False, None, "09 48 43 16 28 00"),
    "pub-18": (0x4B, "0171-02082", 1, 0x0D, 0xEA, [(1, 18)], False, None, "0A 40 45 16 28 00"),
    "pub-19": (0xC9, "0200-04660", 0, 0x02, 0x71, [(0, 1)], False, None, None),
    "pub-20": (0x0B, "0200-04660", 0, 0x00, 0x61, [(0, 1)], False, None, None),
    "pub-21": (0xC9, "0200-04660", 0, 0x02, 0x71, [(0, 3)], False, None, None),
    "pub-23": (0xA0, "0200-04660", 2, 0x00, 0xE0, [(0, 1)], False, (17, 0), "00 27 52 13 07 05"),
    "pub-24": (0x4B, "0200-04660", 2, 0x10, 0xE0, [(0, 1)], True, None, "00 13 51 23 21 05"),
    "pub-25": (0xA8, "0200-04660", 2, 0x10, 0xE0, [(0, 1)], False, (79, 0), "00 06 50 23 21 05"),
    "pub-33": (0x4A, "0000-00001", 1, 0x0C, 0x60, [(0, 2)], False, None, None),
    "pub-34": (0x88, "0000-00001", 1, 0x0C, 0x60, [(0, 2)], False, None, None),
    "pub-35": (0xC9, "2105-41394", 0, 0x02, 0x79, [(0, 1)], False, None, None),
    "pub-36": (0x4B, "5000-00002", 1, 0x09, 0x70, [(0, 1)], False, None, None),
    "pub-38": (0xC9, "4103-63913", 0, 0x02, 0x7F, [(0, 3)], False, None, None),
    "pub-39": (0x0B, "1904-00017", 0, 0x00, 0x61, [(0, 1)], False, None, None),
    "pub-40": (0xC9, "1000-00002", 0, 0x02, 0x70, [(0, 1)], False, None, None),
    "pub-41": (0xC9, "4403-00004", 0, 0x02, 0x72, [(0, 3)], False, None, None),
}
REFERENCE = datetime(2018, 8, 28, 17, 0, tzinfo=DEVICE_TZ)


def _raw(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text)


def test_embedded_vectors_match_the_shared_file() -> None:
    path = Path(__file__).resolve().parents[4] / "shared" / "protocol" / "public-frames.json"
    if not path.exists():
        pytest.skip("shared public-frames.json not present on this checkout")
    shared = {f["id"]: f["hex"] for f in json.loads(path.read_text()) if f["protocol"].startswith("Q/GDW")}
    assert shared == PUBLIC | BROKEN


@pytest.mark.parametrize("frame_id", sorted(HEADERS))
def test_public_frame_headers(frame_id: str) -> None:
    c, key, msa, afn, seq, units, pw, ec, tp = HEADERS[frame_id]
    frame = decode_frame(_raw(PUBLIC[frame_id]), reference=REFERENCE)
    assert frame.control.to_byte() == c
    assert frame.address.key == key
    assert frame.address.master == msa
    assert frame.afn == afn
    assert frame.seq.to_byte() == seq
    assert (frame.pw is not None) == pw
    if pw:
        assert frame.pw == bytes(16)
    assert frame.ec == ec
    if tp is None:
        assert frame.tp is None
    else:
        assert frame.tp is not None
        assert frame.tp.to_bytes() == _raw(tp)
    assert [(u.pn, u.fn) for u in decode_units(frame)] == units


@pytest.mark.parametrize("frame_id", sorted(PUBLIC))
def test_public_frames_reencode_exactly(frame_id: str) -> None:
    raw = _raw(PUBLIC[frame_id])
    assert encode_frame(decode_frame(raw)) == raw


def test_broken_length_field_is_refused() -> None:
    with pytest.raises(ProtocolError) as err:
        decode_frame(_raw(BROKEN["pub-48"]))
    assert err.value.kind == "length"


def test_control_fields_of_known_bytes() -> None:
    assert Control.from_byte(0xC9) == Control(1, 1, 0, 0, 9)
    assert Control.from_byte(0xA8).acd
    assert Control.from_byte(0x7B) == Control(0, 1, 1, 1, 11)
    assert all(Control.from_byte(b).to_byte() == b for b in range(256))
    assert all(Seq.from_byte(b).to_byte() == b for b in range(256))


def test_address_key_and_vendor_form() -> None:
    address = decode_frame(_raw(PUBLIC["pub-39"])).address
    assert address == Address(0x1904, 0x11)
    assert address.key == "1904-00017"
    assert address.vendor_hex == "19040011"
    assert Address.parse("3701-00012") == Address(0x3701, 12)
    assert Address(0x3701, 12).key == "3701-00012"
    assert Address(0xFFFF, 0xFFFF, 0, True).broadcast
    with pytest.raises(ProtocolError):
        Address.parse("37-1")


def test_tp_month_is_inferred_from_the_reference() -> None:
    frame = decode_frame(_raw(PUBLIC["pub-07"]), reference=REFERENCE)
    assert frame.tp == TimeLabel(2, datetime(2018, 8, 28, 16, 19, 39, tzinfo=DEVICE_TZ), 0)
    early = decode_frame(_raw(PUBLIC["pub-07"]), reference=datetime(2018, 3, 2, tzinfo=DEVICE_TZ))
    assert early.tp is not None and early.tp.sent_at.month == 2 and early.tp.sent_at.day == 28
    leap = decode_frame(_raw(PUBLIC["pub-07"]), reference=datetime(2018, 3, 26, tzinfo=DEVICE_TZ))
    assert leap.tp is not None and (leap.tp.sent_at.month, leap.tp.sent_at.day) == (2, 28)


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"", "short"),
        (_raw(PUBLIC["pub-01"])[:-1], "short"),
        (_raw(PUBLIC["pub-01"]) + b"\x00", "length"),
        (b"\x69" + _raw(PUBLIC["pub-01"])[1:], "start"),
        (_raw(PUBLIC["pub-01"])[:-1] + b"\x17", "end"),
        (_raw(PUBLIC["pub-01"])[:-2] + b"\x00\x16", "checksum"),
        (_raw("68 32 00 36 00 68 C9 71 01 22 08 00 02 78 00 00 01 00 E0 16"), "length"),
    ],
)
def test_malformed_frames_raise_protocol_error(raw: bytes, kind: str) -> None:
    with pytest.raises(ProtocolError) as err:
        decode_frame(raw)
    assert err.value.kind == kind


def test_encode_refuses_inconsistent_aux() -> None:
    frame = decode_frame(_raw(PUBLIC["pub-24"]))
    with pytest.raises(ProtocolError):
        encode_frame(Frame(frame.control, frame.address, frame.afn, frame.seq, frame.body, None, None, frame.tp))
    with pytest.raises(ProtocolError):
        encode_frame(Frame(frame.control, frame.address, frame.afn, frame.seq, frame.body, frame.pw, None, None))


def _sum_frame(user: bytes, pid: int = 2) -> bytes:
    length = (len(user) << 2) | pid
    head = bytes((0x68, length & 0xFF, length >> 8, length & 0xFF, length >> 8, 0x68))
    return head + user + bytes((sum(user) & 0xFF, 0x16))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_raise_only_protocol_error(data: bytes) -> None:
    for candidate in (data, _sum_frame(data)):
        try:
            frame = decode_frame(candidate)
        except ProtocolError:
            continue
        try:
            decode_units(frame)
        except ProtocolError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(PUBLIC)), st.integers(min_value=6, max_value=200), st.integers(0, 255))
def test_mutated_public_frames_raise_only_protocol_error(frame_id: str, index: int, byte: int) -> None:
    raw = bytearray(_raw(PUBLIC[frame_id]))
    index = index % (len(raw) - 2)
    raw[index] = byte
    raw[-2] = sum(raw[6:-2]) & 0xFF  # keep the checksum right so the mutation reaches the inner layers
    try:
        frame = decode_frame(bytes(raw))
        assert encode_frame(frame) == bytes(raw)
        decode_units(frame)
    except ProtocolError:
        pass


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    control = Control.from_byte(draw(st.integers(0, 255)))
    seq = Seq.from_byte(draw(st.integers(0, 255)))
    afn = draw(st.sampled_from(list(AFN)))
    address = Address(draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 127)),
                      draw(st.booleans()))
    pw = draw(st.binary(min_size=16, max_size=16)) if control.direction == 0 and afn in (1, 4, 5, 6, 15, 16) \
        else None
    ec = (draw(st.integers(0, 255)), draw(st.integers(0, 255))) if control.acd else None
    tp = None
    if seq.tpv:
        when = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2020, 1, 28)))
        tp = TimeLabel(draw(st.integers(0, 255)), when.replace(microsecond=0, tzinfo=DEVICE_TZ),
                       draw(st.integers(0, 255)))
    body = draw(st.binary(max_size=64))
    return Frame(control, address, afn, seq, body, pw, ec, tp, draw(st.sampled_from([1, 2, 3])))


@settings(max_examples=300, deadline=None)
@given(frames())
def test_encode_decode_round_trip(frame: Frame) -> None:
    raw = encode_frame(frame)
    again = decode_frame(raw, reference=datetime(2020, 1, 30, tzinfo=DEVICE_TZ))
    assert again == frame
    assert encode_frame(again) == raw


def test_units_of_a_multi_pn_multi_fn_group() -> None:
    # p1..p3 (DA 07 01) × F129,F130 (DT 03 10) request: data-less units, pn-major order
    body = bytes((0x07, 0x01, 0x03, 0x10))
    frame = Frame(Control(0, 1, 0, 0, 11), Address(0x3701, 12), 0x0C, Seq(False, True, True, False, 1), body)
    units = decode_units(frame)
    assert [(u.pn, u.fn) for u in units] == [(1, 129), (1, 130), (2, 129), (2, 130), (3, 129), (3, 130)]
    assert decode_frame(encode_frame(frame)) == frame
    assert all(isinstance(u, DataUnit) and u.value is None for u in units)
