"""At-least-once delivery on the real broker and database.

* A consumer SIGKILLed between its (committed) effect and its offset commit
  gets the batch again on restart, and the inbox makes the effect apply once.
* A poison message lands in the dead-letter topic and the consumer goes on.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from emms_bus import BusConsumer, BusProducer, Delivery, KafkaSettings
from emms_messages.masterdata import ChangeKind, MasterDataChange

pytestmark = pytest.mark.integration
HERE = Path(__file__).parent
TOPIC = "emms.masterdata.change.v1"


def _change(i: int, run: str) -> MasterDataChange:
    return MasterDataChange(change_id=f"{run}-{i}", entity="meter", entity_id=f"M{i:05d}",
                            kind=ChangeKind.CREATED, changed_at=datetime(2026, 1, 1, tzinfo=UTC),
                            changed_by="test")


async def _prepare_counter(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE SCHEMA IF NOT EXISTS fx")
        await conn.execute("CREATE TABLE IF NOT EXISTS fx.inbox (consumer text, message_id uuid,"
                           " received_at timestamptz DEFAULT now(), PRIMARY KEY (consumer, message_id))")
        await conn.execute("CREATE TABLE IF NOT EXISTS fx.counter (id int PRIMARY KEY, n int)")
        await conn.execute("INSERT INTO fx.counter VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET n = 0")
    finally:
        await conn.close()


def _run_consumer(url: str, ks: KafkaSettings, group: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HERE / "effect_consumer.py"), url, ks.bootstrap, ks.topic_prefix, group, *extra],
        capture_output=True, text=True, timeout=120,
    )


async def test_sigkill_between_effect_and_commit_redelivers_and_applies_once(
        database_url: str, kafka_settings: KafkaSettings) -> None:
    await _prepare_counter(database_url)
    run, group = secrets.token_hex(3), f"fx-{secrets.token_hex(3)}"
    producer = BusProducer(kafka_settings, "test")
    await producer.start()
    try:
        await producer.publish_many([_change(i, run) for i in range(20)])
    finally:
        await producer.stop()

    killed = await asyncio.to_thread(_run_consumer, database_url, kafka_settings, group, "--kill-after-effect")
    assert killed.returncode == -9, killed.stderr
    conn = await asyncpg.connect(database_url)
    try:
        applied_before = await conn.fetchval("SELECT n FROM fx.counter WHERE id = 1")
        assert applied_before > 0  # the effect was durable before the kill

        again = await asyncio.to_thread(_run_consumer, database_url, kafka_settings, group)
        assert again.returncode == 0, again.stderr
        seen = int(again.stdout.strip().splitlines()[-1].split()[-1])
        assert seen == 20  # nothing was committed: every message came again
        assert await conn.fetchval("SELECT n FROM fx.counter WHERE id = 1") == 20  # each applied once
        assert await conn.fetchval("SELECT count(*) FROM fx.inbox WHERE consumer = $1", group) == 20
    finally:
        await conn.close()


async def _run_until(consumer: BusConsumer, producer: BusProducer, publish: Callable[[], Awaitable[None]],
                     done: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Run ``consumer`` while ``publish`` sends, until ``done()`` or ``timeout_s``; then stop it and the producer."""
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await publish()
        for _ in range(int(timeout_s * 10)):
            if done():
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task
        await producer.stop()


async def _read_dlq(ks: KafkaSettings) -> list[tuple[bytes, dict[str, bytes]]]:
    reader = AIOKafkaConsumer(ks.topic(f"{TOPIC}.dlq"), bootstrap_servers=ks.bootstrap,
                              auto_offset_reset="earliest", enable_auto_commit=False)
    await reader.start()
    try:
        batches = await reader.getmany(timeout_ms=3000)
        return [(r.value or b"", dict(r.headers)) for recs in batches.values() for r in recs]
    finally:
        await reader.stop()


async def test_poison_message_goes_to_dead_letter_and_consumer_goes_on(kafka_settings: KafkaSettings) -> None:
    run = secrets.token_hex(3)
    producer = BusProducer(kafka_settings, "test")
    await producer.start()
    handled: list[str] = []

    async def handler(batch: list[Delivery]) -> None:  # type: ignore[type-arg]
        # all or nothing, like a DB transaction: a failing batch leaves no effect
        if any(d.payload.entity_id == "M00002" and d.payload.change_id.startswith(run) for d in batch):
            raise ValueError("this meter cannot be handled")
        handled.extend(d.payload.change_id for d in batch if d.payload.change_id.startswith(run))

    consumer = BusConsumer(kafka_settings, group=f"poison-{run}", topics=[TOPIC], handler=handler,
                           dlq_producer=producer)

    async def publish() -> None:
        await producer.publish_raw(TOPIC, b"\x68 this is not json", key=b"T1")
        await producer.publish_many([_change(i, run) for i in range(1, 5)])

    await _run_until(consumer, producer, publish, lambda: len(handled) == 3 and consumer.dead_lettered == 2)
    assert sorted(handled) == [f"{run}-1", f"{run}-3", f"{run}-4"]
    dead = await _read_dlq(kafka_settings)
    reasons = {h["dlq.reason"] for v, h in dead if v == b"\x68 this is not json" or run.encode() in v}
    assert reasons == {b"decode", b"handler"}
    handler_failure = [json.loads(v) for v, h in dead if h["dlq.reason"] == b"handler" and run.encode() in v]
    assert handler_failure[0]["payload"]["entity_id"] == "M00002"


