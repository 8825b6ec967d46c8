"""Completeness (V1) and interval size (V2): the expected grid and the missing points."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from emms_validator.rules.gaps import ALLOWED_INTERVALS_S, aligned, find_gap, learn_interval

MIDNIGHT_CST = datetime(2026, 1, 1, tzinfo=UTC).timestamp() - 8 * 3600  # 2026-01-01 00:00 at UTC+8
OFFSET = 8 * 3600.0


@given(interval=st.sampled_from(ALLOWED_INTERVALS_S), k0=st.integers(0, 500), missing=st.integers(0, 50))
def test_gap_counts_exactly_the_missing_grid_points(interval: int, k0: int, missing: int) -> None:
    prev = MIDNIGHT_CST + k0 * interval
    t = prev + (missing + 1) * interval
    gap = find_gap("x", prev, t, interval, 1.0)
    if missing == 0:
        assert gap is None
    else:
        assert gap is not None and gap.count == missing
        assert gap.times() == [prev + (k + 1) * interval for k in range(missing)]
        assert gap.start == prev + interval and gap.end == t - interval


def test_an_off_grid_point_only_counts_grid_points_before_it() -> None:
    gap = find_gap("x", 0.0, 2.5 * 900, 900, 1.0)
    assert gap is not None and gap.count == 2
    assert find_gap("x", 0.0, 0.7 * 900, 900, 1.0) is None


@given(interval=st.sampled_from(ALLOWED_INTERVALS_S), k=st.integers(0, 10_000))
def test_grid_points_at_local_midnight_are_aligned(interval: int, k: int) -> None:
    assert aligned(MIDNIGHT_CST + k * interval, interval, OFFSET, 1.0)
    assert not aligned(MIDNIGHT_CST + k * interval + 7, interval, OFFSET, 1.0)


def test_interval_is_learned_from_aligned_steps_only() -> None:
    assert learn_interval(MIDNIGHT_CST, MIDNIGHT_CST + 900, None, OFFSET) == 900
    assert learn_interval(MIDNIGHT_CST, MIDNIGHT_CST + 86_400, None, OFFSET) == 86_400
    # a denser aligned step refines a learned interval; a sparser one does not coarsen it
    assert learn_interval(MIDNIGHT_CST, MIDNIGHT_CST + 900, 3600.0, OFFSET) == 900
    assert learn_interval(MIDNIGHT_CST, MIDNIGHT_CST + 3600, 900.0, OFFSET) == 900
    # spot readings at odd times never get a grid
    assert learn_interval(MIDNIGHT_CST + 17, MIDNIGHT_CST + 917, None, OFFSET) is None
    assert learn_interval(MIDNIGHT_CST, MIDNIGHT_CST + 2 * 86_400, None, OFFSET) is None
