"""The fleet's local calendar: day index, 15-minute slot and weekday of an instant.

Concentrators and meters keep local wall-clock time (China: UTC+8); daily
freezes, tariffs and load shapes follow it. Everything public takes and returns
UTC-aware datetimes; conversion to local wall time happens only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

SLOT_S = 900
SLOTS_PER_DAY = 96
DAY_S = 86400
ORIGIN_DATE = date(2020, 1, 1)  # a Wednesday; day index 0
_ORIGIN_WEEKDAY = ORIGIN_DATE.weekday()


@dataclass(frozen=True, slots=True)
class LocalCalendar:
    """Maps UTC instants to the fleet's local days and slots (fixed UTC offset, no DST)."""

    offset_minutes: int = 480

    @property
    def tz(self) -> timezone:
        return _zone(self.offset_minutes)

    @property
    def origin_ts(self) -> float:
        """UTC epoch seconds of local midnight at the start of day 0."""
        return _origin_ts(self.offset_minutes)

    def position(self, at: datetime) -> tuple[int, float]:
        """(day index, seconds into that local day) of an aware instant."""
        return self.position_ts(require_aware(at).timestamp())

    def position_ts(self, ts: float) -> tuple[int, float]:
        rel = ts - self.origin_ts
        day = int(rel // DAY_S)
        return day, rel - day * DAY_S

    def day_start(self, day: int) -> datetime:
        """UTC instant of local midnight starting ``day``."""
        return datetime.fromtimestamp(self.origin_ts + day * DAY_S, tz=UTC)

    def day_of(self, local_date: date) -> int:
        return (local_date - ORIGIN_DATE).days

    def date_of(self, day: int) -> date:
        return ORIGIN_DATE + timedelta(days=day)

    def local(self, at: datetime) -> datetime:
        """The local wall-clock datetime (aware, with the fleet's offset)."""
        return require_aware(at).astimezone(self.tz)


@lru_cache(maxsize=64)
def _zone(offset_minutes: int) -> timezone:
    return timezone(timedelta(minutes=offset_minutes))


@lru_cache(maxsize=64)
def _origin_ts(offset_minutes: int) -> float:
    """Every tick of every session asks for the day of an instant: this must not build datetimes each time."""
    return datetime(ORIGIN_DATE.year, ORIGIN_DATE.month, ORIGIN_DATE.day, tzinfo=_zone(offset_minutes)).timestamp()


def weekday(day: int) -> int:
    """0 = Monday … 6 = Sunday of a day index."""
    return (day + _ORIGIN_WEEKDAY) % 7


def require_aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("naive datetime: pass a timezone-aware instant")
    return at


def parse_instant(text: str) -> datetime:
    """ISO 8601 (``Z`` allowed) or epoch seconds → aware UTC datetime; naive ISO means UTC."""
    text = text.strip()
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
