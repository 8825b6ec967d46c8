"""Helpers shared by the supply-quality figures: grouping curve rows, completeness of a series."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from typing import Any

Row = tuple[str, str, datetime, float]
Series = list[tuple[datetime, float]]


def by_point_item(rows: Iterable[Row]) -> dict[str, dict[str, Series]]:
    """point → item → [(time, value)] in time order (the rows come ordered)."""
    out: dict[str, dict[str, Series]] = defaultdict(lambda: defaultdict(list))
    for point, item, at, value in rows:
        out[point][item].append((at, value))
    return out


def expected_values(start: datetime, end: datetime, interval_min: int) -> int:
    return int((end - start) / timedelta(minutes=interval_min))


def missing_reason(what: str, got: int, expected: int) -> str | None:
    """Why a series is incomplete (None when it has every expected value)."""
    if got >= expected:
        return None
    return f"{what}: {got} of {expected} values in the period"


def extreme(series: Series, tz: tzinfo, *, highest: bool) -> dict[str, Any] | None:
    if not series:
        return None
    at, value = (max if highest else min)(series, key=lambda p: p[1])
    return {"value": value, "at": at.astimezone(tz)}


def local_day(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).date().isoformat()


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None
