"""The writer's attribution of readings to metering points follows the meter periods exactly:
``valid_from <= data time < valid_to`` (open-ended without ``valid_to``), as the staging join does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from emms_archive.readings.attribution import Period, attribute

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@st.composite
def histories(draw: st.DrawFn) -> dict[str, list[Period]]:
    """Per meter, consecutive non-overlapping periods on points, possibly with gaps, the last maybe open."""
    out: dict[str, list[Period]] = {}
    for m in range(draw(st.integers(0, 4))):
        t = T0 + timedelta(hours=draw(st.integers(0, 48)))
        periods: list[Period] = []
        for k in range(draw(st.integers(0, 3))):
            length = draw(st.integers(1, 72))
            end = t + timedelta(hours=length)
            periods.append((t, end, f"P{m}-{k}"))
            t = end + timedelta(hours=draw(st.integers(0, 5)))
        if periods and draw(st.booleans()):
            start, _, point = periods[-1]
            periods[-1] = (start, None, point)
        out[f"M{m}"] = periods
    return out


@given(histories(), st.lists(st.tuples(st.sampled_from(["M0", "M1", "M2", "M3", "M9"]), st.integers(-5, 300)),
                             max_size=40))
def test_each_reading_goes_to_the_period_covering_its_data_time(periods: dict[str, list[Period]],
                                                              readings: list[tuple[str, int]]) -> None:
    rows = [(meter, "item", T0 + timedelta(hours=h), "scheduled", 1.0) for meter, h in readings]
    attributed, unplaced = attribute(rows, periods)
    expected = {}
    for i, (meter, _, t, *_rest) in enumerate(rows):
        hits = [p for s, e, p in periods.get(meter, []) if s <= t and (e is None or t < e)]
        assert len(hits) <= 1
        expected[i] = hits[0] if hits else None
    assert [(r[0], r[1:]) for r in attributed] == [(p, rows[i]) for i, p in expected.items() if p is not None]
    assert unplaced == [rows[i] for i, p in expected.items() if p is None]


def test_the_boundaries_are_half_open() -> None:
    swap = T0 + timedelta(days=10)
    periods: dict[str, list[Period]] = {"M": [(T0, swap, "OLD"), (swap, None, "NEW")]}
    rows = [("M", "i", T0 - timedelta(microseconds=1)), ("M", "i", T0), ("M", "i", swap)]
    attributed, unplaced = attribute(rows, periods)
    assert [r[0] for r in attributed] == ["OLD", "NEW"] and unplaced == [rows[0]]
