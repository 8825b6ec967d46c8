"""Supervised periodic workers and stop-aware sleeps: the loop every service's background work
shares, written once.

A :class:`PeriodicWorker` runs ``step`` now and then every ``interval_s`` (or at once when
:meth:`~PeriodicWorker.poke` wakes it) until the service stops. A step that fails on a retriable
error (``emms_runtime.retriable``: the database or the broker is away) is tried again after a
short back-off that doubles up to the interval, logged as a warning; any other error is logged
with its traceback and the worker waits a whole interval. Either way the worker lives on: one
bad step never kills a service's background work, and
``emms_worker_step_failures_total{worker,kind}`` counts what happened. ``on_stop`` runs once
after the loop (e.g. a last flush).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from prometheus_client import Counter

from emms_runtime.retriable import is_retriable

log = structlog.get_logger("emms.worker")
STEP_FAILURES = Counter("emms_worker_step_failures_total", "Failed steps of periodic workers, by kind",
                        ["worker", "kind"])


async def sleep_or_stop(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> bool:
    """Sleep ``seconds``, ending early when ``stop`` (or ``wake``) is set; True when stopping."""
    if stop.is_set():
        return True
    waits = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waits.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waits, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    return stop.is_set()


class PeriodicWorker:
    """``step`` at start, then every ``interval_s`` (or when poked), supervised."""

    def __init__(self, name: str, step: Callable[[], Awaitable[Any]], interval_s: float | Callable[[], float], *,
                 backoff_s: float = 0.5, on_stop: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.name = name
        self._step = step
        self._interval = interval_s
        self._backoff_s = backoff_s
        self._on_stop = on_stop
        self._wake = asyncio.Event()
        self.failures = 0
        """Consecutive failed steps (0 after a good one)."""

    def poke(self) -> None:
        """Run the next step now rather than at the end of the interval."""
        self._wake.set()

    def interval(self) -> float:
        return float(self._interval() if callable(self._interval) else self._interval)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            delay = await self.step_once()
            if await sleep_or_stop(stop, delay, self._wake):
                break
        if self._on_stop is not None:
            try:
                await self._on_stop()
            except Exception as exc:
                log.warning("last step at stop failed", worker=self.name, error=repr(exc))

    async def step_once(self) -> float:
        """Run one step; return how long to wait before the next."""
        interval = self.interval()
        try:
            await self._step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failures += 1
            if is_retriable(exc):
                STEP_FAILURES.labels(self.name, "retriable").inc()
                delay = min(interval, self._backoff_s * float(2 ** min(self.failures - 1, 16)))
                log.warning("step failed on an outage; retrying", worker=self.name, error=repr(exc),
                            failures=self.failures, retry_in_s=round(delay, 2))
                return delay
            STEP_FAILURES.labels(self.name, "error").inc()
            log.exception("step failed", worker=self.name, failures=self.failures)
            return interval
        self.failures = 0
        return interval
