"""Sending claimed downlink requests to terminals, and concluding each with one result.

Per terminal: a priority queue, at most ``max_in_flight`` requests on the
wire, PSEQ from :mod:`emms_fep.correlation`. A request is retried (same PSEQ,
fresh Tp) when its ``timeout_s`` passes without an answer, up to ``retries``
times; a multi-frame answer is collected until its FIN frame. Every claimed
request ends in exactly one ``DownlinkResult``: answered, denied, timed out,
offline or rejected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from emms_fep import metrics
from emms_fep.connection import Session
from emms_fep.correlation import Pending, TerminalRequests
from emms_fep.publisher import PublishQueue
from emms_fep.repository.requests import RequestLedger
from emms_fep.sessions import SessionRegistry
from emms_fep.settings import DownlinkSettings
from emms_fep.stats import TrafficBook
from emms_fep.wire import FrameView, RequestEncoder
from emms_messages.terminal import URGENT_PRIORITY, DownlinkRequest, DownlinkResult, RequestOutcome
from emms_protocol import ProtocolError

log = structlog.get_logger("emms.fep.downlink")
_debug = logging.getLogger("emms.fep.downlink")


class DownlinkDispatcher:
    def __init__(self, *, sessions: SessionRegistry, publish: PublishQueue, ledger: RequestLedger,
                 encoder: RequestEncoder, settings: DownlinkSettings, traffic: TrafficBook) -> None:
        self._sessions = sessions
        self._publish = publish
        self._ledger = ledger
        self._encoder = encoder
        self._settings = settings
        self._traffic = traffic
        self._terminals: dict[str, TerminalRequests] = {}
        self.outcomes: dict[str, int] = {}
        self.on_result: Callable[[DownlinkResult], None] = lambda result: None

    def in_flight(self) -> int:
        return sum(len(t.in_flight) for t in self._terminals.values())

    def queued(self) -> int:
        return sum(t.waiting for t in self._terminals.values())

    def of(self, terminal: str) -> TerminalRequests | None:
        return self._terminals.get(terminal)

    # -- intake ---------------------------------------------------------------------------------------------
    def submit(self, request: DownlinkRequest) -> None:
        """A request this replica has claimed: queue it for its terminal and send when a slot is free."""
        requests = self._terminals.get(request.terminal)
        if requests is None:
            requests = self._terminals[request.terminal] = TerminalRequests(request.terminal)
        if requests.waiting >= self._settings.max_queued:
            self._conclude(Pending(request), RequestOutcome.REJECTED, "the terminal's request queue is full")
            return
        requests.enqueue(Pending(request))
        metrics.QUEUED.set(self.queued())
        self._pump(requests)

    def conclude_unsent(self, request: DownlinkRequest, outcome: str, detail: str) -> None:
        """A claimed request that will never be sent (offline, expired)."""
        self._conclude(Pending(request), RequestOutcome(outcome), detail)

    # -- sending --------------------------------------------------------------------------------------------
    def _pump(self, requests: TerminalRequests) -> None:
        while (pending := requests.next_ready(self._settings.max_in_flight)) is not None:
            self._send(requests, pending)
        metrics.QUEUED.set(self.queued())
        metrics.IN_FLIGHT.set(self.in_flight())

    def _send(self, requests: TerminalRequests, pending: Pending) -> None:
        session = self._sessions.get(requests.terminal)
        if session is None:
            self._finish(requests, pending, RequestOutcome.OFFLINE, "the terminal's session ended")
            return
        expires = pending.request.expires_at
        if expires is not None and expires <= datetime.now(UTC):
            self._finish(requests, pending, RequestOutcome.REJECTED, "expired before it could be sent")
            return
        try:
            frame = self._encoder.encode(pending.request, pending.pseq)
        except ProtocolError as exc:
            self._finish(requests, pending, RequestOutcome.REJECTED, f"cannot encode: {exc}")
            return
        pending.attempts += 1
        pending.sent_at = pending.sent_at or datetime.now(UTC)
        pending.sent_mono = pending.sent_mono or time.monotonic()
        session.send(frame)  # a relayed terminal's frame goes on the link it is reached through
        pending.port = session.conn.port
        metrics.REQUEST_SENDS.labels("first" if pending.attempts == 1 else "retry").inc()
        self._arm(requests, pending, pending.request.timeout_s)

    def _arm(self, requests: TerminalRequests, pending: Pending, after_s: float) -> None:
        pending.cancel_timer()
        pending.timer = asyncio.get_running_loop().call_later(after_s, self._timed_out, requests, pending)

    def _timed_out(self, requests: TerminalRequests, pending: Pending) -> None:
        pending.timer = None
        if pending.reassembling:
            self._finish(requests, pending, RequestOutcome.TIMED_OUT,
                         f"multi-frame answer incomplete after {len(pending.frames)} frame(s)")
        elif pending.attempts <= pending.request.retries:
            self._send(requests, pending)
        else:
            self._finish(requests, pending, RequestOutcome.TIMED_OUT,
                         f"no answer after {pending.attempts} attempt(s)")

    # -- answers --------------------------------------------------------------------------------------------
    def on_response(self, session: Session, frame: FrameView) -> str | None:
        """Match an answer frame to its request; return the request id (None if it matches nothing)."""
        requests = self._terminals.get(session.terminal)
        pending = requests.match(frame.number, frame.fir) if requests is not None else None
        if requests is None or pending is None:
            metrics.UNMATCHED.inc()
            return None
        if not _same_family(pending.request.afn, frame.afn):
            metrics.UNMATCHED.inc()
            return None
        # The JSON view for people and tools, plus the bytes: consumers decode those with the codec
        # (docs/architecture.md, "The decoded frame").
        pending.frames.append({**frame.as_dict(), "raw_hex": frame.raw.hex()})
        if frame.denied:
            self._finish(requests, pending, RequestOutcome.DENIED, frame.denial_detail)
        elif frame.fin:
            self._finish(requests, pending, RequestOutcome.ANSWERED, "")
        else:
            pending.next_rseq = (frame.number + 1) & 0x0F
            self._arm(requests, pending, max(pending.request.timeout_s, self._settings.reassembly_timeout_s))
        return pending.request_id

    def terminal_left(self, terminal: str, reason: str) -> None:
        """The terminal's session ended with no replacement: its requests cannot be answered here."""
        requests = self._terminals.get(terminal)
        if requests is None:
            return
        for pending in [*requests.in_flight.values(), *requests.drain_waiting()]:
            self._finish(requests, pending, RequestOutcome.OFFLINE, f"session ended: {reason}")

    # -- conclusion -----------------------------------------------------------------------------------------
    def _finish(self, requests: TerminalRequests, pending: Pending, outcome: RequestOutcome, detail: str) -> None:
        requests.finish(pending)
        self._conclude(pending, outcome, detail)
        if not requests and self._terminals.get(requests.terminal) is requests:
            del self._terminals[requests.terminal]
        elif self._sessions.get(requests.terminal) is not None:
            self._pump(requests)
        metrics.IN_FLIGHT.set(self.in_flight())

    def _conclude(self, pending: Pending, outcome: RequestOutcome, detail: str) -> None:
        request = pending.request
        now = datetime.now(UTC)
        round_trip = (time.monotonic() - pending.sent_mono) * 1000 if pending.sent_mono else None
        result = DownlinkResult(
            request_id=request.request_id, terminal=request.terminal, outcome=outcome, attempts=pending.attempts,
            sent_at=pending.sent_at, completed_at=now,
            round_trip_ms=round(round_trip, 3) if round_trip is not None and outcome is RequestOutcome.ANSWERED
            else None, frames=pending.frames, detail=detail)
        self._publish.put(result, urgent=request.priority <= URGENT_PRIORITY)
        self._ledger.completed(request.request_id, outcome, pending.attempts)
        metrics.REQUESTS.labels(outcome.value).inc()
        self.outcomes[outcome.value] = self.outcomes.get(outcome.value, 0) + 1
        if result.round_trip_ms is not None:
            metrics.ROUND_TRIP.observe(result.round_trip_ms / 1000)
        if pending.attempts:  # communication success rate: per terminal (and per day) and per port
            answered = outcome is RequestOutcome.ANSWERED
            counters = self._traffic.of(request.terminal)
            counters.requests += 1
            counters.answered += answered
            self._traffic.touch(request.terminal)
            if pending.port is not None:
                pending.port.counters.requests += 1
                pending.port.counters.answered += answered
        self.on_result(result)
        if _debug.isEnabledFor(logging.DEBUG):
            log.debug("request concluded", request_id=request.request_id, terminal=request.terminal,
                      outcome=outcome.value, attempts=pending.attempts, detail=detail)

    def describe(self, terminal: str) -> dict[str, Any]:
        requests = self._terminals.get(terminal)
        if requests is None:
            return {"in_flight": 0, "queued": 0}
        return {"in_flight": len(requests.in_flight), "queued": requests.waiting,
                "requests": [p.request_id for p in requests.in_flight.values()]}


def _same_family(request_afn: int, answer_afn: int) -> bool:
    """An answer carries the request's AFN, or AFN 00 (confirm / deny)."""
    return answer_afn in (request_afn, 0x00)
