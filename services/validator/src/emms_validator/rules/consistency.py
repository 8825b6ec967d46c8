"""Logical consistency between a meter's items (R-4.5.4.1, V15, R-4.5.5.4).

Each check takes plain values of one meter at one data time (and, where an
interval is involved, the values at the previous one) and returns what it
found, or ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def tariff_sum_mismatch(total: float, tariffs: Sequence[float], lsb: float, pct: float) -> dict[str, Any] | None:
    """Σ tariff registers ≠ total register beyond ± max(1 LSB per register summed, pct % of the total) (V15).

    Each register shows its own value truncated to its resolution, so n tariff registers may sum to up
    to n LSB less than the total shows (a new meter's small registers are where that exceeds the %)."""
    tariff_sum = sum(tariffs)
    tolerance = max(lsb * max(1, len(tariffs)), abs(total) * pct / 100.0)
    diff = tariff_sum - total
    if abs(diff) <= tolerance + 1e-9:
        return None
    return {"total": total, "tariff_sum": tariff_sum, "difference": diff, "tolerance": tolerance}


def valve_closed_flow(closed_since: float | None, prev_t: float, advance: float,
                      min_advance: float) -> dict[str, Any] | None:
    """The valve was closed from ``closed_since`` (at or before the interval's start) and the register
    still advanced by ``advance`` while it was seen closed."""
    if closed_since is None or closed_since > prev_t or advance <= min_advance + 1e-9:  # registers: float noise
        return None
    return {"advance": advance, "valve_closed_since_s": prev_t - closed_since}


def power_energy_mismatch(energy_increment: float, hours: float, power_prev: float, power_now: float,
                          factor: float, floor_kw: float) -> dict[str, Any] | None:
    """Average power from the energy register disagrees with the sampled power at both ends.

    The load may change between the two samples, so only a factor beyond both
    ends (above the larger, or below the smaller) counts, with an absolute floor.
    """
    if hours <= 0:
        return None
    average = energy_increment / hours
    high = max(power_prev, power_now)
    low = min(power_prev, power_now)
    if average > factor * high + floor_kw:
        return {"average_kw": average, "power_prev_kw": power_prev, "power_kw": power_now, "bound": "high"}
    if low > floor_kw and average < low / factor - floor_kw:
        return {"average_kw": average, "power_prev_kw": power_prev, "power_kw": power_now, "bound": "low"}
    return None


def supply_below_return(supply: float, ret: float, tolerance_k: float) -> dict[str, Any] | None:
    """Heat: the supply (flow) temperature must not be below the return temperature."""
    if supply >= ret - tolerance_k:
        return None
    return {"supply": supply, "return": ret, "difference": supply - ret}
