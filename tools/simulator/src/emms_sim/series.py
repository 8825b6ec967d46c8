"""Closed-form daily series: the mean consumption of a day and sums over any range of days.

A cumulative register at the start of day D is ``Σ_{d<D} mean(d)`` plus a
telescoping noise term ``A·(g(D) − g(0))``: each day's total is
``mean(d) + A·(g(d+1) − g(d))`` with ``g`` a seeded uniform draw per day, so
totals vary day to day yet their sum never needs the days in between. The
mean sums are closed form: a weekly coefficient times a sum of cosine
harmonics (geometric sums of cosines per weekday residue), or, for heating, a
cosine over each heating season. Cost is O(1) in the length of history.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from emms_sim.calendar import ORIGIN_DATE, weekday
from emms_sim.shapes import JAN_15, OMEGA


def cos_sum(alpha: float, beta: float, n: int) -> float:
    """Σ_{k=0}^{n-1} cos(alpha + beta·k)."""
    if n <= 0:
        return 0.0
    half = math.sin(beta / 2.0)
    if abs(half) < 1e-12:
        return n * math.cos(alpha)
    return math.sin(n * beta / 2.0) / half * math.cos(alpha + (n - 1) * beta / 2.0)


@dataclass(frozen=True, slots=True)
class PeriodicSeries:
    """mean(d) = scale · coeff[weekday(d)] · (1 + Σ a·cos(h·ω·(d − p)))."""

    scale: float
    coeffs: tuple[float, ...]  # Monday..Sunday
    harmonics: tuple[tuple[int, float, float], ...]

    def mean(self, day: int) -> float:
        season = 1.0 + sum(a * math.cos(h * OMEGA * (day - p)) for h, a, p in self.harmonics)
        return self.scale * self.coeffs[weekday(day)] * season

    def mean_sum(self, d0: int, d1: int) -> float:
        """Σ_{d=d0}^{d1-1} mean(d), in O(7·harmonics)."""
        if d1 <= d0:
            return 0.0
        total = 0.0
        for r in range(7):
            c = self.coeffs[weekday(r)]
            if c == 0.0:
                continue
            j0 = -((r - d0) // 7)  # ceil((d0 - r) / 7)
            j1 = -((r - d1) // 7)
            n = j1 - j0
            if n <= 0:
                continue
            s = float(n)
            for h, a, p in self.harmonics:
                beta = 7.0 * h * OMEGA
                s += a * cos_sum(h * OMEGA * (r - p) + beta * j0, beta, n)
            total += c * s
        return self.scale * total

    def floor(self) -> float:
        """A lower bound of mean(d) over all days (sizes the noise so totals stay positive)."""
        return self.scale * min(self.coeffs) * (1.0 - sum(abs(a) for _, a, _ in self.harmonics))

    def active(self, day: int) -> bool:
        return True


def in_heating_season(day: int) -> bool:
    """15 November to 14 March inclusive (the northern-China statutory heating period)."""
    d = date.fromordinal(ORIGIN_DATE.toordinal() + day)
    return (d.month, d.day) >= (11, 15) or (d.month, d.day) < (3, 15)


@dataclass(frozen=True, slots=True)
class HeatingSeries:
    """mean(d) = scale · (base + amp·cos(ω·(d − 15 Jan))) inside the heating season, else 0.

    With base = T_indoor − T_mean_outdoor and amp = the outdoor annual amplitude,
    this is heating degree-days under a cosine outdoor temperature.
    """

    scale: float
    base: float
    amp: float

    def mean(self, day: int) -> float:
        if not in_heating_season(day):
            return 0.0
        return self.scale * (self.base + self.amp * math.cos(OMEGA * (day - JAN_15)))

    def mean_sum(self, d0: int, d1: int) -> float:
        if d1 <= d0:
            return 0.0
        origin = ORIGIN_DATE.toordinal()
        first_year = date.fromordinal(origin + d0).year - 1
        last_year = date.fromordinal(origin + d1).year
        total = 0.0
        for year in range(first_year, last_year + 1):
            start = date(year, 11, 15).toordinal() - origin
            end = date(year + 1, 3, 15).toordinal() - origin
            lo, hi = max(d0, start), min(d1, end)
            if lo < hi:
                n = hi - lo
                total += self.base * n + self.amp * cos_sum(OMEGA * (lo - JAN_15), OMEGA, n)
        return self.scale * total

    def floor(self) -> float:
        """Lowest in-season mean (the noise must not push an in-season day below zero)."""
        # The season runs from about 61 days before to 59 days after 15 January: cos ≥ 0.45 there.
        return self.scale * max(0.0, self.base + min(self.amp * 0.45, self.amp))

    def active(self, day: int) -> bool:
        return in_heating_season(day)


DailySeries = PeriodicSeries | HeatingSeries
