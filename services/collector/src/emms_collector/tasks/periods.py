"""When a task is due: periods on the fleet's wall clock, and the slots between two instants.

A period is a unit (every N minutes, hourly, daily, monthly, once) and an
offset inside it (``at``: "HH:MM"). Slots are aligned on local midnight, so a
15-minute task with offset 00:02 runs at 00:02, 00:17, … every day whatever
day it was created; "N minutes" and "N hours" must divide a day for that to
hold. Everything public takes and returns UTC-aware datetimes; only this
module converts to local wall time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_MIN = 1440


class PeriodUnit(StrEnum):
    MINUTES = "minutes"
    HOURLY = "hourly"
    DAILY = "daily"
    MONTHLY = "monthly"
    ONCE = "once"


class PeriodError(ValueError):
    """A period that cannot be scheduled, with the reason."""


@dataclass(frozen=True, slots=True)
class Period:
    unit: PeriodUnit
    every: int = 1
    offset_min: int = 0
    day: int = 1

    def __post_init__(self) -> None:
        reason = self.problem()
        if reason:
            raise PeriodError(reason)

    def problem(self) -> str | None:
        if self.every < 1:
            return "every must be at least 1"
        if self.unit is PeriodUnit.MINUTES:
            if DAY_MIN % self.every:
                return f"every {self.every} minutes does not divide a day (1440 min); use e.g. 5, 15, 30, 60"
            if not 0 <= self.offset_min < self.every:
                return f"offset {self.offset_min} min must be below the period of {self.every} min"
        elif self.unit is PeriodUnit.HOURLY:
            if 24 % self.every:
                return f"every {self.every} hours does not divide a day; use 1, 2, 3, 4, 6, 8 or 12"
            if not 0 <= self.offset_min < 60 * self.every:
                return f"offset {self.offset_min} min must be below the period of {self.every} h"
        elif self.unit in (PeriodUnit.DAILY, PeriodUnit.MONTHLY):
            if self.every != 1:
                return f"a {self.unit} period has every=1; every={self.every} is refused"
            if not 0 <= self.offset_min < DAY_MIN:
                return "time of day must be 00:00..23:59"
            if self.unit is PeriodUnit.MONTHLY and not 1 <= self.day <= 28:
                return f"day of month {self.day} must be 1..28 (every month has it)"
        return None

    @property
    def nominal_s(self) -> float:
        """The period's length in seconds (a month counts 31 days): bounds catch-up and leases."""
        return {PeriodUnit.MINUTES: 60.0 * self.every, PeriodUnit.HOURLY: 3600.0 * self.every,
                PeriodUnit.DAILY: 86_400.0, PeriodUnit.MONTHLY: 31 * 86_400.0, PeriodUnit.ONCE: 0.0}[self.unit]


@lru_cache(maxsize=32)
def zone(name: str) -> tzinfo:
    """The named zone; a fixed ``+HH:MM`` offset is accepted where no tz database is installed."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name.startswith(("+", "-")) and len(name) == 6:
            sign = 1 if name[0] == "+" else -1
            from datetime import timezone
            return timezone(sign * timedelta(hours=int(name[1:3]), minutes=int(name[4:6])))
        raise


def parse_at(text: str) -> int:
    """'HH:MM' → minutes after the period's start."""
    try:
        hh, mm = text.split(":")
        hours, minutes = int(hh), int(mm)
    except ValueError:
        raise PeriodError(f"time {text!r} is not HH:MM") from None
    if not 0 <= minutes <= 59 or hours < 0:
        raise PeriodError(f"time {text!r} is not HH:MM")
    return hours * 60 + minutes


def format_at(offset_min: int) -> str:
    return f"{offset_min // 60:02d}:{offset_min % 60:02d}"


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


def _at(day: date, minute: int, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tz).astimezone(UTC)


def slots(period: Period, after: datetime, until: datetime, tz: tzinfo, *,
          anchor: datetime | None = None) -> Iterator[datetime]:
    """Due instants in ``(after, until]``, ascending. ``anchor`` is the single slot of a ONCE period."""
    if until <= after:
        return
    if period.unit is PeriodUnit.ONCE:
        if anchor is not None and after < anchor <= until:
            yield anchor
        return
    day = after.astimezone(tz).date() - timedelta(days=1)
    last_day = until.astimezone(tz).date()
    while day <= last_day:
        for instant in _day_slots(period, day, tz):
            if after < instant <= until:
                yield instant
            elif instant > until:
                return
        day += timedelta(days=1)


def _day_slots(period: Period, day: date, tz: tzinfo) -> Iterator[datetime]:
    if period.unit is PeriodUnit.MINUTES:
        start = _local_midnight(day, tz)
        for k in range(DAY_MIN // period.every):
            yield start + timedelta(minutes=k * period.every + period.offset_min)
    elif period.unit is PeriodUnit.HOURLY:
        start = _local_midnight(day, tz)
        for k in range(24 // period.every):
            yield start + timedelta(minutes=k * 60 * period.every + period.offset_min)
    elif period.unit is PeriodUnit.DAILY or (period.unit is PeriodUnit.MONTHLY and day.day == period.day):
        yield _at(day, period.offset_min, tz)


def next_slot(period: Period, after: datetime, tz: tzinfo, *, anchor: datetime | None = None) -> datetime | None:
    """The first due instant strictly after ``after`` (None for a ONCE period already past)."""
    horizon = after + timedelta(days=32)
    return next(slots(period, after, horizon, tz, anchor=anchor), None)


def previous_slot(period: Period, at_or_before: datetime, tz: tzinfo) -> datetime | None:
    """The last due instant at or before ``at_or_before`` (within 32 days)."""
    found = None
    for instant in slots(period, at_or_before - timedelta(days=32), at_or_before, tz):
        found = instant
    return found
