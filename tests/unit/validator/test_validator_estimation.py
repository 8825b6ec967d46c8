"""Estimation (E4, E5, E8): interpolation, like-day shapes scaled to the registers, method choice."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_messages.events import EventClass
from emms_validator.config.catalog import RULES
from emms_validator.estimation.chooser import estimate_gap
from emms_validator.estimation.linear import interpolate
from emms_validator.estimation.profile import Profile, weekday_class
from emms_validator.estimation.shaped import spread
from emms_validator.model import Action, Gap, ItemKind, RuleSetting

OFFSET = 8 * 3600.0
DAY = 86_400.0
T0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp() - OFFSET  # Monday 2026-01-05 00:00 local
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def _estimation(**params: float) -> RuleSetting:
    return RuleSetting(True, Action.FLAG, EventClass.NORMAL, MappingProxyType({**RULES["estimation"].params, **params}))


@given(v0=finite, v1=finite, n=st.integers(1, 50))
def test_an_interpolated_estimate_lies_between_its_neighbours(v0: float, v1: float, n: int) -> None:
    times = [k / (n + 1) for k in range(1, n + 1)]
    values = interpolate(0.0, v0, 1.0, v1, times)
    lo, hi = min(v0, v1), max(v0, v1)
    assert all(lo <= v <= hi for v in values)
    assert values == sorted(values) or values == sorted(values, reverse=True)


@given(v0=st.floats(min_value=0, max_value=1e6), delta=st.floats(min_value=0, max_value=1e5),
       weights=st.lists(st.floats(min_value=-5, max_value=100), min_size=2, max_size=60))
def test_a_shaped_estimate_is_monotone_between_the_registers(v0: float, delta: float, weights: list[float]) -> None:
    values = spread(v0, delta, weights)
    if sum(w for w in weights if w > 0) <= 0:
        assert values is None
        return
    assert values is not None and len(values) == len(weights) - 1
    assert all(v0 - 1e-9 <= v <= v0 + delta + 1e-6 for v in values)
    assert all(b >= a - 1e-9 for a, b in zip([v0, *values], [*values, v0 + delta], strict=True))


def test_weekday_classes_follow_the_like_day_table() -> None:
    classes = [weekday_class(T0 + d * DAY + 3600, OFFSET) for d in range(7)]
    assert classes == [0, 1, 1, 1, 2, 3, 4]  # Mon | Tue-Thu | Fri | Sat | Sun


def _daily_profile(weeks: int = 3) -> Profile:
    p = Profile.empty(DAY)
    assert p is not None
    for d in range(1, weeks * 7 + 1):
        weekend = weekday_class(T0 + (d - 1) * DAY, OFFSET) >= 3
        p.update(T0 + d * DAY, 20.0 if weekend else 10.0, OFFSET, 0.3)
    return p


def test_profile_knows_the_usual_day_and_the_previous_like_day() -> None:
    p = _daily_profile()
    saturday_end = T0 + 6 * DAY  # the interval Saturday 00:00 → Sunday 00:00 ends here
    e = p.expected(saturday_end, OFFSET, 3)
    assert e is not None and e.mean == pytest.approx(20.0) and e.std == pytest.approx(0.0, abs=1e-9)
    assert p.like_day(saturday_end, OFFSET) == 20.0
    assert p.daily_mean() == pytest.approx((10 + 10 + 10 + 20 + 20) / 5, rel=0.2)
    packed: array[float] = array("d", [7.0])
    p.pack_into(packed)
    restored = Profile.unpack(packed, 1)
    assert restored is not None and restored.expected(saturday_end, OFFSET, 3) == e
    assert restored.like_day(saturday_end, OFFSET) == 20.0 and restored.like_day(T0 + 7 * DAY, OFFSET) == 20.0


def test_method_by_span_linear_then_profile_then_nothing() -> None:
    short = Gap("e", 0.0, 2 * 900.0, 900.0, 1)
    est = estimate_gap(short, ItemKind.CUMULATIVE, 100.0, 101.0, 1.0, None, OFFSET, _estimation())
    assert est is not None and est.method == "linear" and est.values == (100.5,)

    p = _daily_profile()
    friday_prev = T0 + 4 * DAY  # readings Fri 00:00 and Sun 00:00, Saturday 00:00 missing
    day_gap = Gap("e", friday_prev, friday_prev + 2 * DAY, DAY, 1)
    est = estimate_gap(day_gap, ItemKind.CUMULATIVE, 1000.0, 1030.0, 30.0, p, OFFSET, _estimation())
    assert est is not None and est.method == "profile"
    # Friday's usual 10 and Saturday's usual 20 share the 30 actually consumed: Friday gets a third
    assert est.values[0] == pytest.approx(1010.0)

    too_long = Gap("e", 0.0, 5 * DAY, DAY, 4)
    assert estimate_gap(too_long, ItemKind.CUMULATIVE, 0.0, 50.0, 50.0, p, OFFSET, _estimation()) is None
    assert estimate_gap(day_gap, ItemKind.CUMULATIVE, 1000.0, 1030.0, 30.0, None, OFFSET, _estimation()) is None


def test_like_day_is_used_when_history_is_too_short() -> None:
    p = _daily_profile(weeks=1)  # 7 days in all: below min_history 8 even pooled; the previous like day exists
    friday_prev = T0 + 4 * DAY
    gap = Gap("e", friday_prev, friday_prev + 2 * DAY, DAY, 1)
    est = estimate_gap(gap, ItemKind.CUMULATIVE, 1000.0, 1030.0, 30.0, p, OFFSET, _estimation(min_history=8))
    assert est is not None and est.method == "like-day" and est.values[0] == pytest.approx(1010.0)


def test_sampled_items_only_get_short_linear_estimates_and_decreases_none() -> None:
    gap = Gap("p", 0.0, 1800.0, 900.0, 1)
    est = estimate_gap(gap, ItemKind.INSTANT, 2.0, 4.0, None, None, OFFSET, _estimation())
    assert est is not None and est.values == (3.0,)
    long_gap = Gap("p", 0.0, 4 * 3600.0, 3600.0, 3)
    assert estimate_gap(long_gap, ItemKind.INSTANT, 2.0, 4.0, None, None, OFFSET, _estimation()) is None
    assert estimate_gap(gap, ItemKind.CUMULATIVE, 5.0, 4.0, None, None, OFFSET, _estimation()) is None
    off = RuleSetting(False, Action.FLAG, EventClass.NORMAL, RULES["estimation"].params)
    assert estimate_gap(gap, ItemKind.INSTANT, 2.0, 4.0, None, None, OFFSET, off) is None


def test_an_estimate_across_a_rollover_wraps() -> None:
    gap = Gap("e", 0.0, 1800.0, 900.0, 1)
    est = estimate_gap(gap, ItemKind.CUMULATIVE, 990.0, 10.0, 20.0, None, OFFSET, _estimation(), modulus=1000.0)
    assert est is not None and est.values == (0.0,)
