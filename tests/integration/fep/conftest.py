"""Fixtures of the FEP integration tests: one FEP replica in the test loop, and a bus watcher.

The replica and the bus watcher are shared by the modules (each new one costs
a consumer-group join, several seconds on the local broker); every module
uses terminal addresses of its own area code and its own request ids, so the
shared watcher's lists never mix up modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fep_harness import BusWatch, Replica, fep_settings, running_fep, wait_downlink_ready, watching_bus

from emms_bus import BusProducer, KafkaSettings


@pytest.fixture(scope="package")
async def bus(kafka_settings: KafkaSettings) -> AsyncIterator[tuple[BusWatch, BusProducer]]:
    async with watching_bus(kafka_settings) as pair:
        yield pair


@pytest.fixture(scope="package")
async def replica(database_url: str, kafka_settings: KafkaSettings,
                  bus: tuple[BusWatch, BusProducer]) -> AsyncIterator[Replica]:
    settings = fep_settings(database_url, kafka_settings, "fep-it-a",
                            sessions={"login_timeout_s": 2.0, "heartbeat_timeout_s": 4.0})
    async with running_fep(settings) as fep:
        await wait_downlink_ready(bus[1], fep)
        yield fep
