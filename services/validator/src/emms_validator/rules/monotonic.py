"""Cumulative registers never decrease (V14, R5): roll-over at the register width and meter replacement.

``register_increment`` is the one place that turns two register readings into a
consumption: a plain difference; across the register's width (the value at
which it wraps to zero) when the reading fell and the wrapped difference is
small enough to be a roll-over; or since the new meter's start value when a
replacement was recorded in between. Anything else that falls is a decrease —
the reading is suspect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True, slots=True)
class Increment:
    value: float | None  # None: the register decreased (suspect)
    rolled_over: bool = False
    replaced: bool = False


def register_increment(prev_t: float, prev_value: float, t: float, value: float,
                       modulus: float | None, replacements: Sequence[tuple[float, float]] = (),
                       max_rollover_fraction: float = 0.5) -> Increment:
    """The consumption between two readings of one register.

    ``replacements`` are ``(time, start value)`` of recorded meter replacements;
    one in ``(prev_t, t]`` restarts the register at its start value.
    ``max_rollover_fraction``: a fall counts as a roll-over only if the wrapped
    increment is below this share of the register's range.
    """
    replaced = [r for r in replacements if prev_t < r[0] <= t]
    if replaced:
        start = max(replaced)[1]
        return Increment(value - start if value >= start else None, replaced=True)
    if value >= prev_value:
        return Increment(value - prev_value)
    if modulus is not None and modulus > 0 and 0 <= value < modulus and prev_value < modulus:
        wrapped = value + modulus - prev_value
        if wrapped < max_rollover_fraction * modulus:
            return Increment(wrapped, rolled_over=True)
    return Increment(None)


def decrease_values(prev_value: float, value: float, prev_iso: str) -> dict[str, float | str]:
    """What a monotonic finding records: both readings and the size of the fall."""
    return {"previous": prev_value, "value": value, "previous_time": prev_iso, "decrease": prev_value - value}


def mutually_monotone(values: Sequence[float]) -> bool:
    """Whether readings held in a row agree with each other (never fall among themselves)."""
    return all(b >= a for a, b in pairwise(values))
