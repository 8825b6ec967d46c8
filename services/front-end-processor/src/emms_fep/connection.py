"""One link's state: its framer, its session, its deadline, and nothing more.

Kept small on purpose — tens of thousands exist at once: slots, one
``StreamFramer``, no task, no timer (the gateway's timer wheel holds every
deadline). Bytes are framed here; whole frames go to the gateway.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from emms_fep.channels.base import Link
from emms_fep.stats import PortStats
from emms_protocol.framing import StreamFramer

if TYPE_CHECKING:
    from emms_fep.gateway import Gateway
    from emms_fep.sessions import Session


class Connection:
    __slots__ = ("bound", "closed", "framer", "gateway", "link", "opened_at", "port", "session")

    def __init__(self, link: Link, gateway: Gateway, port: PortStats, bound: str | None) -> None:
        self.link = link
        self.gateway = gateway
        self.port = port
        self.bound = bound
        self.framer = StreamFramer(gateway.max_frame_bytes)
        self.opened_at = time.monotonic()
        self.session: Session | None = None
        self.closed = False

    @property
    def connection_id(self) -> str:
        return f"{self.gateway.replica_id}/{self.link.number}"

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.port.bytes_received(len(data))
        session = self.session
        if session is not None:
            session.counters.bytes_in += len(data)
            self.gateway.traffic.touch(session.terminal)
        framer = self.framer
        dropped_before, bad_before = framer.dropped_bytes, framer.bad_frames
        frames = framer.feed(data)
        dropped = framer.dropped_bytes - dropped_before
        if dropped:
            self.gateway.garbage_received(self, dropped, framer.bad_frames - bad_before)
        if self.framer.buffered > self.gateway.max_buffer_bytes:
            self.gateway.buffer_overflow(self)
            return
        for raw in frames:
            if self.closed:
                return
            self.gateway.frame_received(self, raw)

    def link_lost(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.gateway.connection_lost(self, reason)

    def send(self, frame: bytes) -> None:
        if self.closed:
            return
        self.link.write(frame)
        self.port.frame_sent(len(frame))
        session = self.session
        if session is not None:
            session.counters.frames_out += 1
            session.counters.bytes_out += len(frame)
            self.gateway.traffic.touch(session.terminal)

    def close(self, reason: str) -> None:
        """Close from our side; the gateway hears about it once, here."""
        if not self.closed:
            self.closed = True
            self.link.close()
            self.gateway.connection_lost(self, reason)

    def deadline(self, login_timeout_s: float, heartbeat_timeout_s: float) -> float | None:
        if self.closed:
            return None
        if self.session is None:
            return self.opened_at + login_timeout_s
        return self.session.last_seen_mono + heartbeat_timeout_s
