"""The local calendar and how a custom period splits into rollup pieces (hypothesis)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from emms_analytics.calendar import LEVELS, add, pieces, truncate

TZ = ZoneInfo("Asia/Shanghai")
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda t: t.replace(tzinfo=UTC, microsecond=0))


@given(instants, st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=800)),
       st.sampled_from(["monthly", "daily", "hourly"]))
def test_pieces_cover_the_period_exactly_once_with_whole_buckets(start: datetime, length: timedelta,
                                                                  coarsest: str) -> None:
    end = start + length
    parts = pieces(start, end, TZ, coarsest)  # type: ignore[arg-type]
    assert parts[0].start == start and parts[-1].end == end
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))
    assert all(LEVELS.index(p.level) >= LEVELS.index(coarsest) for p in parts)  # type: ignore[arg-type]
    for p in parts:
        unit = {"monthly": "month", "daily": "day", "hourly": "hour"}.get(p.level)
        if unit is not None:  # whole local buckets only
            assert truncate(p.start, unit, TZ) == p.start and truncate(p.end, unit, TZ) == p.end


def test_buckets_are_local_midnights_and_months() -> None:
    t = datetime(2026, 3, 31, 17, 0, tzinfo=UTC)  # 2026-04-01 01:00 local
    assert truncate(t, "day", TZ) == datetime(2026, 3, 31, 16, tzinfo=UTC)
    assert truncate(t, "month", TZ) == datetime(2026, 3, 31, 16, tzinfo=UTC)
    assert truncate(t, "quarter", TZ) == datetime(2026, 3, 31, 16, tzinfo=UTC)
    assert truncate(t, "year", TZ) == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert add(datetime(2026, 1, 30, 16, tzinfo=UTC), "month", 1, TZ) == datetime(2026, 2, 27, 16, tzinfo=UTC)
