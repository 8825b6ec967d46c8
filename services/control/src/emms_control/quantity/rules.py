"""Quantity control (R-4.4.1): a device's usage per day / month against its limit, from validated readings.

Usage of a period = the counted register (``charges.usage.register_key`` ``total``) at its latest
validated reading in the period minus the register at the period's start. The start is the last
value counted before the period (carried from the previous period), or — for the first period a
device is watched — its first reading in the period. Readings at or before the last one counted
change nothing (late, re-sent), so a redelivered batch is a no-op; a register that fell (roll-over,
replacement) restarts the period's base at the new value. A limit is exceeded once per period:
``exceeded`` is set on the first crossing and the action (alarm, or a cut through the command
path with origin ``quantity``) follows only then.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum


class Period(StrEnum):
    DAY = "day"
    MONTH = "month"


class Action(StrEnum):
    ALARM = "alarm"
    CUT = "cut"


def period_key(at: datetime, period: Period, utc_offset_minutes: int) -> str:
    """``2026-12-05`` / ``2026-12``: the local day or month of ``at``."""
    local = at.astimezone(UTC) + timedelta(minutes=utc_offset_minutes)
    return local.strftime("%Y-%m-%d") if period == Period.DAY else local.strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class Counter:
    """A device's count in one period."""

    period_key: str
    start_value: Decimal
    last_value: Decimal
    last_time: datetime
    exceeded_at: datetime | None = None

    @property
    def used(self) -> Decimal:
        return self.last_value - self.start_value


@dataclass(frozen=True, slots=True)
class Advance:
    counter: Counter
    crossed: bool
    """True when this reading took the period's usage above the limit for the first time."""


def advance(current: Counter | None, value: Decimal, data_time: datetime, key: str, limit: Decimal) -> Advance | None:
    """Count one reading (``key`` its period); None when it changes nothing (at or before the last counted)."""
    if current is not None and data_time <= current.last_time:
        return None
    if current is None:
        counter = Counter(key, value, value, data_time)
    elif current.period_key != key:
        base = current.last_value if value >= current.last_value else value
        counter = Counter(key, base, value, data_time)
    elif value < current.last_value:  # the register fell: the period restarts from here, usage so far kept
        counter = replace(current, start_value=value - current.used, last_value=value, last_time=data_time)
    else:
        counter = replace(current, last_value=value, last_time=data_time)
    crossed = counter.exceeded_at is None and counter.used > limit
    if crossed:
        counter = replace(counter, exceeded_at=data_time)
    return Advance(counter, crossed)
