"""Fixtures of the identity integration tests: the identity service in the test's event loop on the
session database (real PostgreSQL, real broker, topics of its own), with a bootstrap admin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from identity_harness import Identity, settings
from service_harness import area_topics

from emms_bus import KafkaSettings
from emms_identity.app import create_app


@pytest.fixture(scope="session")
def kafka_settings(kafka_settings: KafkaSettings) -> KafkaSettings:
    return area_topics(kafka_settings, "idn")


@pytest.fixture(scope="session")
async def identity(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[Identity]:
    config = settings(database_url, kafka_settings)
    app = create_app(config)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://identity", timeout=30) as client:
        yield Identity(app, client, config)
