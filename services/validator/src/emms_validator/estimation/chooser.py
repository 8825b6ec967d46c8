"""Which estimate a gap gets, in the order of VEE-RULES.md §5.

1. Linear interpolation (E4) when the gap spans at most ``linear_max_s``
   (IESO: 1 h; configurable up to Itron's 3 h).
2. For cumulative registers, the historical average of like days (E5) as the
   shape, scaled to the bounding registers (E8).
3. Else the previous like day (E5, nearest equivalent day) as the shape, scaled.
4. Nothing beyond ``max_span_s`` (V20 prolonged estimation) or without any
   shape: the gap stays open for back-fill and review.

Sampled items (power, temperature…) only get linear interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass

from emms_validator.estimation.linear import interpolate, wrap
from emms_validator.estimation.profile import Profile
from emms_validator.estimation.shaped import spread
from emms_validator.model import Gap, ItemKind, RuleSetting


@dataclass(frozen=True, slots=True)
class Estimate:
    method: str  # "linear", "profile", "like-day"
    times: tuple[float, ...]
    values: tuple[float, ...]


def estimate_gap(gap: Gap, kind: ItemKind, v0: float, v1: float, delta: float | None,
                 profile: Profile | None, offset_s: float, setting: RuleSetting,
                 modulus: float | None = None) -> Estimate | None:
    """Estimate the missing points of ``gap`` between the known values ``v0`` (before) and ``v1`` (after).

    ``delta`` is the register increment across the gap (roll-over resolved) for
    cumulative items; ``None`` means the bounding registers disagree and no
    estimate is made.
    """
    if not setting.enabled or gap.span_s > setting.p("max_span_s") or gap.count <= 0:
        return None
    times = gap.times()
    if kind is ItemKind.CUMULATIVE:
        if delta is None:
            return None
        if gap.span_s <= setting.p("linear_max_s"):
            values = interpolate(gap.prev_t, v0, gap.next_t, v0 + delta, times)
            return Estimate("linear", tuple(times), tuple(wrap(v, modulus) for v in values))
        return _shaped(gap, v0, delta, profile, offset_s, int(setting.p("min_history")), modulus)
    if kind is ItemKind.INSTANT and gap.span_s <= setting.p("linear_max_s"):
        return Estimate("linear", tuple(times), tuple(interpolate(gap.prev_t, v0, gap.next_t, v1, times)))
    return None


def _shaped(gap: Gap, v0: float, delta: float, profile: Profile | None, offset_s: float, min_history: int,
            modulus: float | None) -> Estimate | None:
    if profile is None or profile.interval_s != gap.interval_s:
        return None
    ends = [*gap.times(), gap.next_t]
    expected = [profile.expected(t, offset_s, min_history) for t in ends]
    if all(e is not None for e in expected):
        values = spread(v0, delta, [e.mean for e in expected if e is not None])
        if values is not None:
            return Estimate("profile", tuple(gap.times()), tuple(wrap(v, modulus) for v in values))
    previous = [profile.like_day(t, offset_s) for t in ends]
    if all(p is not None for p in previous):
        values = spread(v0, delta, [p for p in previous if p is not None])
        if values is not None:
            return Estimate("like-day", tuple(gap.times()), tuple(wrap(v, modulus) for v in values))
    return None
