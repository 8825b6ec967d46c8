"""AFN 0D curve data (F81 – F95, F105 – F108): Td_c requests, curve answers, canonical items, JSON view.

Round trips by hypothesis over every curve Fn, density and value range of the
Fn's format; the byte layout pinned on a hand-built frame (Td_c = A.15 start,
density byte, point count, then n values); items stamped one interval apart.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import DEVICE_TZ, DataUnit
from emms_protocol.gdw1376.afn0d_curves import CURVE_FNS, DENSITY_MINUTES, FN_OF_ITEM, Curve, CurveTag, density_of
from emms_protocol.gdw1376.items_map import items_from_units, used_codes
from emms_protocol.gdw1376.json_view import from_jsonable, to_jsonable, unit_from_json, unit_view
from emms_protocol.gdw1376.units import decode_body, encode_units
from emms_protocol.items import ITEMS

_RANGE = {"A.9": (-79.9999, 79.9999, 4), "A.7": (0.0, 999.9, 1), "A.25": (-799.999, 799.999, 3),
          "A.5": (-799.9, 799.9, 1)}

starts = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0, tzinfo=DEVICE_TZ))


@st.composite
def curves(draw: st.DrawFn) -> tuple[int, Curve]:
    fn = draw(st.sampled_from(sorted(CURVE_FNS)))
    lo, hi, places = _RANGE[CURVE_FNS[fn].fmt]
    value = st.floats(lo, hi, allow_nan=False).map(lambda v: round(v, places))
    values = draw(st.lists(st.one_of(st.none(), value), min_size=1, max_size=96))
    return fn, Curve(draw(starts), draw(st.sampled_from(sorted(DENSITY_MINUTES))), tuple(values))


@settings(max_examples=150, deadline=None)
@given(curves(), st.integers(1, 2040))
def test_answer_round_trip(case: tuple[int, Curve], pn: int) -> None:
    fn, curve = case
    body = encode_units(0x0D, 1, [DataUnit(pn, fn, curve)])
    (unit,) = decode_body(0x0D, 1, body)
    assert unit.pn == pn and unit.fn == fn
    assert isinstance(unit.value, Curve)
    assert unit.value.start == curve.start and unit.value.density == curve.density
    assert unit.value.values == pytest.approx(curve.values)
    assert len(body) == 4 + 7 + len(curve.values) * CURVE_FNS[fn].width


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(CURVE_FNS)), starts, st.sampled_from(sorted(DENSITY_MINUTES)), st.integers(1, 255))
def test_request_round_trip_and_json(fn: int, start: datetime, density: int, points: int) -> None:
    tag = CurveTag(start, density, points)
    body = encode_units(0x0D, 0, [DataUnit(3, fn, tag)])
    assert decode_body(0x0D, 0, body) == [DataUnit(3, fn, tag)]
    assert from_jsonable(to_jsonable(tag)) == tag


def test_layout_of_a_96_point_active_power_curve() -> None:
    start = datetime(2026, 12, 4, 0, 0, tzinfo=DEVICE_TZ)
    values = (1.2345,) + (None,) * 94 + (-0.5,)
    body = encode_units(0x0D, 1, [DataUnit(1, 81, Curve(start, 1, values))])
    assert body[:4] == bytes.fromhex("0101 010a")  # p1, F81 = DT 01 0A
    assert body[4:11] == bytes.fromhex("00 00 04 12 26 01 60")  # A.15 00:00 4 Dec 2026, 15 min, 96 points
    assert body[11:14] == bytes.fromhex("45 23 01")  # A.9 1.2345 kW
    assert body[14:17] == b"\xee\xee\xee"
    assert body[-3:] == bytes.fromhex("00 50 80")  # -0.5 kW: sign bit D7 of the last byte


def test_refusals() -> None:
    with pytest.raises(ProtocolError):
        CurveTag(None, 0, 96)  # density 0 names no interval
    with pytest.raises(ProtocolError):
        Curve(None, 1, ())
    bad_density = bytes.fromhex("0101 010a 0000041226 07 01 000000")
    with pytest.raises(ProtocolError):
        decode_body(0x0D, 1, bad_density)
    short = bytes.fromhex("0101 010a 0000041226 01 02 000000")  # two points announced, one sent
    with pytest.raises(ProtocolError):
        decode_body(0x0D, 1, short)
    assert density_of(15) == 1 and density_of(60) == 3
    with pytest.raises(ProtocolError):
        density_of(10)


def test_items_are_stamped_per_point_and_power_factor_is_a_ratio() -> None:
    start = datetime(2026, 12, 4, 0, 0, tzinfo=DEVICE_TZ)
    units = [DataUnit(2, 81, Curve(start, 1, (1.0, 2.0, None))), DataUnit(2, 105, Curve(start, 2, (95.5, 100.0)))]
    got = items_from_units(0x0D, units)
    power = [(v.item, v.value, v.data_time) for v in got if v.item == "power.active.total"]
    assert power == [("power.active.total", 1.0, start), ("power.active.total", 2.0, start + timedelta(minutes=15)),
                     ("power.active.total", None, start + timedelta(minutes=30))]
    pf = [(v.value, v.data_time) for v in got if v.item == "power_factor.total"]
    assert pf == [(0.955, start), (1.0, start + timedelta(minutes=30))]
    assert all(v.freeze is None and v.pn == 2 for v in got)


def test_every_curve_item_is_canonical_and_json_view_reads_back() -> None:
    assert {k.item for k in CURVE_FNS.values()} <= set(ITEMS) and {k.item for k in CURVE_FNS.values()} <= used_codes()
    assert FN_OF_ITEM["voltage.b"] == 90 and FN_OF_ITEM["current.n"] == 95 and FN_OF_ITEM["power_factor.c"] == 108
    unit = DataUnit(4, 92, Curve(datetime(2026, 12, 4, 0, 0, tzinfo=DEVICE_TZ), 1, (5.125, None)))
    view = unit_view(unit, 0x0D, 1)
    assert view["type"] == "Curve" and view["name"] == "phase A current curve"
    assert unit_from_json(view, 0x0D) == unit
