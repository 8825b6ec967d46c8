"""Sending downlink requests and following each to its result, with bounds in flight.

Every collector replica reads every ``DownlinkResult`` in its own consumer group
(``collector-results.<instance>``, starting at the end of the topic) and wakes
the request that is waiting for it; results of other replicas' requests are
ignored. A request waits at most until its send deadline (``expires_at``,
after which the FEP rejects rather than sends it), then the FEP's own time-out
× attempts, plus ``result_slack_s``; a result that never comes (a FEP crashed before claiming
the request) is reported as ``timed_out`` with a reason and the run's retry
rounds take it from there.

Bounds: ``max_in_flight_per_terminal`` requests per terminal, and in total an
adaptive window (:mod:`emms_collector.scheduling.window`) up to ``max_in_flight`` that
shrinks when requests time out or take longer than ``target_latency_s`` (the
requests ahead of them are queueing somewhere) and grows while they are
answered in time. Urgent requests (priority ≤ 1: manual reads, clock
syncs) skip both queues here — the FEP's per-terminal priority queue puts them
before scheduled reads — so a large collection never delays a manual read.

Counting: every request published is counted on the :class:`RequestTally` current
in the sending task's context (:data:`TALLY`; asyncio tasks inherit it), which is
how a run knows how many requests it sent, whichever module sent them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

import structlog

from emms_bus import BusProducer, Delivery
from emms_collector import metrics
from emms_collector.scheduling.window import AdaptiveWindow
from emms_collector.settings import DispatchSettings
from emms_messages.terminal import URGENT_PRIORITY, DownlinkRequest, DownlinkResult, RequestOutcome

log = structlog.get_logger("emms.collector.dispatch")


class RequestTally:
    """Requests published to the FEP for one piece of work (a run)."""

    def __init__(self) -> None:
        self.sent = 0
        self._reported = 0

    def unreported(self) -> int:
        """Requests sent since the last call (what is still to be added to the run's stored count)."""
        n, self._reported = self.sent - self._reported, self.sent
        return n


TALLY: ContextVar[RequestTally | None] = ContextVar("emms_collector_request_tally", default=None)
"""The tally of the work the current task does; set by the run executor, None elsewhere."""


class _Slots:
    """A per-terminal semaphore that forgets terminals with nothing in flight."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._sems: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    async def acquire(self, terminal: str) -> None:
        entry = self._sems.get(terminal)
        if entry is None:
            entry = self._sems[terminal] = (asyncio.Semaphore(self._size), [0])
        entry[1][0] += 1
        await entry[0].acquire()

    def release(self, terminal: str) -> None:
        sem, users = self._sems[terminal]
        sem.release()
        users[0] -= 1
        if users[0] == 0:
            del self._sems[terminal]


class Dispatcher:
    def __init__(self, producer: BusProducer, settings: DispatchSettings) -> None:
        self._producer = producer
        self._settings = settings
        self._waiting: dict[str, asyncio.Future[DownlinkResult]] = {}
        self._slots = _Slots(settings.max_in_flight_per_terminal)
        self._total = AdaptiveWindow(settings.max_in_flight, floor=min(settings.max_in_flight, 16))
        self.sent = 0
        self.results_seen = 0

    @property
    def settings(self) -> DispatchSettings:
        """Time-outs and re-sends the FEP applies to this service's requests."""
        return self._settings

    @property
    def in_flight(self) -> int:
        return len(self._waiting)

    @property
    def window(self) -> float:
        """The current bound on non-urgent requests in flight."""
        return self._total.limit

    async def handle_results(self, batch: Sequence[Delivery]) -> None:
        """Consumer handler of ``emms.downlink.result.v1``: wake whoever waits for each result."""
        for delivery in batch:
            result = delivery.payload
            if not isinstance(result, DownlinkResult):
                continue
            self.results_seen += 1
            future = self._waiting.get(result.request_id)
            if future is not None and not future.done():
                future.set_result(result)

    def deadline_s(self, request: DownlinkRequest) -> float:
        """How long to wait for a result: until the request's send deadline, then every attempt, then slack."""
        queue = (request.expires_at - datetime.now(UTC)).total_seconds() if request.expires_at else 0.0
        return max(0.0, queue) + request.timeout_s * (request.retries + 1) + self._settings.result_slack_s

    async def send(self, request: DownlinkRequest, purpose: str) -> DownlinkResult:
        """Publish ``request`` and return its result (or a local ``timed_out`` when none came)."""
        urgent = request.priority <= URGENT_PRIORITY
        if not urgent:
            # the terminal's slot first: a request holding a global slot while its terminal is busy would
            # starve every other terminal
            await self._slots.acquire(request.terminal)
            await self._total.acquire()
        timely = False
        started = time.perf_counter()
        # the send deadline counts from now, when the request leaves, not from when it was planned
        request = request.model_copy(update={
            "expires_at": datetime.now(UTC) + timedelta(seconds=self._settings.send_within_s)})
        try:
            result = await self._exchange(request, purpose)
            timely = result.outcome is not RequestOutcome.TIMED_OUT \
                and time.perf_counter() - started <= self._settings.target_latency_s
            return result
        finally:
            if not urgent:
                self._total.release(timely=timely)
                self._slots.release(request.terminal)

    async def _exchange(self, request: DownlinkRequest, purpose: str) -> DownlinkResult:
        future: asyncio.Future[DownlinkResult] = asyncio.get_running_loop().create_future()
        self._waiting[request.request_id] = future
        metrics.REQUESTS_IN_FLIGHT.set(len(self._waiting))
        started = time.perf_counter()
        try:
            await self._producer.publish(request)
            self.sent += 1
            tally = TALLY.get()
            if tally is not None:
                tally.sent += 1
            result = await asyncio.wait_for(future, self.deadline_s(request))
        except TimeoutError:
            result = DownlinkResult(request_id=request.request_id, terminal=request.terminal,
                                    outcome=RequestOutcome.TIMED_OUT, attempts=0, completed_at=datetime.now(UTC),
                                    detail="no result from the FEP in time (lost request or FEP down)")
        finally:
            self._waiting.pop(request.request_id, None)
            metrics.REQUESTS_IN_FLIGHT.set(len(self._waiting))
        metrics.REQUESTS.labels(purpose, result.outcome.value).inc()
        metrics.REQUEST_SECONDS.observe(time.perf_counter() - started)
        return result
