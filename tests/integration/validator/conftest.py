"""Fixtures of the validator integration tests: one validator in the test loop and a bus watcher."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from service_harness import area_topics
from validator_harness import BusWatch, Service, running_validator, validator_settings, watching_bus

from emms_bus import BusProducer, KafkaSettings


@pytest.fixture(scope="module")
async def bus(kafka_settings: KafkaSettings) -> AsyncIterator[tuple[BusWatch, BusProducer]]:
    async with watching_bus(kafka_settings) as pair:
        yield pair


@pytest.fixture(scope="module")
async def service(database_url: str, kafka_settings: KafkaSettings,
                  bus: tuple[BusWatch, BusProducer]) -> AsyncIterator[Service]:
    async with running_validator(validator_settings(database_url, kafka_settings)) as svc:
        yield svc


@pytest.fixture(scope="session")
def kafka_settings(kafka_settings: KafkaSettings) -> KafkaSettings:
    """Topics of this area's own (see ``service_harness.area_topics``)."""
    return area_topics(kafka_settings, "vee")
