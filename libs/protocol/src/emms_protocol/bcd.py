"""Binary-coded decimal primitives shared by all three protocols.

Byte order: the field protocols send multi-byte BCD numbers least significant
byte first; ``bytes_le`` functions follow that order.
"""

from __future__ import annotations

from emms_protocol.errors import ProtocolError


def bcd_to_int(byte: int) -> int:
    """One BCD byte (two digits) to an int; raises on a nibble above 9."""
    hi, lo = byte >> 4, byte & 0x0F
    if hi > 9 or lo > 9:
        raise ProtocolError("bcd", detail=f"byte {byte:02X} is not BCD")
    return hi * 10 + lo


def int_to_bcd(value: int) -> int:
    """An int 0..99 to one BCD byte."""
    if not 0 <= value <= 99:
        raise ProtocolError("value", detail=f"{value} does not fit one BCD byte")
    return ((value // 10) << 4) | (value % 10)


def bcd_le_to_int(data: bytes | memoryview) -> int:
    """Little-endian BCD bytes (lowest two digits first) to an int."""
    result = 0
    for byte in reversed(bytes(data)):
        result = result * 100 + bcd_to_int(byte)
    return result


def int_to_bcd_le(value: int, width: int) -> bytes:
    """An int to ``width`` little-endian BCD bytes; raises if it does not fit."""
    if value < 0 or value >= 100**width:
        raise ProtocolError("value", detail=f"{value} does not fit {width} BCD bytes")
    out = bytearray(width)
    for i in range(width):
        value, two = divmod(value, 100)
        out[i] = ((two // 10) << 4) | (two % 10)
    return bytes(out)


def bcd_le_to_digits(data: bytes | memoryview) -> str:
    """Little-endian BCD bytes to a digit string, most significant first (addresses)."""
    return "".join(f"{bcd_to_int(b):02d}" for b in reversed(bytes(data)))


def digits_to_bcd_le(digits: str, width: int) -> bytes:
    """A digit string (most significant first) to ``width`` little-endian BCD bytes."""
    if len(digits) != 2 * width or not digits.isdigit():
        raise ProtocolError("value", detail=f"{digits!r} is not {2 * width} decimal digits")
    return bytes(int_to_bcd(int(digits[i : i + 2])) for i in range(2 * width - 2, -1, -2))
