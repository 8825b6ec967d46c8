"""Request-rate quotas per caller: a sliding one-minute window, per process.

Each replica counts its own requests, so with N replicas a caller may make up to N times its
quota in all; the quota is a guard against a runaway client, not a billing meter.
"""

from __future__ import annotations

import time
from collections import deque


class RateLimiter:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._max_keys = max_keys

    def retry_after(self, key: str, per_minute: int, now: float | None = None) -> int:
        """Count one request of ``key``; 0 if admitted, else the seconds until one would be."""
        now = time.monotonic() if now is None else now
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self._max_keys:
                self._forget_idle(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - 60.0:
            hits.popleft()
        if len(hits) >= per_minute:
            return max(1, int(hits[0] + 60.0 - now) + 1)
        hits.append(now)
        return 0

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - 60.0]:
            del self._hits[key]
