"""An adaptive bound on requests in flight (additive increase, multiplicative decrease).

A fixed bound is either too small for a fast fleet or large enough to queue
requests in the FEP and the channel until they time out — every time-out then
costs a retry round. The window grows by one request per window's worth of
timely answers and shrinks by a third (at most once per ``cooldown_s``) when a
request times out, between ``floor`` and ``ceiling``: the number of requests in
flight follows what the FEP and the terminals can actually answer in time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class AdaptiveWindow:
    def __init__(self, ceiling: int, *, floor: int = 16, start: int | None = None, cooldown_s: float = 2.0) -> None:
        self.ceiling = max(1, ceiling)
        self.floor = max(1, min(floor, self.ceiling))
        self.limit = float(min(self.ceiling, start if start is not None else max(self.floor, self.ceiling // 4)))
        self._cooldown_s = cooldown_s
        self._cut_at = 0.0
        self._used = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def in_use(self) -> int:
        return self._used

    async def acquire(self) -> None:
        if self._used < int(self.limit) and not self._waiters:
            self._used += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release_slot()  # granted and cancelled at once: hand the slot on
            else:
                self._waiters.remove(future)
            raise

    def release(self, *, timely: bool) -> None:
        """A request finished; ``timely`` False means it timed out (a sign of congestion)."""
        if timely:
            self.limit = min(float(self.ceiling), self.limit + 1.0 / max(self.limit, 1.0))
        else:
            now = time.monotonic()
            if now - self._cut_at >= self._cooldown_s:
                self.limit = max(float(self.floor), self.limit * 2 / 3)
                self._cut_at = now
        self._release_slot()

    def _release_slot(self) -> None:
        self._used -= 1
        while self._waiters and self._used < int(self.limit):
            future = self._waiters.popleft()
            if not future.done():
                self._used += 1
                future.set_result(None)
