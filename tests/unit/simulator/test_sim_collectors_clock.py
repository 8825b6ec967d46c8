"""The simulator's collectors (采集器, R-4.6.1.4): addresses per 32 points, drifting clocks answered over DL/T 645
through the concentrator's forwarding, point-to-point writes and broadcasts that set them, and the F10 record
naming each meter's collector."""

from __future__ import annotations

from datetime import UTC, datetime

from emms_protocol import dlt645
from emms_protocol.gdw1376 import DEVICE_TZ
from emms_sim import collectors
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.meter_side import MeterBus
from emms_sim.truth import GroundTruth

CONFIG = FleetConfig(seed=3, concentrators=2, meters_per=40, rates=FieldRates(clock_drift_ppm=200.0))
TS = datetime(2026, 12, 20, 6, 0, tzinfo=UTC).timestamp()


def test_collectors_group_32_points_and_drift() -> None:
    truth = GroundTruth(CONFIG)
    assert collectors.addresses(truth, 1) == ["99000001" + "0000", "99000001" + "0001"]
    assert collectors.collector_of_pn(1, 32) == "990000010000" and collectors.collector_of_pn(1, 33) == "990000010001"
    offsets = [collectors.clock_offset(truth, a, TS) for a in collectors.addresses(truth, 1)]
    assert all(abs(o) <= 200e-6 * 20 * 86400 for o in offsets) and len(set(offsets)) == 2 and any(offsets)
    assert collectors.find(truth, 1, "990000010001") == "990000010001"
    assert collectors.find(truth, 1, "990000010009") is None and collectors.find(truth, 0, "990000010001") is None


def test_a_collector_answers_its_clock_and_takes_a_write_or_a_broadcast() -> None:
    truth = GroundTruth(CONFIG)
    bus = MeterBus(truth, 1)
    first, second = collectors.addresses(truth, 1)
    reply = dlt645.decode_frame(bus.answer(dlt645.read_request(first, 0x0400010C), TS) or b"")
    assert isinstance(reply.body, dlt645.ReadReply)
    expected = datetime.fromtimestamp(TS + collectors.clock_offset(truth, first, TS), tz=DEVICE_TZ)
    assert abs((reply.body.value - expected).total_seconds()) < 1
    write = dlt645.write_request(first, 0x0400010C, datetime.fromtimestamp(TS, DEVICE_TZ).replace(tzinfo=None),
                                 password="02000000", operator="00000000")
    assert bus.answer(write, TS) is not None
    assert abs(collectors.clock_offset(truth, first, TS + 60)) < 0.02  # set at TS: a minute of drift since
    assert abs(collectors.clock_offset(truth, second, TS + 60)) > 1  # the other one untouched
    bus.answer(dlt645.broadcast_time_sync(datetime(2026, 12, 20, 14, 2)), TS + 120)
    assert abs(collectors.clock_offset(truth, second, TS + 121)) < 0.001


def test_the_point_table_names_each_meters_collector() -> None:
    from emms_protocol.gdw1376 import DataUnit
    from emms_protocol.gdw1376.afn04_0a import MeterConfig, MeterConfigQuery
    from emms_sim.answer_admin import query_params
    from emms_sim.terminal_state import TerminalState

    truth = GroundTruth(CONFIG)
    state = TerminalState(truth, 1, heartbeat_s=60, reporting=False, started_ts=TS)
    units = query_params(state, [DataUnit(0, 10, MeterConfigQuery((1, 33)))], TS)
    records = next(u.value for u in units if isinstance(u.value, MeterConfig)).records
    assert {r.pn: r.collector for r in records} == {1: "990000010000", 33: "990000010001"}
