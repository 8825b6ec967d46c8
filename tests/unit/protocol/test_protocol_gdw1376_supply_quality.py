"""AFN 0D F27 (daily voltage statistics) and AFN 0C F57 / F58 (harmonics): round trips, layout, items.

Round trips by hypothesis over the value ranges of each field's format (EE = None included);
the byte layout pinned on a hand-built unit; the canonical items each answer becomes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import DEVICE_TZ, DataUnit
from emms_protocol.gdw1376.afn0c_harmonics import HarmonicContent, HarmonicRms
from emms_protocol.gdw1376.afn0d_voltage_stats import SIZE, DailyVoltageStats, PhaseVoltageStats
from emms_protocol.gdw1376.codec import DEFAULT_OPTIONS
from emms_protocol.gdw1376.items_map import items_from_units, used_codes
from emms_protocol.gdw1376.json_view import from_jsonable, to_jsonable
from emms_protocol.gdw1376.registry import lookup
from emms_protocol.gdw1376.units import decode_body, encode_units
from emms_protocol.items import ITEMS

days = st.dates(min_value=date(2001, 1, 1), max_value=date(2098, 12, 31))
volts = st.one_of(st.none(), st.integers(0, 9999).map(lambda v: v / 10))
minutes = st.one_of(st.none(), st.integers(0, 1440))


@st.composite
def phase_stats(draw: st.DrawFn, day: date) -> PhaseVoltageStats:
    def at() -> datetime | None:
        m = draw(st.one_of(st.none(), st.integers(0, 1439)))
        return None if m is None else datetime(day.year, day.month, day.day, tzinfo=DEVICE_TZ) + timedelta(minutes=m)

    return PhaseVoltageStats(draw(minutes), draw(minutes), draw(minutes), draw(minutes), draw(minutes),
                             draw(volts), at(), draw(volts), at(), draw(volts))


@st.composite
def daily_stats(draw: st.DrawFn) -> DailyVoltageStats:
    day = draw(days)
    return DailyVoltageStats(day, draw(phase_stats(day)), draw(phase_stats(day)), draw(phase_stats(day)))


@settings(max_examples=150, deadline=None)
@given(daily_stats(), st.integers(1, 2040))
def test_f27_round_trip(stats: DailyVoltageStats, pn: int) -> None:
    body = encode_units(0x0D, 1, [DataUnit(pn, 27, stats)])
    assert len(body) == 4 + SIZE == 4 + 69
    assert decode_body(0x0D, 1, body) == [DataUnit(pn, 27, stats)]
    assert from_jsonable(to_jsonable(stats)) == stats


@given(days, st.integers(1, 2040))
def test_f27_request_carries_td_d(day: date, pn: int) -> None:
    body = encode_units(0x0D, 0, [DataUnit(pn, 27, day)])
    assert body[4:] == bytes.fromhex(f"{day:%d%m%y}")
    assert decode_body(0x0D, 0, body) == [DataUnit(pn, 27, day)]


def test_f27_layout_and_items() -> None:
    """Counters (BIN minutes) A, B, C; then min, its A.18 time, max, its time per phase; then averages."""
    day = date(2026, 3, 14)
    t = datetime(2026, 3, 14, 4, 5, tzinfo=DEVICE_TZ)
    a = PhaseVoltageStats(10, 0, 30, 20, 1390, 196.5, t, 236.1, t.replace(hour=19, minute=45), 221.3)
    none = PhaseVoltageStats(None, None, None, None, None, None, None, None, None, None)
    body = encode_units(0x0D, 1, [DataUnit(1, 27, DailyVoltageStats(day, a, none, none))])[4:]
    assert body[:3] == bytes.fromhex("140326")
    assert body[3:13] == bytes.fromhex("0a00 0000 1e00 1400 6e05".replace(" ", ""))
    assert body[13:33] == b"\xee" * 20
    assert body[33:43] == bytes.fromhex("6519 050414 6123 451914".replace(" ", ""))
    assert body[63:65] == bytes.fromhex("1322")
    (unit,) = decode_body(0x0D, 1, encode_units(0x0D, 1, [DataUnit(1, 27, DailyVoltageStats(day, a, none, none))]))
    assert isinstance(unit.value, DailyVoltageStats) and unit.value.a.monitored_min == 1440
    items = {(v.item, v.freeze): v.value for v in items_from_units(0x0D, [unit])}
    assert items[("qualification.minutes.within.a", "day")] == 1390.0
    assert items[("qualification.minutes.over_upper.a", "day")] == 30.0
    assert items[("voltage.day.max.a", "day")] == 236.1
    assert items[("qualification.minutes.within.b", "day")] is None
    assert {v.data_time for v in items_from_units(0x0D, [unit])} == {day}


def test_f27_refuses_a_day_counter_over_1440() -> None:
    bad = PhaseVoltageStats(1441, 0, 0, 0, 0, None, None, None, None, None)
    with pytest.raises(ProtocolError):
        encode_units(0x0D, 1, [DataUnit(1, 27, DailyVoltageStats(date(2026, 1, 1), bad, bad, bad))])


def _series(draw: st.DrawFn, n: int, lo: int, hi: int, scale: int) -> tuple[float | None, ...]:
    return tuple(draw(st.lists(st.one_of(st.none(), st.integers(lo, hi).map(lambda v: v / scale)),
                               min_size=n, max_size=n)))


@st.composite
def harmonic_content(draw: st.DrawFn) -> HarmonicContent:
    n = draw(st.integers(2, 19))
    return HarmonicContent(*(_series(draw, n, -7999, 7999, 10) for _ in range(6)))


@st.composite
def harmonic_rms(draw: st.DrawFn) -> HarmonicRms:
    n = draw(st.integers(2, 19))
    return HarmonicRms(*(_series(draw, n - 1, 0, 9999, 10) for _ in range(3)),
                       *(_series(draw, n - 1, -7999, 7999, 100) for _ in range(3)))


@settings(max_examples=150, deadline=None)
@given(harmonic_content(), st.integers(1, 2040))
def test_f58_round_trip(value: HarmonicContent, pn: int) -> None:
    body = encode_units(0x0C, 1, [DataUnit(pn, 58, value)])
    assert len(body) == 4 + 1 + 6 * value.order * 2
    assert decode_body(0x0C, 1, body) == [DataUnit(pn, 58, value)]
    assert from_jsonable(to_jsonable(value)) == value


@settings(max_examples=150, deadline=None)
@given(harmonic_rms(), st.integers(1, 2040))
def test_f57_round_trip(value: HarmonicRms, pn: int) -> None:
    body = encode_units(0x0C, 1, [DataUnit(pn, 57, value)])
    assert len(body) == 4 + 1 + 6 * (value.order - 1) * 2
    assert decode_body(0x0C, 1, body) == [DataUnit(pn, 57, value)]
    assert from_jsonable(to_jsonable(value)) == value


def test_f58_layout_and_items() -> None:
    """N, then per channel THD and orders 2 … N (A.5, %)."""
    ua = (5.2, 3.1, None)
    zero = (0.0, 0.0, 0.0)
    value = HarmonicContent(ua, zero, zero, (12.5, -1.0, 4.0), zero, zero)
    body = encode_units(0x0C, 1, [DataUnit(2, 58, value)])[4:]
    assert body[0] == 3
    assert body[1:7] == bytes.fromhex("5200 3100 eeee".replace(" ", ""))
    assert body[19:25] == bytes.fromhex("2501 1080 4000".replace(" ", ""))
    items = {v.item: v.value for v in items_from_units(0x0C, decode_body(0x0C, 1, bytes.fromhex("02010207") + body))}
    assert items["thd.voltage.a"] == 5.2 and items["harmonic.voltage.a.h2"] == 3.1
    assert items["harmonic.voltage.a.h3"] is None and items["harmonic.current.a.h2"] == -1.0
    assert "harmonic.voltage.a.h4" not in items


def test_harmonic_order_and_shape_refused() -> None:
    with pytest.raises(ProtocolError):
        HarmonicContent((1.0,), (1.0,), (1.0,), (1.0,), (1.0,), (1.0,))  # N = 1
    with pytest.raises(ProtocolError):
        HarmonicContent((1.0, 2.0), (1.0,), (1.0,), (1.0,), (1.0,), (1.0,))
    codec = lookup(0x0C, 1, 58)
    assert codec is not None
    with pytest.raises(ProtocolError):
        codec.decode(bytes([20]) + bytes(480), 0, 481, DEFAULT_OPTIONS)


def test_every_quality_code_is_registered() -> None:
    assert used_codes() <= set(ITEMS)
