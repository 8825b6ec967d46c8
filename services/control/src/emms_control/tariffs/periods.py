"""Time-of-use periods and the day's period table.

A day table is a list of ``(start, end, period)`` in local wall-clock time, ``HH:MM`` with
``24:00`` allowed as an end. An entry whose end is not after its start runs over midnight
(``23:00``–``07:00``). The table must cover the 24 hours of a day exactly once: a gap or an
overlap is refused with the offending interval (:class:`TariffError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from emms_control.tariffs.errors import TariffError

DAY_MINUTES = 24 * 60


class Period(StrEnum):
    """Tariff periods in the order of a meter's tariff registers (费率 1–4: 尖 峰 平 谷)."""

    SHARP = "sharp"
    PEAK = "peak"
    FLAT = "flat"
    VALLEY = "valley"

    @property
    def register(self) -> int:
        """The meter's tariff register of this period (``<base>.t1`` … ``.t4``)."""
        return list(Period).index(self) + 1


def parse_hhmm(text: str) -> int:
    """``"07:30"`` → 450 minutes; ``"24:00"`` → 1440."""
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(hours) == 2 and len(minutes) == 2):
        raise TariffError(f"time {text!r} is not HH:MM")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > DAY_MINUTES:
        raise TariffError(f"time {text!r} is not a time of day (00:00 … 24:00)")
    return value


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class Span:
    """``[start, end)`` minutes of the day, ``0 <= start < end <= 1440``."""

    start: int
    end: int
    period: Period


@dataclass(frozen=True, slots=True)
class DayTable:
    """Spans sorted by start, covering ``[0, 1440)`` exactly once."""

    spans: tuple[Span, ...]

    def at(self, minute: int) -> Span:
        for span in self.spans:
            if span.start <= minute < span.end:
                return span
        raise ValueError(f"minute {minute} outside the day")

    @property
    def periods(self) -> frozenset[Period]:
        return frozenset(s.period for s in self.spans)


def _pieces(index: int, start: int, end: int, period: Period) -> list[tuple[int, int, int, Period]]:
    if start == DAY_MINUTES:
        raise TariffError(f"entry {index + 1} starts at 24:00; write 00:00")
    if end > start:
        return [(start, end, index, period)]
    # end <= start: over midnight; 00:00–00:00 is the whole day
    out = [(start, DAY_MINUTES, index, period)]
    if end > 0:
        out.append((0, end, index, period))
    return out


def day_table(entries: Sequence[tuple[str, str, Period]]) -> DayTable:
    """Check and build a day table; :class:`TariffError` names the first gap or overlap."""
    if not entries:
        raise TariffError("the day table is empty: 00:00–24:00 not covered")
    pieces = [p for i, (s, e, period) in enumerate(entries) for p in _pieces(i, parse_hhmm(s), parse_hhmm(e), period)]
    pieces.sort()
    cursor, last = 0, -1
    gaps: list[tuple[int, int]] = []
    for start, end, index, _period in pieces:
        if start > cursor:
            gaps.append((cursor, start))
        elif start < cursor:
            raise TariffError(f"overlap in the day table: {hhmm(start)}–{hhmm(min(end, cursor))} is covered by"
                              f" entry {last + 1} and entry {index + 1}")
        cursor, last = end, index
    if cursor < DAY_MINUTES:
        gaps.append((cursor, DAY_MINUTES))
    if gaps:
        first, final = gaps[0], gaps[-1]
        if len(gaps) > 1 and first[0] == 0 and final[1] == DAY_MINUTES:  # one gap over midnight
            first = (final[0], first[1])
        raise TariffError(f"gap in the day table: {hhmm(first[0])}–{hhmm(first[1])} is not covered")
    merged: list[Span] = []
    for start, end, _index, period in pieces:
        if merged and merged[-1].period == period and merged[-1].end == start:
            merged[-1] = Span(merged[-1].start, end, period)
        else:
            merged.append(Span(start, end, period))
    return DayTable(tuple(merged))
