"""What the FEP does with each decoded uplink frame, and its publication on the bus.

* link frames (AFN 02: F1 login, F2 logout, F3 heartbeat) are confirmed with
  AFN 00 F1 echoing the terminal's sequence number, and drive the session;
* responses (PRM=0) go to the dispatcher, which matches them to their request;
* active reports (PRM=1: events with ACD/EC, scheduled data) are confirmed
  when CON asks for it and published at once (R-4.2.3c, R-4.5.4.3).

Every frame is published as an ``UplinkFrame`` keyed by terminal address — link frames too unless
``publish_link_frames`` is off, and then still those with **ACD** set (any frame of a terminal whose
important event waits to be read: its ``decoded`` carries ``control.acd`` and the event counters ``ec``,
and the collector reads the events at once, R-4.5.4.3); ``emms_fep_acd_frames_total`` counts them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from emms_fep import metrics
from emms_fep.connection import Connection, Session
from emms_fep.publisher import PublishQueue
from emms_fep.sessions import SessionRegistry
from emms_fep.wire import LINK_HEARTBEAT, LINK_LOGIN, LINK_LOGOUT, FrameView, confirm_for
from emms_messages.terminal import FrameKind, UplinkFrame

AFN_EVENTS = 0x0E


class ResponseSink(Protocol):
    def on_response(self, session: Session, frame: FrameView) -> str | None: ...


class UplinkHandler:
    def __init__(self, *, replica: str, sessions: SessionRegistry, publish: PublishQueue,
                 publish_link_frames: bool) -> None:
        self._replica = replica
        self._sessions = sessions
        self._publish = publish
        self._publish_link = publish_link_frames
        self.responses: ResponseSink | None = None

    def link_frame(self, conn: Connection, frame: FrameView) -> None:
        function = frame.link_function
        if function == LINK_LOGIN:
            session = self._sessions.login(conn, frame.terminal)
        else:
            current = conn.session
            if current is None or current.terminal != frame.terminal:
                conn.gateway.illegal(conn, "not logged in" if current is None else "address")
                return
            session = current
            if function == LINK_HEARTBEAT:
                self._sessions.heartbeat(session, frame.terminal_clock)
                metrics.HEARTBEATS.inc()
            else:
                session.seen()
        if frame.con:
            conn.send(confirm_for(frame))
        if self._publish_link or frame.acd:  # ACD: the collector reads the events at once (R-4.5.4.3)
            self._put(session, frame, FrameKind.LINK, None)
        if function == LINK_LOGOUT:
            self._sessions.end(session, "logout")
            conn.close("logout")

    def relayed_link_frame(self, conn: Connection, session: Session, frame: FrameView) -> None:
        """A link frame of a relayed terminal on its carrier's link: confirmed and published; it changes no
        session (the relayed terminal's session follows its route, not its own login or logout)."""
        if frame.link_function == LINK_HEARTBEAT:
            metrics.HEARTBEATS.inc()
        if frame.con:
            session.send(confirm_for(frame))
        if self._publish_link or frame.acd:
            self._put(session, frame, FrameKind.LINK, None)

    def data_frame(self, conn: Connection, session: Session, frame: FrameView) -> None:
        """``session`` is the frame's terminal: the link's own, or one relayed through the link."""
        if not frame.prm:
            if frame.con:  # rare on answers, but CON always asks the receiver to confirm
                session.send(confirm_for(frame))
            request_id = self.responses.on_response(session, frame) if self.responses is not None else None
            self._put(session, frame, FrameKind.RESPONSE, request_id)
            return
        if frame.con:
            session.send(confirm_for(frame))
        kind = FrameKind.EVENT if frame.afn == AFN_EVENTS else FrameKind.REPORT
        metrics.REPORTS.labels(kind.value).inc()
        self._put(session, frame, kind, None)

    def _put(self, session: Session, frame: FrameView, kind: FrameKind, request_id: str | None) -> None:
        if frame.acd:
            metrics.ACD_FRAMES.labels(kind.value).inc()
        self._publish.put(UplinkFrame(
            terminal=session.terminal, fep_instance=self._replica, connection_id=session.conn.connection_id,
            received_at=datetime.now(UTC), kind=kind, afn=frame.afn, seq=frame.seq, raw_hex=frame.raw.hex(),
            request_id=request_id, decoded=frame.as_dict(),
        ))
