"""Per-terminal SEQ allocation and matching of responses to the requests that caused them.

Q/GDW 1376.1: the master numbers its frames with PSEQ 0..15 (wrapping); the
terminal answers with RSEQ = PSEQ. A multi-frame answer (FIR/FIN) starts at
RSEQ = PSEQ and the following frames count RSEQ on by one (some terminals keep
the same RSEQ; both are accepted). Some terminals mark single answers FIR=0,
FIN=1. So matching works on the in-progress reassemblies first (a continuation
frame), then on the in-flight PSEQs; PSEQ values that a reassembly may still
use are never handed out.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from emms_messages.terminal import DownlinkRequest

_order = itertools.count()


@dataclass(slots=True, eq=False)
class Pending:
    """One downlink request on its way: queued, in flight, or collecting answer frames."""

    request: DownlinkRequest
    received_mono: float = field(default_factory=time.monotonic)
    pseq: int = -1
    attempts: int = 0
    sent_at: datetime | None = None
    sent_mono: float = 0.0
    frames: list[dict[str, Any]] = field(default_factory=list)
    next_rseq: int | None = None  # set while a multi-frame answer is being reassembled
    timer: asyncio.TimerHandle | None = None
    port: Any = None  # the PortStats of the link it was sent on (communication success rate per port)

    @property
    def request_id(self) -> str:
        return self.request.request_id

    @property
    def reassembling(self) -> bool:
        return self.next_rseq is not None

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class TerminalRequests:
    """Queue, PSEQ counter and in-flight set of one terminal."""

    __slots__ = ("_next_pseq", "_waiting", "in_flight", "terminal")

    def __init__(self, terminal: str) -> None:
        self.terminal = terminal
        self._next_pseq = 0
        self._waiting: list[tuple[int, int, Pending]] = []
        self.in_flight: dict[int, Pending] = {}

    def __len__(self) -> int:
        return len(self._waiting) + len(self.in_flight)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def enqueue(self, pending: Pending) -> None:
        """Lower ``priority`` goes first (0 = most urgent); equal priorities keep arrival order."""
        heapq.heappush(self._waiting, (pending.request.priority, next(_order), pending))

    def next_ready(self, max_in_flight: int) -> Pending | None:
        """The next waiting request, with a PSEQ, if a slot and a free PSEQ exist."""
        if not self._waiting or len(self.in_flight) >= max_in_flight:
            return None
        pseq = self._allocate()
        if pseq is None:
            return None
        _, _, pending = heapq.heappop(self._waiting)
        pending.pseq = pseq
        self.in_flight[pseq] = pending
        return pending

    def drain_waiting(self) -> list[Pending]:
        waiting = [p for _, _, p in self._waiting]
        self._waiting.clear()
        return waiting

    def _allocate(self) -> int | None:
        reserved = set(self.in_flight)
        for p in self.in_flight.values():
            if p.next_rseq is not None:  # a multi-frame answer may still count up through these
                reserved.update((p.next_rseq + i) & 0x0F for i in range(4))
        for step in range(16):
            candidate = (self._next_pseq + step) & 0x0F
            if candidate not in reserved:
                self._next_pseq = (candidate + 1) & 0x0F
                return candidate
        return None

    def match(self, rseq: int, first: bool) -> Pending | None:
        """The request a response frame with ``rseq`` belongs to (None: late, duplicate or unknown)."""
        if not first:
            for p in self.in_flight.values():
                if p.next_rseq is not None and rseq in (p.next_rseq, (p.next_rseq - 1) & 0x0F):
                    return p
        pending = self.in_flight.get(rseq)
        if pending is not None and pending.attempts > 0:
            return pending
        return None

    def finish(self, pending: Pending) -> None:
        pending.cancel_timer()
        if self.in_flight.get(pending.pseq) is pending:
            del self.in_flight[pending.pseq]
