"""Pure analyses over usage rows: comparisons, growth rates, TOU split, trend, sudden changes,
peak hours, ranking and chart-ready series (line, bar, pie, growth rate)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from emms_analytics.calendar import add

UNIT_OF = {"hour": "hour", "day": "day", "month": "month", "quarter": "quarter", "year": "year"}


def rate(current: float | None, base: float | None) -> float | None:
    """Growth of ``current`` over ``base`` (0.25 = +25 %); None without a base."""
    if current is None or base is None or base == 0:
        return None
    return (current - base) / base


def totals(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[datetime, str], float]:
    """usage by (bucket, key), over every item of the rows."""
    out: dict[tuple[datetime, str], float] = defaultdict(float)
    for r in rows:
        out[(r["bucket"], r["key"])] += float(r["usage"] or 0.0)
    return out


def compared(rows: Sequence[Mapping[str, Any]], interval: str, start: datetime, tz: tzinfo,
             earlier: Mapping[tuple[datetime, str], float]) -> list[dict[str, Any]]:
    """Rows from ``start`` on with the previous bucket (month-on-month …) and the same bucket a year
    before (year-on-year), both looked up in ``earlier`` ∪ the rows, and their growth rates."""
    known = dict(earlier)
    known.update(totals(rows))
    out = []
    for r in rows:
        if r["bucket"] < start:
            continue
        row = dict(r)
        value = float(r["usage"] or 0.0)
        if interval in UNIT_OF:
            previous = known.get((_shift(r["bucket"], interval, -1, tz), r["key"]))
            last_year = known.get((_shift(r["bucket"], "year", -1, tz), r["key"]))
            row.update(previous=previous, last_year=last_year, mom_rate=rate(value, previous),
                       yoy_rate=rate(value, last_year))
        out.append(row)
    return out


def _shift(bucket: datetime, unit: str, n: int, tz: tzinfo) -> datetime:
    return add(bucket, unit, n, tz).astimezone(tz)


def tou_split(rows: Sequence[Mapping[str, Any]], total_item: str) -> list[dict[str, Any]]:
    """Per bucket and key: the total and each TOU register (t1 peak-most … t4 valley), with shares."""
    stem = total_item.rsplit(".", 1)[0]
    by: dict[tuple[datetime, str], dict[str, Any]] = {}
    for r in rows:
        entry = by.setdefault((r["bucket"], r["key"]), {"bucket": r["bucket"], "key": r["key"], "total": None})
        name = "total" if r["item"] == total_item else r["item"][len(stem) + 1:]
        entry[name] = float(r["usage"] or 0.0)
    out = []
    for entry in by.values():
        parts = {k: v for k, v in entry.items() if k.startswith("t") and k[1:].isdigit()}
        base = entry["total"] if entry["total"] else sum(parts.values()) or None
        entry["shares"] = {k: (v / base if base else None) for k, v in sorted(parts.items())}
        out.append(entry)
    return sorted(out, key=lambda e: (e["bucket"], e["key"]))


def trend(values: Sequence[float]) -> dict[str, Any]:
    """Least-squares slope per bucket and the direction (rising / falling / flat within 1 % of the mean)."""
    n = len(values)
    if n < 2:
        return {"slope": None, "direction": "unknown"}
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    sxx = sum((i - mean_x) ** 2 for i in range(n))
    slope = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values)) / sxx
    flat = abs(slope) <= 0.01 * abs(mean_y) if mean_y else slope == 0
    return {"slope": slope, "direction": "flat" if flat else ("rising" if slope > 0 else "falling")}


def sudden_changes(points: Sequence[tuple[datetime, float]], threshold: float) -> list[dict[str, Any]]:
    """Buckets whose usage moved by more than ``threshold`` (0.5 = 50 %) from the bucket before."""
    out = []
    for (_, before), (when, value) in itertools.pairwise(points):
        change = rate(value, before)
        if change is not None and abs(change) > threshold:
            out.append({"bucket": when, "usage": value, "previous": before, "rate": change})
    return out


def series(rows: Sequence[Mapping[str, Any]], kind: str = "line") -> list[dict[str, Any]]:
    """One chart series per key: [bucket, usage] points."""
    by: dict[str, list[list[Any]]] = defaultdict(list)
    for (bucket, key), value in sorted(totals(rows).items()):
        by[key].append([bucket, value])
    return [{"name": key, "type": kind, "points": pts} for key, pts in by.items()]


def pie(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each key's share of the whole."""
    by: dict[str, float] = defaultdict(float)
    for (_, key), value in totals(rows).items():
        by[key] += value
    whole = sum(by.values())
    return [{"name": k, "value": v, "share": (v / whole if whole else None)}
            for k, v in sorted(by.items(), key=lambda kv: -kv[1])]


