"""The terminal's tariff periods of Q/GDW 1376.1: AFN04 / AFN0A F21 终端电能量费率时段和费率数, p0, 49 bytes.

* 48 bytes BIN, one per half hour of the local day in order (byte 0 = 00:00–00:30, byte 1 = 00:30–01:00,
  … byte 47 = 23:30–24:00): the rate number of that half hour, **0-based** (0 = 费率 1);
* 1 byte BIN: the number of rates M, 1..48.

Every half hour's rate number is below M. The rates themselves (厘 per kWh, A.3) are F22
(:class:`emms_protocol.gdw1376.purchase.EnergyRates`): a half hour with rate number r counts at F22's
rate r + 1. Evidence and the 0-based reading in docs/protocol.md ("Tariff periods: AFN04 F21").
"""

from __future__ import annotations

from dataclasses import dataclass

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376.codec import FnCodec, Options, expect, need, no_data

HALF_HOURS = 48
MAX_RATES = 48


@dataclass(frozen=True, slots=True)
class TariffPeriods:
    """F21: ``slots`` — the 0-based rate number of each half hour from 00:00 (48 of them); ``rate_count`` M."""

    slots: tuple[int, ...]
    rate_count: int

    def __post_init__(self) -> None:
        if isinstance(self.rate_count, bool) or not isinstance(self.rate_count, int) \
                or not 1 <= self.rate_count <= MAX_RATES:
            raise ProtocolError("value", detail=f"F21 rate count M must be 1..{MAX_RATES}, got {self.rate_count!r}")
        if len(self.slots) != HALF_HOURS:
            raise ProtocolError("value", detail=f"F21 carries {HALF_HOURS} half hours, got {len(self.slots)}")
        for i, rate in enumerate(self.slots):
            if isinstance(rate, bool) or not isinstance(rate, int) or not 0 <= rate < self.rate_count:
                raise ProtocolError("value", detail=f"F21 half hour {i} ({_clock(i)}): rate number {rate!r} is not"
                                                    f" 0..{self.rate_count - 1} (M = {self.rate_count})")

    def rate_of(self, half_hour: int) -> int:
        """The 1-based rate (费率 n) in force in a half hour 0..47."""
        return self.slots[half_hour] + 1


def _clock(half_hour: int) -> str:
    """``23:30–24:00`` for half hour 47."""
    start, end = 30 * half_hour, 30 * (half_hour + 1)
    return f"{start // 60:02d}:{start % 60:02d}–{end // 60:02d}:{end % 60:02d}"


def _decode_f21(data: bytes, pos: int, end: int, opts: Options) -> tuple[object, int]:
    need(end, pos, HALF_HOURS + 1, "F21")
    slots, count = tuple(data[pos:pos + HALF_HOURS]), data[pos + HALF_HOURS]
    if not 1 <= count <= MAX_RATES:
        raise ProtocolError("value", pos + HALF_HOURS, f"F21 rate count M must be 1..{MAX_RATES}, got {count}")
    for i, rate in enumerate(slots):
        if rate >= count:
            raise ProtocolError("value", pos + i, f"F21 half hour {i} ({_clock(i)}): rate number {rate} ≥ M = {count}")
    return TariffPeriods(slots, count), pos + HALF_HOURS + 1


def _encode_f21(value: object, opts: Options) -> bytes:
    expect(value, TariffPeriods, "F21")
    assert isinstance(value, TariffPeriods)
    return bytes(value.slots) + bytes((value.rate_count,))


_F21 = FnCodec("terminal energy rate periods and rate count", _decode_f21, _encode_f21)

CODECS: dict[tuple[int, int, int], FnCodec] = {
    (0x04, 0, 21): _F21,
    (0x0A, 1, 21): _F21,
    (0x0A, 0, 21): no_data("query terminal energy rate periods and rate count"),
}
