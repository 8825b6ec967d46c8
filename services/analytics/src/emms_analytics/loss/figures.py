"""Loss of one model and day from its members' usage, completeness, and the abnormal-loss flags (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class Member:
    point: str
    side: str
    sign: float
    multiplier: float


@dataclass(slots=True)
class DayLoss:
    day: date
    version: int
    input: float | None
    output: float | None
    complete: bool
    reason: str | None = None
    flags: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def loss(self) -> float | None:
        return None if self.input is None or self.output is None else self.input - self.output

    @property
    def rate(self) -> float | None:
        loss = self.loss
        return None if loss is None or self.input is None or self.input <= 0 else loss / self.input


def day_loss(day: date, version: int, members: Sequence[Member], usage: Mapping[tuple[str, date], float],
             cover: Mapping[tuple[str, date], tuple[datetime, datetime]], day_start: datetime, day_end: datetime,
             tolerance: timedelta) -> DayLoss:
    """Σ inputs − Σ outputs (each × sign × multiplier); "incomplete" with the reason — and no figure — when a
    member's data does not cover the day (within ``tolerance`` of each edge)."""
    missing = []
    totals = {"input": 0.0, "output": 0.0}
    for m in members:
        span = cover.get((m.point, day))
        if span is None or span[0] > day_start + tolerance or span[1] < day_end - tolerance:
            missing.append(m.point)
            continue
        totals[m.side] += m.sign * m.multiplier * usage.get((m.point, day), 0.0)
    return from_totals(day, version, len(members), totals["input"], totals["output"], missing)


def from_totals(day: date, version: int, members: int, inputs: float, outputs: float,
                missing: Sequence[str]) -> DayLoss:
    """The day's loss from its sides' totals (over every member: they are used only when none is missing) and the
    members whose data does not cover the day — what :func:`day_loss` computes, summed in SQL instead."""
    if missing:
        ordered = sorted(missing)
        shown = ", ".join(ordered[:10]) + (" …" if len(ordered) > 10 else "")
        return DayLoss(day, version, None, None, False, f"{len(ordered)} of {members} members lack data"
                       f" for the day: {shown}", missing=ordered)
    return DayLoss(day, version, inputs, outputs, True)


def flag(days: Sequence[DayLoss], max_rate: float, min_rate: float, max_change: float,
         before: DayLoss | None = None) -> None:
    """Set each complete day's flags: ``negative`` (rate below ``min_rate`` or a loss below 0 without input),
    ``above_threshold``, ``sudden_change`` (the rate moved more than ``max_change`` from the previous complete
    day)."""
    prev = before if before is not None and before.complete else None
    for d in days:
        if not d.complete:
            continue
        rate, loss = d.rate, d.loss
        d.flags = []
        if (rate is not None and rate < min_rate) or (rate is None and loss is not None and loss < 0):
            d.flags.append("negative")
        if rate is not None and rate > max_rate:
            d.flags.append("above_threshold")
        if prev is not None and rate is not None and prev.rate is not None and abs(rate - prev.rate) > max_change:
            d.flags.append("sudden_change")
        prev = d


def as_row(model_id: str, d: DayLoss) -> dict[str, Any]:
    return {"model_id": model_id, "day": d.day, "version": d.version, "input": d.input, "output": d.output,
            "loss": d.loss, "rate": d.rate, "complete": d.complete, "reason": d.reason, "flags": list(d.flags)}
