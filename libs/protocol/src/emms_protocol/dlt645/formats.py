"""DL/T 645 data formats (appendix A of the standard): BCD numbers, dates, words, blocks.

Every format turns the *unscrambled* value bytes (least significant byte first)
into an engineering value and back. Decoded values are plain Python objects so
that a JSON view needs no knowledge of the format:

* numbers → ``float`` (``int`` when the format has no decimals), sign taken
  from bit 7 of the most significant byte for signed formats;
* an all-``FF`` (or all-``EE``) field → ``None`` (meters fill absent values so);
* date-times → ``datetime`` aware in :data:`DEVICE_TZ` (the meter's wall clock,
  China Standard Time), dates → ``date``, times of day → ``time``; an all-zero
  date-time → ``None``;
* status words → ``int``; addresses / numbers printed as digits → ``str``;
* composite and repeated fields → ``tuple`` of the above.

BCD is parsed as ``int(bytes[::-1].hex())`` — one C call — after checking the
hex string is all digits: this is the hot path of reading replies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Protocol, TypeAlias

from emms_protocol.errors import ProtocolError

#: Meters in the field keep China Standard Time; decoded wire times carry this zone.
DEVICE_TZ: tzinfo = timezone(timedelta(hours=8), "CST")

Scalar: TypeAlias = float | int | str | datetime | date | time | None
Value: TypeAlias = Scalar | tuple["Value", ...]


class Format(Protocol):
    """A value format: ``size`` bytes (0 = any multiple of the element size)."""

    @property
    def size(self) -> int: ...

    def decode(self, data: bytes) -> Value: ...

    def encode(self, value: object) -> bytes: ...


def _absent(data: bytes) -> bool:
    first = data[0]
    return (first == 0xFF or first == 0xEE) and data.count(first) == len(data)


def bcd_le(data: bytes) -> int:
    """Little-endian BCD bytes to an int; ProtocolError on a non-decimal nibble."""
    digits = data[::-1].hex()
    if not digits.isdigit():
        raise ProtocolError("bcd", detail=f"{data.hex(' ')} is not BCD")
    return int(digits)


def to_bcd_le(value: int, width: int) -> bytes:
    """A non-negative int to ``width`` little-endian BCD bytes."""
    if value < 0 or value >= 100**width:
        raise ProtocolError("value", detail=f"{value} does not fit {width} BCD bytes")
    return bytes.fromhex(f"{value:0{2 * width}d}")[::-1]


_SCALE = tuple(10**d for d in range(10))


@dataclass(frozen=True, slots=True)
class Number:
    """BCD number of ``size`` bytes with ``decimals`` implied decimals (e.g. XXXXXX.XX)."""

    size: int
    decimals: int = 0
    signed: bool = False

    def decode(self, data: bytes) -> float | int | None:
        if len(data) != self.size:
            raise ProtocolError("length", detail=f"number needs {self.size} bytes, got {len(data)}")
        negative = self.signed and data[-1] & 0x80
        digits = data[::-1].hex()
        if negative:
            digits = f"{data[-1] & 0x7F:02x}{digits[2:]}"
        if not digits.isdigit():
            if _absent(data):
                return None
            raise ProtocolError("bcd", detail=f"{data.hex(' ')} is not BCD")
        n = -int(digits) if negative else int(digits)
        return n / _SCALE[self.decimals] if self.decimals else n

    def encode(self, value: object) -> bytes:
        if value is None:
            return b"\xff" * self.size
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtocolError("value", detail=f"{value!r} is not a number")
        n = round(value * 10**self.decimals)
        limit = 8 * 10 ** (2 * self.size - 1) if self.signed else 10 ** (2 * self.size)
        if abs(n) >= limit or (n < 0 and not self.signed):
            raise ProtocolError("value", detail=f"{value} out of range for {self.size}-byte BCD")
        raw = bytearray(to_bcd_le(abs(n), self.size))
        if n < 0:
            raw[-1] |= 0x80
        return bytes(raw)


@dataclass(frozen=True, slots=True)
class Word:
    """Unsigned binary word, low byte first (status words, bit fields)."""

    size: int

    def decode(self, data: bytes) -> int:
        if len(data) != self.size:
            raise ProtocolError("length", detail=f"word needs {self.size} bytes, got {len(data)}")
        return int.from_bytes(data, "little")

    def encode(self, value: object) -> bytes:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 256**self.size:
            raise ProtocolError("value", detail=f"{value!r} is not a {self.size}-byte word")
        return value.to_bytes(self.size, "little")


@dataclass(frozen=True, slots=True)
class Digits:
    """A number printed as digits (address, meter number): hex of the reversed bytes."""

    size: int

    def decode(self, data: bytes) -> str:
        if len(data) != self.size:
            raise ProtocolError("length", detail=f"digits need {self.size} bytes, got {len(data)}")
        return data[::-1].hex().upper()

    def encode(self, value: object) -> bytes:
        if not isinstance(value, str) or len(value) != 2 * self.size:
            raise ProtocolError("value", detail=f"{value!r} is not {2 * self.size} hex digits")
        try:
            return bytes.fromhex(value)[::-1]
        except ValueError:
            raise ProtocolError("value", detail=f"{value!r} is not hex digits") from None


# Date-time layouts are written in wire order: s second, m minute, h hour, D day,
# M month, Y year (two digits, 2000-based), W weekday (0 = Sunday, ignored on decode).
_FIELDS = "smhDMYW"


@dataclass(frozen=True, slots=True)
class Clock:
    """A date, time or date-time in BCD, fields in ``layout`` wire order (e.g. ``"mhDMY"``)."""

    layout: str

    @property
    def size(self) -> int:
        return len(self.layout)

    def decode(self, data: bytes) -> datetime | date | time | None:
        if len(data) != len(self.layout):
            raise ProtocolError("length", detail=f"{self.layout} needs {len(self.layout)} bytes")
        if _absent(data) or ("Y" in self.layout and not any(data)):
            return None
        f = dict(zip(self.layout, (bcd_le(data[i : i + 1]) for i in range(len(data))), strict=True))
        try:
            if "Y" not in f:
                return time(f.get("h", 0), f.get("m", 0), f.get("s", 0))
            if "h" not in f:
                return date(2000 + f["Y"], f["M"], f.get("D", 1))
            return datetime(2000 + f["Y"], f["M"], f.get("D", 1), f["h"], f.get("m", 0), f.get("s", 0),
                            tzinfo=DEVICE_TZ)
        except ValueError as exc:
            raise ProtocolError("value", detail=f"{data.hex(' ')} is not a valid {self.layout}: {exc}") from None

    def encode(self, value: object) -> bytes:
        if value is None:
            return bytes(len(self.layout))
        if isinstance(value, datetime):
            t = value.astimezone(DEVICE_TZ) if value.tzinfo is not None else value
            f = {"s": t.second, "m": t.minute, "h": t.hour, "D": t.day, "M": t.month, "Y": t.year - 2000,
                 "W": t.isoweekday() % 7}
        elif isinstance(value, date):
            f = {"s": 0, "m": 0, "h": 0, "D": value.day, "M": value.month, "Y": value.year - 2000,
                 "W": value.isoweekday() % 7}
        elif isinstance(value, time):
            f = {"s": value.second, "m": value.minute, "h": value.hour, "D": 0, "M": 0, "Y": 0, "W": 0}
        else:
            raise ProtocolError("value", detail=f"{value!r} is not a date or time")
        if not 0 <= f["Y"] <= 99:
            raise ProtocolError("value", detail=f"year {f['Y'] + 2000} outside 2000..2099")
        return bytes(int(f"{f[c]:02d}", 16) for c in self.layout)


@dataclass(frozen=True, slots=True)
class Composite:
    """Consecutive fields (e.g. max demand XX.XXXX + its time YYMMDDhhmm) → tuple."""

    parts: tuple[Number | Word | Digits | Clock, ...]

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    def decode(self, data: bytes) -> tuple[Value, ...]:
        if len(data) != self.size:
            raise ProtocolError("length", detail=f"composite needs {self.size} bytes, got {len(data)}")
        out: list[Value] = []
        pos = 0
        for part in self.parts:
            out.append(part.decode(data[pos : pos + part.size]))
            pos += part.size
        return tuple(out)

    def encode(self, value: object) -> bytes:
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != len(self.parts):
            raise ProtocolError("value", detail=f"{value!r} is not a {len(self.parts)}-tuple")
        return b"".join(p.encode(v) for p, v in zip(self.parts, value, strict=True))


Element: TypeAlias = Number | Word | Digits | Clock | Composite


@dataclass(frozen=True, slots=True)
class Block:
    """A data block (DI with FF): ``count`` elements, or any number ≥ 1 when ``count`` is 0."""

    element: Element
    count: int = 0

    @property
    def size(self) -> int:
        return self.element.size * self.count

    def decode(self, data: bytes) -> tuple[Value, ...]:
        width = self.element.size
        if not data or len(data) % width or (self.count and len(data) != width * self.count):
            raise ProtocolError("length", detail=f"block of {width}-byte elements, got {len(data)} bytes")
        return tuple(self.element.decode(data[i : i + width]) for i in range(0, len(data), width))

    def encode(self, value: object) -> bytes:
        if not isinstance(value, Sequence) or isinstance(value, str) or not value:
            raise ProtocolError("value", detail=f"{value!r} is not a non-empty sequence")
        if self.count and len(value) != self.count:
            raise ProtocolError("value", detail=f"block needs {self.count} elements, got {len(value)}")
        return b"".join(self.element.encode(v) for v in value)


AnyFormat: TypeAlias = Element | Block
