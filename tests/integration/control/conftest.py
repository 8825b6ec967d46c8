"""Fixtures of the control integration tests: one control service in the test loop on the real database and broker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from control_harness import Control, running_control
from service_harness import area_topics

from emms_bus import KafkaSettings


@pytest.fixture(scope="session")
def kafka_settings(kafka_settings: KafkaSettings) -> KafkaSettings:
    """Topics of this area's own (see ``service_harness.area_topics``)."""
    return area_topics(kafka_settings, "control")


@pytest.fixture(scope="module")
async def control(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[Control]:
    async with running_control(database_url, kafka_settings) as svc:
        yield svc
