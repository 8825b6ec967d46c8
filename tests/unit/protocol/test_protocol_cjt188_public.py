"""Every CJ/T 188 frame of ../shared/protocol/public-frames.json: meaning, exact re-encode, refusal when broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emms_protocol import ProtocolError, cjt188
from emms_protocol.cjt188 import AddressBody, Quantity, Status188, WaterGasData

PUBLIC_188 = {
    "pub-67": "68 10 01 00 00 05 08 00 00 01 03 1F 90 00 39 16",
    "pub-68": "FE FE FE 68 10 01 00 00 05 08 00 00 81 16 90 1F 00 00 23 01 00 2C 00 00 00 00 2C 00 00 00 00 00 "
              "00 00 00 00 48 16",
    "pub-71": "68 10 01 00 00 05 08 00 00 83 03 81 0A 00 97 16",
    "pub-72": "68 10 02 00 00 05 08 00 00 15 0A A0 18 00 01 00 00 05 08 00 00 6C 16",
    "pub-74": "68 10 44 33 22 11 00 33 78 01 03 1F 90 00 80 16",
    "pub-75": "FE FE FE FE FE 68 20 12 19 24 18 27 31 00 01 03 1F 90 12 0C 16",
    "pub-77": "FE FE FE 68 10 12 00 00 00 00 00 00 83 03 81 0A 00 9B 16",
    "pub-78": "68 10 AA AA AA AA AA AA AA 01 03 1F 90 01 D2 16",
}


def _raw(frame_id: str) -> bytes:
    return bytes.fromhex(PUBLIC_188[frame_id])


def _preamble(raw: bytes) -> int:
    return len(raw) - len(raw.lstrip(b"\xfe"))


def test_fixture_matches_shared_file() -> None:
    path = Path(__file__).resolve().parents[4] / "shared" / "protocol" / "public-frames.json"
    if not path.exists():
        pytest.skip("shared public-frames.json not present")
    shared = {f["id"]: f["hex"] for f in json.loads(path.read_text()) if f["protocol"] == "CJ/T 188"}
    assert shared == PUBLIC_188


@pytest.mark.parametrize("frame_id", sorted(PUBLIC_188))
def test_public_frame_reencodes_byte_exact(frame_id: str) -> None:
    raw = _raw(frame_id)
    assert cjt188.encode_frame(cjt188.decode_frame(raw), _preamble(raw)) == raw


@pytest.mark.parametrize(("frame_id", "address", "seq"), [
    ("pub-67", "00000805000001", 0), ("pub-74", "78330011223344", 0), ("pub-78", cjt188.WILDCARD, 1)])
def test_cold_water_reads_of_901f(frame_id: str, address: str, seq: int) -> None:
    f = cjt188.decode_frame(_raw(frame_id))
    assert (f.meter_type, f.utility, f.address, f.function, f.from_meter) == (0x10, "water", address, "read", False)
    assert (f.di, f.di_code, f.di_order, f.seq, f.body) == (0x901F, "901F", "le", seq, None)
    assert cjt188.read_request(0x10, address, seq=seq) == _raw(frame_id)


def test_pub68_reply_with_big_endian_di_123_m3() -> None:
    f = cjt188.decode_frame(_raw("pub-68"))
    assert (f.from_meter, f.di, f.di_order) == (True, 0x901F, "be")
    assert f.body == WaterGasData(Quantity(123.0, 0x2C, "m³"), Quantity(0.0, 0x2C, "m³"), None,
                                  Status188(0, "open", False))
    assert isinstance(f.body, WaterGasData)
    rebuilt = cjt188.read_reply(0x10, "00000805000001", 0x901F, f.body, di_order="be", preamble=3)
    assert rebuilt == _raw("pub-68")


@pytest.mark.parametrize(("frame_id", "address"), [("pub-71", "00000805000001"), ("pub-77", "00000000000012")])
def test_read_address_replies(frame_id: str, address: str) -> None:
    f = cjt188.decode_frame(_raw(frame_id))
    assert (f.control, f.function, f.address, f.di_code, f.di_order) == (0x83, "read_address", address, "810A", "be")
    assert cjt188.address_reply(0x10, address, preamble=_preamble(_raw(frame_id))) == _raw(frame_id)


def test_pub72_write_address() -> None:
    f = cjt188.decode_frame(_raw("pub-72"))
    assert (f.function, f.address, f.di_code, f.body) == ("write_address", "00000805000002", "A018",
                                                         AddressBody("00000805000001"))
    assert cjt188.write_address(0x10, "00000805000002", "00000805000001") == _raw("pub-72")


def test_pub75_heat_meter_read_seq_12() -> None:
    f = cjt188.decode_frame(_raw("pub-75"))
    assert (f.meter_type, f.utility, f.seq, f.di) == (0x20, "heat", 0x12, 0x901F)
    assert cjt188.read_request(0x20, "00312718241912", seq=0x12, preamble=5) == _raw("pub-75")


@pytest.mark.parametrize("frame_id", sorted(PUBLIC_188))
def test_broken_variants_are_refused(frame_id: str) -> None:
    raw = _raw(frame_id)
    start = _preamble(raw)
    for bad in (raw[:-1], raw[:-2] + bytes(((raw[-2] + 1) & 0xFF,)) + raw[-1:], raw[:-1] + b"\x17",
                raw[:start] + b"\x69" + raw[start + 1 :], raw + b"\x00", raw[: start + 11]):
        with pytest.raises(ProtocolError):
            cjt188.decode_frame(bad)
