"""The bounded publish queue between the sockets and the broker, with back-pressure.

Every payload the FEP publishes (uplink frames, sessions, downlink results)
goes through one queue drained by one worker in batches, in order — except the
results of urgent requests (manual reads, controls, clock syncs: priority ≤
``URGENT_PRIORITY``), which wait in a lane of their own that is drained first,
so that an operator's read does not queue behind a collection's answers. When the
queue holds ``high`` payloads, a connection that delivers another frame has
its reading paused (the frame in hand is still queued: nothing is dropped);
once the queue has drained below ``low``, every paused connection resumes. A
slow or absent broker therefore slows the terminals down through TCP flow
control instead of growing memory without bound. A failed batch is retried
with back-off and never skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Protocol

import structlog

from emms_bus import BusProducer
from emms_fep import metrics
from emms_messages.envelope import Payload

log = structlog.get_logger("emms.fep.publisher")


class Pausable(Protocol):
    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class PublishQueue:
    def __init__(self, producer: BusProducer, *, high: int, low: int, batch: int,
                 retry_backoff_s: float = 0.2, retry_backoff_max_s: float = 5.0) -> None:
        self._producer = producer
        self._high = high
        self._low = low
        self._batch = batch
        self._backoff = retry_backoff_s
        self._backoff_max = retry_backoff_max_s
        self._items: deque[Payload] = deque()
        self._urgent: deque[Payload] = deque()
        self._paused: set[Pausable] = set()
        self._bulk_turn = False
        self._wake = asyncio.Event()
        self.published = 0
        self.failed_batches = 0
        self._failing = 0
        self.pauses = 0

    def __len__(self) -> int:
        return len(self._items) + len(self._urgent)

    @property
    def full(self) -> bool:
        return len(self._items) >= self._high

    @property
    def paused(self) -> int:
        return len(self._paused)

    def put(self, payload: Payload, *, urgent: bool = False) -> None:
        (self._urgent if urgent else self._items).append(payload)
        self._wake.set()

    def hold(self, source: Pausable) -> None:
        """Pause ``source`` until the queue has drained below the low-water mark."""
        if source not in self._paused:
            source.pause_reading()
            self._paused.add(source)
            self.pauses += 1
            metrics.READING_PAUSED.set(len(self._paused))

    def forget(self, source: Pausable) -> None:
        """A paused source has gone away."""
        self._paused.discard(source)

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until ``stop`` is set, then flush what is left."""
        while not stop.is_set():
            if not self._items and not self._urgent:
                self._wake.clear()
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait((waiter, stopper), return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
                continue
            await self._publish_batch()
        await self.flush()

    async def flush(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self) and time.monotonic() < deadline:
            await self._publish_batch()
        if len(self):
            log.error("publish queue not flushed at shutdown", left=len(self))

    def _lane(self) -> deque[Payload]:
        """The urgent lane first — unless the bulk backlog has reached half the high-water mark: then the lanes
        take turns, so that a long run of results (a group command's) cannot starve the bulk until the queue is
        full and reading is paused, which would hold back the very answers those results wait for; an urgent
        result still waits at most one bulk batch."""
        if not self._urgent:
            return self._items
        if not self._items or len(self._items) < self._high // 2:
            return self._urgent
        self._bulk_turn = not self._bulk_turn
        return self._items if self._bulk_turn else self._urgent

    async def _publish_batch(self) -> None:
        queue = self._lane()
        count = min(self._batch, len(queue))
        batch = [queue[i] for i in range(count)]
        started = time.perf_counter()
        try:
            await self._producer.publish_many(batch)
        except Exception as exc:
            self.failed_batches += 1
            self._failing += 1
            metrics.PUBLISH_FAILURES.inc()
            delay = min(self._backoff * 2 ** min(self._failing - 1, 10), self._backoff_max)
            log.warning("publish failed; retrying the batch", size=count, error=repr(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            return
        self._failing = 0
        for _ in range(count):
            queue.popleft()
        self.published += count
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        metrics.PUBLISH_QUEUE.set(len(self._items))
        if self._paused and len(self._items) <= self._low:
            self._resume_all()

    def _resume_all(self) -> None:
        paused, self._paused = self._paused, set()
        for source in paused:
            source.resume_reading()
        metrics.READING_PAUSED.set(0)
