"""The split of interval usage by the tariff in force (``emms_analytics.tariffs.split.assign``): every slot's usage
goes to the rate its terminal's F21 gives the half hour, the split and the unsplit usage sum to the total, shares
sum to one, cost is usage × the F22 rate, and points are counted as split / without a tariff / without sub-daily
data — never guessed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emms_analytics.tariffs.split import assign

BUCKET = datetime(2026, 3, 1, tzinfo=UTC)
NIGHT_AND_DAY = [1] * 16 + [0] * 28 + [1] * 4  # 费率 2 00:00–08:00 and 22:00–24:00, 费率 1 08:00–22:00


def row(terminal: str | None, slot: int | None, usage: float, *points: str, key: str = "total") -> dict[str, Any]:
    return {"bucket": BUCKET, "key": key, "terminal": terminal, "slot": slot, "usage": usage, "intervals": 1,
            "points": list(points)}


def test_each_slot_goes_to_the_rate_of_its_half_hour_with_the_cost_at_that_rate() -> None:
    tariffs = {"T1": {"slots": NIGHT_AND_DAY, "rates": [850, 420]}}
    rows = [row("T1", 0, 2.0, "P1"), row("T1", 15, 3.0, "P1"), row("T1", 16, 5.0, "P1"), row("T1", 43, 1.0, "P1"),
            row("T1", 44, 4.0, "P1"), row("T1", 47, 0.5, "P1")]
    [entry] = assign(rows, tariffs)
    assert [(r["rate"], r["usage"]) for r in entry["rates"]] == [(1, 6.0), (2, 9.5)]
    assert entry["rates"][0]["cost_yuan"] == pytest.approx(6.0 * 0.85)
    assert entry["rates"][1]["cost_yuan"] == pytest.approx(9.5 * 0.42)
    assert entry["cost_yuan"] == pytest.approx(6.0 * 0.85 + 9.5 * 0.42)
    assert [r["share"] for r in entry["rates"]] == pytest.approx([6.0 / 15.5, 9.5 / 15.5])
    assert entry["metering_points"] == {"split": 1, "no_tariff": 0, "no_sub_daily": 0}


def test_points_without_a_tariff_or_sub_daily_data_are_counted_not_split() -> None:
    tariffs = {"T1": {"slots": NIGHT_AND_DAY, "rates": None}}  # F22 never read: no cost
    rows = [row("T1", 20, 3.0, "P1"), row("T1", None, 7.0, "P1", "P2"),  # P1's daily gap, P2 daily only
            row(None, None, 11.0, "P3", "P4")]  # no terminal / no tariff heard of
    [entry] = assign(rows, tariffs)
    assert entry["total"] == 21.0 and entry["split"] == 3.0 and entry["not_split"] == 18.0
    assert entry["rates"] == [{"rate": 1, "usage": 3.0, "share": 1.0, "cost_yuan": None}]
    assert entry["cost_yuan"] is None
    assert entry["metering_points"] == {"split": 1, "no_tariff": 2, "no_sub_daily": 1}
    assert assign([row(None, None, 5.0, "P9")], {})[0]["rates"] == []


slots = st.lists(st.integers(0, 3), min_size=48, max_size=48)
tariff = st.fixed_dictionaries({"slots": slots, "rates": st.none() | st.lists(st.integers(1, 2000), min_size=4,
                                                                                max_size=4)})
rows_strategy = st.lists(st.tuples(st.sampled_from(["T1", "T2", "T3", None]), st.none() | st.integers(0, 47),
                                   st.floats(0, 1e6, allow_nan=False), st.sampled_from(["P1", "P2", "P3"]),
                                   st.sampled_from(["A", "B"])), max_size=60)


@settings(max_examples=300, deadline=None)
@given(tariffs=st.dictionaries(st.sampled_from(["T1", "T2"]), tariff), raw=rows_strategy)
def test_the_split_sums_to_the_total_usage(tariffs: dict[str, dict[str, Any]],
                                           raw: list[tuple[str | None, int | None, float, str, str]]) -> None:
    rows = [row(t, s if t in tariffs else None, u, p, key=k) for t, s, u, p, k in raw]
    answer = {e["key"]: e for e in assign(rows, tariffs)}
    assert set(answer) == {r["key"] for r in rows}
    for key, entry in answer.items():
        mine = [r for r in rows if r["key"] == key]
        assert entry["total"] == pytest.approx(sum(r["usage"] for r in mine))
        assert entry["split"] + entry["not_split"] == pytest.approx(entry["total"])
        expected: dict[int, float] = {}
        for r in mine:
            if r["terminal"] in tariffs and r["slot"] is not None:
                rate = tariffs[r["terminal"]]["slots"][r["slot"]] + 1
                expected[rate] = expected.get(rate, 0.0) + r["usage"]
        assert {x["rate"]: x["usage"] for x in entry["rates"]} == pytest.approx(expected)
        assert sum(x["usage"] for x in entry["rates"]) == pytest.approx(entry["split"])
        if entry["split"]:
            assert sum(x["share"] for x in entry["rates"]) == pytest.approx(1.0)
        counted = entry["metering_points"]
        assert counted["split"] + counted["no_sub_daily"] <= len({r["points"][0] for r in mine})
