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
from functools import lru_cache

from emms_sim.calendar import ORIGIN_DATE, weekday
from emms_sim.shapes import JAN_15, OMEGA

#: Sums of a series for scale 1, by (shape of the series, d0, d1). ``mean_sum`` is ``scale × sum`` and the sum does
#: not depend on the scale, so every meter of a kind shares it: the start of a day (d0 = 0) is one sum for the
#: whole fleet, a meter's initial register (400 days before its install day) one per install day and kind.
_SUMS: dict[tuple[object, ...], float] = {}
_SUMS_MAX = 1 << 17


def _remember(key: tuple[object, ...], total: float) -> float:
    if len(_SUMS) >= _SUMS_MAX:
        _SUMS.clear()
    _SUMS[key] = total
    return total


@lru_cache(maxsize=64)
def _harmonic_terms(harmonics: tuple[tuple[int, float, float], ...]) -> tuple[tuple[float, float, float, float, float],
                                                                            ...]:
    """Per harmonic (h, a, p): a, h·ω, p, β = 7·h·ω and sin(β / 2) — what a weekday residue's sum needs."""
    out = []
    for h, a, p in harmonics:
        beta = 7.0 * h * OMEGA
        out.append((a, h * OMEGA, p, beta, math.sin(beta / 2.0)))
    return tuple(out)


@lru_cache(maxsize=65536)
def _residue_sums(harmonics: tuple[tuple[int, float, float], ...], d0: int, d1: int) -> tuple[float | None, ...]:
    """Per weekday residue r (0–6): Σ_j (1 + Σ a·cos(h·ω·(r − p) + 7·h·ω·j)) over the days d0 ≤ r + 7j < d1
    (None when there are none) — ``cos_sum`` inlined, its per-harmonic constants computed once, the same
    operations in the same order."""
    terms = _harmonic_terms(harmonics)
    out: list[float | None] = []
    for r in range(7):
        j0 = -((r - d0) // 7)  # ceil((d0 - r) / 7)
        j1 = -((r - d1) // 7)
        n = j1 - j0
        if n <= 0:
            out.append(None)
            continue
        s = float(n)
        for a, hw, p, beta, half in terms:
            alpha = hw * (r - p) + beta * j0  # = cos_sum(alpha, beta, n)
            if abs(half) < 1e-12:
                s += a * (n * math.cos(alpha))
            else:
                s += a * (math.sin(n * beta / 2.0) / half * math.cos(alpha + (n - 1) * beta / 2.0))
        out.append(s)
    return tuple(out)


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
        """Σ_{d=d0}^{d1-1} mean(d), in O(7·harmonics) — once per shape and range: ``scale ×`` a cached sum."""
        if d1 <= d0:
            return 0.0
        key = (self.coeffs, self.harmonics, d0, d1)
        total = _SUMS.get(key)
        if total is None:
            total = _remember(key, self._unit_sum(d0, d1))
        return self.scale * total

    def _unit_sum(self, d0: int, d1: int) -> float:
        """The sum for scale 1 (what ``mean_sum`` multiplies by the scale): Σ_r coeff(r) · S_r, with S_r the
        seasonal sum over the days of weekday residue r — the same for every series of these harmonics
        (the four tariffs of a meter, its reactive channels, every meter of the kind), so computed once."""
        coeffs = self.coeffs
        total = 0.0
        for r, s in enumerate(_residue_sums(self.harmonics, d0, d1)):
            c = coeffs[weekday(r)]
            if c == 0.0 or s is None:
                continue
            total += c * s
        return total

    def floor(self) -> float:
        """A lower bound of mean(d) over all days (sizes the noise so totals stay positive)."""
        return self.scale * min(self.coeffs) * (1.0 - sum(abs(a) for _, a, _ in self.harmonics))

    def active(self, day: int) -> bool:
        return True


@lru_cache(maxsize=8192)
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
        key = (self.base, self.amp, d0, d1)
        total = _SUMS.get(key)
        if total is None:
            total = _remember(key, self._unit_sum(d0, d1))
        return self.scale * total

    def _unit_sum(self, d0: int, d1: int) -> float:
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
        return total

    def floor(self) -> float:
        """Lowest in-season mean (the noise must not push an in-season day below zero)."""
        # The season runs from about 61 days before to 59 days after 15 January: cos ≥ 0.45 there.
        return self.scale * max(0.0, self.base + min(self.amp * 0.45, self.amp))

    def active(self, day: int) -> bool:
        return in_heating_season(day)


DailySeries = PeriodicSeries | HeatingSeries
