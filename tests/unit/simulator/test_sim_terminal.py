"""Terminal state and answers without a socket: event log pointers, ERC records, splitting, reset, forwarding."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from emms_protocol import cjt188
from emms_protocol.gdw1376 import DataUnit, decode_units
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn0e import EventRecord
from emms_protocol.gdw1376.afn10 import ForwardReply, ForwardRequest
from emms_protocol.gdw1376.energy_blocks import EnergyReading
from emms_sim import answer_events
from emms_sim.answers import answer, split_units
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.terminal_state import EventLog, TerminalState
from emms_sim.truth import GroundTruth

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def _state(**rates: float) -> TerminalState:
    cfg = FleetConfig(seed=11, concentrators=2, meters_per=30, rates=replace(FieldRates.quiet(), **rates))
    return TerminalState(GroundTruth(cfg), 0, started_ts=(NOW - timedelta(days=3)).timestamp())


def test_event_log_pointers_wrap_and_keep_the_last_256() -> None:
    log = EventLog()
    records = [EventRecord.build(3, NOW + timedelta(minutes=i)) for i in range(300)]
    for r in records:
        log.add(r)
    assert log.counter == 300 % 256
    assert log.between((300 - 2) % 256, 300 % 256) == records[-2:]
    assert log.between(log.counter, log.counter) == []


def test_outages_become_erc14_records_with_both_times() -> None:
    state = _state(outage_per_day=1.0)
    important = answer_events.pull_scheduled(state, NOW.timestamp())
    power = [r for r in important if r.erc == 14]
    assert len(power) >= 2
    assert all(r.detail is not None and r.detail.power_off_at < r.detail.power_on_at for r in power)  # type: ignore[union-attr]
    assert state.acd == state.ec and state.ec[0] == len(important)


def test_large_answers_are_split_over_frames() -> None:
    state = _state()
    pns = [m.pn for m in state.truth.fleet.meters_of(0)]
    request = b.request(state.address, 0x0C, [DataUnit(pn, 33, None) for pn in pns], 5)
    frames = answer(state, request, NOW.timestamp()).frames
    assert len(frames) > 1 and frames[0].seq.fir and not frames[0].seq.fin and frames[-1].seq.fin
    assert all(f.seq.seq == 5 for f in frames)
    assert sum(len(decode_units(f)) for f in frames) == sum(
        1 for m in state.truth.fleet.meters_of(0) if m.utility == "electricity")
    assert len(split_units(0x0C, [], 100)) == 1


def test_reset_clears_the_event_log_and_asks_for_a_reboot() -> None:
    state = _state(outage_per_day=1.0)
    answer_events.pull_scheduled(state, NOW.timestamp())
    outcome = answer(state, b.request(state.address, 0x01, [DataUnit(0, 1, None), DataUnit(0, 2, None)], 1),
                     NOW.timestamp())
    assert outcome.effects.reboot and decode_units(outcome.frames[0])[0].fn == 1
    assert [r.erc for r in state.important.records] == [1]


def test_forward_to_an_unknown_address_is_denied_and_a_known_one_answers() -> None:
    state = _state()
    ts = NOW.timestamp()
    gas = next(m for m in state.truth.fleet.meters_of(0) if m.utility in ("gas", "water"))
    unknown = ForwardRequest(2, 0x4B, 0x82, 10, cjt188.read_request(0x10, "99999999999999"))
    (deny,) = answer(state, b.request(state.address, 0x10, [DataUnit(0, 1, unknown)], 2), ts).frames
    assert deny.afn == 0 and decode_units(deny)[0].fn == 2
    known = ForwardRequest(2, 0x4B, 0x82, 10, cjt188.read_request(0x30, gas.address(0)))
    (reply,) = answer(state, b.request(state.address, 0x10, [DataUnit(0, 1, known)], 3), ts).frames
    value = decode_units(reply)[0].value
    assert isinstance(value, ForwardReply)
    assert value.inner.body.current.value == state.truth.truth(gas.meter_id, f"{gas.utility}.volume", NOW)


def test_replaced_meter_keeps_its_point_with_the_new_address() -> None:
    state = _state(replaced_fraction=1.0)
    meter = next(m for m in state.truth.fleet.meters_of(0) if m.utility == "electricity" and m.replaced_at
                 and m.removed_at is None)
    assert meter.replaced_at is not None
    after = meter.replaced_at + 86400
    entry = state.entry(meter.pn, after)
    assert entry is not None and entry.address == meter.address(1)
    request = b.request(state.address, 0x0C, [DataUnit(meter.pn, 129, None)], 4)
    (frame,) = answer(state, request, after).frames
    value = decode_units(frame)[0].value
    assert isinstance(value, EnergyReading) and value.total is not None and value.total < 5000


async def test_serial_concentrator_answers_over_a_pty() -> None:
    import asyncio
    import os

    from emms_protocol.framing import StreamFramer
    from emms_protocol.gdw1376 import decode_frame, encode_frame
    from emms_sim.serial_link import SerialConcentrator

    state = _state()
    link = SerialConcentrator(state)
    stop = asyncio.Event()
    task = asyncio.create_task(link.serve(stop))
    device = os.open(link.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        os.write(device, encode_frame(b.request(state.address, 0x0C, [DataUnit(0, 2, None)], 6)))
        framer, frames = StreamFramer(), []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not frames and loop.time() < deadline:
            await asyncio.sleep(0.02)
            try:
                frames = framer.feed(os.read(device, 4096))
            except BlockingIOError:
                continue
        assert frames and decode_frame(frames[0]).seq.seq == 6
        assert isinstance(decode_units(decode_frame(frames[0]))[0].value, datetime)
    finally:
        stop.set()
        await task
        os.close(device)
        link.close()
