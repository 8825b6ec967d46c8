"""Seasons: date ranges of the year (``MM-DD`` … ``MM-DD``, both days included) with their own day table.

A range whose end comes before its start runs over the new year (``12-01`` … ``02-28``). Seasons
may not share a day; days in no season use the version's default day table. 29 February is a
day of the year like the others (a range ``02-01`` … ``02-28`` leaves it to the default table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from emms_control.tariffs.errors import TariffError
from emms_control.tariffs.periods import DayTable

_LEAP = 2024  # every MM-DD, 02-29 included, is a day of this year


def day_of_year(text: str) -> int:
    """``"03-01"`` → its ordinal in a leap year (1 … 366)."""
    month, _, day = text.partition("-")
    if not (month.isdigit() and day.isdigit() and len(month) == 2 and len(day) == 2):
        raise TariffError(f"date {text!r} is not MM-DD")
    try:
        return date(_LEAP, int(month), int(day)).timetuple().tm_yday
    except ValueError:
        raise TariffError(f"date {text!r} is not a day of the year") from None


def month_day(ordinal: int) -> str:
    d = date.fromordinal(date(_LEAP, 1, 1).toordinal() + ordinal - 1)
    return f"{d.month:02d}-{d.day:02d}"


def ordinal_of(d: date) -> int:
    """The leap-year ordinal of a calendar date's month and day."""
    return date(_LEAP, d.month, d.day).timetuple().tm_yday


@dataclass(frozen=True, slots=True)
class Season:
    name: str
    start: int
    end: int
    table: DayTable

    def days(self) -> list[int]:
        if self.start <= self.end:
            return list(range(self.start, self.end + 1))
        return list(range(self.start, 367)) + list(range(1, self.end + 1))

    def contains(self, ordinal: int) -> bool:
        if self.start <= self.end:
            return self.start <= ordinal <= self.end
        return ordinal >= self.start or ordinal <= self.end

    @property
    def label(self) -> str:
        return f"{self.name!r} ({month_day(self.start)} … {month_day(self.end)})"


def check_seasons(seasons: Sequence[Season]) -> tuple[Season, ...]:
    """Refuse two seasons sharing a day, naming both and the days they share."""
    names = [s.name for s in seasons]
    if len(set(names)) != len(names):
        raise TariffError(f"season names repeat: {sorted(n for n in set(names) if names.count(n) > 1)}")
    owner: dict[int, Season] = {}
    for season in seasons:
        shared = sorted(d for d in season.days() if d in owner)
        if shared:
            other = owner[shared[0]]
            raise TariffError(f"season {season.label} overlaps season {other.label}"
                              f" on {month_day(shared[0])} … {month_day(shared[-1])}")
        owner.update(dict.fromkeys(season.days(), season))
    return tuple(seasons)
