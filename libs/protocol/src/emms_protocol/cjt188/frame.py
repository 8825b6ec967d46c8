"""CJ/T 188-2004 frame: ``[FE…] 68 T A0..A6 C L DATA CS 16``; DATA = DI (2) + SER (1) + payload.

No +33H scrambling (the real frames checksum with raw bytes). Fixed overhead
13 bytes. The address is the 14 hex digits A6..A0 (``"00000805000001"``;
``"AAAAAAAAAAAAAA"`` wildcard). Abnormal replies may omit the DI (DATA = SER +
ST, L = 3). :func:`encode_frame` writes meter type, address, control and data
back; the other fields are derived by :func:`decode_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass

from emms_protocol.checksum import sum8
from emms_protocol.cjt188 import data_ids as ids
from emms_protocol.cjt188 import meter_types as mt
from emms_protocol.cjt188.bodies import Body188, parse_body
from emms_protocol.errors import ProtocolError
from emms_protocol.fastinit import fast_constructor

START = 0x68
END = 0x16
PREAMBLE = 0xFE
OVERHEAD = 13
WILDCARD = "AAAAAAAAAAAAAA"


@dataclass(frozen=True, slots=True)
class Frame188:
    """One CJ/T 188 frame; ``di`` is None when DATA has no known DI (``di_code`` then holds the wire bytes)."""

    meter_type: int
    address: str
    control: int
    data: bytes = b""
    utility: str = ""
    function: str = ""
    from_meter: bool = False
    error: bool = False
    di: int | None = None
    di_code: str = ""
    di_order: str = ""
    seq: int | None = None
    body: Body188 | None = None


_make_frame = fast_constructor(Frame188)


def split_frame(raw: bytes, pos: int = 0) -> tuple[int, int]:
    """Check the frame starting at ``raw[pos]`` (a 68); return its (start, end) offsets."""
    n = len(raw)
    if n - pos < OVERHEAD:
        raise ProtocolError("short", pos, f"{n - pos} bytes, a 188 frame has at least {OVERHEAD}")
    if raw[pos] != START:
        raise ProtocolError("start", pos, "expected 68")
    end = pos + 11 + raw[pos + 10]
    if end + 2 > n:
        raise ProtocolError("short", n, f"L={raw[pos + 10]} needs {end + 2 - pos} bytes, have {n - pos}")
    if sum8(raw[pos:end]) != raw[end]:
        raise ProtocolError("checksum", end, f"CS {raw[end]:02X}, computed {sum8(raw[pos:end]):02X}")
    if raw[end + 1] != END:
        raise ProtocolError("end", end + 1, f"expected 16, got {raw[end + 1]:02X}")
    return pos, end + 2


def decode_frame(raw: bytes | bytearray | memoryview) -> Frame188:
    """Decode exactly one 188 frame (leading FE allowed); ProtocolError on anything else."""
    raw = bytes(raw)
    pos, n = 0, len(raw)
    while pos < n and raw[pos] == PREAMBLE:
        pos += 1
    _, stop = split_frame(raw, pos)
    if stop != n:
        raise ProtocolError("length", stop, f"{n - stop} bytes after the end byte")
    control = raw[pos + 9]
    data = raw[pos + 11 : stop - 2]
    di: int | None = None
    order, code, seq, payload = "", "", None, data
    if control & mt.ABNORMAL and control & mt.FROM_METER and len(data) == 3:
        seq, payload = data[0], data[1:]
    elif len(data) >= 3:
        di, order = ids.di_from_bytes(data[0], data[1])
        code = f"{di:04X}" if di is not None else data[:2].hex().upper()
        seq, payload = data[2], data[3:]
    return _make_frame(
        raw[pos + 1],  # meter_type
        raw[pos + 2 : pos + 9][::-1].hex().upper(),  # address
        control,
        data,
        mt.utility(raw[pos + 1]),
        mt.function_name(control),
        bool(control & mt.FROM_METER),
        bool(control & mt.ABNORMAL),
        di,
        code,
        order,
        seq,
        parse_body(control, di, payload) if seq is not None else None,
    )


def address_bytes(address: str) -> bytes:
    """14 hex digits (A6..A0) → the 7 wire bytes A0..A6."""
    if len(address) != 14:
        raise ProtocolError("value", detail=f"188 address {address!r} is not 14 digits")
    try:
        return bytes.fromhex(address)[::-1]
    except ValueError:
        raise ProtocolError("value", detail=f"188 address {address!r} is not hex digits") from None


def encode_raw(meter_type: int, address: str, control: int, data: bytes, preamble: int = 0) -> bytes:
    """Frame ``data`` for the meter ``meter_type`` / ``address`` with control byte ``control``."""
    if not 0 <= meter_type <= 0xFF or not 0 <= control <= 0xFF:
        raise ProtocolError("value", detail="meter type and control must be bytes")
    if len(data) > 0xFF:
        raise ProtocolError("length", detail=f"DATA of {len(data)} bytes exceeds 255")
    body = bytes((START, meter_type)) + address_bytes(address) + bytes((control, len(data))) + data
    return b"\xfe" * preamble + body + bytes((sum8(body), END))


def encode_frame(frame: Frame188, preamble: int = 0) -> bytes:
    """The wire bytes of ``frame`` (meter type, address, control, data), ``preamble`` FE first."""
    return encode_raw(frame.meter_type, frame.address, frame.control, frame.data, preamble)
