"""Like-day shaped estimates scaled to the bounding registers (VEE-RULES.md E5 + E8).

The consumption between the registers either side of a gap is known exactly
(their difference). It is spread over the missing intervals in proportion to a
shape — the historical average of the same weekday class and slot, or the
previous like day — so the estimates sum to the register delta and no energy is
dumped into the next interval.
"""

from __future__ import annotations

from collections.abc import Sequence


def spread(v0: float, delta: float, weights: Sequence[float]) -> list[float] | None:
    """Cumulative values after ``v0`` for each interval but the last, shaped by ``weights``.

    ``weights`` has one entry per interval from the point before the gap to the
    point after it (so ``len(weights) - 1`` missing points); negative weights
    count as zero. ``None`` when the shape carries no information (all zero).
    """
    clipped = [w if w > 0 else 0.0 for w in weights]
    total = sum(clipped)
    if total <= 0 or delta < 0:
        return None
    values: list[float] = []
    acc = 0.0
    for w in clipped[:-1]:
        acc += w
        values.append(v0 + delta * min(acc / total, 1.0))
    return values
