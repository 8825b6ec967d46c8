"""Kafka settings shared by every service."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field


def _bootstrap_from_env() -> str:
    return os.environ.get("EMMS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")


def _prefix_from_env() -> str:
    return os.environ.get("EMMS_TOPIC_PREFIX", "")


class KafkaSettings(BaseModel):
    """Nested in each service's settings (``EMMS_<SERVICE>_KAFKA__BOOTSTRAP``); falls back
    to the project-wide ``EMMS_KAFKA_BOOTSTRAP`` and ``EMMS_TOPIC_PREFIX``."""

    bootstrap: str = Field(default_factory=_bootstrap_from_env)
    topic_prefix: str = Field(default_factory=_prefix_from_env)
    ensure_topics: bool = Field(default_factory=lambda: os.environ.get("EMMS_KAFKA_ENSURE_TOPICS", "true") != "false")
    """Create missing topics at start-up (local broker, tests). Off where an operator
    (Strimzi ``KafkaTopic``) owns them with their real replication factor."""
    replication_factor: int = Field(default=1, ge=1, le=7)
    client_id: str = "emms"
    linger_ms: int = Field(default=5, ge=0)
    fetch_max_wait_ms: int = Field(default=500, ge=1, le=10_000)
    """How long the broker may hold a fetch that finds no new data (Kafka's default)."""
    urgent_fetch_max_wait_ms: int = Field(default=50, ge=1, le=10_000)
    """The same for consumers on a request → result path (the FEP's downlink requests, the
    collector's results). Tansu answers a waiting fetch only when this expires — it does not
    wake it when data arrives — so here it is the latency of a bus hop: 500 ms costs ~140 ms per
    hop (p50), 50 ms ~15 ms (tools/bench/bench_bus.py), at ~3 % of a core of broker CPU per idle
    consumer (10 idle consumers: 0.34 core at 50 ms, 0.07 at 500). On a Kafka cluster, which
    wakes waiting fetches, both can stay at 500."""
    request_timeout_ms: int = Field(default=30_000, ge=1000)
    max_batch: int = Field(default=500, ge=1, le=100_000)
    handler_retries: int = Field(default=3, ge=0, le=20)
    retry_backoff_s: float = Field(default=0.2, gt=0)
    outage_backoff_max_s: float = Field(default=5.0, gt=0)
    """A handler failing on an outage (database, broker, network) is retried with a back-off that
    doubles up to this, for as long as the outage lasts; its messages are never dead-lettered."""
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    heartbeat_interval_ms: int = Field(default=1_000, ge=100)

    def topic(self, name: str) -> str:
        """The broker-side name of a logical topic (prefix isolates test sessions)."""
        return f"{self.topic_prefix}{name}"

    def logical(self, broker_name: str) -> str:
        """The logical topic name of a broker-side one."""
        p = self.topic_prefix
        return broker_name[len(p):] if p and broker_name.startswith(p) else broker_name
