"""Fixtures of the control integration tests: one control service in the test loop on the real database and broker."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from commands_harness import command_fep
from control_harness import Control, running_control
from fep_harness import BusWatch, Replica, watching_bus
from service_harness import area_topics

from emms_bus import BusProducer, KafkaSettings


@pytest.fixture(scope="session")
def kafka_settings(kafka_settings: KafkaSettings) -> KafkaSettings:
    """Topics of this area's own (see ``service_harness.area_topics``)."""
    return area_topics(kafka_settings, "control")


@pytest.fixture(scope="module")
async def control(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[Control]:
    async with running_control(database_url, kafka_settings) as svc:
        yield svc


@pytest.fixture(scope="module")
async def bus(kafka_settings: KafkaSettings) -> AsyncIterator[tuple[BusWatch, BusProducer]]:
    """A watcher of the module's bus traffic and a producer."""
    async with watching_bus(kafka_settings) as pair:
        yield pair


@pytest.fixture(scope="module")
async def fep(request: pytest.FixtureRequest, database_url: str, kafka_settings: KafkaSettings,
              bus: tuple[BusWatch, BusProducer]) -> AsyncIterator[Replica]:
    """The module's own FEP replica, named after the module (``fep-control_commands`` …)."""
    instance = f"fep-{request.module.__name__.rsplit('.', 1)[-1].removeprefix('test_')}"
    async with command_fep(database_url, kafka_settings, bus[1], instance) as replica:
        yield replica
