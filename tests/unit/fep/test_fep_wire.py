"""The adapter to emms_protocol: reading terminal frames, confirms, and encoding downlink requests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from emms_fep.wire import LINK_HEARTBEAT, LINK_LOGIN, LINK_LOGOUT, RequestEncoder, confirm_for, read_frame
from emms_messages.terminal import DataUnitRequest, DownlinkRequest
from emms_protocol import ProtocolError
from emms_protocol.gdw1376 import Address, Control, DataUnit, Frame, Seq, builders, decode_frame, encode_frame
from emms_protocol.gdw1376.afn00 import PerUnitAck, UnitAck
from emms_protocol.gdw1376.afn05 import TripCommand
from emms_protocol.gdw1376.afn10 import ForwardRequest
from emms_protocol.gdw1376.energy_blocks import EnergyReading
from emms_protocol.gdw1376.units import RawData, decode_units, encode_units

ADDRESS = Address.parse("3701-00012")


def _request(afn: int, *units: DataUnitRequest) -> DownlinkRequest:
    return DownlinkRequest(request_id="r1", terminal="3701-00012", afn=afn, units=list(units), requested_by="test")


def _encoder() -> RequestEncoder:
    return RequestEncoder(master_address=1, password=bytes(range(16)), tp_delay_min=5)


@pytest.mark.parametrize(("build", "function"), [(builders.login, LINK_LOGIN), (builders.logout, LINK_LOGOUT),
                                                 (builders.heartbeat, LINK_HEARTBEAT)])
def test_link_frames_are_recognised_and_confirmed_echoing_the_pseq(build: object, function: int) -> None:
    raw = encode_frame(build(ADDRESS, 9))  # type: ignore[operator]
    view = read_frame(raw)
    assert view.uplink and view.prm and view.con and view.is_link
    assert view.link_function == function and view.terminal == "3701-00012" and view.number == 9
    confirm = decode_frame(confirm_for(view))
    assert confirm.afn == 0x00 and confirm.seq.seq == 9 and confirm.control.to_byte() == 0x0B  # C = 0B
    assert [(u.pn, u.fn) for u in decode_units(confirm)] == [(0, 1)]  # AFN 00 F1


def test_a_heartbeat_carrying_the_clock_gives_it() -> None:
    clock = datetime(2026, 11, 24, 10, 0, 5, tzinfo=UTC)
    view = read_frame(encode_frame(builders.heartbeat(ADDRESS, 1, clock)))
    assert view.terminal_clock == clock
    assert read_frame(encode_frame(builders.heartbeat(ADDRESS, 1))).terminal_clock is None


def test_the_json_view_has_header_fields_and_units() -> None:
    view = read_frame(encode_frame(builders.heartbeat(ADDRESS, 3, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))))
    decoded = view.as_dict()
    assert decoded["afn"] == 2 and decoded["address"]["key"] == "3701-00012"
    assert decoded["seq"]["seq"] == 3 and decoded["control"]["direction"] == "up"
    assert decoded["units"] == [{"pn": 0, "fn": 3, "name": "heartbeat", "value": "2026-01-02T11:04:05+08:00"}]
    assert view.as_dict() is decoded  # computed once


def test_unacceptable_addresses_and_link_units_are_protocol_errors() -> None:
    for address in (Address(0x3701, 0), Address(0x3701, 5, group=True)):
        with pytest.raises(ProtocolError) as exc:
            read_frame(encode_frame(builders.login(address, 1)))
        assert exc.value.kind == "address"
    odd = replace(builders.login(ADDRESS, 1), body=b"\x01\x01\x01\x00")  # p1 F1: not a link unit
    with pytest.raises(ProtocolError) as exc:
        read_frame(encode_frame(odd))
    assert exc.value.kind == "link"
    with pytest.raises(ProtocolError):
        read_frame(b"\x68\x32\x00\x32\x00\x68" + bytes(14))


def test_denials_are_recognised() -> None:
    request = builders.request(ADDRESS, 0x0C, [DataUnit(0, 2, None)], 4)
    assert read_frame(encode_frame(builders.deny(request))).denied
    assert not read_frame(encode_frame(builders.confirm(request))).denied
    answer = builders.response(request, [DataUnit(0, 2, datetime.now(UTC))])
    assert not read_frame(encode_frame(answer)).denied
    no_data = replace(answer, control=Control(1, 0, 0, 0, 9))
    assert "function 9" in read_frame(encode_frame(no_data)).denial_detail
    refused = PerUnitAck(0x04, (UnitAck(0, 1, False), UnitAck(1, 10, False)))
    per_unit = Frame(Control(1, 0, 0, 0, 0), ADDRESS, 0x00, Seq(False, True, True, False, 4),
                     encode_units(0x00, 1, [DataUnit(0, 3, refused)]))
    assert "per unit" in read_frame(encode_frame(per_unit)).denial_detail
    partly = replace(per_unit, body=encode_units(0x00, 1, [DataUnit(0, 3, replace(
        refused, units=(UnitAck(0, 1, True), UnitAck(1, 10, False))))]))
    assert not read_frame(encode_frame(partly)).denied


def test_a_read_gets_tp_with_a_counting_pfc_and_no_pw() -> None:
    encoder = _encoder()
    now = datetime(2026, 11, 24, 2, 0, 0, tzinfo=UTC)
    first = decode_frame(encoder.encode(_request(0x0C, DataUnitRequest(pn=[1, 2], fn=[129])), 7, now))
    second = decode_frame(encoder.encode(_request(0x0C, DataUnitRequest(pn=[1], fn=[2])), 8, now))
    assert first.seq.seq == 7 and first.seq.tpv and first.pw is None and first.address.master == 1
    assert first.tp is not None and second.tp is not None and second.tp.pfc == first.tp.pfc + 1
    assert first.tp.delay_min == 5 and first.tp.sent_at == now
    assert [(u.pn, u.fn) for u in decode_units(first)] == [(1, 129), (2, 129)]


def test_control_and_set_requests_carry_the_pw_and_their_values() -> None:
    now = datetime(2026, 11, 24, 2, 0, 0, tzinfo=UTC)
    request = _request(0x05, DataUnitRequest(pn=[0], fn=[31], data={"value": "now"}),
                       DataUnitRequest(pn=[1], fn=[1], data={"value": {"type": "TripCommand", "alarm_delay_min": 3}}))
    frame = decode_frame(_encoder().encode(request, 1, now))
    assert frame.pw == bytes(range(16)) and frame.seq.con
    assert [(u.fn, u.value) for u in decode_units(frame)] == [(31, now), (1, TripCommand(0, 3))]


def test_values_raw_and_typed_objects_in_the_json_views_shape() -> None:
    now = datetime.now(UTC)
    per_point = _request(0x0D, DataUnitRequest(pn=[1, 2], fn=[161], data={"values": ["2026-11-23", "2026-11-22"]}))
    units = decode_units(decode_frame(_encoder().encode(per_point, 0, now)))
    assert [(u.pn, u.value) for u in units] == [(1, date(2026, 11, 23)), (2, date(2026, 11, 22))]
    raw = _request(0x04, DataUnitRequest(pn=[0], fn=[200], data={"raw": "0102"}))
    assert decode_frame(_encoder().encode(raw, 0, now)).body.endswith(b"\x01\x02")
    view_shape = {"type": "ForwardRequest", "value": {"port": 31, "control": 107, "frame_timeout": 188,
                                                      "byte_timeout": 10, "payload": "68aa16"}}
    forward = _request(0x10, DataUnitRequest(pn=[0], fn=[1], data={"value": view_shape}))
    (unit,) = decode_units(decode_frame(_encoder().encode(forward, 0, now)))
    assert isinstance(unit.value, ForwardRequest) and unit.value.payload == bytes.fromhex("68aa16")


@pytest.mark.parametrize("units", [
    [],
    [DataUnitRequest(pn=[0], fn=[])],
    [DataUnitRequest(pn=[0], fn=[31], data={"value": 5, "raw": "00"})],
    [DataUnitRequest(pn=[0], fn=[31], data={"values": [1, 2]})],
    [DataUnitRequest(pn=[0], fn=[1], data={"value": {"type": "NoSuchClass"}})],
    [DataUnitRequest(pn=[0], fn=[1], data={"value": {"type": "TripCommand", "bogus": 1}})],
    [DataUnitRequest(pn=[0], fn=[1], data={"value": {"type": "TripCommand", "limit_half_hours": 99}})],
    [DataUnitRequest(pn=[0], fn=[31], data={"value": "not-a-time-2026-01-01"})],
    [DataUnitRequest(pn=[0], fn=[200], data={"raw": "zz"})],
    [DataUnitRequest(pn=[3000], fn=[2])],
])
def test_requests_that_cannot_be_encoded_are_protocol_errors(units: list[DataUnitRequest]) -> None:
    with pytest.raises(ProtocolError):
        _encoder().encode(_request(0x05, *units), 0)


def test_an_unknown_fn_without_raw_data_is_refused_and_a_bad_terminal_too() -> None:
    with pytest.raises(ProtocolError):
        _encoder().encode(_request(0x04, DataUnitRequest(pn=[0], fn=[200], data={"value": 5})), 0)
    bad = DownlinkRequest(request_id="r", terminal="not-an-address", afn=0x0C,
                          units=[DataUnitRequest(pn=[0], fn=[2])], requested_by="t")
    with pytest.raises(ProtocolError):
        _encoder().encode(bad, 0)


def test_raw_data_units_keep_their_bytes() -> None:
    frame = decode_frame(_encoder().encode(_request(0x04, DataUnitRequest(pn=[0], fn=[200], data={"raw": "0a0b"})),
                                           0, datetime.now(UTC) - timedelta(seconds=1)))
    (unit,) = decode_units(frame)
    assert isinstance(unit.value, RawData) and unit.value.data == b"\x0a\x0b"


def _failures(stage: str, error: str) -> float:
    return REGISTRY.get_sample_value("emms_fep_unit_decode_failures_total", {"stage": stage, "error": error}) or 0.0


def test_units_that_do_not_decode_are_counted_and_logged_once_per_frame() -> None:
    request = builders.request(ADDRESS, 0x0C, [DataUnit(1, 129, None)], 4)
    good = builders.response(request, [DataUnit(1, 129, EnergyReading(None, 1.0, (2.0,)))])
    cut = replace(good, body=good.body[:-3])  # the F129 block ends early
    before = _failures("units", "protocol")
    with capture_logs() as logs:
        view = read_frame(encode_frame(cut))
        assert view.units == [] and not view.denied and view.terminal_clock is None
    assert _failures("units", "protocol") == before + 1  # the frame's units were decoded (and failed) once
    (entry,) = [e for e in logs if e["event"] == "data units not decoded"]
    assert entry["terminal"] == "3701-00012" and entry["afn"] == 0x0C and entry["stage"] == "units"
    assert entry["error"] == "protocol" and "ProtocolError" in entry["detail"]
    ok = read_frame(encode_frame(good))
    assert [u.fn for u in ok.units] == [129] and _failures("units", "protocol") == before + 1


def test_a_codec_defect_is_counted_as_such_and_the_frame_still_has_a_view(monkeypatch: pytest.MonkeyPatch) -> None:
    import emms_fep.wire as wire

    def broken(*_: object, **__: object) -> object:
        raise ZeroDivisionError("codec bug")

    monkeypatch.setattr(wire, "decode_units", broken)
    monkeypatch.setattr(wire, "frame_view", broken)
    units_before, view_before = _failures("units", "defect"), _failures("view", "defect")
    with capture_logs() as logs:
        view = read_frame(encode_frame(builders.heartbeat(ADDRESS, 1, datetime(2026, 1, 2, tzinfo=UTC))))
        assert view.terminal_clock is None
        assert view.as_dict()["units_error"] == "ZeroDivisionError: codec bug"
    assert _failures("units", "defect") == units_before + 1 and _failures("view", "defect") == view_before + 1
    assert [e["stage"] for e in logs if e["event"] == "data units not decoded"] == ["units", "view"]
