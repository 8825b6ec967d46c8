"""Completeness (V1) and interval size (V2): the grid of expected data times and what is missing.

A series with a known interval (configured, or learned from two consecutive
aligned points) expects one point per interval on a grid anchored at local
midnight. Between two received points every grid time that did not arrive is a
gap point; gaps are reported, re-collected and, where allowed, estimated — never
silently lumped into the next interval.
"""

from __future__ import annotations

from emms_validator.model import Gap

ALLOWED_INTERVALS_S = (60, 300, 600, 900, 1800, 3600, 7200, 86_400)
"""Intervals a series may be learned to have (1376.1 curve densities and daily frozen data)."""


def aligned(t: float, interval_s: float, offset_s: float, tolerance_s: float) -> bool:
    """Whether ``t`` lies on the interval grid anchored at local midnight (``offset_s`` east of UTC)."""
    phase = (t + offset_s) % interval_s
    return phase <= tolerance_s or interval_s - phase <= tolerance_s


def find_gap(item: str, prev_t: float, t: float, interval_s: float, tolerance_s: float) -> Gap | None:
    """The expected points strictly between ``prev_t`` and ``t`` on ``prev_t``'s grid, if any."""
    if interval_s <= 0 or t <= prev_t:
        return None
    steps = (t - prev_t) / interval_s
    whole = round(steps)
    count = whole - 1 if abs(steps - whole) * interval_s <= tolerance_s else int(steps)
    if count <= 0:
        return None
    return Gap(item, prev_t, t, interval_s, count)


def learn_interval(prev_t: float, t: float, current: float | None, offset_s: float,
                   tolerance_s: float = 1.0) -> float | None:
    """Learn a series' interval from two consecutive points: a known size, both points on its grid.

    A smaller aligned step replaces a larger learned one (the data is denser than
    thought); an irregular step changes nothing, so spot readings never get a grid.
    """
    step = t - prev_t
    if current is not None and abs(step - current) <= tolerance_s:
        return current  # the usual case: one more step of the known size
    for size in ALLOWED_INTERVALS_S:
        if abs(step - size) <= tolerance_s and aligned(t, size, offset_s, tolerance_s) \
                and aligned(prev_t, size, offset_s, tolerance_s):
            if current is None or size < current:
                return float(size)
            return current
    return current
