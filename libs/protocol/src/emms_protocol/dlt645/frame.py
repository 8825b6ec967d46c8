"""DL/T 645 frame: ``[FE…] 68 A0..A5 68 C L DATA CS 16`` with DATA scrambled +33H.

:func:`decode_frame` takes exactly one frame (any number of leading FE
wake-up bytes allowed, nothing after the end byte) and returns a
:class:`Frame645` whose ``body`` is the typed meaning of DATA. The address is
the 12 hex digits of A5..A0 (``"151230011061"``; ``"AAAAAAAAAAAA"`` wildcard,
``"999999999999"`` broadcast) — hex, not BCD-checked, so partial wildcards such
as ``"AAAAAA123456"`` survive. :func:`encode_frame` writes ``address``,
``control`` and ``data`` back; the other fields are derived by the decoder.
"""

from __future__ import annotations

from dataclasses import dataclass

from emms_protocol.checksum import sum8
from emms_protocol.dlt645.bodies import Body645, parse_body
from emms_protocol.dlt645.control import CONTROL_INFO
from emms_protocol.dlt645.scramble import UNSCRAMBLE, scramble
from emms_protocol.errors import ProtocolError
from emms_protocol.fastinit import fast_constructor

START = 0x68
END = 0x16
PREAMBLE = 0xFE
OVERHEAD = 12  # 68 + A(6) + 68 + C + L + CS + 16
WILDCARD = "AAAAAAAAAAAA"
BROADCAST = "999999999999"


@dataclass(frozen=True, slots=True)
class Frame645:
    """One DL/T 645 frame. ``data`` is DATA with the +33H removed."""

    address: str
    control: int
    data: bytes = b""
    edition: int = 2007
    function: str = ""
    from_meter: bool = False
    error: bool = False
    follow_up: bool = False
    body: Body645 | None = None


_make_frame = fast_constructor(Frame645)


def split_frame(raw: bytes, pos: int = 0) -> tuple[int, int]:
    """Check the frame starting at ``raw[pos]`` (a 68); return (start, end) offsets of it.

    Raises ProtocolError for a wrong start, a truncated frame, a bad checksum or end byte.
    """
    n = len(raw)
    if n - pos < OVERHEAD:
        raise ProtocolError("short", pos, f"{n - pos} bytes, a 645 frame has at least {OVERHEAD}")
    if raw[pos] != START or raw[pos + 7] != START:
        raise ProtocolError("start", pos if raw[pos] != START else pos + 7, "expected 68 … 68")
    end = pos + 10 + raw[pos + 9]
    if end + 2 > n:
        raise ProtocolError("short", n, f"L={raw[pos + 9]} needs {end + 2 - pos} bytes, have {n - pos}")
    if sum8(raw[pos:end]) != raw[end]:
        raise ProtocolError("checksum", end, f"CS {raw[end]:02X}, computed {sum8(raw[pos:end]):02X}")
    if raw[end + 1] != END:
        raise ProtocolError("end", end + 1, f"expected 16, got {raw[end + 1]:02X}")
    return pos, end + 2


def decode_frame(raw: bytes | bytearray | memoryview) -> Frame645:
    """Decode exactly one 645 frame (leading FE allowed); ProtocolError on anything else."""
    if type(raw) is not bytes:
        raw = bytes(raw)
    pos = 0
    n = len(raw)
    while pos < n and raw[pos] == PREAMBLE:
        pos += 1
    # Inline copy of split_frame's checks: this is the hot path of every meter reading.
    if n - pos < OVERHEAD or raw[pos] != START or raw[pos + 7] != START:
        split_frame(raw, pos)  # raises the precise error
    end = pos + 10 + raw[pos + 9]
    if end + 2 != n or sum8(raw[pos:end]) != raw[end] or raw[end + 1] != END:
        _, stop = split_frame(raw, pos)
        raise ProtocolError("length", stop, f"{n - stop} bytes after the end byte")
    control = raw[pos + 8]
    data = raw[pos + 10 : end].translate(UNSCRAMBLE)
    edition, function, from_meter, error, follow_up = CONTROL_INFO[control]
    return _make_frame(raw[pos + 1 : pos + 7][::-1].hex().upper(), control, data, edition, function, from_meter,
                       error, follow_up, parse_body(edition, control, data))


def address_bytes(address: str) -> bytes:
    """12 hex digits (A5..A0) → the 6 wire bytes A0..A5."""
    if len(address) != 12:
        raise ProtocolError("value", detail=f"645 address {address!r} is not 12 digits")
    try:
        return bytes.fromhex(address)[::-1]
    except ValueError:
        raise ProtocolError("value", detail=f"645 address {address!r} is not hex digits") from None


def encode_raw(address: str, control: int, data: bytes, preamble: int = 0) -> bytes:
    """Frame ``data`` (unscrambled) for ``address`` with control byte ``control``."""
    if not 0 <= control <= 0xFF:
        raise ProtocolError("value", detail=f"control {control} is not a byte")
    if len(data) > 0xFF:
        raise ProtocolError("length", detail=f"DATA of {len(data)} bytes exceeds 255")
    body = b"\x68" + address_bytes(address) + bytes((START, control, len(data))) + scramble(data)
    return b"\xfe" * preamble + body + bytes((sum8(body), END))


def encode_frame(frame: Frame645, preamble: int = 0) -> bytes:
    """The wire bytes of ``frame`` (address, control and data), with ``preamble`` FE bytes first."""
    return encode_raw(frame.address, frame.control, frame.data, preamble)