async def test_a_topic_decoder_replaces_the_model_and_dead_letters_keep_the_bytes_as_they_arrived(
        kafka_settings: KafkaSettings) -> None:
    """A consumer may decode a topic its own way (the archive decodes raw readings into rows); a
    message its handler refuses still reaches the DLQ byte for byte."""
    from emms_messages.envelope import Envelope, envelope_model

    run = secrets.token_hex(3)
    model = envelope_model(MasterDataChange)

    def as_tuple(raw: bytes) -> Envelope:  # type: ignore[type-arg]
        env = model.model_validate_json(raw)
        return Envelope.model_construct(**{**dict(env), "payload": (env.payload.change_id, env.payload.entity_id)})

    with pytest.raises(ValueError, match="not consumed"):
        BusConsumer(kafka_settings, group=f"dec-{run}", topics=[TOPIC], handler=None,  # type: ignore[arg-type]
                    dlq_producer=None, decoders={"emms.reading.raw.v1": as_tuple})  # type: ignore[arg-type]
    producer = BusProducer(kafka_settings, "test")
    await producer.start()
    seen: list[tuple[str, str]] = []

    async def handler(batch: list[Delivery]) -> None:  # type: ignore[type-arg]
        mine = [d.payload for d in batch if d.payload[0].startswith(run)]
        if any(entity == "M00002" for _, entity in mine):
            raise ValueError("refused")
        seen.extend(mine)

    consumer = BusConsumer(kafka_settings, group=f"dec-{run}", topics=[TOPIC], handler=handler,
                           dlq_producer=producer, decoders={TOPIC: as_tuple})
    refused = _change(2, run)

    async def publish() -> None:
        await producer.publish_many([_change(i, run) for i in range(1, 4)])

    await _run_until(consumer, producer, publish, lambda: len(seen) == 2 and consumer.dead_lettered == 1)
    assert sorted(seen) == [(f"{run}-1", "M00001"), (f"{run}-3", "M00003")]
    dead = [v for v, h in await _read_dlq(kafka_settings) if run.encode() in v]
    assert len(dead) == 1
    # the message as published, not the decoded tuple serialised again
    assert model.model_validate_json(dead[0]).payload == refused


async def test_an_outage_is_waited_out_not_dead_lettered_and_a_poison_message_still_is(
        kafka_settings: KafkaSettings) -> None:
    """The handler's store is away for 3 s (ConnectionRefusedError, as asyncpg raises it): the
    consumer keeps its offsets, reports that it waits, dead-letters nothing for it and applies every
    message once when the store is back; a message that fails on its own still reaches the DLQ."""
    from emms_runtime.retriable import is_retriable

    run = secrets.token_hex(3)
    producer = BusProducer(kafka_settings, "test")
    await producer.start()
    applied: list[str] = []
    down_until: list[float] = []  # the store goes away at the first call, for 3 s
    waiting_seen: list[str] = []

    async def handler(batch: list[Delivery]) -> None:  # type: ignore[type-arg]
        mine = [d.payload for d in batch if d.payload.change_id.startswith(run)]
        now = asyncio.get_running_loop().time()
        if not down_until:
            down_until.append(now + 3.0)
        if consumer.waiting_out and not waiting_seen:  # called again while the consumer waits it out
            waiting_seen.append(consumer.waiting_out)
        if now < down_until[0]:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        if any(c.entity_id == "M00007" for c in mine):
            raise ValueError("this meter cannot be handled")
        applied.extend(c.change_id for c in mine)

    consumer = BusConsumer(kafka_settings, group=f"outage-{run}", topics=[TOPIC], handler=handler,
                           dlq_producer=producer, retriable=is_retriable)

    async def publish() -> None:
        await producer.publish_many([_change(i, run) for i in range(10)])

    # (the group reads the topic from its start: other tests' undecodable messages are dead-lettered too)
    await _run_until(consumer, producer, publish, lambda: len(applied) == 9 and consumer.dead_lettered >= 1, 40)
    assert waiting_seen and "ConnectionRefusedError" in waiting_seen[0]
    assert sorted(applied) == sorted(f"{run}-{i}" for i in range(10) if i != 7)  # each once, none lost
    assert consumer.waiting_out is None
    dead = [json.loads(v) for v, h in await _read_dlq(kafka_settings) if run.encode() in v]
    assert [d["payload"]["entity_id"] for d in dead] == ["M00007"]


async def test_a_consumer_from_the_end_has_joined_only_once_assigned_and_then_misses_nothing(
        kafka_settings: KafkaSettings) -> None:
    """A consumer reading from "latest" (the FEP's requests, the collector's results) misses what is published
    before its group gives it partitions; ``joined()`` says when that has happened, and the service's
    readiness waits for it (``ServiceRuntime.joining_consumers``)."""
    run = secrets.token_hex(3)
    producer = BusProducer(kafka_settings, "test")
    await producer.start()
    handled: list[str] = []

    async def handler(batch: list[Delivery]) -> None:  # type: ignore[type-arg]
        handled.extend(d.payload.change_id for d in batch if d.payload.change_id.startswith(run))

    consumer = BusConsumer(kafka_settings, group=f"latest-{run}", topics=[TOPIC], handler=handler,
                           dlq_producer=producer, from_beginning=False)
    assert not consumer.joined()
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        for _ in range(300):
            if consumer.joined():
                break
            await asyncio.sleep(0.1)
        assert consumer.joined()
        await producer.publish_many([_change(i, run) for i in range(1, 4)])
        for _ in range(200):
            if len(handled) == 3:
                break
            await asyncio.sleep(0.1)
        assert sorted(handled) == [f"{run}-1", f"{run}-2", f"{run}-3"]
    finally:
        stop.set()
        await task
        await producer.stop()
