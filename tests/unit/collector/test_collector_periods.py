"""Periods on the fleet's wall clock, slots between two instants, and which data a run collects."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from emms_collector.reading.datatime import freeze_instant, run_data_time, tag_of
from emms_collector.tasks.periods import Period, PeriodError, PeriodUnit, next_slot, previous_slot, slots, zone
from emms_collector.tasks.types import TaskType

TZ = zone("Asia/Shanghai")


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_minutes_are_aligned_on_local_midnight_with_their_offset() -> None:
    period = Period(PeriodUnit.MINUTES, 15, offset_min=2)
    got = list(slots(period, _utc(2025, 3, 1, 15, 50), _utc(2025, 3, 1, 16, 40), TZ))
    # local 23:52 → 00:40: slots at 00:02, 00:17, 00:32 local = 16:02, 16:17, 16:32 UTC
    assert got == [_utc(2025, 3, 1, 16, 2), _utc(2025, 3, 1, 16, 17), _utc(2025, 3, 1, 16, 32)]


def test_slots_exclude_the_start_and_include_the_end() -> None:
    period = Period(PeriodUnit.HOURLY, 1, offset_min=5)
    start = _utc(2025, 3, 1, 1, 5)
    assert list(slots(period, start, start + timedelta(hours=1), TZ)) == [start + timedelta(hours=1)]


def test_daily_and_monthly_use_local_time() -> None:
    daily = Period(PeriodUnit.DAILY, offset_min=90)
    assert next_slot(daily, _utc(2025, 3, 1, 0, 0), TZ) == _utc(2025, 3, 1, 17, 30)  # 01:30 local on 2 March
    monthly = Period(PeriodUnit.MONTHLY, day=1, offset_min=120)
    assert next_slot(monthly, _utc(2025, 3, 5), TZ) == _utc(2025, 3, 31, 18, 0)  # 1 April 02:00 local
    assert previous_slot(monthly, _utc(2025, 3, 5), TZ) == _utc(2025, 2, 28, 18, 0)


def test_once_runs_at_its_anchor_only() -> None:
    once = Period(PeriodUnit.ONCE)
    anchor = _utc(2025, 3, 1, 12)
    assert list(slots(once, anchor - timedelta(seconds=1), anchor + timedelta(days=3), TZ, anchor=anchor)) == [anchor]
    assert list(slots(once, anchor, anchor + timedelta(days=3), TZ, anchor=anchor)) == []


@pytest.mark.parametrize(("period", "reason"), [
    ({"unit": PeriodUnit.MINUTES, "every": 7}, "does not divide a day"),
    ({"unit": PeriodUnit.MINUTES, "every": 15, "offset_min": 15}, "below the period"),
    ({"unit": PeriodUnit.HOURLY, "every": 5}, "does not divide a day"),
    ({"unit": PeriodUnit.DAILY, "every": 2}, "every=1"),
    ({"unit": PeriodUnit.MONTHLY, "day": 30}, "1..28"),
])
def test_unschedulable_periods_are_refused_with_a_reason(period: dict[str, object], reason: str) -> None:
    with pytest.raises(PeriodError, match=reason):
        Period(**period)  # type: ignore[arg-type]


def test_daily_frozen_runs_collect_yesterdays_freeze_at_the_end_of_the_day() -> None:
    due = _utc(2025, 3, 1, 17, 30)  # 2 March 01:30 local
    data_time = run_data_time(TaskType.DAILY_FROZEN, due, TZ, freeze_at="end")
    assert data_time == _utc(2025, 3, 1, 16, 0)  # 2 March 00:00 local = end of 1 March
    assert tag_of(data_time, TZ, freeze_at="end") == date(2025, 3, 1)
    assert freeze_instant(date(2025, 3, 1), TZ, freeze_at="start") == _utc(2025, 2, 28, 16, 0)


def test_monthly_frozen_runs_collect_last_month() -> None:
    due = _utc(2025, 3, 31, 18, 0)  # 1 April 02:00 local
    data_time = run_data_time(TaskType.MONTHLY_FROZEN, due, TZ, freeze_at="end")
    assert data_time == _utc(2025, 3, 31, 16, 0)  # 1 April 00:00 local = end of March
    assert tag_of(data_time, TZ, monthly=True, freeze_at="end") == date(2025, 3, 1)
    assert run_data_time(TaskType.REALTIME, due, TZ) == due
