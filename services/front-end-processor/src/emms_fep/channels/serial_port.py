"""Serial channel (aioserial): a terminal wired to a local serial port.

The port is one link. A reader task moves bytes to the gateway (pyserial
reads run in aioserial's executor thread), a writer task drains the write
queue. When the device fails or the link is closed, the port is reopened after
a back-off, so a re-plugged terminal comes back by itself.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import suppress

import aioserial
import serial  # type: ignore[import-untyped]
import structlog

from emms_fep.channels.base import LinkAcceptor, LinkHandler, next_link_number

log = structlog.get_logger("emms.fep.channels")
READ_POLL_S = 0.1


class SerialLink:
    """The open port as a link."""

    def __init__(self, port: aioserial.AioSerial, label: str, device: str) -> None:
        self._serial = port
        self._label = label
        self._device = device
        self._number = next_link_number()
        self._outbox: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self.readable = asyncio.Event()
        self.readable.set()
        self.closed = asyncio.Event()

    @property
    def number(self) -> int:
        return self._number

    @property
    def peer(self) -> str:
        return self._device

    @property
    def peer_host(self) -> str:
        return self._device

    @property
    def port(self) -> str:
        return self._label

    def write(self, data: bytes) -> None:
        if not self.closed.is_set():
            self._outbox.append(data)
            self._wake.set()

    def close(self) -> None:
        self.closed.set()
        self._wake.set()
        self.readable.set()

    def pause_reading(self) -> None:
        self.readable.clear()

    def resume_reading(self) -> None:
        self.readable.set()

    async def pump_reads(self, handler: LinkHandler) -> None:
        while not self.closed.is_set():
            await self.readable.wait()
            first = await self._serial.read_async(1)
            if not first:
                continue
            waiting = self._serial.in_waiting
            rest = self._serial.read(waiting) if waiting else b""
            if not self.closed.is_set():
                handler.data_received(first + rest)

    async def pump_writes(self) -> None:
        while not self.closed.is_set():
            await self._wake.wait()
            self._wake.clear()
            while self._outbox and not self.closed.is_set():
                await self._serial.write_async(self._outbox.popleft())


class SerialChannel:
    """Opens ``device`` and keeps it open; ``terminal`` binds the link to a known terminal."""

    def __init__(self, device: str, acceptor: LinkAcceptor, *, baudrate: int = 9600,
                 terminal: str | None = None, reopen_s: float = 2.0) -> None:
        self._device = device
        self._acceptor = acceptor
        self._baudrate = baudrate
        self._terminal = terminal
        self._reopen_s = reopen_s
        self._task: asyncio.Task[None] | None = None
        self._link: SerialLink | None = None
        self._label = f"serial:{device}"
        self.opens = 0

    @property
    def name(self) -> str:
        return self._label

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_open(), name=self._label)

    async def stop(self) -> None:
        if self._link is not None:
            self._link.close()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _keep_open(self) -> None:
        while True:
            try:
                port = aioserial.AioSerial(port=self._device, baudrate=self._baudrate, timeout=READ_POLL_S)
            except (serial.SerialException, OSError) as exc:
                log.info("serial open failed", device=self._device, error=repr(exc), retry_in_s=self._reopen_s)
                await asyncio.sleep(self._reopen_s)
                continue
            self.opens += 1
            try:
                await self._serve(port)
            finally:
                with suppress(Exception):
                    port.close()
            await asyncio.sleep(self._reopen_s)

    async def _serve(self, port: aioserial.AioSerial) -> None:
        link = SerialLink(port, self._label, self._device)
        handler = self._acceptor.open_link(link, self._terminal)
        if handler is None:
            return
        self._link = link
        reason = "closed"
        tasks = [asyncio.create_task(link.pump_reads(handler)), asyncio.create_task(link.pump_writes()),
                 asyncio.create_task(link.closed.wait())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = task.exception()
                if exc is not None:
                    reason = f"error: {exc!r}"[:120]
        finally:
            link.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._link = None
            handler.link_lost(reason)
