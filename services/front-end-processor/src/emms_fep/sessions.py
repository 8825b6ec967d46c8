"""Terminal sessions: login, heartbeat, logout, time-out, replacement, clock deviation.

A session binds a terminal address to one connection of this replica. A
second login of the same address replaces the old connection (the old one is
closed and does not report the terminal offline). Every change is published
as a ``TerminalSession`` and written to ``fep.sessions`` (through the session
writer, batched), guarded by connection id so a replica never marks offline a
terminal that has meanwhile logged in elsewhere.

A cascaded terminal with no link of its own is *relayed* (:meth:`SessionRegistry.relay`, decided by
:mod:`emms_fep.relays`): its session rides the link of the terminal it is reached through, is
published online with channel ``relay:<that terminal>``, and ends when that link's session ends. Its
own login on a link of its own replaces the relayed session (the carrier's link stays).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from emms_fep import metrics
from emms_fep.connection import Connection, Session
from emms_fep.stats import TrafficBook
from emms_messages.terminal import SessionState

if TYPE_CHECKING:
    from emms_fep.publisher import PublishQueue
    from emms_fep.repository.sessions import SessionWriter

log = structlog.get_logger("emms.fep.sessions")
_debug = logging.getLogger("emms.fep.sessions")


class SessionRegistry:
    """Who is logged in on this replica; the only writer of session state."""

    def __init__(self, replica: str, publish: PublishQueue, writer: SessionWriter, traffic: TrafficBook, *,
                 clock_publish_interval_s: float, clock_publish_delta_s: float) -> None:
        self._replica = replica
        self._publish = publish
        self._writer = writer
        self._traffic = traffic
        self._clock_interval = clock_publish_interval_s
        self._clock_delta = clock_publish_delta_s
        self._by_terminal: dict[str, Session] = {}
        self.on_arrival: Callable[[Session], None] = lambda session: None
        self.on_departure: Callable[[str, str], None] = lambda terminal, reason: None

    def __len__(self) -> int:
        return len(self._by_terminal)

    def get(self, terminal: str) -> Session | None:
        return self._by_terminal.get(terminal)

    def all(self) -> list[Session]:
        return list(self._by_terminal.values())

    def login(self, conn: Connection, terminal: str) -> Session:
        """Bind ``terminal`` to ``conn``; a session on another connection is replaced."""
        if conn.session is not None and conn.session.terminal == terminal:
            conn.session.seen()
            return conn.session  # a repeated login on the same link: confirm again, nothing changes
        if conn.session is not None:
            self.end(conn.session, "address changed on the link")
        old = self._by_terminal.get(terminal)
        riders: list[Session] = []
        if old is not None and old.via is not None:
            _detach(old)  # it was relayed: the carrier's link stays
        elif old is not None:
            old.conn.session = None  # its close must not report the terminal offline
            old.conn.port.sessions -= 1
            riders, old.conn.relayed = list((old.conn.relayed or {}).values()), None  # they move to the new link
            old.conn.close("replaced by a new login")
            metrics.SESSIONS_CLOSED.labels("replaced").inc()
        session = Session(terminal, conn, self._traffic.of(terminal))
        conn.session = session
        self._by_terminal[terminal] = session
        conn.port.sessions += 1
        metrics.SESSIONS.set(len(self._by_terminal))
        conn.port.logged_in()
        self._announce(session, SessionState.ONLINE, "login" if old is None else "login (replaced)")
        self.on_arrival(session)
        for rider in riders:
            self.relay(rider.terminal, session)
        return session

    def relay(self, terminal: str, carrier: Session) -> Session:
        """``terminal`` (cascaded, no link of its own) is reached through ``carrier``'s link; a relayed session
        of it on another link is replaced, one on its own link is kept."""
        old = self._by_terminal.get(terminal)
        if old is not None and old.via is None:
            return old
        if old is not None:
            _detach(old)
        session = Session(terminal, carrier.conn, self._traffic.of(terminal), via=carrier.terminal)
        if carrier.conn.relayed is None:
            carrier.conn.relayed = {}
        carrier.conn.relayed[terminal] = session
        self._by_terminal[terminal] = session
        metrics.SESSIONS.set(len(self._by_terminal))
        self._announce(session, SessionState.ONLINE,
                       f"relayed through {carrier.terminal}" + (" (replaced)" if old is not None else ""))
        self.on_arrival(session)
        return session

    def heartbeat(self, session: Session, terminal_clock: datetime | None) -> None:
        session.seen()
        self._writer.seen(session.terminal, session.conn.connection_id, session.last_seen)
        if terminal_clock is None:
            return
        now = datetime.now(UTC)
        deviation = round((terminal_clock - now).total_seconds(), 3)
        metrics.CLOCK_DEVIATION.observe(abs(deviation))
        previous = session.clock_deviation_s
        session.terminal_clock, session.clock_deviation_s = terminal_clock, deviation
        due = time.monotonic() - session.clock_published_mono >= self._clock_interval
        moved = previous is None or abs(deviation - previous) >= self._clock_delta
        if due or moved:
            session.clock_published_mono = time.monotonic()
            self._announce(session, SessionState.ONLINE, "clock")

    def touch(self, session: Session) -> None:
        """A frame of a relayed terminal: heard from now (its row's ``last_seen`` too)."""
        session.seen()
        self._writer.seen(session.terminal, session.conn.connection_id, session.last_seen)

    def end(self, session: Session, reason: str) -> None:
        """The session is over (logout, time-out, link lost)."""
        if self._by_terminal.get(session.terminal) is session:
            del self._by_terminal[session.terminal]
        if session.via is None:
            session.conn.session = None
            session.conn.port.sessions -= 1
        else:
            _detach(session)
        metrics.SESSIONS.set(len(self._by_terminal))
        metrics.SESSIONS_CLOSED.labels(_reason_label(reason)).inc()
        self._announce(session, SessionState.OFFLINE, reason)
        if session.via is None:  # the terminals relayed through this link lose their route with it
            for rider in list((session.conn.relayed or {}).values()):
                self.end(rider, f"relay {session.terminal} offline: {reason}")
        self.on_departure(session.terminal, reason)

    def _announce(self, session: Session, state: SessionState, reason: str) -> None:
        payload = session.payload(state, self._replica, reason)
        self._publish.put(payload)
        self._writer.put(payload, session.channel)
        if _debug.isEnabledFor(logging.DEBUG):  # structlog would format first and filter after: check here
            log.debug("session", terminal=session.terminal, state=state.value, reason=reason)


def _detach(session: Session) -> None:
    relayed = session.conn.relayed
    if relayed is not None and relayed.get(session.terminal) is session:
        del relayed[session.terminal]


def _reason_label(reason: str) -> str:
    for label in ("logout", "heartbeat time-out", "link lost", "replaced", "shutdown", "address changed", "relay"):
        if reason.startswith(label):
            return label
    return "other"
