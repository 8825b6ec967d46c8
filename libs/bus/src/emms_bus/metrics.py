"""Prometheus metrics of the bus wrappers (all services share these names)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PUBLISHED = Counter("emms_bus_published_total", "Messages published", ["topic"])
CONSUMED = Counter("emms_bus_consumed_total", "Messages handled and committed", ["group", "topic"])
DEAD_LETTERED = Counter(
    "emms_bus_dead_lettered_total", "Messages sent to a dead-letter topic", ["group", "topic", "reason"]
)
HANDLER_RETRIES = Counter("emms_bus_handler_retries_total", "Batch handler retries", ["group"])
BATCH_SECONDS = Histogram(
    "emms_bus_batch_seconds", "Time to handle and commit one batch", ["group"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LAG = Gauge("emms_bus_consumer_lag_messages", "High-water mark minus position", ["group", "topic", "partition"])
OUTAGE_WAITING = Gauge("emms_bus_consumer_waiting_out", "1 while a consumer waits out a retriable outage", ["group"])
OUTAGE_SECONDS = Counter("emms_bus_consumer_outage_seconds_total", "Time consumers spent waiting out outages",
                         ["group"])
