"""Event-loop lag: a probe that sleeps a fixed interval and records how late it wakes up; GC pause timing.

The FEP serves every terminal from one event loop, so lag is the delay any
frame may see before it is read; it is the figure to watch under load. The
freezer that keeps the collector's pauses short is ``emms_runtime.gc_policy.GcFreezer``.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import deque

from emms_fep import metrics


class LoopLagProbe:
    def __init__(self, interval_s: float = 0.1, keep: int = 3000) -> None:
        self._interval = interval_s
        self._samples: deque[tuple[float, float]] = deque(maxlen=keep)  # (monotonic time, lag s)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(self._interval)
            lag = max(0.0, time.perf_counter() - started - self._interval)
            self._samples.append((time.monotonic(), lag))
            metrics.LOOP_LAG.observe(lag)

    def reset(self) -> None:
        self._samples.clear()

    def summary(self, window_s: float = 60.0) -> dict[str, float | int]:
        """p50 / p99 / max lag in milliseconds over the samples of the last ``window_s`` seconds."""
        since = time.monotonic() - window_s
        values = sorted(lag for at, lag in self._samples if at >= since)
        if not values:
            return {"samples": 0, "window_s": window_s, "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}

        def pick(q: float) -> float:
            return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 3)

        return {"samples": len(values), "window_s": window_s, "p50_ms": pick(0.50), "p99_ms": pick(0.99),
                "max_ms": pick(1.0)}


class GcPauses:
    """Times the interpreter's cyclic garbage collections (a full one stalls the loop in proportion to the heap)."""

    def __init__(self, keep: int = 2000) -> None:
        self._started = 0.0
        self._samples: deque[tuple[float, int, float]] = deque(maxlen=keep)  # (monotonic, generation, seconds)

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        generation = info.get("generation", 0)
        self._samples.append((time.monotonic(), generation, took))
        metrics.GC_PAUSE.labels(str(generation)).observe(took)

    def summary(self, window_s: float = 60.0) -> dict[str, object]:
        since = time.monotonic() - window_s
        out: dict[str, object] = {}
        for generation in (0, 1, 2):
            values = [s for at, g, s in self._samples if at >= since and g == generation]
            out[f"gen{generation}"] = {"count": len(values),
                                       "max_ms": round(max(values, default=0.0) * 1000, 3)}
        out["frozen_objects"] = gc.get_freeze_count()
        return out
