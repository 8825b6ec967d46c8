"""AFN 10 — data forwarding, F1 transparent forwarding (p0) (§3.10 of the notes).

Downlink: port, control word, frame time-out, byte time-out, k (2, LE), k bytes
of the meter frame. Uplink: port, k (2, LE), the meter's answer. The meter
frame inside is decoded by :mod:`emms_protocol.dlt645` or
:mod:`emms_protocol.cjt188` when it is one (imported lazily; ``inner`` stays
``None`` when it is neither or does not decode).

Control word (UNVERIFIED bit assignment, inferred from the value ``6B`` every
source uses for 645 meters): D7..D5 baud code (0=300 … 3=2400 … 7=38400 per
the common table), D4 stop bits (0 = 1, 1 = 2), D3 parity enabled, D2 parity
odd (0 = even), D1..D0 data bits − 5. Frame time-out: D7 unit (0 = 10 ms,
1 = s), D6..D0 value; byte time-out in 10 ms (UNVERIFIED units).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need

_DECODERS: dict[str, Callable[[bytes], Any]] = {}
SERIAL_BAUDS = (300, 600, 1200, 2400, 4800, 7200, 9600, 19200)


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """Decoded control word."""

    baud: int
    stop_bits: int
    parity: str
    data_bits: int


def serial_settings(control: int) -> SerialSettings:
    parity = "none" if not control & 0x08 else ("odd" if control & 0x04 else "even")
    return SerialSettings(SERIAL_BAUDS[control >> 5], 2 if control & 0x10 else 1, parity, (control & 0x03) + 5)


def control_word(baud: int = 2400, parity: str = "even", stop_bits: int = 1, data_bits: int = 8) -> int:
    """Inverse of :func:`serial_settings`; the default is ``6B`` (2400 8E1, the DL/T 645 default)."""
    if baud not in SERIAL_BAUDS or parity not in ("none", "even", "odd") or stop_bits not in (1, 2) \
            or not 5 <= data_bits <= 8:
        raise ProtocolError("value", detail=f"unsupported serial settings {baud} {data_bits}{parity[0]}{stop_bits}")
    par = 0 if parity == "none" else (0x08 | (0x04 if parity == "odd" else 0))
    return (SERIAL_BAUDS.index(baud) << 5) | (0x10 if stop_bits == 2 else 0) | par | (data_bits - 5)


@dataclass(frozen=True, slots=True)
class ForwardRequest:
    """Downlink F1. ``inner`` / ``inner_protocol`` are filled on decode and ignored on encode."""

    port: int
    control: int
    frame_timeout: int
    byte_timeout: int
    payload: bytes
    inner: Any = field(default=None, compare=False)
    inner_protocol: str | None = field(default=None, compare=False)

    @property
    def serial(self) -> SerialSettings:
        return serial_settings(self.control)

    @property
    def frame_timeout_s(self) -> float:
        value = self.frame_timeout & 0x7F
        return float(value) if self.frame_timeout & 0x80 else value / 100


@dataclass(frozen=True, slots=True)
class ForwardReply:
    """Uplink F1: the port and the meter's answer."""

    port: int
    payload: bytes
    inner: Any = field(default=None, compare=False)
    inner_protocol: str | None = field(default=None, compare=False)


def decode_inner(payload: bytes) -> tuple[Any, str | None]:
    """Decode a forwarded meter frame with the 645 or 188 codec; (None, None) when neither applies."""
    pos = 0
    while pos < len(payload) and payload[pos] == 0xFE:
        pos += 1
    if len(payload) - pos < 12 or payload[pos] != 0x68:
        return None, None
    protocol = "dlt645" if payload[pos + 7] == 0x68 else "cjt188"
    decoder = _DECODERS.get(protocol)
    if decoder is None:
        try:
            decoder = import_module(f"emms_protocol.{protocol}").decode_frame
        except (ImportError, AttributeError):
            return None, None
        _DECODERS[protocol] = decoder
    try:
        return decoder(payload), protocol
    except (ValueError, IndexError, KeyError, TypeError):  # ProtocolError is a ValueError
        return None, None


def _decode_request(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 6, "AFN10 F1 request")
    k = data[pos + 4] | (data[pos + 5] << 8)
    need(end, pos + 6, k, "AFN10 F1 payload")
    payload = data[pos + 6:pos + 6 + k]
    inner, protocol = decode_inner(payload) if opts.decode_inner else (None, None)
    return ForwardRequest(data[pos], data[pos + 1], data[pos + 2], data[pos + 3], payload, inner, protocol), pos + 6 + k


def _encode_request(value: object, opts: Options) -> bytes:
    expect(value, ForwardRequest, "AFN10 F1 request")
    assert isinstance(value, ForwardRequest)
    head = (value.port, value.control, value.frame_timeout, value.byte_timeout)
    if not all(0 <= x <= 255 for x in head) or len(value.payload) > 0xFFFF:
        raise ProtocolError("value", detail=f"AFN10 F1 request out of range: {value!r}")
    return bytes(head) + len(value.payload).to_bytes(2, "little") + value.payload


def _decode_reply(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 3, "AFN10 F1 reply")
    k = data[pos + 1] | (data[pos + 2] << 8)
    need(end, pos + 3, k, "AFN10 F1 reply payload")
    payload = data[pos + 3:pos + 3 + k]
    inner, protocol = decode_inner(payload) if opts.decode_inner else (None, None)
    return ForwardReply(data[pos], payload, inner, protocol), pos + 3 + k


def _encode_reply(value: object, opts: Options) -> bytes:
    expect(value, ForwardReply, "AFN10 F1 reply")
    assert isinstance(value, ForwardReply)
    if not 0 <= value.port <= 255 or len(value.payload) > 0xFFFF:
        raise ProtocolError("value", detail=f"AFN10 F1 reply out of range: {value!r}")
    return bytes((value.port,)) + len(value.payload).to_bytes(2, "little") + value.payload


CODECS: dict[tuple[int, int, int], FnCodec] = {
    (0x10, 0, 1): FnCodec("transparent forwarding", _decode_request, _encode_request),
    (0x10, 1, 1): FnCodec("transparent forwarding answer", _decode_reply, _encode_reply),
}
