"""Pure analyses: register increases (roll-over), tiers, trend, sudden changes, ranking, comparisons."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_analytics import analyses
from emms_analytics.repository.intervals import increase
from emms_analytics.rollups import merged

TZ = ZoneInfo("Asia/Shanghai")


def test_increase_repairs_a_roll_over_and_drops_other_decreases() -> None:
    assert increase(9_990.0, 5.0, 4) == pytest.approx(15.0)
    assert increase(5_000.0, 4_000.0, 4) is None  # a drop of a fifth of the register is not a roll-over
    assert increase(9_990.0, 5.0, None) is None  # width unknown: no usage until it is
    assert increase(None, 5.0, 8) is None and increase(1.0, 3.5, 8) == 2.5


@given(st.lists(st.floats(min_value=0, max_value=1e5), max_size=20),
       st.lists(st.floats(min_value=1, max_value=1e4), min_size=1, max_size=4, unique=True))
def test_tier_shares_add_up_to_the_usage(values: list[float], bounds: list[float]) -> None:
    tiers = [(f"t{i}", b) for i, b in enumerate(sorted(bounds))] + [("last", None)]
    split = analyses.tier_share({str(i): v for i, v in enumerate(values)}, tiers)
    assert sum(t["usage"] for t in split) == pytest.approx(sum(values), rel=1e-9, abs=1e-6)
    assert all(t["usage"] >= 0 for t in split)


def test_tier_share_of_one_customer() -> None:
    split = analyses.tier_share({"c": 5000.0}, [("a", 2760), ("b", 4800), ("c", None)])
    assert [t["usage"] for t in split] == [2760, 2040, 200]


def test_trend_sudden_changes_and_ranking() -> None:
    assert analyses.trend([1, 2, 3, 4])["direction"] == "rising"
    assert analyses.trend([5, 5, 5])["direction"] == "flat"
    t = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3)]
    jumps = analyses.sudden_changes([(t[0], 10.0), (t[1], 11.0), (t[2], 30.0)], 0.5)
    assert [j["bucket"] for j in jumps] == [t[2]]
    rows = [{"bucket": t[0], "key": k, "item": "x", "usage": u} for k, u in (("a", 1.0), ("b", 3.0), ("c", 2.0))]
    assert [(r["key"], r["rank"]) for r in analyses.ranking(rows, 2)] == [("b", 1), ("c", 2)]


def test_comparison_finds_the_previous_month_and_the_year_before() -> None:
    def local(y: int, m: int) -> datetime:
        return datetime(y, m, 1, tzinfo=TZ)
    rows = [{"bucket": local(2026, 3), "key": "k", "usage": 120.0}]
    earlier = {(local(2026, 2), "k"): 100.0, (local(2025, 3), "k"): 60.0}
    [row] = analyses.compared(rows, "month", local(2026, 3), TZ, earlier)
    assert row["previous"] == 100.0 and row["mom_rate"] == pytest.approx(0.2)
    assert row["last_year"] == 60.0 and row["yoy_rate"] == pytest.approx(1.0)


def test_refresh_windows_merge_only_when_they_touch() -> None:
    d = [datetime(2026, 1, n, tzinfo=UTC) for n in (1, 2, 3, 20, 21)]
    assert merged([(d[3], d[4]), (d[0], d[1]), (d[1], d[2])]) == [(d[0], d[2]), (d[3], d[4])]


def test_peaks_find_the_earliest_highest_and_lowest_bucket_and_the_load_factor() -> None:
    b = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3, 4)]
    rows = [{"bucket": b[0], "usage": 4.0}, {"bucket": b[1], "usage": 8.0}, {"bucket": b[2], "usage": 8.0},
            {"bucket": b[3], "usage": 2.0}, {"bucket": b[3], "usage": 2.0}]  # two keys in one bucket: summed
    found = analyses.peaks(rows)
    assert found["peak"] == {"bucket": b[1], "usage": 8.0} and found["valley"] == {"bucket": b[0], "usage": 4.0}
    assert found["average"] == 6.0 and found["peak_to_average"] == pytest.approx(8 / 6)
    assert found["load_factor"] == pytest.approx(0.75) and found["buckets"] == 4
    assert analyses.peaks([])["peak"] is None
    assert [g["rate"] for g in analyses.growth(rows)] == [None, 1.0, 0.0, -0.5]


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=40))
def test_the_peak_bounds_every_bucket_and_the_load_factor_is_a_share(values: list[float]) -> None:
    rows = [{"bucket": datetime(2026, 1, 1, tzinfo=UTC).replace(day=1 + i % 28, hour=i // 28), "usage": v}
            for i, v in enumerate(values)]
    found = analyses.peaks(rows)
    assert found["valley"]["usage"] <= found["average"] + 1e-6 and found["average"] <= found["peak"]["usage"] + 1e-6
    assert found["load_factor"] is None or 0.0 <= found["load_factor"] <= 1.0 + 1e-9
