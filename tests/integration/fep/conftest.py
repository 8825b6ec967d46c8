"""Fixtures of the FEP integration tests: one FEP replica in the test loop, and a bus watcher.

The replica is shared by the modules that do not need their own settings (a
new replica costs a downlink consumer-group join, several seconds on the
local broker); each module has its own bus watcher and its own terminal
addresses (area codes), so modules do not see each other's traffic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fep_harness import BusWatch, Replica, fep_settings, running_fep, wait_downlink_ready, watching_bus

from emms_bus import BusProducer, KafkaSettings


@pytest.fixture(scope="module")
async def bus(kafka_settings: KafkaSettings) -> AsyncIterator[tuple[BusWatch, BusProducer]]:
    async with watching_bus(kafka_settings) as pair:
        yield pair


@pytest.fixture(scope="package")
async def replica(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[Replica]:
    settings = fep_settings(database_url, kafka_settings, "fep-it-a",
                            sessions={"login_timeout_s": 2.0, "heartbeat_timeout_s": 4.0})
    async with running_fep(settings) as fep:
        producer = BusProducer(kafka_settings, "fep-test-probe")
        await producer.start()
        try:
            await wait_downlink_ready(producer, fep)
        finally:
            await producer.stop()
        yield fep
