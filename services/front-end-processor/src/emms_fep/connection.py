"""One link's state — its framer, its session, its deadline — and the terminal session bound to it.

Kept small on purpose — tens of thousands exist at once: slots, one
``StreamFramer``, no task, no timer (the gateway's timer wheel holds every
deadline). Bytes are framed here; whole frames go to the gateway, which the
connection knows only as a :class:`LinkOwner` (what it reports to), so this
module imports neither the gateway nor the session registry: they import it.
A :class:`Session` (a terminal logged in on a connection) lives here beside its
connection because each refers to the other; :mod:`emms_fep.sessions` keeps
the registry of them. A *relayed* session (``via`` set: a cascaded terminal reached
through another terminal's link, :mod:`emms_fep.relays`) rides the connection of
that terminal; the connection lists its riders in ``relayed``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

from emms_fep.channels.base import Link
from emms_fep.stats import PortStats, TerminalCounters, TrafficBook
from emms_messages.terminal import SessionState, TerminalSession
from emms_protocol.framing import StreamFramer


class LinkOwner(Protocol):
    """What a connection reports to (the gateway): its limits, and every frame, fault and loss."""

    replica_id: str
    max_frame_bytes: int
    max_buffer_bytes: int
    traffic: TrafficBook

    def frame_received(self, conn: Connection, raw: bytes) -> None: ...

    def garbage_received(self, conn: Connection, count: int, bad_frames: int = 0) -> None: ...

    def buffer_overflow(self, conn: Connection) -> None: ...

    def illegal(self, conn: Connection, reason: str) -> None: ...

    def connection_lost(self, conn: Connection, reason: str) -> None: ...


class Connection:
    __slots__ = ("bound", "closed", "framer", "gateway", "link", "opened_at", "port", "relayed", "session")

    def __init__(self, link: Link, gateway: LinkOwner, port: PortStats, bound: str | None) -> None:
        self.link = link
        self.gateway = gateway
        self.port = port
        self.bound = bound
        self.framer = StreamFramer(gateway.max_frame_bytes)
        self.opened_at = time.monotonic()
        self.session: Session | None = None
        self.relayed: dict[str, Session] | None = None  # terminals reached through this link (cascade)
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


class Session:
    __slots__ = ("clock_deviation_s", "clock_published_mono", "conn", "counters", "last_seen", "last_seen_mono",
                 "since", "terminal", "terminal_clock", "via")

    def __init__(self, terminal: str, conn: Connection, counters: TerminalCounters, via: str | None = None) -> None:
        self.terminal = terminal
        self.conn = conn
        self.counters = counters
        self.via = via  # relayed: the terminal whose own link carries this one's frames
        self.since = datetime.now(UTC)
        self.last_seen = time.time()
        self.last_seen_mono = time.monotonic()
        self.terminal_clock: datetime | None = None
        self.clock_deviation_s: float | None = None
        self.clock_published_mono = 0.0

    def seen(self) -> None:
        self.last_seen = time.time()
        self.last_seen_mono = time.monotonic()

    @property
    def channel(self) -> str:
        """The channel label recorded for the session: the link's port, or ``relay:<terminal>`` when relayed."""
        return self.conn.port.port if self.via is None else f"relay:{self.via}"

    def send(self, frame: bytes) -> None:
        """A frame to this terminal. Relayed, it goes on the carrier's link (counted there: its SIM carries it)
        and is counted in this terminal's own figures too."""
        self.conn.send(frame)
        if self.via is not None and not self.conn.closed:
            self.counters.frames_out += 1
            self.counters.bytes_out += len(frame)
            self.conn.gateway.traffic.touch(self.terminal)

    def payload(self, state: SessionState, replica: str, reason: str = "") -> TerminalSession:
        return TerminalSession(
            terminal=self.terminal, state=state, fep_instance=replica, connection_id=self.conn.connection_id,
            peer=self.conn.link.peer, since=self.since, last_seen=datetime.fromtimestamp(self.last_seen, UTC),
            reason=reason, terminal_clock=self.terminal_clock, clock_deviation_s=self.clock_deviation_s,
        )

    def as_dict(self) -> dict[str, object]:
        return {"terminal": self.terminal, "connection_id": self.conn.connection_id, "peer": self.conn.link.peer,
                "port": self.channel, "via": self.via, "since": self.since.isoformat(),
                "last_seen": datetime.fromtimestamp(self.last_seen, UTC).isoformat(),
                "terminal_clock": self.terminal_clock.isoformat() if self.terminal_clock else None,
                "clock_deviation_s": self.clock_deviation_s}
