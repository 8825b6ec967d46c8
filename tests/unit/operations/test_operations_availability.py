"""Availability from up/down history (docs/operations.md "Availability")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from emms_operations.availability import length_s, measure, merge, period, polled_up, session_up, subtract

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def h(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def test_terminal_down_two_hours_of_a_day() -> None:
    events = [(h(0), True), (h(10), False), (h(12), True)]
    first, up = session_up(events, h(24))
    assert first == h(0) and up == [(h(0), h(10)), (h(12), h(24))]
    a = measure([(first, h(24))], up, [], h(0), h(24))
    assert a.up_s == 22 * 3600 and a.down_s == 2 * 3600
    assert a.availability == round(22 / 24, 6)


def test_planned_maintenance_is_not_counted() -> None:
    events = [(h(0), True), (h(10), False), (h(12), True)]
    _, up = session_up(events, h(24))
    a = measure([(h(0), h(24))], up, [(h(10), h(12))], h(0), h(24))
    assert a.planned_s == 2 * 3600 and a.down_s == 0 and a.availability == 1.0


def test_before_the_first_record_is_not_observed() -> None:
    first, up = session_up([(h(12), True)], h(24))
    a = measure([(first, h(24))], up, [], h(0), h(24))  # type: ignore[list-item]
    assert a.observed_s == 12 * 3600 and a.availability == 1.0


def test_state_before_the_period_carries_into_it() -> None:
    first, up = session_up([(h(-5), False)], h(24))
    a = measure([(first, h(24))], up, [], h(0), h(24))  # type: ignore[list-item]
    assert a.availability == 0.0 and a.down_s == 24 * 3600


def test_redelivered_and_duplicate_events_change_nothing() -> None:
    events = [(h(0), True), (h(10), False), (h(10), False), (h(12), True), (h(12), True), (h(0), True)]
    _, up = session_up(events, h(24))
    assert up == [(h(0), h(10)), (h(12), h(24))]


def test_polls_stand_for_their_interval_at_most_the_gap() -> None:
    polls = [(h(0), True), (h(1), False), (h(2), True), (h(10), True)]
    observed, up = polled_up(polls, h(11), timedelta(hours=1))
    assert observed == [(h(0), h(3)), (h(10), h(11))]
    assert up == [(h(0), h(1)), (h(2), h(3)), (h(10), h(11))]
    a = measure(observed, up, [], h(0), h(11))
    assert a.observed_s == 4 * 3600 and a.up_s == 3 * 3600 and a.availability == 0.75


def test_calendar_periods_on_the_local_clock() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    start, end = period(2026, 12, tz)
    assert (start.year, start.month, end.year, end.month) == (2026, 12, 2027, 1)
    start, end = period(2026, None, tz)
    assert end - start == timedelta(days=365)
    assert start.utcoffset() == timedelta(hours=8)


intervals = st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100)).map(
    lambda p: (h(min(p)), h(max(p)))), max_size=8)


@given(intervals, intervals)
def test_subtract_and_merge_are_consistent(a: list[tuple[datetime, datetime]],
                                           b: list[tuple[datetime, datetime]]) -> None:
    rest = subtract(a, b)
    overlap = subtract(a, rest)
    assert abs(length_s(rest) + length_s(overlap) - length_s(merge(a))) < 1e-6
    assert length_s(subtract(rest, b)) == length_s(rest)


@given(st.lists(st.tuples(st.integers(0, 48), st.booleans()), max_size=12), intervals)
def test_availability_is_a_fraction_and_up_plus_down_is_measured(
        raw: list[tuple[int, bool]], planned: list[tuple[datetime, datetime]]) -> None:
    first, up = session_up([(h(t), ok) for t, ok in raw], h(48))
    if first is None:
        return
    a = measure([(first, h(48))], up, planned, h(0), h(48))
    assert a.up_s + a.down_s + a.planned_s <= a.observed_s + 1e-6
    assert abs(a.up_s + a.down_s + a.planned_s - a.observed_s) < 1e-6
    assert a.availability is None or 0.0 <= a.availability <= 1.0
