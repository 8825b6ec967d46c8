"""Cascaded concentrators (1376.1 级联): the map, the fleet runner's sessions, and a cascaded terminal answered
through its relay's link with its own address and its own truth."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from emms_protocol.gdw1376 import DataUnit, decode_frame, decode_units, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.energy_blocks import EnergyReading
from emms_sim.cascade import Cascade
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.fleet_runner import FleetRunner
from emms_sim.manifest import write_manifest
from emms_sim.run_parent import child_argv
from emms_sim.session import SessionConfig, TerminalSession
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth


def _truth(concentrators: int = 4) -> GroundTruth:
    return GroundTruth(FleetConfig(seed=5, concentrators=concentrators, meters_per=3, mix=(("electricity", 1.0),),
                                   rates=FieldRates.quiet()))


class _Link:
    """What a session writes to: records the frames."""

    closed = False

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    async def drain(self) -> None:
        return None


def test_the_cascade_map_is_parsed_checked_and_resolved_to_its_root() -> None:
    cascade = Cascade.parse("3:2, 2:0,1:0", 4)
    assert cascade.root(3) == 0 and cascade.root(2) == 0 and cascade.root(0) == 0
    assert cascade.riders(0) == [1, 2, 3] and cascade.riders(2) == []
    assert cascade.argument() == "1:0,2:0,3:2"
    assert not Cascade.parse("", 4)
    for bad, why in (("1:1", "loops"), ("1:2,2:1", "loops"), ("5:0", "outside"), ("1:0,1:2", "twice"),
                     ("1-0", "X:Y")):
        with pytest.raises(ValueError, match=why):
            Cascade.parse(bad, 4)


def test_a_cascaded_terminal_runs_no_session_and_rides_its_root(tmp_path: Path) -> None:
    truth = _truth()
    cascade = Cascade.parse("2:1,3:2", 4)
    runner = FleetRunner(truth, SessionConfig("127.0.0.1", 1), cascade=cascade)
    assert [s.state.index for s in runner.sessions] == [0, 1]
    rides = runner.sessions[1].cascaded
    assert sorted(s.index for s in rides.values()) == [2, 3]
    status = {e["index"]: e for e in runner.status()}
    assert sorted(status) == [0, 1, 2, 3]
    assert status[3]["cascaded_via"] == truth.fleet.terminal(2).key and status[0]["cascaded_via"] is None
    share = FleetRunner(truth, SessionConfig("127.0.0.1", 1), cascade=cascade, indexes=range(2, 4))
    assert share.sessions == []  # in a child process: the root runs elsewhere, and so do its riders
    path = tmp_path / "fleet.json"
    write_manifest(truth.fleet, path, {"cascade": cascade.manifest(truth.fleet)})
    listed = json.loads(path.read_text())["cascade"]
    assert listed == [{"terminal": truth.fleet.terminal(2).key, "index": 2, "via": truth.fleet.terminal(1).key,
                       "via_index": 1},
                      {"terminal": truth.fleet.terminal(3).key, "index": 3, "via": truth.fleet.terminal(2).key,
                       "via_index": 2}]
    args = argparse.Namespace(fep=("127.0.0.1", 9027), concentrators=4, meters_per=3, seed=5,
                              mix=(("electricity", 1.0),), tz_offset_min=480, heartbeat_s=60.0, faults="",
                              fault_terminals="", late_s=5.0, ramp_per_s=500.0, loop="auto", status_s=5.0,
                              source_ip=None, quiet_field=True, reporting=False, cascade="2:1,3:2")
    assert "--cascade=2:1,3:2" in child_argv(args, 0, 2)


async def test_the_relay_answers_a_cascaded_terminal_with_its_own_address_and_truth() -> None:
    truth = _truth(2)
    relay, rider = TerminalState(truth, 0), TerminalState(truth, 1)
    session = TerminalSession(relay, SessionConfig("127.0.0.1", 1), cascaded=[rider])
    link = _Link()
    session._link = link  # type: ignore[assignment]
    meter = truth.fleet.meters_of(1)[0]
    request = b.request(rider.address, 0x0C, [DataUnit(meter.pn, 129, None)], 7)
    assert await session._on_frame(encode_frame(request))
    (raw,) = link.written
    reply = decode_frame(raw)
    assert reply.address.key == rider.address.key and reply.seq.seq == 7 and reply.control.prm == 0
    (unit,) = decode_units(reply)
    assert isinstance(unit.value, EnergyReading) and unit.pn == meter.pn and unit.value.read_at is not None
    assert unit.value.total == truth.truth(meter.meter_id, "energy.active.import.total", unit.value.read_at)
    own = truth.fleet.meters_of(0)[0]
    assert own.meter_id != meter.meter_id  # the relay's own meter is another one
    # the relay still answers frames addressed to itself, and ignores any other address
    link.written.clear()
    assert await session._on_frame(encode_frame(b.request(relay.address, 0x0C, [DataUnit(own.pn, 129, None)], 8)))
    assert decode_frame(link.written[0]).address.key == relay.address.key
    link.written.clear()
    stranger = TerminalState(_truth(3), 2).address
    assert await session._on_frame(encode_frame(b.request(stranger, 0x0C, [DataUnit(1, 129, None)], 9)))
    assert link.written == [] and session.stats.requests == 2

