"""Availability from up/down history (pure functions; docs/operations.md "Availability").

For a subject (a terminal, or the master) and a period [start, end):

* the **observed** part of the period runs from the first record of the subject (its first session
  event; the first health poll) — or the period's start if later — to the period's end or now;
* **planned** time is the observed time covered by planned maintenance windows;
* **up** time is the observed, unplanned time in which the subject was up;
* ``availability = up / (observed − planned)`` (None when nothing is left to measure).

A terminal is up from an ``online`` session event to the next ``offline`` one. The master is up at a
health poll when every one of its services answered ``/readyz`` ready, for the time until the next poll
but at most ``max_gap`` (when the operations service itself was away, that time is not observed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Availability:
    observed_s: float
    planned_s: float
    up_s: float
    down_s: float
    availability: float | None


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union of the intervals (empty ones dropped)."""
    out: list[Interval] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    return merge((max(a, start), min(b, end)) for a, b in intervals)


def length_s(intervals: Iterable[Interval]) -> float:
    return sum((b - a).total_seconds() for a, b in intervals)


def subtract(intervals: Sequence[Interval], holes: Sequence[Interval]) -> list[Interval]:
    """``intervals`` minus ``holes`` (both merged)."""
    out: list[Interval] = []
    for a, b in merge(intervals):
        cur = a
        for h0, h1 in merge(holes):
            if h1 <= cur or h0 >= b:
                continue
            if h0 > cur:
                out.append((cur, h0))
            cur = max(cur, h1)
            if cur >= b:
                break
        if cur < b:
            out.append((cur, b))
    return out


def session_up(events: Sequence[tuple[datetime, bool]], until: datetime) -> tuple[datetime | None, list[Interval]]:
    """A terminal's first record and its online intervals from its session events ``(at, online)``."""
    ordered = sorted(events)
    up: list[Interval] = []
    online_since: datetime | None = None
    for at, online in ordered:
        if online and online_since is None:
            online_since = at
        elif not online and online_since is not None:
            up.append((online_since, at))
            online_since = None
    if online_since is not None and until > online_since:
        up.append((online_since, until))
    return (ordered[0][0] if ordered else None), merge(up)


def polled_up(polls: Sequence[tuple[datetime, bool]], until: datetime,
              max_gap: timedelta) -> tuple[list[Interval], list[Interval]]:
    """Observed and up intervals of polls ``(at, up)``: each poll stands for the time to the next poll, at most
    ``max_gap``."""
    ordered = sorted(polls)
    observed: list[Interval] = []
    up: list[Interval] = []
    for i, (at, ok) in enumerate(ordered):
        nxt = ordered[i + 1][0] if i + 1 < len(ordered) else until
        end = min(nxt, at + max_gap, until)
        if end <= at:
            continue
        observed.append((at, end))
        if ok:
            up.append((at, end))
    return merge(observed), merge(up)


def measure(observed: Sequence[Interval], up: Sequence[Interval], planned: Sequence[Interval],
            start: datetime, end: datetime) -> Availability:
    obs = clip(observed, start, end)
    plan = clip(planned, start, end)
    plan_in_obs = subtract(obs, subtract(obs, plan))
    measured = subtract(obs, plan)
    ups = subtract(clip(up, start, end), plan)
    ups = subtract(ups, subtract(ups, measured))
    measured_s, up_s = length_s(measured), length_s(ups)
    return Availability(observed_s=length_s(obs), planned_s=length_s(plan_in_obs), up_s=up_s,
                        down_s=max(measured_s - up_s, 0.0),
                        availability=None if measured_s <= 0 else round(up_s / measured_s, 6))


def period(year: int, month: int | None, tz: tzinfo) -> Interval:
    """[start, end) of a calendar month (``month`` given) or year on the utility's wall clock."""
    if month is None:
        return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start, end
