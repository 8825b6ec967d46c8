"""One virtual concentrator driven over real TCP by an in-test master built from emms_protocol's builders.

Login and heartbeat confirmed, every data class read, 645 and 188 forwarded,
protection on and off (a trip refused meanwhile), a trip, a time sync, a
meter-table change, logout on stop — each answer checked against the ground truth.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from emms_protocol import cjt188, dlt645
from emms_protocol.framing import StreamFramer
from emms_protocol.gdw1376 import DataUnit, Frame, decode_frame, decode_units, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn0c import PowerQuality
from emms_protocol.gdw1376.afn0e import EventBatch, EventRequest
from emms_protocol.gdw1376.afn04_0a import MeterConfig, MeterConfigQuery, MeterRecord
from emms_protocol.gdw1376.afn05 import ProtectCommand, TripCommand
from emms_protocol.gdw1376.afn09 import VersionInfo
from emms_protocol.gdw1376.afn10 import ForwardReply, ForwardRequest
from emms_protocol.gdw1376.energy_blocks import EnergyReading, ForwardEnergies
from emms_sim.fleet import FieldRates, FleetConfig
from emms_sim.session import SessionConfig, TerminalSession
from emms_sim.terminal_state import TerminalState
from emms_sim.truth import GroundTruth

pytestmark = pytest.mark.timeout(60)


@dataclass
class Master:
    """The master side of one accepted connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    framer: StreamFramer = field(default_factory=StreamFramer)
    backlog: list[Frame] = field(default_factory=list)
    seq: int = 0

    async def next_frame(self, wait_s: float = 5.0) -> Frame:
        while not self.backlog:
            data = await asyncio.wait_for(self.reader.read(4096), wait_s)
            assert data, "terminal closed the link"
            self.backlog += [decode_frame(raw) for raw in self.framer.feed(data)]
        return self.backlog.pop(0)

    async def expect(self, afn: int, fn: int | None = None, wait_s: float = 5.0) -> Frame:
        """Skip heartbeats (confirming them) until a frame of ``afn`` arrives."""
        while True:
            frame = await self.next_frame(wait_s)
            if frame.afn == 0x02 and afn != 0x02:
                self.send(b.confirm(frame))
                continue
            if frame.afn == afn and (fn is None or any(u.fn == fn for u in decode_units(frame))):
                return frame

    def send(self, frame: Frame) -> None:
        self.writer.write(encode_frame(frame))

    async def ask(self, afn: int, units: list[DataUnit]) -> list[Frame]:
        self.seq = (self.seq + 1) & 0x0F
        self.send(b.request(TERMINAL_ADDRESS[0], afn, units, self.seq))
        answers = []
        while True:
            frame = await self._answer_to(afn)
            answers.append(frame)
            if frame.seq.fin:
                return answers

    async def _answer_to(self, afn: int) -> Frame:
        while True:
            frame = await self.next_frame()
            if frame.afn == 0x02:
                self.send(b.confirm(frame))
                continue
            if frame.afn in (afn, 0x00) and frame.seq.seq == self.seq:
                return frame


TERMINAL_ADDRESS: list = [None]


@contextlib.asynccontextmanager
async def fleet_and_master() -> AsyncIterator[tuple[GroundTruth, TerminalSession, Master, asyncio.Event]]:
    truth = GroundTruth(FleetConfig(seed=3, concentrators=1, meters_per=24, rates=FieldRates.quiet()))
    accepted: asyncio.Queue[Master] = asyncio.Queue()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(Master(reader, writer))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    state = TerminalState(truth, 0, heartbeat_s=1.0)
    TERMINAL_ADDRESS[0] = state.address
    session = TerminalSession(state, SessionConfig("127.0.0.1", port, confirm_timeout_s=3.0))
    stop = asyncio.Event()
    task = asyncio.create_task(session.run(stop))
    try:
        master = await asyncio.wait_for(accepted.get(), 5)
        yield truth, session, master, stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        server.close()


def _meter_of(truth: GroundTruth, utility: str, kind: str | None = None) -> tuple[int, str, str]:
    for m in truth.fleet.meters_of(0):
        if m.utility == utility and (kind is None or m.kind == kind) and m.present(datetime.now(UTC).timestamp()):
            return m.pn, m.meter_id, m.address(0)
    raise AssertionError(f"no {utility} meter")


