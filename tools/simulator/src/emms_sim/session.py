"""One virtual concentrator's TCP life: connect, log in, heartbeat, answer, report, reconnect, log out.

One asyncio task per concentrator and nothing per meter: the task waits for
the next byte or the next deadline (heartbeat, retransmission, scheduled
report, site power cut), whichever comes first. Frames with CON (login,
heartbeat, active reports) are retransmitted until the master confirms them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from emms_protocol.errors import ProtocolError
from emms_protocol.gdw1376 import Control, DataUnit, Frame, Seq, decode_frame, encode_frame
from emms_protocol.gdw1376 import builders as b
from emms_protocol.gdw1376.afn0e import EventBatch, EventRecord
from emms_sim import answer_events
from emms_sim.answers import answer, encode_groups
from emms_sim.hashing import unit
from emms_sim.terminal_link import StopFanout, TerminalLink, open_link
from emms_sim.terminal_state import TerminalState
from emms_sim.wire_faults import FaultRates, FaultyWire

log = logging.getLogger("emms_sim.session")
RuntimeSink = Callable[[dict[str, object]], None]


@dataclass(slots=True)
class SessionConfig:
    host: str
    port: int
    source_ip: str | None = None
    confirm_timeout_s: float = 10.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    missed_heartbeats: int = 3  # unconfirmed heartbeats before the link is considered dead
    report_delay_s: float = 300.0  # scheduled daily report: 00:05 local + a per-terminal spread
    report_spread_s: float = 1800.0
    event_pull_s: float = 60.0
    faults: FaultRates = field(default_factory=FaultRates)
    standby: tuple[str, int] | None = None
    """The standby channel (R-4.6.6): after ``failover_after`` failed connects to one, the other is tried."""
    failover_after: int = 2


@dataclass(slots=True)
class Pending:
    raw: bytes
    sent_at: float
    attempts: int
    kind: str


@dataclass(slots=True)
class SessionStats:
    connects: int = 0
    logins: int = 0
    heartbeats: int = 0
    requests: int = 0
    reports: int = 0
    retransmissions: int = 0
    connected: bool = False
    logged_in: bool = False
    channel: str = "primary"  # the channel of the current (or last) link: primary | standby
    failovers: int = 0


class TerminalSession:
    def __init__(self, state: TerminalState, config: SessionConfig, sink: RuntimeSink | None = None,
                 cascaded: list[TerminalState] | None = None) -> None:
        self.state = state
        #: terminals cascaded behind this one (1376.1 级联, :mod:`emms_sim.cascade`): frames addressed to them
        #: come over this link and are answered from their own state, with their own address
        self.cascaded = {(s.address.area, s.address.terminal): s for s in cascaded or ()}
        self.config = config
        self.sink = sink
        self.stats = SessionStats()
        self.wire = FaultyWire(config.faults, state.truth.fleet.seed, state.index)
        self._pseq = 0
        self._pending: dict[int, Pending] = {}
        self._link: TerminalLink | None = None
        self._next_heartbeat = 0.0
        self._report_day = state.truth.cal.position_ts(time.time())[0]
        self._next_pull = 0.0

    # ---- life cycle -----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        schedule = self.state.truth.schedule
        fanout = StopFanout.of(stop)
        fanout.listeners.add(self._wake)
        try:
            while not stop.is_set():
                now = time.time()
                if not schedule.powered(self.state.index, now):
                    await _sleep_or_stop(stop, schedule.power_restored_at(self.state.index, now) - now + 1.0)
                    continue
                try:
                    link = await asyncio.wait_for(self._connect(), self.config.confirm_timeout_s)
                except (OSError, TimeoutError):
                    failures += 1
                    if self._fail_over(failures):
                        continue  # the other channel at once
                    await _sleep_or_stop(stop, self._backoff(failures))
                    continue
                self.stats.connects += 1
                clean = await self._serve(link, stop)
                failures = 0 if clean else failures + 1
                if not stop.is_set():
                    await _sleep_or_stop(stop, self._backoff(max(failures, 1)))
        finally:
            fanout.listeners.discard(self._wake)

    def _wake(self) -> None:
        if self._link is not None:
            self._link.wake()

    def _backoff(self, failures: int) -> float:
        delay = min(self.config.backoff_cap_s, self.config.backoff_base_s * float(1 << min(failures, 10)))
        return delay * (0.5 + random.random())

    def _fail_over(self, failures: int) -> bool:
        """Switch to the other channel after ``failover_after`` failed connects in a row; whether it switched."""
        if self.config.standby is None or failures % max(1, self.config.failover_after):
            return False
        self.stats.channel = "standby" if self.stats.channel == "primary" else "primary"
        self.stats.failovers += 1
        log.info("terminal %s fails over to its %s channel", self.state.address.key, self.stats.channel)
        return True

    async def _connect(self) -> TerminalLink:
        if self.stats.channel == "standby" and self.config.standby is not None:
            host, port = self.config.standby
            return await open_link(host, port, self.config.source_ip)
        return await open_link(self.config.host, self.config.port, self.config.source_ip)

    async def _serve(self, link: TerminalLink, stop: asyncio.Event) -> bool:
        """One connection; True when it ended because we were asked to stop (logout sent)."""
        self._link = link
        self.stats.connected = True
        self.stats.logged_in = False
        self._pending.clear()
        try:
            await self._send_con(b.login(self.state.address, self._next_seq(), ec=self.state.acd), "login")
            while not stop.is_set():
                now = time.time()
                if not self.state.truth.schedule.powered(self.state.index, now):
                    return False  # the site lost power: the link just dies
                deadline = await self._tick(now)
                if deadline is None:
                    return False
                if stop.is_set():
                    break
                await link.wait(max(0.05, deadline - time.time()))
                for raw in link.take():
                    if not await self._on_frame(raw):
                        return False
                if link.closed:
                    return False
            await self._logout(link)
            return True
        except (OSError, ConnectionError, ProtocolError) as exc:
            log.debug("terminal %s link error: %s", self.state.address.key, exc)
            return False
        finally:
            self.stats.connected = self.stats.logged_in = False
            self._link = None
            link.close()

    async def _logout(self, link: TerminalLink) -> None:
        seq = self._next_seq()
        await self._send(encode_frame(b.logout(self.state.address, seq)), answer=False)
        end = time.time() + 1.0
        while not link.closed and time.time() < end:
            await link.wait(end - time.time())
            if any(self._is_confirm(raw, seq) for raw in link.take()):
                return

    # ---- timers -----------------------------------------------------------------------------
    async def _tick(self, now: float) -> float | None:
        """Send what is due; return the next deadline, or None when the link must be dropped."""
        for seq, item in list(self._pending.items()):
            if now - item.sent_at >= self.config.confirm_timeout_s:
                if item.kind == "heartbeat" and item.attempts >= self.config.missed_heartbeats:
                    return None
                if item.kind == "heartbeat":
                    del self._pending[seq]  # a heartbeat is not resent: the next one replaces it
                    continue
                item.attempts += 1
                item.sent_at = now
                self.stats.retransmissions += 1
                if not await self._send(item.raw, answer=False):
                    return None
        if self.stats.logged_in:
            await self._pull_events(now)
            if now >= self._next_heartbeat:
                await self._heartbeat(now)
            await self._daily_report(now)
        deadlines = [self._next_heartbeat if self.stats.logged_in else now + self.config.confirm_timeout_s]
        deadlines += [p.sent_at + self.config.confirm_timeout_s for p in self._pending.values()]
        return min(deadlines)

    async def _heartbeat(self, now: float) -> None:
        missed = sum(1 for p in self._pending.values() if p.kind == "heartbeat")
        self._pending = {k: v for k, v in self._pending.items() if v.kind != "heartbeat"}
        frame = b.heartbeat(self.state.address, self._next_seq(), ec=self.state.acd)
        await self._send_con(frame, "heartbeat", attempts=missed + 1)
        self.stats.heartbeats += 1
        self._next_heartbeat = now + self.state.heartbeat_s

    async def _pull_events(self, now: float, force: bool = False) -> None:
        """Scheduled field events since the last pull (at most every ``event_pull_s``: it walks every meter)."""
        if not force and now < self._next_pull:
            return
        self._next_pull = now + self.config.event_pull_s
        new = answer_events.pull_scheduled(self.state, now)
        if new and self.state.reporting:
            await self.report_events(new)

    async def report_events(self, records: list[EventRecord]) -> None:
        """Active report of important events (AFN0E F1, CON=1) at once."""
        ec1, ec2 = self.state.ec
        start = (ec1 - len(records)) % 256
        batch = EventBatch(ec1, ec2, start, ec1, tuple(records))
        await self._report(0x0E, [DataUnit(0, 1, batch)])

    async def _daily_report(self, now: float) -> None:
        """Yesterday's daily frozen data (F161) of every electricity point, shortly after local midnight."""
        if not self.state.reporting:
            return
        cal = self.state.truth.cal
        day, sec = cal.position_ts(now)
        offset = self.config.report_delay_s + unit(self.state.truth.fleet.seed, 99, self.state.index) * \
            self.config.report_spread_s
        if day <= self._report_day or sec < offset:
            return
        self._report_day = day
        from emms_sim.answer_data import class2  # local: keeps the import graph of session small

        yesterday = cal.date_of(day - 1)
        wanted = [DataUnit(pn, 161, yesterday) for pn in self.state.pns(now)]
        units = class2(self.state, wanted, now)
        if units:
            await self._report(0x0D, units)

    async def _report(self, afn: int, units: list[DataUnit]) -> None:
        bodies = encode_groups(afn, units)
        for i, body in enumerate(bodies):
            ec = self.state.acd
            seq = Seq(False, i == 0, i == len(bodies) - 1, True, self._next_seq())
            frame = Frame(Control(1, 1, 1 if ec else 0, 0, 4), self.state.address, afn, seq, body, ec=ec)
            await self._send_con(frame, "report")
            self.stats.reports += 1

    # ---- frames -----------------------------------------------------------------------------
    def _next_seq(self) -> int:
        seq = self._pseq
        self._pseq = (self._pseq + 1) & 0x0F
        return seq

    async def _send(self, raw: bytes, *, answer: bool) -> bool:
        link = self._link
        if link is None or link.closed:
            return False
        ok = await self.wire.send(link, raw, answer=answer)
        if ok:
            await link.drain()
        return ok

    async def _send_con(self, frame: Frame, kind: str, attempts: int = 1) -> None:
        raw = encode_frame(frame)
        self._pending[frame.seq.seq] = Pending(raw, time.time(), attempts, kind)
        await self._send(raw, answer=False)

    def _is_confirm(self, raw: bytes, seq: int) -> bool:
        try:
            frame = decode_frame(raw)
        except ProtocolError:
            return False
        return frame.afn == 0 and frame.control.prm == 0 and frame.seq.seq == seq

    async def _on_frame(self, raw: bytes) -> bool:
        try:
            frame = decode_frame(raw)
        except ProtocolError:
            return True
        state = self._addressee(frame) if frame.control.direction == 0 else None
        if state is None:
            return True
        if frame.control.prm == 0:
            if state is self.state:  # a confirm of a cascaded terminal's frame: nothing of ours waits for it
                self._on_confirm(frame)
            return True
        self.stats.requests += 1
        now = time.time()
        await self._pull_events_of(state, now, frame.afn == 0x0E)
        outcome = answer(state, frame, now)
        for event in outcome.effects.runtime_events:
            if self.sink is not None:
                self.sink(event)
        for reply in outcome.frames:
            if not await self._send(encode_frame(reply), answer=True):
                return False
        if state is not self.state:  # a cascaded terminal's restart or hang-up does not end this link
            return True
        if outcome.effects.important and self.state.reporting:
            await self.report_events([r for r in outcome.effects.important if isinstance(r, EventRecord)])
        return not (outcome.effects.reboot or outcome.effects.disconnect)

    async def _pull_events_of(self, state: TerminalState, now: float, force: bool) -> None:
        if state is self.state:
            await self._pull_events(now, force=force)
        elif force:
            answer_events.pull_scheduled(state, now)  # the cascaded terminal's log, as its own session would

    def _addressee(self, frame: Frame) -> TerminalState | None:
        """Whose frame it is: this terminal's (its address, or a broadcast), a cascaded one's, or nobody's."""
        a, me = frame.address, self.state.address
        if a.area in (me.area, 0xFFFF) and (a.terminal == me.terminal or (a.group and a.terminal == 0xFFFF)):
            return self.state
        return None if a.group else self.cascaded.get((a.area, a.terminal))

    def _on_confirm(self, frame: Frame) -> None:
        if self.wire.ignores_confirms:
            return
        item = self._pending.pop(frame.seq.seq, None)
        if item is None:
            return
        if item.kind == "login" and frame.afn == 0:
            self.stats.logged_in = True
            self.stats.logins += 1
            self._next_heartbeat = time.time() + self.state.heartbeat_s


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), max(0.0, seconds))
    except TimeoutError:
        pass
