"""Fixtures of the operations integration tests: the area's own topics, one operations service per module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from operations_harness import Operations, operations_settings, running_operations
from service_harness import area_topics

from emms_bus import BusProducer, KafkaSettings


@pytest.fixture(scope="session")
def kafka_settings(kafka_settings: KafkaSettings) -> KafkaSettings:
    """Topics of this area's own (see ``service_harness.area_topics``)."""
    return area_topics(kafka_settings, "ops")


@pytest.fixture(scope="module")
async def operations(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[Operations]:
    async with running_operations(operations_settings(database_url, kafka_settings)) as svc:
        yield svc


@pytest.fixture(scope="module")
async def producer(kafka_settings: KafkaSettings) -> AsyncIterator[BusProducer]:
    p = BusProducer(kafka_settings, "operations-test")
    await p.start()
    try:
        yield p
    finally:
        await p.stop()
