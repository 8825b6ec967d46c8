"""CJ/T 188 encode → decode round trips: both 901F layouts, status bits, valve, time, DI byte orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emms_protocol import ProtocolError, cjt188
from emms_protocol.cjt188 import HeatData, Quantity, StatusReply, TimeWrite, ValveCommand, WaterGasData
from emms_protocol.cjt188.bodies import time_bytes
from emms_protocol.cjt188.data_ids import KNOWN, di_from_bytes, di_to_bytes
from emms_protocol.cjt188.units import UNIT_NAMES

CST = timezone(timedelta(hours=8))
ADDRESS = "00000805000001"

unit_codes = st.sampled_from(sorted(UNIT_NAMES))
moments = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=CST))


def quantities(decimals: int = 2) -> st.SearchStrategy[Quantity]:
    values = st.one_of(st.none(), st.integers(0, 99_999_999).map(lambda n: n / 10**decimals))
    return st.builds(lambda v, u: Quantity(v, u, UNIT_NAMES[u]), values, unit_codes)


statuses = st.builds(cjt188.status_word, st.sampled_from(["open", "closed", "fault"]), st.booleans(),
                     st.integers(0, 0xFFFF))
water_gas = st.builds(WaterGasData, quantities(), quantities(), st.one_of(st.none(), moments), statuses)
temperatures = st.one_of(st.none(), st.integers(0, 999_999).map(lambda n: n / 100))
heat = st.builds(HeatData, quantities(), quantities(), quantities(), quantities(4), quantities(), temperatures,
                 temperatures, st.one_of(st.none(), st.integers(0, 999_999)), st.one_of(st.none(), moments),
                 statuses)
orders = st.sampled_from(["auto", "le", "be"])


@settings(max_examples=200, deadline=None)
@given(meter_type=st.sampled_from([0x10, 0x11, 0x12, 0x13, 0x30, 0x40]), data=water_gas, order=orders,
       seq=st.integers(0, 255))
def test_water_gas_901f_round_trip(meter_type: int, data: WaterGasData, order: str, seq: int) -> None:
    raw = cjt188.read_reply(meter_type, ADDRESS, 0x901F, data, seq=seq, di_order=order)
    frame = cjt188.decode_frame(raw)
    assert (frame.di, frame.seq, frame.body) == (0x901F, seq, data)
    assert frame.di_order == ("be" if order == "be" else "le")
    assert cjt188.encode_frame(frame) == raw


@settings(max_examples=200, deadline=None)
@given(meter_type=st.integers(0x20, 0x29), data=heat, order=orders)
def test_heat_901f_round_trip(meter_type: int, data: HeatData, order: str) -> None:
    raw = cjt188.read_reply(meter_type, ADDRESS, 0x901F, data, di_order=order)
    frame = cjt188.decode_frame(raw)
    assert (frame.utility, frame.body) == ("heat", data)
    assert len(frame.data) == 46


def test_heat_layout_field_order() -> None:
    """Real-time example of the notes: 31 01 22 11 05 15 20 = 2015-05-11 22:01:31."""
    payload = bytes.fromhex("00000100 05" "00000200 05" "50000000 17" "00500000 35" "00123400 2C"
                            "005001" "002504" "000100" "31012211051520" "0400")
    raw = cjt188.read_reply(0x25, ADDRESS, 0x901F, payload)
    body = cjt188.decode_frame(raw).body
    assert isinstance(body, HeatData)
    assert body.settlement_heat == Quantity(100.0, 0x05, "kWh")
    assert body.current_heat == Quantity(200.0, 0x05, "kWh")
    assert body.heat_power == Quantity(0.5, 0x17, "kW")
    assert body.flow_rate == Quantity(0.5, 0x35, "m³/h")
    assert body.cumulative_flow == Quantity(3412.0, 0x2C, "m³")
    assert (body.supply_temperature, body.return_temperature, body.working_hours) == (150.0, 425.0, 100)
    assert body.time == datetime(2015, 5, 11, 22, 1, 31, tzinfo=CST)
    assert (body.status.valve, body.status.battery_low) == ("open", True)


@pytest.mark.parametrize(("raw", "valve", "battery"), [(0x00, "open", False), (0x01, "closed", False),
                                                       (0x03, "fault", False), (0x02, "fault", False),
                                                       (0x05, "closed", True), (0xFF04, "open", True)])
def test_status_bits(raw: int, valve: str, battery: bool) -> None:
    frame = cjt188.decode_frame(cjt188.write_reply(0x10, ADDRESS, 0xA017, raw))
    assert isinstance(frame.body, StatusReply)
    assert (frame.body.status.raw, frame.body.status.valve, frame.body.status.battery_low) == (raw, valve, battery)


@pytest.mark.parametrize(("action", "code"), [("open", 0x55), ("close", 0x99)])
def test_valve_command(action: str, code: int) -> None:
    frame = cjt188.decode_frame(cjt188.valve_command(0x10, ADDRESS, action, seq=7))
    assert (frame.control, frame.di, frame.di_code, frame.di_order, frame.seq) == (0x04, 0xA017, "A017", "be", 7)
    assert frame.body == ValveCommand(action, code)
    with pytest.raises(ProtocolError):
        cjt188.valve_command(0x10, ADDRESS, "half")


@settings(max_examples=100, deadline=None)
@given(moment=moments, layout=st.sampled_from(["ss_first", "year_first"]), order=orders)
def test_write_time_round_trip(moment: datetime, layout: str, order: str) -> None:
    frame = cjt188.decode_frame(cjt188.write_time(0x10, ADDRESS, moment, time_layout=layout, di_order=order))
    assert frame.di == 0xA015
    assert isinstance(frame.body, TimeWrite)
    # A few year-first times also read as valid ss-first times (ss = 20, hh <= 12 ...): the layout reported
    # is then ss-first, and re-encoding in that layout gives the same bytes.
    assert frame.body.time is not None
    assert time_bytes(frame.body.time, frame.body.layout) == frame.data[3:]
    if frame.body.layout == layout:
        assert frame.body.time == moment


def test_write_time_converts_aware_times_to_meter_clock() -> None:
    frame = cjt188.decode_frame(cjt188.write_time(0x10, ADDRESS, datetime(2024, 5, 1, 0, 0, tzinfo=UTC)))
    assert isinstance(frame.body, TimeWrite)
    assert frame.data[3:] == bytes.fromhex("00000801052420")
    assert frame.body.time == datetime(2024, 5, 1, 8, 0, tzinfo=CST)


@pytest.mark.parametrize("di", sorted(KNOWN))
def test_every_known_di_decodes_in_both_orders(di: int) -> None:
    for order in ("le", "be"):
        wire = di_to_bytes(di, order)
        assert di_from_bytes(wire[0], wire[1]) == (di, order)
        frame = cjt188.decode_frame(cjt188.read_request(0x10, ADDRESS, di, di_order=order))
        assert (frame.di, frame.di_code) == (di, f"{di:04X}")


def test_unknown_di_and_error_reply() -> None:
    frame = cjt188.decode_frame(cjt188.read_request(0x10, ADDRESS, 0x1234, di_order="le"))
    assert (frame.di, frame.di_code, frame.di_order, frame.body) == (None, "3412", "", None)
    err = cjt188.decode_frame(cjt188.error_reply(0x10, ADDRESS, 0x01, 0x0001, seq=9))
    assert (err.control, err.error, err.di, err.seq) == (0xC1, True, None, 9)
    assert isinstance(err.body, StatusReply)
    assert err.body.status.valve == "closed"
    with pytest.raises(ProtocolError):
        cjt188.read_request(0x10, ADDRESS, 0x901F, di_order="middle")
    with pytest.raises(ProtocolError):
        cjt188.read_request(0x10, "123", 0x901F)


def test_invalid_time_decodes_to_none_but_bad_bcd_value_is_refused() -> None:
    payload = bytearray(bytes.fromhex("00230100 2C 00000000 2C 00000000000000 0000"))
    payload[10:17] = bytes.fromhex("99999999999999")
    body = cjt188.decode_frame(cjt188.read_reply(0x10, ADDRESS, 0x901F, bytes(payload))).body
    assert isinstance(body, WaterGasData)
    assert body.time is None
    payload[0] = 0xAB
    with pytest.raises(ProtocolError):
        cjt188.decode_frame(cjt188.read_reply(0x10, ADDRESS, 0x901F, bytes(payload)))
    with pytest.raises(ProtocolError):
        cjt188.decode_frame(cjt188.read_reply(0x10, ADDRESS, 0x901F, bytes(20)))
