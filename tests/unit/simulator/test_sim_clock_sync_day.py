"""The field's monthly clock sync: on the 1st by default, or on a chosen day (clamped to the month's length);
clocks drift from the last one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.truth import GroundTruth

CST = timezone(timedelta(hours=8))


def _sync(sync_day: int, local: datetime) -> datetime:
    truth = GroundTruth(FleetConfig(seed=1, concentrators=1, meters_per=2,
                                    rates=FieldRates(clock_drift_ppm=100.0, clock_sync_day=sync_day)))
    return datetime.fromtimestamp(truth.schedule.month_start(local.timestamp()), tz=CST)


@pytest.mark.parametrize(("sync_day", "now", "expected"), [
    (1, datetime(2026, 12, 6, 7, 0, tzinfo=CST), datetime(2026, 12, 1, tzinfo=CST)),
    (1, datetime(2026, 12, 1, 0, 5, tzinfo=CST), datetime(2026, 12, 1, tzinfo=CST)),
    (20, datetime(2026, 12, 6, 7, 0, tzinfo=CST), datetime(2026, 11, 20, tzinfo=CST)),
    (20, datetime(2026, 12, 20, 0, 0, tzinfo=CST), datetime(2026, 12, 20, tzinfo=CST)),
    (20, datetime(2027, 1, 3, tzinfo=CST), datetime(2026, 12, 20, tzinfo=CST)),
    (31, datetime(2027, 3, 4, tzinfo=CST), datetime(2027, 2, 28, tzinfo=CST)),  # February has no 31st
    (31, datetime(2027, 3, 31, 9, tzinfo=CST), datetime(2027, 3, 31, tzinfo=CST)),
])
def test_the_last_sync_is_the_chosen_day_of_this_or_the_previous_month(sync_day: int, now: datetime,
                                                                         expected: datetime) -> None:
    assert _sync(sync_day, now) == expected


@given(st.integers(1, 31), st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)))
def test_the_last_sync_is_at_most_a_month_back_and_not_ahead(sync_day: int, naive: datetime) -> None:
    now = naive.replace(tzinfo=CST)
    sync = _sync(sync_day, now)
    assert sync <= now < sync + timedelta(days=32)
    assert sync.time() == datetime.min.time()


def test_a_day_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="clock_sync_day"):
        FieldRates(clock_sync_day=0)


def test_a_terminals_clock_drifts_from_the_chosen_sync_day() -> None:
    now = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    first = GroundTruth(FleetConfig(seed=4, concentrators=1, meters_per=2, rates=FieldRates(clock_drift_ppm=2000.0)))
    later = GroundTruth(FleetConfig(seed=4, concentrators=1, meters_per=2,
                                    rates=FieldRates(clock_drift_ppm=2000.0, clock_sync_day=20)))
    since_first = now.timestamp() - first.schedule.month_start(now.timestamp())
    since_20th = now.timestamp() - later.schedule.month_start(now.timestamp())
    assert since_20th - since_first == pytest.approx(11 * 86400)  # the 20th of November, not the 1st of December
