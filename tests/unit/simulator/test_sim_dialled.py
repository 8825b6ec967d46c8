"""A concentrator the master dials: it answers on each channel it listens on, and a closed channel refuses."""

from __future__ import annotations

import asyncio

import pytest

from emms_protocol.framing import StreamFramer
from emms_protocol.gdw1376 import DataUnit, decode_frame, decode_units, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.energy_blocks import EnergyReading
from emms_sim.dialled import DialledConcentrator
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth


async def test_each_channel_answers_and_a_closed_one_refuses() -> None:
    truth = GroundTruth(FleetConfig(seed=3, concentrators=1, meters_per=1, mix=(("electricity", 1.0),),
                                    rates=FieldRates.quiet()))
    terminal = DialledConcentrator(TerminalState(truth, 0))
    primary = await terminal.listen("primary")
    standby = await terminal.listen("standby")
    meter = truth.fleet.meters_of(0)[0]
    try:
        await terminal.close("primary")
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", primary)
        reader, writer = await asyncio.open_connection("127.0.0.1", standby)
        other = b.request(TerminalState(GroundTruth(FleetConfig(seed=3, concentrators=2)), 1).address, 0x0C,
                          [DataUnit(1, 129, None)], 2)
        writer.write(encode_frame(other) + encode_frame(b.request(terminal.state.address, 0x0C,
                                                                  [DataUnit(meter.pn, 129, None)], 3)))
        framer = StreamFramer()
        frames: list[bytes] = []
        while not frames:
            frames += framer.feed(await asyncio.wait_for(reader.read(4096), 5))
        reply = decode_frame(frames[0])
        assert reply.address.key == terminal.state.address.key and reply.seq.seq == 3
        (unit,) = decode_units(reply)
        assert isinstance(unit.value, EnergyReading) and unit.value.read_at is not None
        assert unit.value.total == truth.truth(meter.meter_id, "energy.active.import.total", unit.value.read_at)
        assert terminal.answered == 1 and terminal.accepted == {"primary": 0, "standby": 1}
        assert terminal.connected("standby") == 1
        writer.close()
    finally:
        await terminal.close_all()
