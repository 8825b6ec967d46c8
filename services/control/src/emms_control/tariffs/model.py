"""A tariff and its versions as the pricing sees them: which version, season, period and price apply at a time.

Times on the bus and in the database are UTC; day tables, seasons and tier periods are local
wall-clock time at the tariff's fixed UTC offset (China has no daylight saving time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from emms_control.tariffs.errors import TariffError
from emms_control.tariffs.periods import DayTable, Period
from emms_control.tariffs.seasons import Season, ordinal_of
from emms_control.tariffs.tiers import Tiers, local_naive, next_period_start, period_key


@dataclass(frozen=True, slots=True)
class Version:
    number: int
    effective_from: datetime
    default: DayTable
    seasons: tuple[Season, ...]
    tiers: Tiers | None
    prices: Mapping[str, Mapping[Period, Decimal]]
    """Category → period → price per unit."""

    def table_on(self, day: date) -> tuple[str | None, DayTable]:
        ordinal = ordinal_of(day)
        for season in self.seasons:
            if season.contains(ordinal):
                return season.name, season.table
        return None, self.default

    @property
    def periods(self) -> frozenset[Period]:
        """Every period some day table of this version uses."""
        return self.default.periods.union(*(s.table.periods for s in self.seasons))

    def price(self, category: str, period: Period) -> Decimal | None:
        return self.prices.get(category, {}).get(period)

    def unpriced(self, category: str) -> list[Period]:
        """The periods this version's tables use that it gives no price for ``category``."""
        return sorted((p for p in self.periods if self.price(category, p) is None), key=lambda p: p.register)


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of time with one version, season, period (or None: any) and tier period."""

    start: datetime
    end: datetime
    version: Version
    season: str | None
    period: Period | None
    tier_key: str | None

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def same_terms(self, other: Segment) -> bool:
        return (self.version.number, self.season, self.period, self.tier_key) == (
            other.version.number, other.season, other.period, other.tier_key)


@dataclass(frozen=True, slots=True)
class Quote:
    version: Version
    season: str | None
    period: Period
    price: Decimal | None


@dataclass(frozen=True, slots=True)
class Tariff:
    tariff_id: str
    utility: str
    utc_offset: timedelta
    versions: tuple[Version, ...]
    """Sorted by ``effective_from``."""

    def version_at(self, t: datetime) -> Version | None:
        found = None
        for version in self.versions:
            if version.effective_from <= t:
                found = version
        return found

    def quote(self, t: datetime, category: str) -> Quote:
        """The version, season, period and price in force at ``t``."""
        version = self.version_at(t)
        if version is None:
            raise TariffError(f"tariff {self.tariff_id} has no version in force at {t.isoformat()}")
        local = local_naive(t, self.utc_offset)
        season, table = version.table_on(local.date())
        period = table.at(local.hour * 60 + local.minute).period
        return Quote(version, season, period, version.price(category, period))

    def _utc(self, local: datetime) -> datetime:
        return (local - self.utc_offset).replace(tzinfo=UTC)

    def _next_change(self, cur: datetime, version: Version, by_period: bool) -> datetime:
        local = local_naive(cur, self.utc_offset)
        midnight = datetime(local.year, local.month, local.day)
        candidates = [self._utc(midnight + timedelta(days=1))]
        candidates += [v.effective_from for v in self.versions if v.effective_from > cur]
        if version.tiers is not None:
            candidates.append(self._utc(next_period_start(version.tiers.basis, local)))
        if by_period:
            _, table = version.table_on(local.date())
            span = table.at(local.hour * 60 + local.minute)
            candidates.append(self._utc(midnight + timedelta(minutes=span.end)))
        return min(c for c in candidates if c > cur)

    def segments(self, start: datetime, end: datetime, *, by_period: bool) -> list[Segment]:
        """``[start, end)`` cut where the version, the season's day, the tier period or (``by_period``)
        the time-of-use period changes; neighbours on the same terms are merged."""
        out: list[Segment] = []
        cur = start
        while cur < end:
            version = self.version_at(cur)
            if version is None:
                raise TariffError(f"tariff {self.tariff_id} has no version in force at {cur.isoformat()}")
            nxt = min(self._next_change(cur, version, by_period), end)
            local = local_naive(cur, self.utc_offset)
            season, table = version.table_on(local.date())
            period = table.at(local.hour * 60 + local.minute).period if by_period else None
            tier_key = period_key(version.tiers.basis, local) if version.tiers is not None else None
            segment = Segment(cur, nxt, version, season, period, tier_key)
            if out and out[-1].same_terms(segment) and out[-1].end == cur:
                out[-1] = Segment(out[-1].start, nxt, version, season, period, tier_key)
            else:
                out.append(segment)
            cur = nxt
        return out
