"""Usage of one meter between consecutive validated register readings.

The registers counted per utility: electricity active energy import (``energy.active.import``
``.total`` and, where the meter has them, the tariff registers ``.t1`` … ``.t4`` = sharp, peak,
flat, valley), water ``water.volume``, gas ``gas.volume``, heat ``heat.energy``.

One :class:`Baseline` per account and meter holds the last register values counted. A new data
time later than it gives one :class:`Usage`: per tariff register when both ends have the same
tariff registers, else the total register's increment (a missing total is the sum of the four
tariff registers). Readings at or before the baseline (late, re-sent or re-validated) change
nothing: the increments already counted stay counted, and cumulative registers make the next
increment right again. A held reading (value withheld by validation) marks the next usage
``held``; an estimated end marks it ``estimated``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from emms_control.tariffs.periods import Period
from emms_messages.readings import ValidatedReading, ValidationStatus

TOTAL = "total"
QUANTUM = Decimal("0.000001")
MAX_REGISTER = 1e15
REGISTER_BASE = {"electricity": "energy.active.import", "water": "water.volume", "gas": "gas.volume",
                 "heat": "heat.energy"}
_TARIFF_KEYS = {f"t{p.register}": p for p in Period}


def register_key(utility: str, item: str) -> str | None:
    """``"total"``, ``"t1"`` … ``"t4"``, or None for an item that is not a counted register."""
    base = REGISTER_BASE.get(utility)
    if base is None:
        return None
    if utility != "electricity":
        return TOTAL if item == base else None
    head, _, tail = item.rpartition(".")
    if head != base:
        return None
    return tail if tail == TOTAL or tail in _TARIFF_KEYS else None


@dataclass(frozen=True, slots=True)
class Point:
    """The counted registers of one meter at one data time."""

    data_time: datetime
    values: dict[str, Decimal]
    status: str
    """``estimated`` if any value is estimated, else ``repaired`` if any is, else ``valid``; ``held`` when
    no value came (every register held)."""


@dataclass(frozen=True, slots=True)
class Baseline:
    data_time: datetime
    values: dict[str, Decimal]
    status: str
    held_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    meter_id: str
    start: datetime
    end: datetime
    total: Decimal
    by_register: dict[Period, Decimal] | None
    """Increments of the tariff registers, when the meter has them at both ends; else None."""
    flags: tuple[str, ...]
    start_status: str
    end_status: str


@dataclass
class Advance:
    baseline: Baseline | None
    usages: list[Usage] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


_RANK = {ValidationStatus.ESTIMATED.value: 3, ValidationStatus.REPAIRED.value: 2, ValidationStatus.VALID.value: 1}


def points(readings: Iterable[ValidatedReading], utility: str) -> list[Point]:
    """One meter's readings → its points in data-time order. Of two values of one register at one time
    an actual (valid / repaired) wins over an estimate; otherwise the later in the input."""
    chosen: dict[datetime, dict[str, ValidatedReading]] = {}
    for r in readings:
        key = register_key(utility, r.item)
        if key is None:
            continue
        slot = chosen.setdefault(r.data_time, {})
        old = slot.get(key)
        if old is None or not (r.status is ValidationStatus.ESTIMATED and old.status is not ValidationStatus.ESTIMATED
                               and old.value is not None):
            slot[key] = r
    out = []
    for t in sorted(chosen):
        slot = chosen[t]
        kept = {k: r for k, r in slot.items() if _countable(r.value)}
        values = {k: Decimal(repr(r.value)).quantize(QUANTUM) for k, r in kept.items()}
        status = max((r.status.value for r in kept.values()), key=lambda s: _RANK.get(s, 0),
                     default=ValidationStatus.HELD.value)
        out.append(Point(t, values, status))
    return out


def _countable(value: float | None) -> bool:
    """A register value the arithmetic can hold (held readings have none; absurd ones are not counted)."""
    return value is not None and math.isfinite(value) and abs(value) < MAX_REGISTER


def _total(values: dict[str, Decimal]) -> Decimal | None:
    if TOTAL in values:
        return values[TOTAL]
    if all(k in values for k in _TARIFF_KEYS):
        return sum((values[k] for k in _TARIFF_KEYS), Decimal(0))
    return None


def _increments(before: Baseline, point: Point) -> tuple[Decimal, dict[Period, Decimal] | None] | None:
    registers = {k for k in point.values if k in _TARIFF_KEYS}
    if registers and registers == {k for k in before.values if k in _TARIFF_KEYS}:
        by = {_TARIFF_KEYS[k]: point.values[k] - before.values[k] for k in sorted(registers)}
        return sum(by.values(), Decimal(0)), by
    now, then = _total(point.values), _total(before.values)
    if now is None or then is None:
        return None
    return now - then, None


def _flags(before: Baseline, point: Point) -> tuple[str, ...]:
    flags = set()
    if ValidationStatus.ESTIMATED.value in (before.status, point.status):
        flags.add("estimated")
    if ValidationStatus.REPAIRED.value in (before.status, point.status):
        flags.add("repaired")
    if before.held_since is not None:
        flags.add("held")
    return tuple(sorted(flags))


def advance(meter_id: str, baseline: Baseline | None, pts: Sequence[Point], multiplier: Decimal,
            charge_from: datetime) -> Advance:
    """Walk ``pts`` (in data-time order) from ``baseline``: the usages and the new baseline."""
    result = Advance(baseline)
    for point in pts:
        base = result.baseline
        if point.data_time < charge_from:
            result.skip("before_charge_from")
        elif base is not None and point.data_time <= base.data_time:
            result.skip("not_after_baseline")
        elif not point.values:
            if base is not None and base.held_since is None:
                result.baseline = replace(base, held_since=point.data_time)
            result.skip("held")
        elif base is None:
            result.baseline = Baseline(point.data_time, point.values, point.status)
        else:
            result.baseline = Baseline(point.data_time, point.values, point.status)
            found = _increments(base, point)
            if found is None:
                result.skip("incomparable_registers")
                continue
            total, by = found
            if total < 0 or (by is not None and any(v < 0 for v in by.values())):
                result.skip("register_fell")
                continue
            if total == 0:
                continue
            scaled = {p: (v * multiplier).quantize(QUANTUM) for p, v in by.items()} if by is not None else None
            result.usages.append(Usage(meter_id, base.data_time, point.data_time,
                                       sum(scaled.values(), Decimal(0)) if scaled else (total * multiplier).quantize(
                                           QUANTUM), scaled, _flags(base, point), base.status, point.status))
    return result
