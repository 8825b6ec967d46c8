"""The utility's local calendar: buckets and how a period splits into whole rollup buckets.

Every bucket (hour, day, month, quarter, year) starts at a local wall-clock boundary of
``local_tz`` (UTC+8 for the fleet, no DST). A custom period [from, to) is answered from the
coarsest rollups that fit inside it plus the edges: whole local months from the monthly rollup,
the remaining whole days from the daily one, whole hours from the hourly one, and the rest from
the interval usage itself (:func:`pieces`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal

Interval = Literal["hour", "day", "month", "quarter", "year", "period"]
Level = Literal["monthly", "daily", "hourly", "interval"]
LEVELS: tuple[Level, ...] = ("monthly", "daily", "hourly", "interval")
COARSEST: dict[str, Level] = {"hour": "hourly", "day": "daily", "month": "monthly", "quarter": "monthly",
                              "year": "monthly", "period": "monthly"}


def truncate(t: datetime, unit: str, tz: tzinfo) -> datetime:
    """The start (UTC) of the local ``unit`` containing ``t``."""
    local = t.astimezone(tz)
    if unit == "hour":
        local = local.replace(minute=0, second=0, microsecond=0)
    elif unit == "day":
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "month":
        local = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "quarter":
        local = local.replace(month=(local.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif unit == "year":
        local = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        raise ValueError(unit)
    return local.astimezone(UTC)


def add(t: datetime, unit: str, n: int, tz: tzinfo) -> datetime:
    """``t`` moved by ``n`` local units (months keep the day, clamped to the month's end)."""
    local = t.astimezone(tz)
    if unit == "hour":
        return t + timedelta(hours=n)
    if unit == "day":
        return (local.replace(tzinfo=None) + timedelta(days=n)).replace(tzinfo=tz).astimezone(UTC)
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * n
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    day = min(local.day, _month_days(year, month + 1))
    return local.replace(year=year, month=month + 1, day=day).astimezone(UTC)


def _month_days(year: int, month: int) -> int:
    nxt = datetime(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


@dataclass(frozen=True, slots=True)
class Piece:
    level: Level
    start: datetime
    end: datetime


def pieces(start: datetime, end: datetime, tz: tzinfo, coarsest: Level = "monthly") -> list[Piece]:
    """[start, end) as disjoint ranges, each read from one rollup level: whole buckets of the coarsest
    level allowed in the middle, finer ones towards the edges. Their union is exactly [start, end)."""
    out: list[Piece] = []
    _split(start, end, tz, LEVELS.index(coarsest), out)
    return sorted(out, key=lambda p: p.start)


_UNIT = {"monthly": "month", "daily": "day", "hourly": "hour"}


def _split(start: datetime, end: datetime, tz: tzinfo, level: int, out: list[Piece]) -> None:
    if start >= end:
        return
    name = LEVELS[level]
    if name == "interval":
        out.append(Piece("interval", start, end))
        return
    unit = _UNIT[name]
    first = truncate(start, unit, tz)
    if first < start:
        first = add(first, unit, 1, tz)
    last = truncate(end, unit, tz)
    if first >= last:
        _split(start, end, tz, level + 1, out)
        return
    out.append(Piece(name, first, last))
    _split(start, first, tz, level + 1, out)
    _split(last, end, tz, level + 1, out)
