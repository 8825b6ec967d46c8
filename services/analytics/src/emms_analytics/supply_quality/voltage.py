"""Voltage qualification rate per voltage level and three-phase unbalance (R-4.5.5.1).

* **From the curves**: every voltage value of a phase stands for one curve interval; the qualification
  rate of a point is (values within [nominal × (1 − lower %), nominal × (1 + upper %)]) / (values), over
  its phases (a phase with no value in the period is not wired: single-phase meters have phase A only).
  A point with fewer values than the period holds (``period / interval``) for a wired phase is incomplete.
* **From the terminals' daily statistics** (1376.1 AFN0D F27, items ``qualification.minutes.*``): minutes within
  / (within + over the upper + under the lower limit), summed over phases and days; a point missing a day
  of the period is incomplete. The terminal judges with its own limit parameters. The statistics of day D
  are stamped with the freeze instant that ends D (local 00:00 of D + 1, the collector's ``freeze_at="end"``).
* **Unbalance** per instant with all three phase values: voltage (max − mean) / mean, current
  (max − min) / max; worst with its time, average, and instants over the limit.

A level's rate is Σ within / Σ judged over its complete points; incomplete points are listed with the
reason and not counted. The curves' counts and the unbalance are aggregated in SQL
(``repository.supply_quality.voltage_counts`` / ``unbalance``): only a few rows per point reach Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from emms_analytics.supply_quality.series import Series, missing_reason, ratio

PHASES = ("a", "b", "c")
VOLTAGE_ITEMS = [f"voltage.{p}" for p in PHASES]
CURRENT_ITEMS = [f"current.{p}" for p in PHASES]
STAT_ITEMS = [f"qualification.minutes.{band}.{p}" for band in ("within", "over_upper", "under_lower") for p in PHASES]
VOLTAGE_UNBALANCE_LIMIT = 0.02
CURRENT_UNBALANCE_LIMIT = 0.15


@dataclass(frozen=True, slots=True)
class Level:
    level: str
    nominal_v: float
    upper_pct: float
    lower_pct: float

    @property
    def high(self) -> float:
        return self.nominal_v * (1 + self.upper_pct / 100)

    @property
    def low(self) -> float:
        return self.nominal_v * (1 - self.lower_pct / 100)


def point_from_counts(counts: dict[str, dict[str, Any]], expected: int) -> dict[str, Any]:
    """Qualification of one point from its per-phase counts (``n``, ``over_upper``, ``under_lower``: the
    repository's ``voltage_counts``, judged in SQL by the point's level)."""
    phases = sorted(counts) or ["a"]
    reasons = [r for p in phases
               if (r := missing_reason(f"voltage.{p}", int(counts.get(p, {}).get("n", 0)), expected)) is not None]
    judged = sum(int(c["n"]) for c in counts.values())
    over = sum(int(c["over_upper"]) for c in counts.values())
    under = sum(int(c["under_lower"]) for c in counts.values())
    within = judged - over - under
    out: dict[str, Any] = {"phases": phases, "values": judged, "within": within, "over_upper": over,
                           "under_lower": under}
    if reasons:
        return {**out, "status": "incomplete", "reason": "; ".join(reasons), "rate": None}
    return {**out, "status": "complete", "rate": ratio(within, judged)}


def unbalance_of(row: dict[str, Any] | None, tz: tzinfo, limit: float) -> dict[str, Any] | None:
    """The repository's ``unbalance`` row of a point as the answer gives it (None: no three-phase instant)."""
    if row is None:
        return None
    return {"worst": float(row["worst"]), "at": row["at"].astimezone(tz), "average": float(row["average"]),
            "instants": int(row["instants"]), "over_limit": int(row["over_limit"]), "limit": limit}


def point_from_statistics(curves: dict[str, Series], days: list[datetime], tz: tzinfo) -> dict[str, Any]:
    """Qualification of one point from the terminal's daily statistics (one value per phase and local day)."""
    minutes = {"within": 0.0, "over_upper": 0.0, "under_lower": 0.0}
    if not any(curves.get(item) for item in STAT_ITEMS):
        return {"phases": [], "minutes_judged": 0.0, "minutes_within": 0.0, "minutes_over_upper": 0.0,
                "minutes_under_lower": 0.0, "status": "incomplete", "rate": None,
                "reason": "no daily voltage statistics from the terminal in the period"}
    phases = [p for p in PHASES if curves.get(f"qualification.minutes.within.{p}")] or ["a"]
    reasons = []
    for p in phases:
        for band in minutes:
            got = {(at - timedelta(days=1)).astimezone(tz).date(): v
                   for at, v in curves.get(f"qualification.minutes.{band}.{p}", [])}
            absent = [d.date().isoformat() for d in days if d.date() not in got]
            if absent:
                reasons.append(f"qualification.minutes.{band}.{p}: no statistics for {', '.join(absent[:5])}")
            minutes[band] += sum(got.get(d.date(), 0.0) for d in days)
    judged = sum(minutes.values())
    out: dict[str, Any] = {"phases": phases, "minutes_judged": judged, "minutes_within": minutes["within"],
                           "minutes_over_upper": minutes["over_upper"], "minutes_under_lower": minutes["under_lower"]}
    if reasons:
        return {**out, "status": "incomplete", "reason": "; ".join(reasons), "rate": None}
    return {**out, "status": "complete", "rate": ratio(minutes["within"], judged)}


def local_days(start: datetime, end: datetime, tz: tzinfo) -> list[datetime]:
    """Local midnights of the whole local days in [start, end)."""
    first = start.astimezone(tz)
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    if day < first:
        day += timedelta(days=1)
    out = []
    while day + timedelta(days=1) <= end.astimezone(tz):
        out.append(day)
        day += timedelta(days=1)
    return out


def level_summary(level: Level, points: list[dict[str, Any]]) -> dict[str, Any]:
    """A level's figures over its complete points (curves and terminal statistics separately)."""
    curve_ok = [p["curves"] for p in points if p["curves"]["status"] == "complete"]
    stat_ok = [p["statistics"] for p in points if p["statistics"]["status"] == "complete"]
    within = sum(c["within"] for c in curve_ok)
    judged = sum(c["values"] for c in curve_ok)
    minutes_within = sum(s["minutes_within"] for s in stat_ok)
    minutes_judged = sum(s["minutes_judged"] for s in stat_ok)
    voltage_unbalanced = sum(1 for p in points if p["voltage_unbalance"] and p["voltage_unbalance"]["over_limit"])
    current_unbalanced = sum(1 for p in points if p["current_unbalance"] and p["current_unbalance"]["over_limit"])
    return {
        "level": level.level, "nominal_v": level.nominal_v, "upper_v": level.high, "lower_v": level.low,
        "points": len(points),
        "curves": {"complete_points": len(curve_ok), "incomplete_points": len(points) - len(curve_ok),
                   "values": judged, "within": within, "rate": ratio(within, judged)},
        "statistics": {"complete_points": len(stat_ok), "incomplete_points": len(points) - len(stat_ok),
                       "minutes_judged": minutes_judged, "minutes_within": minutes_within,
                       "rate": ratio(minutes_within, minutes_judged)},
        "points_voltage_unbalanced": voltage_unbalanced, "points_current_unbalanced": current_unbalanced,
    }
