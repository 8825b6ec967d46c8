"""Fixtures of the collector integration tests: the migrated schema on the session database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from collector_harness import migrated_pool, truncate
from service_harness import area_topics

from emms_bus import KafkaSettings


@pytest.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await migrated_pool(database_url)
    try:
        yield p
    finally:
        await p.close()


@pytest.fixture
async def clean(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The pool, with every collector table emptied first."""
    await truncate(pool)
    return pool


@pytest.fixture(scope="session")
def kafka_settings(kafka_settings: KafkaSettings) -> KafkaSettings:
    """Topics of this area's own (see ``service_harness.area_topics``)."""
    return area_topics(kafka_settings, "col")
