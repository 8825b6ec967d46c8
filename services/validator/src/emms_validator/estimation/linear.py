"""Linear interpolation between the valid points either side of a gap (VEE-RULES.md E4)."""

from __future__ import annotations

from collections.abc import Sequence


def interpolate(t0: float, v0: float, t1: float, v1: float, times: Sequence[float]) -> list[float]:
    """Values on the straight line from ``(t0, v0)`` to ``(t1, v1)`` at ``times`` (all within ``[t0, t1]``)."""
    if t1 <= t0:
        raise ValueError("interpolation needs t1 > t0")
    slope = (v1 - v0) / (t1 - t0)
    return [_clamp(v0 + slope * (t - t0), v0, v1) for t in times]


def _clamp(v: float, a: float, b: float) -> float:
    lo, hi = (a, b) if a <= b else (b, a)
    return min(max(v, lo), hi)


def wrap(value: float, modulus: float | None) -> float:
    """A register value past its width, wrapped back (estimates across a roll-over)."""
    if modulus is None or modulus <= 0 or value < modulus:
        return value
    return value - modulus
