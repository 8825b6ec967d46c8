"""Day tables and seasons: a table covering the 24 h exactly once is accepted and answers the period of
every minute; a gap or an overlap is refused naming the interval."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emms_control.tariffs.errors import TariffError
from emms_control.tariffs.periods import DAY_MINUTES, Period, day_table, hhmm
from emms_control.tariffs.seasons import Season, check_seasons, day_of_year

periods = st.sampled_from(list(Period))


@st.composite
def partitions(draw: st.DrawFn) -> tuple[list[int], list[Period], int]:
    """Cut points of the day (minutes, sorted, distinct), a period per piece, and a rotation (wrap at midnight)."""
    cuts = sorted(draw(st.sets(st.integers(1, DAY_MINUTES - 1), max_size=8)))
    bounds = [0, *cuts, DAY_MINUTES]
    return bounds, [draw(periods) for _ in bounds[1:]], draw(st.integers(0, len(bounds) - 2))


def _entries(bounds: list[int], kinds: list[Period], rotate: int) -> list[tuple[str, str, Period]]:
    entries = [(hhmm(s), hhmm(e), p) for s, e, p in zip(bounds, bounds[1:], kinds, strict=False)]
    if rotate and len(entries) > 1:  # join the last and first piece into one entry over midnight
        last, first = entries[-1], entries[0]
        joined = (last[0], first[1], last[2])
        entries = [joined, *entries[1:-1]] if last[2] == first[2] else entries
    return entries[rotate:] + entries[:rotate]


@given(partitions())
def test_a_partition_of_the_day_is_accepted_and_gives_each_minute_its_period(case: tuple) -> None:
    bounds, kinds, rotate = case
    table = day_table(_entries(bounds, kinds, rotate))
    assert table.spans[0].start == 0 and table.spans[-1].end == DAY_MINUTES
    assert all(a.end == b.start for a, b in zip(table.spans, table.spans[1:], strict=False))
    for s, e, p in zip(bounds, bounds[1:], kinds, strict=False):
        assert table.at(s).period is p and table.at(e - 1).period is p


@given(partitions(), st.data())
def test_a_missing_piece_is_refused_naming_the_gap(case: tuple, data: st.DataObject) -> None:
    bounds, kinds, _ = case
    entries = _entries(bounds, kinds, 0)
    if len(entries) < 2:
        return
    i = data.draw(st.integers(0, len(entries) - 1))
    with pytest.raises(TariffError) as err:
        day_table(entries[:i] + entries[i + 1:])
    end = "24:00" if entries[i][1] == "00:00" else entries[i][1]
    assert f"gap in the day table: {entries[i][0]}–{end} is not covered" in str(err.value)


@given(partitions(), st.data())
def test_a_piece_reaching_into_the_next_is_refused_naming_the_overlap(case: tuple, data: st.DataObject) -> None:
    bounds, kinds, _ = case
    if len(bounds) < 3:
        return
    i = data.draw(st.integers(0, len(bounds) - 3))
    extra = data.draw(st.integers(1, bounds[i + 2] - bounds[i + 1]))
    entries = _entries(bounds, kinds, 0)
    entries[i] = (entries[i][0], hhmm(bounds[i + 1] + extra), entries[i][2])
    with pytest.raises(TariffError) as err:
        day_table(entries)
    upper = min(bounds[i + 1] + extra, bounds[i + 2])
    assert f"overlap in the day table: {hhmm(bounds[i + 1])}–{hhmm(upper)}" in str(err.value)
    assert f"entry {i + 1} and entry {i + 2}" in str(err.value)


def test_the_usual_chinese_table_with_valley_over_midnight() -> None:
    table = day_table([("23:00", "07:00", Period.VALLEY), ("07:00", "10:00", Period.FLAT),
                       ("10:00", "12:00", Period.PEAK), ("12:00", "19:00", Period.FLAT),
                       ("19:00", "21:00", Period.SHARP), ("21:00", "23:00", Period.PEAK)])
    assert table.at(0).period is Period.VALLEY and table.at(23 * 60).period is Period.VALLEY
    assert table.at(20 * 60).period is Period.SHARP
    assert day_table([("00:00", "00:00", Period.FLAT)]).spans[0].end == DAY_MINUTES


@pytest.mark.parametrize(("entries", "reason"), [
    ([("00:00", "12:00", Period.PEAK)], "12:00–24:00 is not covered"),
    ([("01:00", "24:00", Period.PEAK)], "00:00–01:00 is not covered"),
    ([("00:00", "13:00", Period.PEAK), ("12:00", "24:00", Period.FLAT)], "12:00–13:00 is covered by entry 1 and"),
    ([("22:00", "08:00", Period.VALLEY), ("07:00", "22:00", Period.FLAT)], "07:00–08:00 is covered by"),
    ([("24:00", "08:00", Period.VALLEY)], "starts at 24:00"),
    ([("07:60", "08:00", Period.VALLEY)], "not a time of day"),
])
def test_refusals_name_the_interval(entries: list, reason: str) -> None:
    with pytest.raises(TariffError, match=reason):
        day_table(entries)


def test_seasons_may_wrap_the_new_year_but_not_share_a_day() -> None:
    table = day_table([("00:00", "24:00", Period.FLAT)])
    winter = Season("winter", day_of_year("12-01"), day_of_year("02-28"), table)
    summer = Season("summer", day_of_year("06-01"), day_of_year("08-31"), table)
    assert check_seasons([winter, summer]) == (winter, summer)
    assert winter.contains(day_of_year("01-15")) and not winter.contains(day_of_year("02-29"))
    late = Season("late", day_of_year("08-15"), day_of_year("09-30"), table)
    with pytest.raises(TariffError, match=r"'late' \(08-15 … 09-30\) overlaps season 'summer'.* on 08-15 … 08-31"):
        check_seasons([winter, summer, late])
    with pytest.raises(TariffError, match="not a day of the year"):
        day_of_year("02-30")
