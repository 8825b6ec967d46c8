"""SEQ byte (TpV, FIR, FIN, CON, PSEQ/RSEQ) and the Tp time label of the AUX field.

All 256 SEQ values are decoded once at import (hot path is a list index).
Tp carries only ss mm hh DD (format A.16); month and year are inferred from a
reference time (the latest date not after ``reference + 1 day`` with that day
of month), because the wire does not carry them.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import ClassVar

from emms_protocol.errors import ProtocolError

#: Terminals in the field run on China Standard Time; decoded wire times carry this zone.
DEVICE_TZ: tzinfo = timezone(timedelta(hours=8), "CST")


@dataclass(frozen=True, slots=True)
class Seq:
    tpv: bool
    fir: bool
    fin: bool
    con: bool
    seq: int

    _TABLE: ClassVar[list[Seq]]

    def __post_init__(self) -> None:
        if not 0 <= self.seq <= 15:
            raise ProtocolError("value", detail=f"PSEQ/RSEQ {self.seq} out of 0..15")

    @property
    def single(self) -> bool:
        return self.fir and self.fin

    def to_byte(self) -> int:
        return (self.tpv << 7) | (self.fir << 6) | (self.fin << 5) | (self.con << 4) | self.seq

    @classmethod
    def from_byte(cls, value: int) -> Seq:
        if not 0 <= value <= 255:
            raise ProtocolError("value", detail=f"SEQ byte {value} out of range")
        return cls._TABLE[value]


Seq._TABLE = [Seq(bool(b & 0x80), bool(b & 0x40), bool(b & 0x20), bool(b & 0x10), b & 0x0F) for b in range(256)]


@dataclass(frozen=True, slots=True)
class TimeLabel:
    """Tp: initiator frame counter PFC, send time (A.16) and allowed delay in minutes (0 = no check)."""

    pfc: int
    sent_at: datetime
    delay_min: int

    def __post_init__(self) -> None:
        if not 0 <= self.pfc <= 255 or not 0 <= self.delay_min <= 255:
            raise ProtocolError("value", detail=f"time label out of range: {self!r}")

    def to_bytes(self, tz: tzinfo = DEVICE_TZ) -> bytes:
        t = self.sent_at.astimezone(tz) if self.sent_at.tzinfo is not None else self.sent_at
        return bytes((self.pfc, _bcd(t.second), _bcd(t.minute), _bcd(t.hour), _bcd(t.day), self.delay_min))

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, reference: datetime | None = None,
                   tz: tzinfo = DEVICE_TZ) -> TimeLabel:
        """Decode Tp; results are memoised per (bytes, zone, hour of the reference)."""
        if len(data) != 6:
            raise ProtocolError("short", detail="time label needs 6 bytes")
        data = bytes(data)
        hour = int((time.time() if reference is None else reference.timestamp()) // 3600)
        key = (data, tz, hour)
        hit = _TP_CACHE.get(key)
        if hit is None:
            hit = cls._decode(data, reference, tz)
            if len(_TP_CACHE) >= _TP_CACHE_MAX:
                _TP_CACHE.clear()
            _TP_CACHE[key] = hit
        return hit

    @classmethod
    def _decode(cls, data: bytes, reference: datetime | None, tz: tzinfo) -> TimeLabel:
        ss, mm, hh, dd = (_unbcd(b) for b in data[1:5])
        if ss > 59 or mm > 59 or hh > 23 or not 1 <= dd <= 31:
            raise ProtocolError("value", detail=f"time label {bytes(data[1:5]).hex(' ')} is not a time")
        ref = (reference or datetime.now(tz)).astimezone(tz) + timedelta(days=1)
        year, month = ref.year, ref.month
        if dd > ref.day:
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        while dd > calendar.monthrange(year, month)[1]:
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return cls(data[0], datetime(year, month, dd, hh, mm, ss, tzinfo=tz), data[5])


_TP_CACHE: dict[tuple[bytes, tzinfo, int], TimeLabel] = {}
_TP_CACHE_MAX = 8192


def _bcd(value: int) -> int:
    return ((value // 10) << 4) | (value % 10)


def _unbcd(byte: int) -> int:
    hi, lo = byte >> 4, byte & 0x0F
    if hi > 9 or lo > 9:
        raise ProtocolError("bcd", detail=f"byte {byte:02X} is not BCD")
    return hi * 10 + lo
