"""Event-loop lag: a probe that sleeps a fixed interval and records how late it wakes up.

The FEP serves every terminal from one event loop, so lag is the delay any
frame may see before it is read; it is the figure to watch under load.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import deque
from collections.abc import Callable

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


class GcFreezer:
    """Keeps long-lived link objects out of the cyclic collector's walks (see ``GcSettings``)."""

    def __init__(self, count_links: Callable[[], int], *, interval_s: float, growth: int, full_collect_s: float,
                 min_gap_s: float = 3.0) -> None:
        self._count_links = count_links
        self._interval = interval_s
        self._growth = growth
        self._full_every = full_collect_s
        self._min_gap = min_gap_s
        self._frozen_links = 0
        self._last_freeze = time.monotonic()
        self._last_full = time.monotonic()
        self.freezes = 0

    def step(self, now: float) -> bool:
        """Freeze (or thaw, collect and freeze) when due; True if it did."""
        if self._full_every and now - self._last_full >= self._full_every:
            gc.unfreeze()
            gc.collect()
            self._last_full = now
            return self._freeze(now)
        links = self._count_links()
        grown = links - self._frozen_links >= self._growth and now - self._last_freeze >= self._min_gap
        if grown or now - self._last_freeze >= self._interval:
            return self._freeze(now)
        return False

    def _freeze(self, now: float) -> bool:
        gc.collect(1)  # young garbage first (cheap), so frozen objects are live ones
        gc.freeze()
        self._frozen_links = self._count_links()
        self._last_freeze = now
        self.freezes += 1
        return True

    async def run(self, stop: asyncio.Event, tick_s: float = 1.0) -> None:
        while not stop.is_set():
            self.step(time.monotonic())
            try:
                async with asyncio.timeout(tick_s):
                    await stop.wait()
            except TimeoutError:
                pass
