"""Publishing pydantic payloads in their envelopes, keyed by the topic table.

At-least-once: ``acks="all"`` and retries, no idempotent producer and no
transactions (the local broker supports neither); consumers deduplicate on
the stable ``message_id``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer

from emms_bus.metrics import PUBLISHED
from emms_bus.settings import KafkaSettings
from emms_messages.envelope import Envelope, Payload, wrap
from emms_messages.topics import TOPICS, topic_for


class UndeclaredTopicError(RuntimeError):
    """A service used a topic the topic table does not give it: on Kubernetes its KafkaUser (generated from
    that table) would be refused, so it fails here, in every test, instead."""


class BusProducer:
    def __init__(self, settings: KafkaSettings, source: str, *, service: str | None = None) -> None:
        """``service``: the service this producer publishes for; then only to topics the topic table lists it
        as a producer of (``emms_messages.topics``), else :class:`UndeclaredTopicError`."""
        self._settings = settings
        self._source = source
        self._service = service
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap,
            client_id=f"{settings.client_id}-{source}",
            acks="all",
            enable_idempotence=False,
            linger_ms=settings.linger_ms,
            request_timeout_ms=settings.request_timeout_ms,
            max_request_size=4 * 1024 * 1024,
            **settings.client_security(),
        )

    @property
    def settings(self) -> KafkaSettings:
        return self._settings

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, payload: Payload, *, topic: str | None = None,
                      headers: Sequence[tuple[str, bytes]] = (),
                      trace_id: str | None = None) -> Envelope[Payload]:
        """Publish one payload and wait until the broker has it."""
        envelope = wrap(payload, self._source, trace_id=trace_id)
        await (await self._send(envelope, topic, headers))
        return envelope

    async def publish_many(self, payloads: Iterable[Payload], *, topic: str | None = None) -> int:
        """Publish several payloads, batched by the client, and wait for all acks."""
        futures = [await self._send(wrap(p, self._source), topic, ()) for p in payloads]
        if futures:
            await asyncio.gather(*futures)
        return len(futures)

    async def publish_raw(self, topic: str, value: bytes, *, key: bytes | None = None,
                          headers: Sequence[tuple[str, bytes]] = ()) -> None:
        """Publish bytes as they are (dead-letter copies, tests of malformed input)."""
        await self._producer.send_and_wait(
            self._settings.topic(topic), value, key=key, headers=list(headers) or None
        )
        PUBLISHED.labels(topic).inc()

    async def _send(self, envelope: Envelope[Payload], topic: str | None,
                    headers: Sequence[tuple[str, bytes]]) -> asyncio.Future[object]:
        spec = topic_for(envelope.payload)
        name = topic or spec.name
        declared = TOPICS.get(name)
        if self._service is not None and declared is not None and self._service not in declared.producers:
            raise UndeclaredTopicError(f"the topic table does not list {self._service} as a producer of {name}")
        hdrs = [("schema", envelope.schema_name.encode()), ("version", str(envelope.version).encode()),
                ("message_id", str(envelope.message_id).encode()), *headers]
        future: asyncio.Future[object] = await self._producer.send(
            self._settings.topic(name), envelope.to_bytes(), key=spec.key_of(envelope.payload),
            headers=hdrs,
        )
        PUBLISHED.labels(name).inc()
        return future
