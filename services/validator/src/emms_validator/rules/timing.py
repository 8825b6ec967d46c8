"""Time checks (V3, V17, R-4.6.1.1): data time in the future, meter clock beyond tolerance, duplicates.

"Now" is the time the reading was collected, never the validator's clock, so a
redelivered batch is judged exactly as the first time.
"""

from __future__ import annotations

from typing import Any


def future_time(t: float, collected_t: float, tolerance_s: float) -> dict[str, Any] | None:
    if t <= collected_t + tolerance_s:
        return None
    return {"ahead_s": t - collected_t, "tolerance_s": tolerance_s}


def clock_deviation(deviation_s: float, tolerance_s: float) -> dict[str, Any] | None:
    if abs(deviation_s) <= tolerance_s:
        return None
    return {"deviation_s": deviation_s, "tolerance_s": tolerance_s}


def clock_deviation_of(role: str, value: float, collected_t: float) -> float:
    """A clock item's deviation: the item is either the meter's clock (epoch s) or the deviation itself."""
    return value if role == "clock_deviation" else value - collected_t


def duplicate_conflict(previous: float | None, value: float | None, epsilon: float) -> dict[str, Any] | None:
    """The same data time came again with a different value (V17)."""
    if previous is None or value is None or abs(previous - value) <= epsilon:
        return None
    return {"previous": previous, "value": value}