async def test_login_heartbeat_and_every_data_class_match_the_truth() -> None:
    async with fleet_and_master() as (truth, session, master, _stop):
        login = await master.next_frame()
        assert login.afn == 0x02 and decode_units(login)[0].fn == 1 and login.seq.con
        assert login.address == TERMINAL_ADDRESS[0]
        master.send(b.confirm(login))
        beat = await master.next_frame(3.0)
        assert beat.afn == 0x02 and decode_units(beat)[0].fn == 3
        master.send(b.confirm(beat))
        await asyncio.sleep(0.05)
        assert session.stats.logged_in

        # class 1: F129 of every electricity point, F25 of one, F2 clock
        pns = [m.pn for m in truth.fleet.meters_of(0) if m.utility == "electricity"]
        frames = await master.ask(0x0C, [DataUnit(pn, 129, None) for pn in pns])
        units = [u for f in frames for u in decode_units(f)]
        assert {u.pn for u in units} == set(pns)
        for u in units:
            assert isinstance(u.value, EnergyReading) and u.value.read_at is not None
            truth_now = truth.reading(truth.fleet.meter(0, u.pn).meter_id, u.value.read_at)  # type: ignore[union-attr]
            assert truth_now is not None
            assert u.value.total == truth_now["energy.active.import.total"]
            assert list(u.value.rates) == [truth_now[f"energy.active.import.t{k}"] for k in range(1, 5)]
        three = _meter_of(truth, "electricity", "commercial-3p")
        (f25,) = await master.ask(0x0C, [DataUnit(three[0], 25, None)])
        pq = decode_units(f25)[0].value
        assert isinstance(pq, PowerQuality) and pq.read_at is not None
        expected = truth.reading(three[1], pq.read_at)
        assert expected is not None
        assert (pq.u_a, pq.u_b, pq.i_a, pq.p_total) == (expected["voltage.a"], expected["voltage.b"],
                                                         expected["current.a"], expected["power.active.total"])
        (clock,) = await master.ask(0x0C, [DataUnit(0, 2, None)])
        terminal_time = decode_units(clock)[0].value
        assert isinstance(terminal_time, datetime)
        assert abs((terminal_time - datetime.now(UTC)).total_seconds()) < 200

        # class 2: yesterday's daily frozen F161 and F1, last month's F177
        yesterday = truth.yesterday()
        frames = await master.ask(0x0D, [DataUnit(pn, 161, yesterday) for pn in pns[:6]])
        units = [u for f in frames for u in decode_units(f)]
        assert len(units) == 6
        for u in units:
            frozen = truth.frozen_daily(truth.fleet.meter(0, u.pn).meter_id, yesterday)  # type: ignore[union-attr]
            assert isinstance(u.value, EnergyReading) and frozen is not None
            assert u.value.td == yesterday and u.value.total == frozen["energy.active.import.total"]
            assert u.value.read_at == truth.daily_freeze_instant(yesterday)
        (f1,) = await master.ask(0x0D, [DataUnit(three[0], 1, yesterday)])
        block = decode_units(f1)[0].value
        frozen3 = truth.frozen_daily(three[1], yesterday)
        assert isinstance(block, ForwardEnergies) and frozen3 is not None
        assert block.active.total == frozen3["energy.active.import.total"]
        assert block.q1.total == frozen3["energy.reactive.q1.total"]
        (future,) = await master.ask(0x0D, [DataUnit(pns[0], 161, truth.local_today() + timedelta(days=2))])
        assert future.afn == 0x00 and decode_units(future)[0].fn == 2  # not frozen yet: denied

        # version
        (ver,) = await master.ask(0x09, [DataUnit(0, 1, None)])
        assert isinstance(decode_units(ver)[0].value, VersionInfo)


