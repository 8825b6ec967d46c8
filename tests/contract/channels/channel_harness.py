"""One harness per channel kind, so the same contract suite runs over TCP server, TCP client and serial.

Each harness starts the channel against a recording acceptor and gives the
test the *remote end* of the link: a TCP client socket, the socket the dialled
"terminal" accepted, or the master side of a pseudo-terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from service_harness import wait_until

from emms_fep.channels.base import Channel, Link, LinkHandler
from emms_fep.channels.tcp_server import TcpServerChannel


async def until(condition: Callable[[], bool], timeout_s: float = 5.0, poll_s: float = 0.01) -> None:
    """``service_harness.wait_until`` with this area's defaults."""
    await wait_until(condition, timeout_s, poll_s)


@dataclass
class RecordingHandler:
    link: Link
    data: bytearray = field(default_factory=bytearray)
    lost: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.arrived.set()

    def link_lost(self, reason: str) -> None:
        self.lost.append(reason)

    async def wait_bytes(self, n: int, timeout_s: float = 5.0) -> bytes:
        async with asyncio.timeout(timeout_s):
            while len(self.data) < n:
                self.arrived.clear()
                await self.arrived.wait()
        return bytes(self.data)

    async def wait_lost(self, timeout_s: float = 5.0) -> str:
        await until(lambda: bool(self.lost), timeout_s)
        return self.lost[0]


@dataclass
class RecordingAcceptor:
    refuse: bool = False
    handlers: list[RecordingHandler] = field(default_factory=list)
    bound: list[str | None] = field(default_factory=list)

    def open_link(self, link: Link, bound_terminal: str | None = None) -> LinkHandler | None:
        self.bound.append(bound_terminal)
        if self.refuse:
            return None
        handler = RecordingHandler(link)
        self.handlers.append(handler)
        return handler

    async def wait_link(self, count: int = 1, timeout_s: float = 5.0) -> RecordingHandler:
        await until(lambda: len(self.handlers) >= count, timeout_s)
        return self.handlers[count - 1]


class Remote:
    """The terminal's end of the link."""

    async def send(self, data: bytes) -> None:
        raise NotImplementedError

    async def recv(self, n: int, timeout_s: float = 5.0) -> bytes:
        raise NotImplementedError

    async def at_end(self, timeout_s: float = 5.0) -> bool:
        """True once the FEP side has closed the link."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class SocketRemote(Remote):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def recv(self, n: int, timeout_s: float = 5.0) -> bytes:
        async with asyncio.timeout(timeout_s):
            return await self.reader.readexactly(n)

    async def at_end(self, timeout_s: float = 5.0) -> bool:
        async with asyncio.timeout(timeout_s):
            while True:
                try:
                    if not await self.reader.read(4096):
                        return True
                except ConnectionError:
                    return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class PtyRemote(Remote):
    def __init__(self, master: int) -> None:
        self.master = master
        os.set_blocking(master, False)

    async def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.master, view)
            except BlockingIOError:
                await asyncio.sleep(0.005)
                continue
            view = view[written:]

    async def _read(self, n: int) -> bytes | None:
        try:
            return os.read(self.master, n)
        except BlockingIOError:
            return b""
        except OSError:
            return None  # EIO: no slave side open any more

    async def recv(self, n: int, timeout_s: float = 5.0) -> bytes:
        out = bytearray()
        async with asyncio.timeout(timeout_s):
            while len(out) < n:
                chunk = await self._read(n - len(out))
                if chunk is None:
                    raise ConnectionError("pty closed")
                out += chunk
                if not chunk:
                    await asyncio.sleep(0.005)
        return bytes(out)

    async def at_end(self, timeout_s: float = 5.0) -> bool:
        for _ in range(int(timeout_s / 0.01)):
            if await self._read(4096) is None:
                return True
            await asyncio.sleep(0.01)
        raise TimeoutError("the pty stayed open")

    async def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.master)


@dataclass
class Harness:
    kind: str
    channel: Channel
    acceptor: RecordingAcceptor
    remotes: list[Remote] = field(default_factory=list)
    taken: int = 0

    async def connect(self) -> tuple[Remote, RecordingHandler]:
        """The next link, from both ends."""
        self.taken += 1
        count = self.taken
        if isinstance(self.channel, TcpServerChannel):
            reader, writer = await asyncio.open_connection("127.0.0.1", self.channel.bound_port)
            self.remotes.append(SocketRemote(reader, writer))
        handler = await self.acceptor.wait_link(count)
        await until(lambda: len(self.remotes) >= count, 10.0)
        return self.remotes[count - 1], handler


