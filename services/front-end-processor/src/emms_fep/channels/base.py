"""The one interface every channel kind sits behind.

A *channel* (TCP server, TCP client, serial port) produces *links*: byte
streams to one terminal each. The channel hands every new link to a
:class:`LinkAcceptor` (the FEP's gateway), which returns the
:class:`LinkHandler` that receives the link's bytes, or ``None`` to refuse it
(the channel then closes the link at once). Channels know nothing about
frames; the gateway knows nothing about sockets.
"""

from __future__ import annotations

import itertools
from typing import Protocol

_link_numbers = itertools.count(1)


def next_link_number() -> int:
    """A process-wide link number; with the replica id it names a connection."""
    return next(_link_numbers)


class Link(Protocol):
    """One byte stream to one terminal."""

    @property
    def number(self) -> int: ...

    @property
    def peer(self) -> str:
        """``host:port`` of a socket peer, or the device path of a serial port."""
        ...

    @property
    def port(self) -> str:
        """The channel's label (``tcp-server:9027``, ``tcp-client:h:p``, ``serial:/dev/ttyS1``)."""
        ...

    @property
    def peer_host(self) -> str:
        """What per-peer limits count by: the remote IP, or the device path."""
        ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class LinkHandler(Protocol):
    """What a channel calls for a link it opened."""

    def data_received(self, data: bytes) -> None: ...

    def link_lost(self, reason: str) -> None: ...


class LinkAcceptor(Protocol):
    """The gateway: decides about each new link and handles its bytes."""

    def open_link(self, link: Link, bound_terminal: str | None = None) -> LinkHandler | None: ...


class Channel(Protocol):
    """A source of links: started with the service, stopped on shutdown."""

    @property
    def name(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