async def test_forwarding_trip_time_sync_table_change_events_and_logout() -> None:
    async with fleet_and_master() as (truth, _session, master, stop):
        master.send(b.confirm(await master.next_frame()))
        await asyncio.sleep(0.05)
        water = _meter_of(truth, "water")
        before = truth.truth(water[1], "water.volume", datetime.now(UTC))
        (fw,) = await master.ask(0x10, [DataUnit(0, 1, ForwardRequest(2, 0x4B, 0x82, 10,
                                                                    cjt188.read_request(0x10, water[2])))])
        after = truth.truth(water[1], "water.volume", datetime.now(UTC))
        reply = decode_units(fw)[0].value
        assert isinstance(reply, ForwardReply) and reply.inner_protocol == "cjt188"
        assert isinstance(reply.inner.body, cjt188.WaterGasData)
        assert before is not None and after is not None
        assert before <= reply.inner.body.current.value <= after

        pn, meter_id, address = _meter_of(truth, "electricity")
        (fw645,) = await master.ask(0x10, [DataUnit(0, 1, ForwardRequest(31, 0x6B, 0x82, 10,
                                                                       dlt645.read_request(address, 0x00010000)))])
        inner = decode_units(fw645)[0].value.inner
        assert isinstance(inner, dlt645.Frame645) and inner.address == address
        now_value = truth.truth(meter_id, "energy.active.import.total", datetime.now(UTC))
        assert now_value is not None and abs(inner.body.value - now_value) < 0.05  # type: ignore[union-attr]

        # protection (AFN05 F25 with its duration byte, then F33): a trip is refused while it holds
        (ok,) = await master.ask(0x05, [DataUnit(0, 25, ProtectCommand(2))])
        assert ok.afn == 0x00 and decode_units(ok)[0].fn == 1
        protection = truth.ledger.protection(TERMINAL_ADDRESS[0].key, datetime.now(UTC).timestamp())
        assert protection is not None and protection[1] is not None and 3590 < protection[1] - protection[0] <= 3600
        (refused,) = await master.ask(0x05, [DataUnit(pn, 1, TripCommand(limit_half_hours=0, alarm_delay_min=0))])
        assert decode_units(refused)[0].fn == 2
        assert truth.truth(meter_id, "relay.state", datetime.now(UTC)) == 1.0
        (ok,) = await master.ask(0x05, [DataUnit(0, 33, None)])
        assert decode_units(ok)[0].fn == 1 and not truth.ledger.protected(TERMINAL_ADDRESS[0].key,
                                                                            datetime.now(UTC).timestamp())

        # trip through AFN05 F1: the relay opens, the register stops, the 645 status word shows it
        (ok,) = await master.ask(0x05, [DataUnit(pn, 1, TripCommand())])
        assert ok.afn == 0x00 and decode_units(ok)[0].fn == 1
        assert truth.truth(meter_id, "relay.state", datetime.now(UTC)) == 0.0
        later = datetime.now(UTC) + timedelta(hours=2)
        assert truth.truth(meter_id, "energy.active.import.total", later) == \
            truth.truth(meter_id, "energy.active.import.total", datetime.now(UTC))
        (st,) = await master.ask(0x10, [DataUnit(0, 1, ForwardRequest(31, 0x6B, 0x82, 10,
                                                                    dlt645.read_request(address, 0x04000503)))])
        assert decode_units(st)[0].value.inner.body.value & 0x0010

        # time sync sets the terminal clock
        target = datetime.now(UTC) + timedelta(seconds=120)
        (ok,) = await master.ask(0x05, [DataUnit(0, 31, target)])
        assert decode_units(ok)[0].fn == 1
        (clock,) = await master.ask(0x0C, [DataUnit(0, 2, None)])
        shown = decode_units(clock)[0].value
        assert isinstance(shown, datetime) and abs((shown - datetime.now(UTC)).total_seconds() - 120) < 3

        # F10: delete a point, bind a new point to a meter's address; the table really changes
        victim = next(m for m in truth.fleet.meters_of(0) if m.utility == "electricity" and m.pn != pn)
        zeros = "000000000000"
        records = (MeterRecord(victim.pn, 0, 31, 0, 30, victim.address(0), zeros, 4, 6, 2, zeros, 0, 0),
                   MeterRecord(200, 200, 31, 0, 30, victim.address(0), zeros, 4, 6, 2, zeros, 0, 0))
        (ok,) = await master.ask(0x04, [DataUnit(0, 10, MeterConfig(records))])
        assert decode_units(ok)[0].fn == 1
        (gone,) = await master.ask(0x0C, [DataUnit(victim.pn, 129, None)])
        assert gone.afn == 0x00  # denied: the point no longer exists
        (moved,) = await master.ask(0x0C, [DataUnit(200, 129, None)])
        value = decode_units(moved)[0].value
        assert isinstance(value, EnergyReading)
        assert value.total == truth.truth(victim.meter_id, "energy.active.import.total", value.read_at)
        (table,) = await master.ask(0x0A, [DataUnit(0, 10, MeterConfigQuery((200,)))])
        assert [r.pn for r in decode_units(table)[0].value.records] == [200]

        # class 3: the trip and the table change are important events
        (events,) = await master.ask(0x0E, [DataUnit(0, 1, EventRequest(0, 255))])
        batch = decode_units(events)[0].value
        assert isinstance(batch, EventBatch)
        assert {r.erc for r in batch.records} >= {5, 3}

        stop.set()
        logout = await master.expect(0x02)
        while decode_units(logout)[0].fn != 2:
            logout = await master.expect(0x02)
        master.send(b.confirm(logout))
