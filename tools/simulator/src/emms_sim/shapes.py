"""Load shapes: intraday profiles (96 quarter-hours), weekly factors, seasonal harmonics, tariffs.

A profile gives the *relative* demand of each 15-minute slot of a local day; a
meter's daily total is spread over the slots in proportion to it (plus noise).
Weekly factors scale whole days and average 1 over a week. Seasonal factors
are sums of cosine harmonics over the year, which keeps multi-year sums in
closed form (see ``series.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from emms_sim.calendar import SLOTS_PER_DAY

YEAR_DAYS = 365.25
OMEGA = 2.0 * math.pi / YEAR_DAYS

# Day-of-year phases (day index 0 is 1 January 2020).
JAN_15 = 14.0
JUN_21 = 172.0
JUL_15 = 196.0
JUL_25 = 206.0


def _profile(base: float, bumps: tuple[tuple[float, float, float], ...]) -> tuple[float, ...]:
    """base + Gaussian bumps (centre hour, width hours, amplitude), wrapped around midnight."""
    out = []
    for slot in range(SLOTS_PER_DAY):
        hour = (slot + 0.5) / 4.0
        value = base
        for centre, width, amp in bumps:
            dist = min(abs(hour - centre), 24.0 - abs(hour - centre))
            value += amp * math.exp(-0.5 * (dist / width) ** 2)
        out.append(value)
    return tuple(out)


def _plateau(base: float, start: float, end: float, level: float) -> tuple[float, ...]:
    """Business hours: ``level`` from ``start`` to ``end`` (hours) with soft edges, ``base`` otherwise."""
    out = []
    for slot in range(SLOTS_PER_DAY):
        hour = (slot + 0.5) / 4.0
        rise = 1.0 / (1.0 + math.exp(-(hour - start) * 3.0))
        fall = 1.0 / (1.0 + math.exp((hour - end) * 3.0))
        out.append(base + level * rise * fall)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class LoadShape:
    """How one kind of customer consumes: profiles per weekday, weekly factors, seasonal harmonics."""

    weekday_profile: tuple[float, ...]
    weekend_profile: tuple[float, ...]
    week_factors: tuple[float, ...]  # Monday..Sunday, mean 1
    harmonics: tuple[tuple[int, float, float], ...]  # (harmonic h, amplitude, phase day)

    def profile(self, wd: int) -> tuple[float, ...]:
        return self.weekend_profile if wd >= 5 else self.weekday_profile

    def season(self, day: float) -> float:
        return 1.0 + sum(a * math.cos(h * OMEGA * (day - p)) for h, a, p in self.harmonics)

    @property
    def season_floor(self) -> float:
        return 1.0 - sum(abs(a) for _, a, _ in self.harmonics)


def _norm_week(factors: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(factors) / 7.0
    return tuple(f / mean for f in factors)


RESIDENTIAL_POWER = LoadShape(
    _profile(0.30, ((7.5, 1.0, 0.45), (12.0, 0.8, 0.30), (19.8, 1.8, 1.10))),
    _profile(0.30, ((9.0, 1.5, 0.60), (13.0, 1.5, 0.50), (19.8, 2.0, 1.10))),
    _norm_week((1.0, 1.0, 1.0, 1.0, 1.02, 1.15, 1.15)),
    ((1, 0.10, JUL_25), (2, 0.15, JAN_15)),
)
COMMERCIAL_POWER = LoadShape(
    _plateau(0.25, 8.0, 20.0, 1.0),
    _plateau(0.25, 10.0, 18.0, 0.8),
    _norm_week((1.0, 1.0, 1.0, 1.0, 1.0, 0.55, 0.45)),
    ((1, 0.15, JUL_25), (2, 0.05, JAN_15)),
)
WATER = LoadShape(
    _profile(0.05, ((7.0, 1.0, 1.00), (12.0, 1.0, 0.40), (20.0, 1.5, 0.90))),
    _profile(0.05, ((9.0, 1.5, 0.90), (12.5, 1.2, 0.50), (20.0, 1.5, 0.90))),
    _norm_week((1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1)),
    ((1, 0.15, JUL_15),),
)
GAS = LoadShape(
    _profile(0.05, ((7.0, 0.7, 0.60), (12.0, 0.8, 0.80), (18.5, 1.0, 1.00))),
    _profile(0.05, ((8.5, 0.8, 0.60), (12.0, 0.8, 0.90), (18.5, 1.0, 1.00))),
    _norm_week((1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1)),
    ((1, 0.35, JAN_15),),
)
PV_EXPORT = LoadShape(
    _profile(0.0, ((12.5, 1.6, 1.0),)),
    _profile(0.0, ((12.5, 1.6, 1.0),)),
    (1.0,) * 7,
    ((1, 0.30, JUN_21),),
)
HEAT_ENERGY_PROFILE = _profile(1.0, ((6.5, 1.5, 0.20), (18.5, 2.5, 0.15)))
HEAT_VOLUME_PROFILE = (1.0,) * SLOTS_PER_DAY

# Export (PV) slots: 10:00-15:00. Import weights are zero there for PV meters.
PV_SLOTS = frozenset(range(40, 60))

# Time-of-use tariff of each slot: 1 sharp (尖), 2 peak (峰), 3 flat (平), 4 valley (谷).
TARIFFS = 4


def _tariff_table() -> tuple[int, ...]:
    table = []
    for slot in range(SLOTS_PER_DAY):
        hour = slot / 4.0
        if hour < 7.0 or hour >= 23.0:
            table.append(4)
        elif 10.0 <= hour < 11.0 or 19.0 <= hour < 21.0:
            table.append(1)
        elif 8.0 <= hour < 12.0 or 18.0 <= hour < 23.0:
            table.append(2)
        else:
            table.append(3)
    return tuple(table)


TARIFF_OF_SLOT = _tariff_table()


def tariff_share(profile: tuple[float, ...], tariff: int, excluded: frozenset[int] = frozenset()) -> float:
    """Fraction of a profile's day total that falls in ``tariff`` slots (``excluded`` slots count as zero)."""
    total = sum(v for i, v in enumerate(profile) if i not in excluded)
    part = sum(v for i, v in enumerate(profile) if i not in excluded and TARIFF_OF_SLOT[i] == tariff)
    return part / total if total > 0 else 0.0
