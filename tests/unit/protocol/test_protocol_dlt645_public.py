"""Every DL/T 645 frame of ../shared/protocol/public-frames.json: meaning, exact re-encode, refusal when broken."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from emms_protocol import ProtocolError, dlt645
from emms_protocol.dlt645 import ControlCommand, ReadReply, ReadRequest

CST = timezone(timedelta(hours=8))

# id → hex, copied verbatim from public-frames.json (all are checksum-valid).
PUBLIC_645 = {
    "pub-49": "68 61 10 01 30 12 15 68 11 04 33 33 34 33 7B 16",
    "pub-50": "68 61 10 01 30 12 15 68 91 08 33 33 34 33 AB 39 33 33 49 16",
    "pub-51": "68 61 10 01 30 12 15 68 1C 10 35 6A 39 35 34 33 33 33 4E 33 33 33 33 63 45 CC 2D 16",
    "pub-53": "68 61 10 01 30 12 15 68 9C 00 35 16",
    "pub-54": "68 61 10 01 30 12 15 68 11 04 36 38 33 37 86 16",
    "pub-55": "68 61 10 01 30 12 15 68 91 06 36 38 33 37 83 33 BE 16",
    "pub-59": "68 01 00 00 00 00 00 68 11 04 33 33 34 33 B3 16",
    "pub-60": "FE FE FE FE 68 AA AA AA AA AA AA 68 11 04 33 33 34 33 AE 16",
    "pub-61": "68 AA AA AA AA AA AA 68 13 00 DF 16",
    "pub-62": "68 16 00 00 00 15 20 68 11 04 33 33 34 33 FD 16",
    "pub-63": "68 16 00 00 00 15 20 68 11 04 33 33 39 35 04 16",
    "pub-65": "FE FE FE 68 14 04 00 00 00 00 68 01 02 43 C3 F1 16",
    "pub-66": "68 14 04 00 00 00 00 68 81 06 43 C3 48 B3 C8 33 6B 16",
}


def _raw(frame_id: str) -> bytes:
    return bytes.fromhex(PUBLIC_645[frame_id])


def test_fixture_matches_shared_file() -> None:
    path = Path(__file__).resolve().parents[4] / "shared" / "protocol" / "public-frames.json"
    if not path.exists():
        pytest.skip("shared public-frames.json not present")
    shared = {f["id"]: f["hex"] for f in json.loads(path.read_text()) if f["protocol"] == "DL/T 645"}
    assert shared == PUBLIC_645


@pytest.mark.parametrize("frame_id", sorted(PUBLIC_645))
def test_public_frame_reencodes_byte_exact(frame_id: str) -> None:
    raw = _raw(frame_id)
    preamble = len(raw) - len(raw.lstrip(b"\xfe"))
    assert dlt645.encode_frame(dlt645.decode_frame(raw), preamble) == raw


def test_pub49_read_forward_active_total() -> None:
    f = dlt645.decode_frame(_raw("pub-49"))
    assert (f.address, f.control, f.function, f.from_meter, f.edition) == ("151230011061", 0x11, "read", False, 2007)
    assert f.body == ReadRequest(0x00010000, "00010000")
    assert dlt645.read_request("151230011061", 0x00010000) == _raw("pub-49")


def test_pub50_reply_6_78_kwh() -> None:
    f = dlt645.decode_frame(_raw("pub-50"))
    assert f.from_meter and not f.error and f.function == "read"
    assert isinstance(f.body, ReadReply)
    assert (f.body.di_code, f.body.name, f.body.unit, f.body.value) == (
        "00010000", "energy.active.import.total", "kWh", 6.78)
    assert dlt645.read_reply("151230011061", 0x00010000, 6.78) == _raw("pub-50")


def test_pub51_control_allow_close_until_2099() -> None:
    f = dlt645.decode_frame(_raw("pub-51"))
    assert f.function == "control"
    assert f.body == ControlCommand(2, "020637", "00000001", "allow_close", 0x1B, datetime(2099, 12, 30, tzinfo=CST))
    built = dlt645.control_command("151230011061", "allow_close", "02020637", "00000001", datetime(2099, 12, 30))
    assert built == _raw("pub-51")


def test_pub53_control_success_reply() -> None:
    f = dlt645.decode_frame(_raw("pub-53"))
    assert (f.control, f.from_meter, f.error, f.data, f.body) == (0x9C, True, False, b"", None)
    assert dlt645.ack_reply("151230011061", 0x1C) == _raw("pub-53")


def test_pub54_55_status_word_3_relay_open() -> None:
    req = dlt645.decode_frame(_raw("pub-54"))
    assert req.body == ReadRequest(0x04000503, "04000503")
    rep = dlt645.decode_frame(_raw("pub-55"))
    assert isinstance(rep.body, ReadReply)
    assert (rep.body.name, rep.body.value) == ("status_word.3", 0x0050)


@pytest.mark.parametrize(("frame_id", "address"), [("pub-59", "000000000001"), ("pub-60", dlt645.WILDCARD),
                                                   ("pub-62", "201500000016")])
def test_reads_of_forward_active_total(frame_id: str, address: str) -> None:
    f = dlt645.decode_frame(_raw(frame_id))
    assert (f.address, f.body) == (address, ReadRequest(0x00010000, "00010000"))
    preamble = 4 if frame_id == "pub-60" else 0
    assert dlt645.read_request(address, 0x00010000, preamble=preamble) == _raw(frame_id)


def test_pub61_read_address() -> None:
    f = dlt645.decode_frame(_raw("pub-61"))
    assert (f.function, f.address, f.data) == ("read_address", dlt645.WILDCARD, b"")
    assert dlt645.read_address() == _raw("pub-61")


def test_pub63_read_power_factor() -> None:
    f = dlt645.decode_frame(_raw("pub-63"))
    assert f.body == ReadRequest(0x02060000, "02060000")
    assert dlt645.lookup(0x02060000) is not None


def test_pub65_66_dlt645_1997() -> None:
    req = dlt645.decode_frame(_raw("pub-65"))
    assert (req.edition, req.function, req.address, req.body) == (1997, "read", "000000000414",
                                                                  ReadRequest(0x9010, "9010"))
    assert dlt645.read_request_1997("000000000414", 0x9010, preamble=3) == _raw("pub-65")
    rep = dlt645.decode_frame(_raw("pub-66"))
    assert isinstance(rep.body, ReadReply)
    assert (rep.edition, rep.body.value, rep.body.unit) == (1997, 9580.15, "kWh")
    assert dlt645.read_reply_1997("000000000414", 0x9010, 9580.15) == _raw("pub-66")


def _broken(raw: bytes) -> list[bytes]:
    start = len(raw) - len(raw.lstrip(b"\xfe"))
    return [
        raw[:-1],  # no end byte
        raw[:-2] + bytes(((raw[-2] + 1) & 0xFF,)) + raw[-1:],  # checksum off by one
        raw[:-1] + b"\x17",  # wrong end byte
        raw[:start] + b"\x69" + raw[start + 1 :],  # wrong start byte
        raw + b"\x00",  # trailing byte
        raw[: start + 10],  # header only
    ]


@pytest.mark.parametrize("frame_id", sorted(PUBLIC_645))
def test_broken_variants_are_refused(frame_id: str) -> None:
    for bad in _broken(_raw(frame_id)):
        with pytest.raises(ProtocolError):
            dlt645.decode_frame(bad)
