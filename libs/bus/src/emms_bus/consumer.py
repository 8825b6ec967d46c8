"""At-least-once consumer: decode, handle the batch durably, then commit offsets.

The loop, per batch from ``getmany``:

1. decode each record into its topic's envelope model; undecodable records go
   to ``<topic>.dlq`` at once (they can never succeed);
2. call the handler with the decoded batch; the handler makes its effect
   durable (a committed DB transaction) and must be idempotent, since a crash
   after step 2 and before step 3 redelivers the batch;
3. on a handler error that an outage causes (``retriable``: the database or the
   broker is away, the network is down) wait it out: keep the offsets, retry
   with a back-off that doubles up to ``outage_backoff_max_s`` for as long as it
   lasts, report it (``waiting_out``, readiness, ``emms_bus_consumer_waiting_out``)
   and never dead-letter for it; on any other handler error, retry the batch
   with exponential back-off up to ``handler_retries`` times, then handle message
   by message so one poison message goes to the DLQ and the rest still apply;
4. commit the offsets (``CommitPolicy.AFTER_EFFECT``). With
   ``CommitPolicy.BEFORE_EFFECT`` the offsets are committed before step 2: at
   most once, for signals that are cheaper to lose than to repeat.

Stopping: set the ``stop`` event; the loop finishes the batch in hand, commits,
and leaves the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError

from emms_bus.errors import PermanentHandlerError, is_transient
from emms_bus.metrics import (
    BATCH_SECONDS,
    CONSUMED,
    DEAD_LETTERED,
    HANDLER_RETRIES,
    LAG,
    OUTAGE_SECONDS,
    OUTAGE_WAITING,
)
from emms_bus.producer import BusProducer
from emms_bus.settings import KafkaSettings
from emms_messages.envelope import Envelope
from emms_messages.topics import TOPICS

log = structlog.get_logger("emms.bus")


class CommitPolicy(StrEnum):
    AFTER_EFFECT = "after_effect"  # at-least-once: effect durable, then commit
    BEFORE_EFFECT = "before_effect"  # at-most-once: commit, then effect


@dataclass(frozen=True, slots=True)
class Delivery:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    envelope: Envelope[Any]
    raw: bytes | None = None
    """The message as it arrived (what a dead-letter copy carries)."""

    @property
    def payload(self) -> Any:
        return self.envelope.payload


Handler = Callable[[Sequence[Delivery]], Awaitable[None]]
Decoder = Callable[[bytes], Envelope[Any]]
"""Turns a message into its envelope; raises ``ValueError`` (pydantic's ``ValidationError`` is one)
for a message that can never be decoded. The default is the topic's envelope model."""


class BusConsumer:
    def __init__(self, settings: KafkaSettings, *, group: str, topics: Sequence[str], handler: Handler,
                 dlq_producer: BusProducer, policy: CommitPolicy = CommitPolicy.AFTER_EFFECT,
                 max_batch: int | None = None, from_beginning: bool = True,
                 decoders: Mapping[str, Decoder] | None = None, urgent: bool = False,
                 retriable: Callable[[BaseException], bool] = is_transient) -> None:
        unknown = [t for t in topics if t not in TOPICS]
        if unknown:
            raise ValueError(f"not in the topic table: {unknown}")
        self._settings = settings
        self.group = group
        self.from_beginning = from_beginning
        self._joined = False
        self._topics = list(topics)
        self._handler = handler
        self._dlq = dlq_producer
        self.policy = policy
        self._max_batch = max_batch or settings.max_batch
        self._decoders: dict[str, Decoder] = {t: cast(Any, Envelope)[TOPICS[t].payload].model_validate_json
                                              for t in topics}
        stray = sorted(set(decoders or {}) - set(topics))
        if stray:
            raise ValueError(f"decoders for topics not consumed: {stray}")
        self._decoders.update(decoders or {})
        self._consumer = AIOKafkaConsumer(
            *[settings.topic(t) for t in topics],
            bootstrap_servers=settings.bootstrap,
            group_id=settings.topic(group),
            client_id=f"{settings.client_id}-{group}",
            enable_auto_commit=False,
            auto_offset_reset="earliest" if from_beginning else "latest",
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            max_poll_records=self._max_batch,
            # urgent: on a request → result path, where a waiting fetch is a hop's latency
            fetch_max_wait_ms=settings.urgent_fetch_max_wait_ms if urgent else settings.fetch_max_wait_ms,
            **settings.client_security(),
        )
        self.handled = 0
        self.dead_lettered = 0
        self._retriable = retriable
        self._stop: asyncio.Event | None = None
        self.waiting_out: str | None = None
        """The error being waited out, while the handler fails on an outage; None otherwise."""
        self._waiting_since = 0.0

    def assigned(self) -> bool:
        """Whether the group has given this consumer its partitions yet (a reply published before
        that, to a consumer reading from "latest", would be missed)."""
        try:
            return bool(self._consumer.assignment())
        except Exception:  # not started yet
            return False

    def joined(self) -> bool:
        """Whether the group has given this consumer its partitions at least once since it started, and their
        start offsets are fixed: a consumer reading from "latest" misses what is published before that (with
        the partitions assigned but "latest" resolved only at the first fetch, a message published in between
        was skipped), so its service is not ready until then (a later rebalance keeps the offsets)."""
        return self._joined

    async def _join(self) -> None:
        try:
            await self.resolve_positions()
        except Exception as exc:  # a rebalance in between: tried again on the next turn of the loop
            log.warning("could not fix the start offsets yet", group=self.group, error=repr(exc))
            return
        self._joined = True

    async def resolve_positions(self) -> None:
        """Fix the start offset of every assigned partition now rather than at the first fetch."""
        for tp in list(self._consumer.assignment()):
            await self._consumer.position(tp)

    async def end_offsets(self) -> dict[TopicPartition, int] | None:
        """The end offset of every partition of the consumed topics (assigned to this member or not) —
        what has been published so far; None while the topics' partitions are not known yet."""
        partitions = []
        for topic in self._topics:
            name = self._settings.topic(topic)
            numbers = self._consumer.partitions_for_topic(name)
            if not numbers:
                return None
            partitions += [TopicPartition(name, n) for n in sorted(numbers)]
        return dict(await self._consumer.end_offsets(partitions))

    async def reached(self, targets: Mapping[TopicPartition, int]) -> bool:
        """Whether the group (this member and any other) has handled and committed every partition up
        to ``targets`` (from :meth:`end_offsets`); a partition whose messages up to its target are gone
        from the log counts as reached."""
        behind = {}
        for tp, target in targets.items():
            committed = await self._consumer.committed(tp)
            if committed is None or committed < target:
                behind[tp] = target
        if not behind:
            return True
        first = await self._consumer.beginning_offsets(list(behind))
        return all(first[tp] >= target for tp, target in behind.items())

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the batch in hand is finished and committed."""
        self._stop = stop
        await self._consumer.start()
        try:
            while not stop.is_set():
                if not self._joined and self.assigned():
                    await self._join()
                batch = await self._consumer.getmany(timeout_ms=200, max_records=self._max_batch)
                records = [r for recs in batch.values() for r in recs]
                if records:
                    await self._process(records)
        except _StoppedWhileWaiting:
            log.warning("stopped while waiting out an outage; the batch in hand will be redelivered",
                        group=self.group)
        finally:
            self._end_wait()
            await self._close()

    async def _close(self) -> None:
        """Stop the client. aiokafka's fetcher, closed while a fetch request sleeps in its retry back-off (a
        broker that timed out), cancels that request and re-raises its CancelledError: swallowed here unless
        this task itself is being cancelled, and the client's connections closed all the same."""
        try:
            await self._consumer.stop()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            log.warning("a fetch in retry was cancelled while the consumer stopped; stopped all the same",
                        group=self.group)
            await self._consumer._client.close()  # what stop() had left to do after the fetcher

    async def _process(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        started = time.perf_counter()
        offsets = _next_offsets(records)
        if self.policy is CommitPolicy.BEFORE_EFFECT:
            await self._commit(offsets)
        deliveries, undecodable = self._decode_all(records)
        for record, topic, error in undecodable:
            await self._dead_letter(record, topic, "decode", error)
        if deliveries:
            await self._handle(deliveries)
        if self.policy is CommitPolicy.AFTER_EFFECT:
            await self._commit(offsets)
        for topic, n in Counter(d.topic for d in deliveries).items():
            CONSUMED.labels(self.group, topic).inc(n)
        self.handled += len(deliveries)
        self._record_lag(offsets)
        BATCH_SECONDS.labels(self.group).observe(time.perf_counter() - started)

    def _decode_all(self, records: list[ConsumerRecord[bytes, bytes]],
                    ) -> tuple[list[Delivery], list[tuple[ConsumerRecord[bytes, bytes], str, str]]]:
        """Decoded deliveries, and the records that cannot be decoded (record, topic, error) for the DLQ.

        Decoding builds many objects that all live until the batch is handled; the cyclic
        garbage collector is paused meanwhile, so it does not traverse them again and
        again (reference counting still frees what is dropped; collection resumes after)."""
        deliveries: list[Delivery] = []
        undecodable: list[tuple[ConsumerRecord[bytes, bytes], str, str]] = []
        logical, decoders = self._settings.logical, self._decoders
        with gc_paused():
            for record in records:
                topic = logical(record.topic)
                try:
                    if record.value is None:
                        raise ValueError("empty message")
                    envelope = decoders[topic](record.value)
                except (ValidationError, ValueError) as exc:
                    undecodable.append((record, topic, str(exc)[:2000]))
                    continue
                deliveries.append(Delivery(topic, record.partition, record.offset, record.key, envelope,
                                           record.value))
        return deliveries, undecodable

    async def _handle(self, deliveries: list[Delivery]) -> None:
        delay = self._settings.retry_backoff_s
        attempt = 0
        while True:
            try:
                await self._call(deliveries)
                return
            except PermanentHandlerError:
                break
            except Exception as exc:
                log.warning("batch handler failed", group=self.group, attempt=attempt, error=repr(exc))
                if attempt >= self._settings.handler_retries:
                    break
                attempt += 1
                HANDLER_RETRIES.labels(self.group).inc()
                await asyncio.sleep(delay)
                delay *= 2
        await self._handle_one_by_one(deliveries)

    async def _handle_one_by_one(self, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            try:
                await self._call([d])
            except Exception as exc:
                await self._dead_letter_delivery(d, "handler", repr(exc)[:2000])

    async def _call(self, deliveries: Sequence[Delivery]) -> None:
        """The handler, with outages waited out: returns when it succeeded, raises what is not
        an outage (or ``_StoppedWhileWaiting`` when the service stops meanwhile)."""
        delay = self._settings.retry_backoff_s
        while True:
            try:
                await self._handler(deliveries)
            except PermanentHandlerError:
                raise
            except Exception as exc:
                if not self._retriable(exc):
                    raise
                self._begin_wait(exc)
                if self._stop is not None and self._stop.is_set():
                    raise _StoppedWhileWaiting from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._settings.outage_backoff_max_s)
                continue
            self._end_wait()
            return

    def _begin_wait(self, exc: BaseException) -> None:
        if self.waiting_out is None:
            self._waiting_since = time.monotonic()
            OUTAGE_WAITING.labels(self.group).set(1)
            log.warning("handler failed on an outage; waiting it out (offsets kept, nothing dead-lettered)",
                        group=self.group, error=repr(exc))
        self.waiting_out = repr(exc)[:300]

    def _end_wait(self) -> None:
        if self.waiting_out is None:
            return
        waited = time.monotonic() - self._waiting_since
        OUTAGE_SECONDS.labels(self.group).inc(waited)
        OUTAGE_WAITING.labels(self.group).set(0)
        log.info("outage over; consuming again", group=self.group, waited_s=round(waited, 1))
        self.waiting_out = None

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], topic: str, reason: str,
                           error: str) -> None:
        headers = [("dlq.reason", reason.encode()), ("dlq.error", error.encode()),
                   ("dlq.topic", topic.encode()), ("dlq.partition", str(record.partition).encode()),
                   ("dlq.offset", str(record.offset).encode()), ("dlq.group", self.group.encode())]
        await self._dlq.publish_raw(f"{topic}.dlq", record.value or b"", key=record.key, headers=headers)
        DEAD_LETTERED.labels(self.group, topic, reason).inc()
        self.dead_lettered += 1
        log.error("message dead-lettered", group=self.group, topic=topic, partition=record.partition,
                  offset=record.offset, reason=reason, error=error[:300])

    async def _dead_letter_delivery(self, d: Delivery, reason: str, error: str) -> None:
        rec = ConsumerRecord(self._settings.topic(d.topic), d.partition, d.offset, 0, 0, d.key,
                             d.raw if d.raw is not None else d.envelope.to_bytes(), None, 0, 0, [])
        await self._dead_letter(rec, d.topic, reason, error)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance took the partitions away: the new owner redelivers; effects are idempotent.
            log.warning("offset commit failed; batch will be redelivered", group=self.group, error=repr(exc))

    def _record_lag(self, offsets: dict[TopicPartition, int]) -> None:
        for tp, position in offsets.items():
            high = self._consumer.highwater(tp)
            if high is not None:
                LAG.labels(self.group, self._settings.logical(tp.topic), str(tp.partition)).set(high - position)


class _StoppedWhileWaiting(Exception):
    """The service stops while a consumer waits out an outage: leave without committing."""


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while one batch is in hand.

    A batch turns into a few objects per message or reading (decoded models, states,
    outputs) that all live until the batch is done: the collector would only traverse
    them again and again (a tenth to a quarter of the validator's CPU in its bench).
    Once the batch is done they are freed by reference counting, and the collection
    that follows has little left to look at. The pause is bounded by the batch; cyclic
    garbage other tasks make meanwhile waits for it. A pause already in force is left
    to its owner."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _next_offsets(records: list[ConsumerRecord[bytes, bytes]]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for r in records:
        tp = TopicPartition(r.topic, r.partition)
        offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
    return offsets
