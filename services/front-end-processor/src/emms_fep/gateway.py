"""The gateway between channels and the FEP's logic: admits links, routes frames, enforces limits.

Protection lives here: a cap on links in total and per peer address, a
bounded read buffer per link, a frame-size limit, a login deadline for
sockets that never log in, and pausing of reading while the publish queue is
full. A malformed frame is counted and logged, never fatal.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from emms_fep import metrics
from emms_fep.channels.base import Link, LinkHandler
from emms_fep.connection import Connection, Session
from emms_fep.deadlines import DeadlineWheel
from emms_fep.publisher import PublishQueue
from emms_fep.sessions import SessionRegistry
from emms_fep.settings import LimitSettings, SessionSettings
from emms_fep.stats import PortStats, TrafficBook
from emms_fep.uplink import UplinkHandler
from emms_fep.wire import FrameView, read_frame
from emms_protocol import ProtocolError

log = structlog.get_logger("emms.fep.gateway")
LOG_PER_S = 5


class LogBudget:
    """At most ``per_s`` log lines a second for one kind of event; the last allowed line says so."""

    __slots__ = ("_logged", "_per_s", "_second", "note")

    def __init__(self, per_s: int) -> None:
        self._per_s = per_s
        self._second = 0.0
        self._logged = 0
        self.note: str | None = None

    def allow(self) -> bool:
        now = time.monotonic()
        if now - self._second >= 1.0:
            self._second, self._logged = now, 0
        self._logged += 1
        self.note = "further events this second are counted, not logged" if self._logged == self._per_s else None
        return self._logged <= self._per_s


class Gateway:
    def __init__(self, *, replica_id: str, limits: LimitSettings, session_settings: SessionSettings,
                 sessions: SessionRegistry, publish: PublishQueue, uplink: UplinkHandler,
                 traffic: TrafficBook) -> None:
        self.replica_id = replica_id
        self.max_buffer_bytes = limits.max_buffer_bytes
        self.max_frame_bytes = limits.max_frame_bytes
        self._limits = limits
        self._login_timeout = session_settings.login_timeout_s
        self._heartbeat_timeout = session_settings.heartbeat_timeout_s
        self._sessions = sessions
        self._publish = publish
        self._uplink = uplink
        self.traffic = traffic
        self.ports: dict[str, PortStats] = {}
        self._peers: dict[str, int] = {}
        self._links: set[Connection] = set()
        self._log_illegal = LogBudget(LOG_PER_S)  # a flood is counted in metrics, not written line by line
        self._log_refused = LogBudget(LOG_PER_S)
        self._wheel: DeadlineWheel[Connection] = DeadlineWheel(
            lambda c: c.deadline(self._login_timeout, self._heartbeat_timeout), session_settings.sweep_resolution_s)

    def __len__(self) -> int:
        return len(self._links)

    def port_stats(self, port: str) -> PortStats:
        stats = self.ports.get(port)
        if stats is None:
            stats = self.ports[port] = PortStats(port)
        return stats

    # -- links ----------------------------------------------------------------------------------------------
    def open_link(self, link: Link, bound_terminal: str | None = None) -> LinkHandler | None:
        port = self.port_stats(link.port)
        peers = self._peers.get(link.peer_host, 0)
        refusal = None
        if len(self._links) >= self._limits.max_connections:
            refusal = "capacity"
        elif peers >= self._limits.max_connections_per_peer:
            refusal = "per-peer limit"
        if refusal is not None:
            port.refused += 1
            metrics.LINKS_REFUSED.labels(link.port, refusal).inc()
            if self._log_refused.allow():
                log.warning("link refused", peer=link.peer, port=link.port, reason=refusal, note=self._log_refused.note)
            return None
        conn = Connection(link, self, port, bound_terminal)
        self._links.add(conn)
        self._peers[link.peer_host] = peers + 1
        port.link_opened()
        self._wheel.schedule(conn, conn.opened_at + self._login_timeout)
        if bound_terminal:
            self._sessions.login(conn, bound_terminal)  # a dialled or wired terminal is known in advance
        return conn

    def connection_lost(self, conn: Connection, reason: str) -> None:
        self._links.discard(conn)
        host = conn.link.peer_host
        left = self._peers.get(host, 1) - 1
        if left > 0:
            self._peers[host] = left
        else:
            self._peers.pop(host, None)
        conn.port.link_closed()
        self._publish.forget(conn.link)
        if conn.session is not None:
            self._sessions.end(conn.session, reason if reason.startswith(("logout", "heartbeat", "shutdown"))
                               else f"link lost: {reason}")

    def close_all(self, reason: str) -> None:
        for conn in list(self._links):
            conn.close(reason)

    # -- bytes and frames -----------------------------------------------------------------------------------
    def garbage_received(self, conn: Connection, count: int, bad_frames: int = 0) -> None:
        """Bytes the framer skipped; ``bad_frames`` of them started frame candidates that failed
        (length bound, end byte or checksum): those count as illegal frames too."""
        conn.port.garbage(count)
        if bad_frames:
            self._illegal(conn, "framing", count=bad_frames)

    def buffer_overflow(self, conn: Connection) -> None:
        self._illegal(conn, "buffer overflow")
        conn.close("read buffer over its limit")

    def frame_received(self, conn: Connection, raw: bytes) -> None:
        conn.port.frame_received()
        session = conn.session
        if session is not None:
            session.counters.frames_in += 1
            self.traffic.touch(session.terminal)
        if len(raw) > self._limits.max_frame_bytes:
            self._illegal(conn, "oversize")
            return
        try:
            frame = read_frame(raw)
        except ProtocolError as exc:
            self._illegal(conn, exc.kind, str(exc))
            return
        if not frame.uplink:
            self._illegal(conn, "direction")
            return
        rider = conn.relayed.get(frame.terminal) if conn.relayed and session is not None \
            and frame.terminal != session.terminal else None
        if rider is not None:  # a relayed terminal's frame on the link it is reached through (cascade)
            self._relayed_frame(conn, rider, frame, len(raw))
        elif frame.is_link:
            self._uplink.link_frame(conn, frame)
            if session is None and conn.session is not None:  # the login frame counts for its terminal
                conn.session.counters.frames_in += 1
                conn.session.counters.bytes_in += len(raw)
        elif session is None:
            self._illegal(conn, "not logged in")
            return
        elif frame.terminal != session.terminal:
            self._illegal(conn, "address")
            return
        else:
            session.seen()
            self._uplink.data_frame(conn, session, frame)
        if self._publish.full:
            self._publish.hold(conn.link)

    def _relayed_frame(self, conn: Connection, rider: Session, frame: FrameView, size: int) -> None:
        """Counted in the relayed terminal's figures too (the link's own counted it: its SIM carried it)."""
        self._sessions.touch(rider)
        if conn.session is not None:
            conn.session.seen()  # the carrier's link is alive
        rider.counters.frames_in += 1
        rider.counters.bytes_in += size
        self.traffic.touch(rider.terminal)
        if frame.is_link:
            self._uplink.relayed_link_frame(conn, rider, frame)
        else:
            self._uplink.data_frame(conn, rider, frame)

    def _illegal(self, conn: Connection, reason: str, detail: str = "", count: int = 1) -> None:
        conn.port.illegal(reason, count)
        if conn.session is not None:
            conn.session.counters.illegal_frames += count
            self.traffic.touch(conn.session.terminal)
        if self._log_illegal.allow():
            log.info("illegal frame", port=conn.port.port, peer=conn.link.peer, reason=reason, detail=detail[:200],
                     note=self._log_illegal.note)

    def illegal(self, conn: Connection, reason: str) -> None:
        """For the uplink handler: a frame that decoded but may not be accepted."""
        self._illegal(conn, reason)

    # -- deadlines ------------------------------------------------------------------------------------------
    def expire_deadlines(self) -> int:
        expired = self._wheel.expire(time.monotonic())
        for conn in expired:
            if conn.session is None:
                metrics.LINKS_REFUSED.labels(conn.port.port, "login time-out").inc()
                conn.close("login time-out")
            else:
                conn.close(f"heartbeat time-out after {self._heartbeat_timeout:.0f} s")
        return len(expired)

    async def sweep(self, stop: asyncio.Event, resolution_s: float) -> None:
        while not stop.is_set():
            self.expire_deadlines()
            await asyncio.sleep(resolution_s)
