"""AFN 0D F27 — daily voltage statistics of a measurement point (日电压统计数据).

Layout from [LM-C] (``xiangruipuzhao/3761`` ``qgdw_3761_api.h``, ``sMtAfn0dF27_f``;
no captured frame found — **verified by one implementation only**). The request carries
Td_d (A.20) after DA/DT; the answer repeats Td_d, then

* per phase A, B, C: five BIN 2-byte minute counters — over the upper-upper limit
  (越上上限), under the lower-lower limit (越下下限), over the upper limit (越上限), under
  the lower limit (越下限), within the limits (合格) — 30 bytes;
* per phase A, B, C: minimum voltage (A.7), its time (A.18 mm hh DD), maximum voltage
  (A.7), its time (A.18) — 30 bytes ([LM-C] puts the minimum first; **UNVERIFIED**
  against the standard text, which some vendors print maximum-first);
* average voltage of phase A, B, C (A.7) — 6 bytes.

69 bytes with the tag. The terminal judges the limits with its own parameters (AFN04
F26 电压合格率判别参数). The upper counter includes the upper-upper time and the lower
counter the lower-lower time (the standard's nesting of the limits), so the monitored time
of a phase is ``within + over_upper + under_lower``. A.18 carries no month or year: the
times are resolved in the month of Td_d (the statistics are of that day). An all-EE (or,
by option, FF) counter is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376 import formats as f
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need

FN = 27
_PHASE_BYTES = 20  # 10 bytes of counters + 10 of extremes (+ 2 of average, at the end)
SIZE = 3 + 3 * 10 + 3 * 10 + 3 * 2


@dataclass(frozen=True, slots=True)
class PhaseVoltageStats:
    """One phase's day: minutes per band, the extremes with their time, the average (V)."""

    over_upper_upper_min: int | None
    under_lower_lower_min: int | None
    over_upper_min: int | None
    under_lower_min: int | None
    within_min: int | None
    minimum: float | None
    minimum_at: datetime | None
    maximum: float | None
    maximum_at: datetime | None
    average: float | None

    @property
    def monitored_min(self) -> int | None:
        """Minutes the terminal judged (within + over the upper + under the lower limit)."""
        parts = (self.within_min, self.over_upper_min, self.under_lower_min)
        return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


@dataclass(frozen=True, slots=True)
class DailyVoltageStats:
    """F27 answer: the freeze day and the three phases' statistics."""

    td: date | None
    a: PhaseVoltageStats
    b: PhaseVoltageStats
    c: PhaseVoltageStats

    def phases(self) -> dict[str, PhaseVoltageStats]:
        return {"a": self.a, "b": self.b, "c": self.c}


def _dec_minutes(data: bytes, pos: int, opts: Options) -> int | None:
    if f.absent(data, pos, 2, opts):
        return None
    return int.from_bytes(data[pos:pos + 2], "little")


def _enc_minutes(value: int | None, what: str) -> bytes:
    if value is None:
        return b"\xee\xee"
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1440:
        raise ProtocolError("value", detail=f"{what}: minutes of a day are 0 … 1440, not {value!r}")
    return value.to_bytes(2, "little")


def _dec_a18(data: bytes, pos: int, td: date | None, opts: Options) -> datetime | None:
    """A.18 mm hh DD in the month of ``td`` (None when absent or without a tag)."""
    if f.absent(data, pos, 3, opts):
        return None
    minute, hour, day = (f.dec_bcd(data, pos + i, 1, opts) for i in range(3))
    if td is None or minute is None or hour is None or day is None:
        return None
    try:
        return datetime(td.year, td.month, day, hour, minute, tzinfo=opts.tz)
    except ValueError as exc:
        raise ProtocolError("value", pos, f"A.18 is not a time of {td:%Y-%m}: {exc}") from None


def _enc_a18(value: datetime | None, opts: Options) -> bytes:
    if value is None:
        return b"\xee\xee\xee"
    if not isinstance(value, datetime):
        raise ProtocolError("value", detail=f"A.18 expects a datetime, got {value!r}")
    t = value.astimezone(opts.tz) if value.tzinfo is not None else value
    return f.enc_bcd(t.minute, 1, "A.18") + f.enc_bcd(t.hour, 1, "A.18") + f.enc_bcd(t.day, 1, "A.18")


def _decode_answer(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, SIZE, "daily voltage statistics")
    td = f.dec_a20(data, pos, opts)
    counters = pos + 3
    extremes = counters + 30
    averages = extremes + 30
    phases = []
    for i in range(3):
        c = counters + 10 * i
        m = [_dec_minutes(data, c + 2 * k, opts) for k in range(5)]
        e = extremes + 10 * i
        phases.append(PhaseVoltageStats(
            m[0], m[1], m[2], m[3], m[4],
            f.dec_a7(data, e, opts), _dec_a18(data, e + 2, td, opts),
            f.dec_a7(data, e + 5, opts), _dec_a18(data, e + 7, td, opts),
            f.dec_a7(data, averages + 2 * i, opts)))
    return DailyVoltageStats(td, phases[0], phases[1], phases[2]), pos + SIZE


def _encode_answer(value: object, opts: Options) -> bytes:
    expect(value, DailyVoltageStats, "daily voltage statistics")
    assert isinstance(value, DailyVoltageStats)
    phases = (value.a, value.b, value.c)
    out = bytearray(f.enc_a20(value.td, opts))
    for p in phases:
        for name in ("over_upper_upper_min", "under_lower_lower_min", "over_upper_min", "under_lower_min",
                     "within_min"):
            out += _enc_minutes(getattr(p, name), name)
    for p in phases:
        out += f.enc_a7(p.minimum, opts) + _enc_a18(p.minimum_at, opts)
        out += f.enc_a7(p.maximum, opts) + _enc_a18(p.maximum_at, opts)
    for p in phases:
        out += f.enc_a7(p.average, opts)
    return bytes(out)


def _decode_request(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, 3, "daily voltage statistics request")
    return f.dec_a20(data, pos, opts), pos + 3


def _encode_request(value: object, opts: Options) -> bytes:
    return f.enc_a20(value, opts)


CODECS: dict[tuple[int, int, int], FnCodec] = {
    (0x0D, 0, FN): FnCodec("daily voltage statistics (request: Td_d)", _decode_request, _encode_request),
    (0x0D, 1, FN): FnCodec("daily voltage statistics", _decode_answer, _encode_answer),
}
