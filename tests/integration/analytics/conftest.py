"""Fixtures of the analytics integration tests: the service in the test loop on the real broker and database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from service_harness import area_topics, in_process

from emms_analytics.app import create_app
from emms_analytics.runtime import AnalyticsRuntime
from emms_analytics.settings import AnalyticsSettings
from emms_bus import BusProducer, KafkaSettings
from emms_db.settings import DatabaseSettings


@pytest.fixture(scope="session")
def kafka_settings(kafka_settings: KafkaSettings) -> KafkaSettings:
    """Topics of this area's own (see ``service_harness.area_topics``)."""
    return area_topics(kafka_settings, "analytics")


@pytest.fixture(scope="module")
def rollup_kafka(kafka_settings: KafkaSettings) -> KafkaSettings:
    """Topics of the rollup tests' own: another module's analytics instance (same consumer groups) has
    committed offsets on the area's topics and left master data there."""
    return area_topics(kafka_settings, "rollups")


@pytest.fixture(scope="module")
async def analytics(database_url: str, rollup_kafka: KafkaSettings) -> AsyncIterator[tuple[AnalyticsRuntime, object]]:
    settings = AnalyticsSettings(
        _env_file=None, environment="test", instance_id=f"analytics-{secrets.token_hex(2)}",
        database=DatabaseSettings(url=database_url), kafka=rollup_kafka, shutdown_grace_s=5.0,
        refresh_interval_s=0.3, budget={"max_scan_rows": 50_000})
    async with in_process(create_app(settings), "http://analytics") as (_, ar, client):
        assert isinstance(ar, AnalyticsRuntime)
        yield ar, client


@pytest.fixture(scope="module")
async def producer(rollup_kafka: KafkaSettings) -> AsyncIterator[BusProducer]:
    p = BusProducer(rollup_kafka, "analytics-test")
    await p.start()
    try:
        yield p
    finally:
        await p.stop()