def ranking(rows: Sequence[Mapping[str, Any]], top: int) -> list[dict[str, Any]]:
    ranked = pie(rows)[:top]
    return [{"rank": i + 1, "key": r["name"], "usage": r["value"], "share": r["share"]} for i, r in enumerate(ranked)]


def peak_hours(rows: Sequence[Mapping[str, Any]], tz: tzinfo, top: int = 3) -> dict[str, Any]:
    """Average usage per local hour of the day (from hourly buckets) and the ``top`` hours."""
    sums: dict[int, float] = defaultdict(float)
    days: dict[int, set[Any]] = defaultdict(set)
    for r in rows:
        local = r["bucket"].astimezone(tz)
        sums[local.hour] += float(r["usage"] or 0.0)
        days[local.hour].add(local.date())
    profile = [{"hour": h, "average": sums[h] / len(days[h])} for h in sorted(sums)]
    peaks = sorted(profile, key=lambda p: -p["average"])[:top]
    return {"profile": profile, "peak_hours": [p["hour"] for p in peaks]}


def per_bucket(rows: Iterable[Mapping[str, Any]]) -> list[tuple[datetime, float]]:
    """Usage per bucket, the keys summed, in bucket order."""
    by: dict[datetime, float] = defaultdict(float)
    for r in rows:
        by[r["bucket"]] += float(r["usage"] or 0.0)
    return sorted(by.items())


def peaks(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Peak analysis of a series of buckets (the keys summed per bucket): the highest and the lowest bucket
    (ties: the earliest), the mean, the peak-to-average ratio and the load factor (mean / peak)."""
    points = per_bucket(rows)
    if not points:
        return {"buckets": 0, "peak": None, "valley": None, "average": None, "peak_to_average": None,
                "load_factor": None}
    high = max(points, key=lambda p: p[1])  # max / min keep the first of equals: the earliest bucket
    low = min(points, key=lambda p: p[1])
    mean = sum(v for _, v in points) / len(points)
    return {"buckets": len(points), "peak": {"bucket": high[0], "usage": high[1]},
            "valley": {"bucket": low[0], "usage": low[1]}, "average": mean,
            "peak_to_average": high[1] / mean if mean else None, "load_factor": mean / high[1] if high[1] else None}


def growth(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A growth-rate chart: per bucket (the keys summed) its usage and its rate over the bucket before."""
    points = per_bucket(rows)
    return [{"bucket": when, "usage": value, "rate": rate(value, points[i - 1][1]) if i else None}
            for i, (when, value) in enumerate(points)]


def tier_share(annual: Mapping[str, float], bounds: Sequence[tuple[str, float | None]]) -> list[dict[str, Any]]:
    """Each customer's usage split over the tariff's blocks (``bounds``: name, upper limit or None),
    summed over the customers; shares of the whole."""
    amounts = [0.0] * len(bounds)
    for value in annual.values():
        below = 0.0
        for i, (_, up_to) in enumerate(bounds):
            top = value if up_to is None else min(value, up_to)
            amounts[i] += max(0.0, top - below)
            if up_to is None or value <= up_to:
                break
            below = up_to
    whole = sum(amounts)
    return [{"tier": name, "up_to": up_to, "usage": amounts[i], "share": (amounts[i] / whole if whole else None)}
            for i, (name, up_to) in enumerate(bounds)]
