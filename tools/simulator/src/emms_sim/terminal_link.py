"""The concentrator's end of one TCP connection, lean enough for 20,000 of them in one process.

A stream reader / writer pair, a pending ``read()`` task, a task waiting on the
stop event and ``asyncio.wait`` bookkeeping cost about 7 KB per idle link; the
bare socket costs ~0.85–1.8 KB. So the link is an ``asyncio.Protocol`` that
frames bytes as they arrive and wakes its session's single task through one
future; stopping a fleet wakes every session from one watcher per stop event
(``StopFanout``), not one task per session.
"""

from __future__ import annotations

import asyncio
import socket
import weakref
from collections.abc import Callable
from typing import ClassVar, cast

from emms_protocol.framing import StreamFramer

IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux; pick the port at connect


class TerminalLink(asyncio.Protocol):
    """Frames in, bytes out; ``wait()`` returns when a frame, the end of the link, a wake-up or the deadline comes."""

    __slots__ = ("_drain", "_paused", "_waiter", "closed", "framer", "frames", "transport")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.framer = StreamFramer()
        self.frames: list[bytes] = []  # an empty deque costs ~600 bytes, an empty list 56
        self.closed = False
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._drain: asyncio.Future[None] | None = None

    # ---- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        self.frames.extend(self.framer.feed(data))
        if self.frames:
            self.wake()

    def take(self) -> list[bytes]:
        """The frames received so far, oldest first; the queue is left empty."""
        frames, self.frames = self.frames, []
        return frames

    def eof_received(self) -> bool:
        self.closed = True
        self.wake()
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._paused = False
        self._release_drain()
        self.wake()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._release_drain()

    # ---- for the session ---------------------------------------------------------------------
    def wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, seconds: float) -> None:
        """Sleep until something happens on the link, ``wake()`` is called, or ``seconds`` pass."""
        if self.frames or self.closed:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(max(0.0, seconds), self.wake)
        try:
            await waiter
        finally:
            timer.cancel()
            if self._waiter is waiter:
                self._waiter = None

    # ---- the writer interface FaultyWire uses ---------------------------------------------
    def write(self, data: bytes) -> None:
        if self.transport is None or self.closed:
            raise ConnectionResetError("the link is closed")
        self.transport.write(data)

    async def drain(self) -> None:
        if self.closed:
            raise ConnectionResetError("the link is closed")
        if not self._paused:
            return
        if self._drain is None:
            self._drain = asyncio.get_running_loop().create_future()
        await self._drain
        if self.closed:
            raise ConnectionResetError("the link is closed")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _release_drain(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)


async def open_link(host: str, port: int, source_ip: str | None = None) -> TerminalLink:
    """Connect to the master, from ``source_ip`` when given (the local port is chosen at connect time)."""
    loop = asyncio.get_running_loop()
    sock = None
    if source_ip:
        sock = socket.socket(socket.AF_INET6 if ":" in source_ip else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if ":" not in source_ip:  # without it, bind() takes a port for good: ~28k links per source address
                sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source_ip, 0))
            await loop.sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        _, link = await loop.create_connection(TerminalLink, sock=sock)
        return link
    _, link = await loop.create_connection(TerminalLink, host, port)
    return link


class StopFanout:
    """Wakes every registered link when one stop event is set: one watcher task per event, not per session."""

    _by_event: ClassVar[weakref.WeakKeyDictionary[asyncio.Event, StopFanout]] = weakref.WeakKeyDictionary()

    def __init__(self, stop: asyncio.Event) -> None:
        self.listeners: set[Callable[[], None]] = set()
        self._task = asyncio.ensure_future(self._watch(stop))

    @classmethod
    def of(cls, stop: asyncio.Event) -> StopFanout:
        fanout = cls._by_event.get(stop)
        if fanout is None or (fanout._task.done() and not stop.is_set()):
            fanout = cls._by_event[stop] = cls(stop)
        return fanout

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        for listener in list(self.listeners):
            listener()
