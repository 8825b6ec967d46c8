"""A small in-test concentrator over a real socket, built from ``emms_protocol``'s terminal-side builders.

It logs in, heartbeats (optionally in the background), answers AFN 0C F2 clock
reads (single or multi-frame), denies, reports events, and can misbehave on
purpose (corrupt checksums, split writes, garbage, duplicates). One reader
task sorts what the FEP sends: confirms of frames this terminal is waiting
for resolve their waiter, other confirms go to :meth:`receive`, requests
(PRM=1) to :meth:`next_request`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from emms_protocol import ProtocolError
from emms_protocol.framing import StreamFramer
from emms_protocol.gdw1376 import Address, Control, DataUnit, Frame, Seq, builders, decode_frame, encode_frame
from emms_protocol.gdw1376.afn0e import EventBatch, EventRecord
from emms_protocol.gdw1376.units import decode_units, encode_units


@dataclass(frozen=True)
class Received:
    """A frame the FEP sent, with what tests look at."""

    frame: Frame
    raw: bytes

    @property
    def afn(self) -> int:
        return int(self.frame.afn)

    @property
    def number(self) -> int:
        return self.frame.seq.seq

    @property
    def tp(self) -> Any:
        return self.frame.tp

    @property
    def pw(self) -> bytes | None:
        return self.frame.pw

    @property
    def units(self) -> tuple[tuple[int, int], ...]:
        return tuple((u.pn, u.fn) for u in decode_units(self.frame))

    @property
    def fn(self) -> int:
        units = decode_units(self.frame)
        return units[0].fn if units else 0


class FakeTerminal:
    def __init__(self, address: str, *, clock_offset_s: float = 0.0) -> None:
        self.address = address
        self._address = Address.parse(address)
        self._pseq = 0
        self.last_pseq = -1
        self.clock_offset_s = clock_offset_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._framer = StreamFramer()
        self._waiting: dict[int, asyncio.Future[Received]] = {}
        self._confirms: asyncio.Queue[Received] = asyncio.Queue()
        self._requests: asyncio.Queue[Received] = asyncio.Queue()
        self._ended = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.keep_alive_failed = False
        self._send_lock = asyncio.Lock()

    # -- connection -----------------------------------------------------------------------------------------
    async def connect(self, port: int, host: str = "127.0.0.1") -> None:
        self._reader, self._writer = await asyncio.open_connection(host, port)
        self._tasks.append(asyncio.create_task(self._read()))

    async def _read(self) -> None:
        assert self._reader is not None
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    break
                for raw in self._framer.feed(data):
                    self._dispatch(raw)
        except (ConnectionError, OSError):
            pass
        finally:
            self._ended.set()
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(ConnectionError("the FEP closed the link"))

    def _dispatch(self, raw: bytes) -> None:
        try:
            frame = decode_frame(raw)
        except ProtocolError:
            return
        received = Received(frame, raw)
        if frame.control.prm == 1:
            self._requests.put_nowait(received)
            return
        waiter = self._waiting.pop(frame.seq.seq, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(received)
        else:
            self._confirms.put_nowait(received)

    async def send(self, data: bytes) -> None:
        assert self._writer is not None
        async with self._send_lock:
            self._writer.write(data)
            await self._writer.drain()

    async def send_split(self, data: bytes) -> None:
        """One byte per TCP segment (with a pause, so they are not coalesced)."""
        for i in range(len(data)):
            await self.send(data[i:i + 1])
            await asyncio.sleep(0.002)

    async def close(self) -> None:
        for task in self._tasks[1:]:
            task.cancel()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            async with asyncio.timeout(2):
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def closed_by_fep(self, timeout_s: float = 5.0) -> bool:
        try:
            async with asyncio.timeout(timeout_s):
                await self._ended.wait()
        except TimeoutError:
            return False
        return True

    # -- frames ---------------------------------------------------------------------------------------------
    def _next_pseq(self) -> int:
        pseq = self._pseq
        self._pseq = (self._pseq + 1) & 0x0F
        self.last_pseq = pseq
        return pseq

    def clock(self) -> datetime:
        now = datetime.now(UTC).replace(microsecond=0)
        return now if not self.clock_offset_s else now.fromtimestamp(now.timestamp() + self.clock_offset_s, UTC)

    def clock_data(self) -> dict[str, Any]:
        """A request unit's data setting the clock (AFN 05 F31)."""
        return {"value": datetime.now(UTC).replace(microsecond=0).isoformat()}

    def login_frame(self, pseq: int | None = None) -> bytes:
        return encode_frame(builders.login(self._address, self._next_pseq() if pseq is None else pseq))

    def heartbeat_frame(self, clock: datetime | None = None, pseq: int | None = None) -> bytes:
        return encode_frame(builders.heartbeat(self._address, self._next_pseq() if pseq is None else pseq, clock))

    def logout_frame(self) -> bytes:
        return encode_frame(builders.logout(self._address, self._next_pseq()))

    @staticmethod
    def corrupt(frame: bytes) -> bytes:
        broken = bytearray(frame)
        broken[-2] ^= 0x5A
        return bytes(broken)

    async def _exchange(self, raw: bytes, timeout_s: float = 10.0) -> Received:
        pseq = raw[13] & 0x0F
        waiter: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        self._waiting[pseq] = waiter
        await self.send(raw)
        async with asyncio.timeout(timeout_s):
            return await waiter

    async def login(self) -> Received:
        return await self._exchange(self.login_frame())

    async def heartbeat(self, clock: datetime | None = None, timeout_s: float = 10.0) -> Received:
        return await self._exchange(self.heartbeat_frame(clock), timeout_s)

    async def logout(self) -> Received:
        return await self._exchange(self.logout_frame())

    async def receive(self, timeout_s: float = 5.0) -> Received:
        """The next frame from the FEP that no exchange of this terminal was waiting for."""
        async with asyncio.timeout(timeout_s):
            return await self._confirms.get()

    def keep_alive(self, interval_s: float = 1.0, timeout_s: float = 10.0) -> None:
        async def beat() -> None:
            while not self._ended.is_set():
                await asyncio.sleep(interval_s)
                try:
                    await self.heartbeat(timeout_s=timeout_s)
                except (TimeoutError, ConnectionError, OSError):
                    if not self._ended.is_set() or self._writer is None or not self._writer.is_closing():
                        self.keep_alive_failed = True
                    return

        self._tasks.append(asyncio.create_task(beat()))

    # -- answering the master -------------------------------------------------------------------------------
    async def next_request(self, timeout_s: float = 10.0) -> Received:
        async with asyncio.timeout(timeout_s):
            return await self._requests.get()

    async def answer_clock(self, request: Received, *, frames: int = 1, duplicate: bool = False) -> None:
        """Answer an AFN 0C F2 read with this terminal's clock; ``frames`` > 1 sends a FIR/FIN sequence."""
        unit = [DataUnit(0, 2, self.clock())]
        answers: list[bytes] = []
        for i in range(frames):
            frame = builders.response(request.frame, unit, fir=i == 0, fin=i == frames - 1)
            frame = replace(frame, seq=replace(frame.seq, seq=(request.number + i) & 0x0F))
            answers.append(encode_frame(frame))
        for raw in answers:
            await self.send(raw)
            if duplicate:
                await self.send(raw)

    async def deny(self, request: Received) -> None:
        await self.send(encode_frame(builders.deny(request.frame)))

    async def confirm(self, request: Received) -> None:
        await self.send(encode_frame(builders.confirm(request.frame)))

    def event_frame(self, ec: tuple[int, int] = (3, 0)) -> bytes:
        """An active report of important events (AFN 0E F1, PRM=1, CON=1, ACD=1 with EC)."""
        record = EventRecord.build(14, datetime.now(UTC).replace(second=0, microsecond=0))
        body = encode_units(0x0E, 1, [DataUnit(0, 1, EventBatch(ec[0], ec[1], 2, 3, (record,)))])
        frame = Frame(Control(1, 1, 1, 0, 4), self._address, 0x0E, Seq(False, True, True, True, self._next_pseq()),
                      body, ec=ec)
        return encode_frame(frame)

    async def report_event(self) -> Received:
        return await self._exchange(self.event_frame())

    # -- fuzzing help ---------------------------------------------------------------------------------------
    @staticmethod
    def sample_frames(rng: random.Random) -> list[bytes]:
        """Valid uplink frames of many kinds and addresses: seeds for mutation."""
        seeds: list[bytes] = []
        for _ in range(40):
            t = FakeTerminal(f"{rng.randrange(0x1000, 0x2000):04X}-{rng.randint(1, 65535):05d}")
            t._pseq = rng.randrange(16)
            seeds += [t.login_frame(), t.heartbeat_frame(), t.heartbeat_frame(t.clock()), t.event_frame()]
            request = builders.request(t._address, 0x0C, [DataUnit(0, 2, None)], rng.randrange(16))
            seeds.append(encode_frame(builders.response(request, [DataUnit(0, 2, t.clock())])))
            seeds.append(encode_frame(builders.deny(request)))
        return seeds

    @staticmethod
    def is_login_of_area(data: bytes, area: str) -> bool:
        """Does ``data`` contain a login frame of a terminal in ``area`` (anywhere in it)?"""
        framer = StreamFramer()
        for raw in framer.feed(data):
            with contextlib.suppress(ProtocolError):
                frame = decode_frame(raw)
                if frame.afn == 0x02 and frame.address.key.startswith(area):
                    return True
        return False
