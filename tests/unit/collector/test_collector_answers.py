"""From the frames the FEP publishes (bytes + JSON view) to canonical readings, with frames built by emms_protocol."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from emms_collector.intake.events import events_of
from emms_collector.reading.answers import TypedFrame, forwarded_values, point_values, typed, typed_frames
from emms_collector.reading.normalise import Stamp, from_meter, from_points
from emms_collector.repository.points import Point
from emms_collector.scheduling.planner import PlanOptions, Wanted, plan
from emms_collector.tasks.periods import zone
from emms_collector.tasks.types import TaskType
from emms_collector.timesync.clock_read import deviation_of, in_quiet_window
from emms_messages.readings import ReadingSource
from emms_messages.terminal import DownlinkResult, RequestOutcome
from emms_protocol import cjt188
from emms_protocol.cjt188.layouts import Quantity, Status188, WaterGasData
from emms_protocol.gdw1376 import Address, DataUnit, builders, decode_frame, encode_frame
from emms_protocol.gdw1376.afn0e import EventBatch, EventRecord
from emms_protocol.gdw1376.afn10 import ForwardReply
from emms_protocol.gdw1376.energy_blocks import EnergyReading, ForwardEnergies, Register
from emms_protocol.gdw1376.json_view import frame_view

TZ = zone("Asia/Shanghai")
T = "3701-00001"
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
E1 = Point("e-1", T, 1, "electricity", "dlt645-2007")
E9 = Point("e-9", T, 9, "electricity", "dlt645-2007")
W3 = Point("w-3", T, 3, "water", "cjt188-2004", "00000000000003", 2)


def _answer(afn: int, units: list[DataUnit]) -> dict[str, object]:
    """One frame of ``DownlinkResult.frames`` as the FEP publishes it: the JSON view and the bytes."""
    request = builders.request(Address.parse(T), afn, [], 5)
    raw = encode_frame(builders.response(request, units))
    return {**frame_view(decode_frame(raw)), "raw_hex": raw.hex()}


def _typed(afn: int, units: list[DataUnit]) -> TypedFrame:
    return typed(_answer(afn, units))


def test_frozen_values_become_readings_at_the_freeze_instant() -> None:
    day = date(2026, 3, 1)
    frame = _answer(0x0D, [DataUnit(1, 161, EnergyReading(NOW, 12.34, (1.0, 2.0, 3.0, 6.34), day)),
                           DataUnit(9, 161, EnergyReading(None, None, (), day))])  # pn 9: no data (EE)
    values, bad = point_values(typed_frames([frame]))
    assert bad == 0 and {v.item for v in values if v.pn == 1} >= {"energy.active.import.total"}
    stamp = Stamp(ReadingSource.SCHEDULED, NOW, TZ, "end")
    readings, unmatched = from_points(values, {1: E1, 9: E9}, T, stamp,
                                      wanted={1: ["energy.active.import.total"], 9: ["energy.active.import.total"]})
    assert unmatched == 0
    (r,) = readings
    assert (r.meter_id, r.item, r.value, r.unit) == ("e-1", "energy.active.import.total", 12.34, "kWh")
    assert r.data_time == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # local midnight ending 1 March
    assert r.terminal == T and r.pn == 1 and r.source is ReadingSource.SCHEDULED


def test_values_of_unknown_points_are_counted_not_guessed() -> None:
    frame = _answer(0x0C, [DataUnit(7, 129, EnergyReading(NOW, 5.0, (), None))])
    values, _ = point_values(typed_frames([frame]))
    readings, unmatched = from_points(values, {1: E1}, T, Stamp(ReadingSource.REPORT, NOW, TZ))
    assert readings == [] and unmatched == 1


def test_multi_register_blocks_and_forwarded_meter_frames_are_rebuilt() -> None:
    reg = Register(10.0, (1.0, 2.0, 3.0, 4.0))
    frame = _answer(0x0D, [DataUnit(1, 1, ForwardEnergies(NOW, reg, reg, reg, reg, date(2026, 3, 1)))])
    got = typed(frame)
    assert got.bad == 0 and isinstance(got.units[0].value, ForwardEnergies) and got.units[0].value.q1 == reg
    q = Quantity(321.5, 0x2C, "m³")
    reply = cjt188.read_reply(cjt188.WATER_COLD, "00000000000003", 0x901F,
                              WaterGasData(q, q, datetime(2026, 3, 2, 9, 0), Status188(0, "open", False)))
    meter_values = forwarded_values([_typed(0x10, [DataUnit(0, 1, ForwardReply(2, reply))])])
    readings = from_meter(meter_values, W3, Stamp(ReadingSource.MANUAL, NOW, TZ), NOW, wanted=["water.volume"])
    assert [(r.item, r.value, r.unit, r.data_time) for r in readings] == [("water.volume", 321.5, "m³", NOW)]


def test_the_planner_batches_points_and_forwards_188_meters_one_by_one() -> None:
    wanted = [Wanted(Point(f"e-{pn}", T, pn, "electricity", "dlt645-2007"), ("energy.active.import.total",))
              for pn in range(1, 41)] + [Wanted(W3, ("water.volume",))]
    out = plan(TaskType.DAILY_FROZEN, wanted, date(2026, 3, 1), PlanOptions("t", "me", max_points=32), NOW)
    batched = [p for p in out.requests if p.request.afn == 0x0D]
    assert [len(p.meters) for p in batched] == [32, 8]
    assert [len(u.pn) for u in batched[0].request.units] == [8, 8, 8, 8]
    assert batched[0].request.units[0].data == {"value": "2026-03-01"}
    (forward,) = [p for p in out.requests if p.request.afn == 0x10]
    value = forward.request.units[0].data["value"]
    assert value["type"] == "ForwardRequest" and cjt188.decode_frame(bytes.fromhex(value["payload"])).address \
        == "00000000000003"
    assert all(p.request.expires_at is not None and p.request.expires_at > NOW for p in out.requests)


def test_event_records_become_device_events_with_their_meter() -> None:
    records = (EventRecord.build(12, NOW, bytes((0x01, 0x80))), EventRecord.build(3, NOW, bytes(3)))
    frame = _answer(0x0E, [DataUnit(0, 1, EventBatch(2, 0, 0, 2, records))])
    events, clocks = events_of(typed_frames([frame]), T, {1: E1}, NOW)
    assert [(e.code, e.meter_id, e.event_class.value) for e in events] == [("ERC12", "e-1", "important"),
                                                                             ("ERC3", None, "important")]
    assert clocks[0].meter_id == "e-1" and clocks[0].started


def test_clock_deviation_accounts_for_the_round_trip() -> None:
    sent = NOW
    terminal_clock = NOW + timedelta(seconds=30, milliseconds=500)  # at the answer: sent + rtt/2 = +0.5 s
    result = DownlinkResult(request_id="r", terminal=T, outcome=RequestOutcome.ANSWERED, attempts=1, sent_at=sent,
                            completed_at=sent + timedelta(seconds=1), round_trip_ms=1000.0,
                            frames=[_answer(0x0C, [DataUnit(0, 2, terminal_clock.replace(microsecond=0))])])
    reading = deviation_of(result, published_at=sent - timedelta(milliseconds=200))
    assert reading is not None
    assert abs(reading.deviation_s - 29.5) < 1e-6 and reading.round_trip_s == 1.0
    assert abs(reading.bus_latency_s - 0.2) < 1e-6


def test_no_sync_in_the_minutes_around_the_hour() -> None:
    assert in_quiet_window(datetime(2026, 3, 1, 15, 58, tzinfo=UTC), TZ, 5)  # 23:58 local
    assert in_quiet_window(datetime(2026, 3, 1, 16, 3, tzinfo=UTC), TZ, 5)  # 00:03 local
    assert not in_quiet_window(datetime(2026, 3, 1, 16, 30, tzinfo=UTC), TZ, 5)
    assert not in_quiet_window(datetime(2026, 3, 1, 16, 0, tzinfo=UTC), TZ, 0)


def test_a_frame_without_bytes_is_read_back_from_its_view_to_the_same_units() -> None:
    """An FEP that publishes only the JSON view (before ``raw_hex``): the protocol library's view reads it back."""
    reg = Register(10.0, (1.0, 2.0, 3.0, 4.0))
    units = [DataUnit(1, 1, ForwardEnergies(NOW, reg, reg, reg, reg, date(2026, 3, 1))),
             DataUnit(2, 161, EnergyReading(NOW, 12.34, (1.0, None), date(2026, 3, 1)))]
    frame = _answer(0x0D, units)
    view_only = {k: v for k, v in frame.items() if k != "raw_hex"}
    assert typed(view_only) == typed(frame) == TypedFrame(0x0D, tuple(units))


def test_bytes_that_do_not_decode_count_as_bad_not_fatal() -> None:
    assert typed({"afn": 13, "raw_hex": "68 zz"}).bad == 1
    broken = _answer(0x0D, [DataUnit(1, 161, EnergyReading(NOW, 1.0, (), date(2026, 3, 1)))])
    raw = bytes.fromhex(str(broken["raw_hex"]))
    truncated = raw[:6] + raw[6:-4]  # a body cut short: the envelope is gone too
    assert typed({"raw_hex": truncated.hex()}).bad == 1
    assert point_values([typed({"raw_hex": truncated.hex()})]) == ([], 1)
