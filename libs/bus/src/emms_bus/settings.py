"""Kafka settings shared by every service."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]


def _bootstrap_from_env() -> str:
    return os.environ.get("EMMS_KAFKA_BOOTSTRAP", "127.0.0.1:9092")


def _prefix_from_env() -> str:
    return os.environ.get("EMMS_TOPIC_PREFIX", "")


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _protocol_from_env() -> SecurityProtocol:
    value = os.environ.get("EMMS_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    if value not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise ValueError(f"EMMS_KAFKA_SECURITY_PROTOCOL={value!r}: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    return value  # type: ignore[return-value]


def _mechanism_from_env() -> SaslMechanism:
    value = os.environ.get("EMMS_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    if value not in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
        raise ValueError(f"EMMS_KAFKA_SASL_MECHANISM={value!r}: SCRAM-SHA-512 or SCRAM-SHA-256")
    return value  # type: ignore[return-value]


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

    # --- security (all off by default: the local broker of tests and `make up` is plain) ---------
    security_protocol: SecurityProtocol = Field(default_factory=_protocol_from_env)
    """``PLAINTEXT`` (local broker), ``SASL_SSL`` on Kubernetes (Strimzi's TLS listener with
    SCRAM-SHA-512), ``SSL`` for mutual TLS, ``SASL_PLAINTEXT`` for SCRAM without TLS.
    Project-wide fallback ``EMMS_KAFKA_SECURITY_PROTOCOL``, like the other security fields."""
    tls_ca_file: str | None = Field(default_factory=lambda: _env("EMMS_KAFKA_TLS_CA_FILE"))
    """PEM CA bundle the brokers' certificates are checked against (Strimzi's cluster CA,
    Secret ``<cluster>-cluster-ca-cert`` key ``ca.crt``); unset: the system's trust store."""
    tls_cert_file: str | None = Field(default_factory=lambda: _env("EMMS_KAFKA_TLS_CERT_FILE"))
    """Client certificate (PEM) for mutual TLS; with ``tls_key_file``."""
    tls_key_file: str | None = Field(default_factory=lambda: _env("EMMS_KAFKA_TLS_KEY_FILE"))
    sasl_mechanism: SaslMechanism = Field(default_factory=_mechanism_from_env)
    sasl_username: str | None = Field(default_factory=lambda: _env("EMMS_KAFKA_SASL_USERNAME"))
    """The service's KafkaUser (``emms-<service>``)."""
    sasl_password_file: str | None = Field(default_factory=lambda: _env("EMMS_KAFKA_SASL_PASSWORD_FILE"))
    """A file holding the password (the KafkaUser's Secret, key ``password``, mounted); read
    when a client is made, so a rotated Secret is picked up by the next connection."""

    @model_validator(mode="after")
    def _security_is_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL_") and not (self.sasl_username and self.sasl_password_file):
            raise ValueError(f"security_protocol {self.security_protocol} needs sasl_username and sasl_password_file")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together (mutual TLS)")
        if not self.security_protocol.endswith("SSL") and (self.tls_ca_file or self.tls_cert_file):
            raise ValueError(f"TLS files given but security_protocol is {self.security_protocol}")
        for name in ("tls_ca_file", "tls_cert_file", "tls_key_file", "sasl_password_file"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{name}: {path} is not a file")
        return self

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of the clients (None without TLS): server verification against
        ``tls_ca_file`` (or the system's CAs), the client certificate when given."""
        if not self.security_protocol.endswith("SSL"):
            return None
        context = ssl.create_default_context(cafile=self.tls_ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.tls_cert_file and self.tls_key_file:
            context.load_cert_chain(self.tls_cert_file, self.tls_key_file)
        return context

    def client_security(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client; empty for
        ``PLAINTEXT``, so the local broker's clients are made exactly as before."""
        if self.security_protocol == "PLAINTEXT":
            return {}
        out: dict[str, Any] = {"security_protocol": self.security_protocol}
        context = self.ssl_context()
        if context is not None:
            out["ssl_context"] = context
        if self.security_protocol.startswith("SASL_"):
            assert self.sasl_password_file is not None
            out["sasl_mechanism"] = self.sasl_mechanism
            out["sasl_plain_username"] = self.sasl_username
            out["sasl_plain_password"] = Path(self.sasl_password_file).read_text().strip()
        return out

    def topic(self, name: str) -> str:
        """The broker-side name of a logical topic (prefix isolates test sessions)."""
        return f"{self.topic_prefix}{name}"

    def logical(self, broker_name: str) -> str:
        """The logical topic name of a broker-side one."""
        p = self.topic_prefix
        return broker_name[len(p):] if p and broker_name.startswith(p) else broker_name
