"""TCP server channel: concentrators connect in (the common case).

One :class:`ServerLink` (an ``asyncio.Protocol`` with slots) per socket and no
task per connection: bytes go straight from the event loop's read callback to
the gateway's handler.
"""

from __future__ import annotations

import asyncio
import socket
from typing import cast

import structlog

from emms_fep.channels.base import LinkAcceptor, LinkHandler, next_link_number

log = structlog.get_logger("emms.fep.channels")


class StreamLink(asyncio.Protocol):
    """A socket link, for the server and the client channel alike."""

    __slots__ = ("_handler", "_number", "_peer", "_peer_host", "_port", "_transport", "acceptor", "bound",
                 "lost")

    def __init__(self, port: str, acceptor: LinkAcceptor, bound: str | None = None) -> None:
        self._port = port
        self.acceptor = acceptor
        self.bound = bound
        self._number = next_link_number()
        self._transport: asyncio.Transport | None = None
        self._handler: LinkHandler | None = None
        self._peer = ""
        self._peer_host = ""
        self.lost: asyncio.Future[str] | None = None

    @property
    def number(self) -> int:
        return self._number

    @property
    def peer(self) -> str:
        return self._peer

    @property
    def peer_host(self) -> str:
        return self._peer_host

    @property
    def port(self) -> str:
        return self._port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        name = transport.get_extra_info("peername")
        if isinstance(name, tuple) and len(name) >= 2:
            self._peer_host = str(name[0])
            self._peer = f"{name[0]}:{name[1]}"
        else:
            self._peer = self._peer_host = str(name)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._handler = self.acceptor.open_link(self, self.bound)
        if self._handler is None:
            self._transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._handler is not None:
            self._handler.data_received(data)

    def eof_received(self) -> bool:
        return False  # close the transport: a half-closed terminal link is useless

    def connection_lost(self, exc: Exception | None) -> None:
        reason = "peer closed" if exc is None else f"error: {exc!r}"[:120]
        handler, self._handler = self._handler, None
        if handler is not None:
            handler.link_lost(reason)
        if self.lost is not None and not self.lost.done():
            self.lost.set_result(reason)
        self._transport = None

    def write(self, data: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def pause_reading(self) -> None:
        if self._transport is not None and self._transport.is_reading():
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None and not self._transport.is_closing() and not self._transport.is_reading():
            self._transport.resume_reading()


class TcpServerChannel:
    """Listens on ``host:port``; every accepted socket becomes a link."""

    def __init__(self, host: str, port: int, acceptor: LinkAcceptor, *, backlog: int = 4096) -> None:
        self._host = host
        self._port = port
        self._acceptor = acceptor
        self._backlog = backlog
        self._server: asyncio.Server | None = None
        self.bound_port = port
        self._label = f"tcp-server:{port}"

    @property
    def name(self) -> str:
        return self._label

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: StreamLink(self._label, self._acceptor), self._host, self._port,
            backlog=self._backlog, reuse_address=True, start_serving=False,
        )
        self.bound_port = int(self._server.sockets[0].getsockname()[1])
        self._label = f"tcp-server:{self.bound_port}"
        await self._server.start_serving()
        log.info("terminal listener started", host=self._host, port=self.bound_port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
