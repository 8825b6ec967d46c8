"""Prometheus metrics of the supply-quality analyses' runs (one run = one answered request)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

RUNS = Counter("emms_analytics_supply_quality_runs_total", "Supply-quality analyses run, by analysis and outcome",
               ["analysis", "outcome"])
RUN_SECONDS = Histogram("emms_analytics_supply_quality_run_seconds", "Wall time of one supply-quality analysis",
                        ["analysis"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
INCOMPLETE = Counter("emms_analytics_supply_quality_incomplete_total",
                     "Points / customers / nodes answered incomplete (lacking data), by analysis", ["analysis"])


@contextmanager
def run(analysis: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    except Exception:
        RUNS.labels(analysis, "error").inc()
        raise
    else:
        RUNS.labels(analysis, "ok").inc()
    finally:
        RUN_SECONDS.labels(analysis).observe(time.perf_counter() - started)


def incomplete(analysis: str, count: int) -> None:
    if count:
        INCOMPLETE.labels(analysis).inc(count)
