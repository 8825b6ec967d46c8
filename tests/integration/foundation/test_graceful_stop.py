"""Stopping a consumer finishes the batch in flight and commits it before leaving."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from emms_bus import BusConsumer, BusProducer, Delivery, KafkaSettings
from emms_messages.masterdata import ChangeKind, MasterDataChange

pytestmark = pytest.mark.integration
TOPIC = "emms.masterdata.change.v1"


async def _committed_total(ks: KafkaSettings, group: str) -> int:
    probe = AIOKafkaConsumer(bootstrap_servers=ks.bootstrap, group_id=ks.topic(group), enable_auto_commit=False)
    await probe.start()
    try:
        partitions = probe.partitions_for_topic(ks.topic(TOPIC)) or set()
        total = 0
        for p in partitions:
            committed = await probe.committed(TopicPartition(ks.topic(TOPIC), p))
            total += committed or 0
        return total
    finally:
        await probe.stop()


async def test_stop_during_a_slow_batch_finishes_and_commits_it(kafka_settings: KafkaSettings) -> None:
    run, group = secrets.token_hex(3), f"graceful-{secrets.token_hex(3)}"
    producer = BusProducer(kafka_settings, "test")
    await producer.start()
    entered, finished = asyncio.Event(), []

    async def slow_handler(batch: Sequence[Delivery]) -> None:
        mine = [d for d in batch if d.payload.change_id.startswith(run)]
        entered.set()
        await asyncio.sleep(1.5)  # in flight when the stop arrives
        finished.extend(d.payload.change_id for d in mine)

    before = await _committed_total(kafka_settings, group)
    changes = [MasterDataChange(change_id=f"{run}-{i}", entity="meter", entity_id=f"G{i}", kind=ChangeKind.UPDATED,
                                changed_at=datetime.now(UTC), changed_by="test") for i in range(8)]
    stop = asyncio.Event()
    consumer = BusConsumer(kafka_settings, group=group, topics=[TOPIC], handler=slow_handler, dlq_producer=producer,
                           max_batch=10_000)
    task = asyncio.create_task(consumer.run(stop))
    try:
        await producer.publish_many(changes)
        await asyncio.wait_for(entered.wait(), 20)
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        stop.set()
        await producer.stop()
    assert len(finished) >= 1  # the batch in hand was finished, not abandoned
    # …and committed: everything taken from the topic (handled, or dead-lettered by earlier tests' poison)
    taken = consumer.handled + consumer.dead_lettered
    assert await _committed_total(kafka_settings, group) - before == taken
