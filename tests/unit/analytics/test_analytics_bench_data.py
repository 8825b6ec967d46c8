"""The analytics bench's data set (``tools/bench/bench_analytics.py``): the closed-form totals its
answers are checked against equal the rows it loads, summed the slow way."""

from __future__ import annotations

import csv
import importlib.util
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest

BENCH = Path(__file__).resolve().parents[3] / "tools" / "bench" / "bench_analytics.py"
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_analytics", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_analytics"] = module
    spec.loader.exec_module(module)
    return module


def test_months_of_a_year_and_a_partial_one(bench: ModuleType) -> None:
    assert [n for _, n in bench.month_spans(365)] == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    assert bench.month_spans(40) == [(0, 31), (31, 9)]


def test_monthly_rows_are_the_sums_of_the_daily_rows(bench: ModuleType) -> None:
    meters, days = 9, 70
    daily: dict[tuple[str, str], float] = defaultdict(float)
    for meter, _item, bucket, usage, intervals, estimated in csv.reader(bench.daily_rollup_lines(meters, days)):
        local = datetime.fromisoformat(bucket).astimezone(TZ)
        assert (local.hour, local.minute, intervals, estimated) == (0, 0, "1", "0")
        daily[(meter, local.strftime("%Y-%m"))] += float(usage)
    monthly = {}
    for meter, item, bucket, usage, intervals, _ in csv.reader(bench.monthly_rollup_lines(meters, days)):
        local = datetime.fromisoformat(bucket).astimezone(TZ)
        assert (local.day, local.hour) == (1, 0) and item == bench.ITEMS[bench.utility_of(int(meter[1:]))]
        assert int(intervals) == {"2025-01": 31, "2025-02": 28, "2025-03": 11}[local.strftime("%Y-%m")]
        monthly[(meter, local.strftime("%Y-%m"))] = float(usage)
    assert monthly.keys() == daily.keys() and len(monthly) == meters * 3
    assert all(monthly[k] == pytest.approx(daily[k]) for k in monthly)


def test_intervals_end_at_the_next_local_midnight(bench: ModuleType) -> None:
    rows = list(csv.reader(bench.interval_lines(2, 3)))
    assert len(rows) == 6
    meter, _, at, starts_at, delta, estimated = rows[1]
    assert datetime.fromisoformat(starts_at) == datetime(2025, 1, 2, tzinfo=TZ).astimezone(UTC)
    assert datetime.fromisoformat(at) == datetime(2025, 1, 3, tzinfo=TZ) - timedelta(microseconds=1)
    assert (meter, float(delta), estimated) == ("M0", bench.used(0, 1), "f")


def test_closed_form_and_ranking_match_brute_force(bench: ModuleType) -> None:
    for meter in (0, 5, 96, 1234):
        assert bench.used_over(meter, 31, 28) == pytest.approx(sum(bench.used(meter, d) for d in range(31, 59)))
    fleet = 400
    brute = sorted((sum(bench.used(i, d) for d in range(0, 31)) for i in range(0, fleet, 4)
                    if bench.region_of(i, fleet) == "D3"), reverse=True)[:5]
    assert bench.expected_ranking(fleet, 0, 31, 5, "D3") == pytest.approx(brute)
    assert bench.region_of(fleet, fleet) == "X"


def test_masterdata_rows_fit_their_columns(bench: ModuleType) -> None:
    rows = bench.masterdata_rows(8, 12)
    for table, records in rows.items():
        assert all(len(r) == len(bench.MASTERDATA_COLUMNS[table]) for r in records), table
    parties = {r[2] for r in rows["customer"][:8]}
    assert parties == {"P0", "P1"} and {r[3] for r in rows["customer"][:4]} == set(bench.UTILITIES)
    assert [r[7] for r in rows["customer"][8:]] == ["X"] * 4
