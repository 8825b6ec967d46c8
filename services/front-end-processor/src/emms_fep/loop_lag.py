"""Event-loop lag: a probe that sleeps a fixed interval and records how late it wakes up."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from emms_fep import metrics


class LoopLagProbe:
    def __init__(self, interval_s: float = 0.1, keep: int = 600) -> None:
        self._interval = interval_s
        self._samples: deque[float] = deque(maxlen=keep)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(self._interval)
            lag = max(0.0, time.perf_counter() - started - self._interval)
            self._samples.append(lag)
            metrics.LOOP_LAG.observe(lag)

    def reset(self) -> None:
        self._samples.clear()

    def summary(self) -> dict[str, float | int]:
        """p50 / p99 / max lag in milliseconds over the retained samples."""
        values = sorted(self._samples)
        if not values:
            return {"samples": 0, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}

        def pick(q: float) -> float:
            return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 3)

        return {"samples": len(values), "p50_ms": pick(0.50), "p99_ms": pick(0.99), "max_ms": pick(1.0)}
