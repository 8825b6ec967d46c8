"""Fixtures of the archive integration tests: the archive service in the test's event loop
(real PostgreSQL, real broker), an HTTP client, a bus producer and a bus watcher of
master-data changes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from archive_harness import ChangeWatch, Service

from emms_archive.app import create_app
from emms_archive.settings import ArchiveSettings, BackupSettings, IngestSettings
from emms_bus import BusConsumer, BusProducer, KafkaSettings
from emms_db.settings import DatabaseSettings


@pytest.fixture(scope="session")
async def archive_service(database_url: str, kafka_settings: KafkaSettings,
                          tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    settings = ArchiveSettings(database=DatabaseSettings(url=database_url), kafka=kafka_settings,
                               environment="test", shutdown_grace_s=5.0,
                               ingest=IngestSettings(reattribute_interval_s=1.0),
                               backup=BackupSettings(directory=tmp_path_factory.mktemp("archive-backups")))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://archive") as client:
            yield Service(app, client, settings)


@pytest.fixture
def api(archive_service: Service) -> httpx.AsyncClient:
    return archive_service.client


@pytest.fixture
def run_id() -> str:
    return secrets.token_hex(3)


@pytest.fixture(scope="session")
async def change_watch(kafka_settings: KafkaSettings) -> AsyncIterator[ChangeWatch]:
    producer = BusProducer(kafka_settings, "archive-test")
    await producer.start()
    watch = ChangeWatch()
    consumer = BusConsumer(kafka_settings, group=f"archive-test-{secrets.token_hex(3)}",
                           topics=["emms.masterdata.change.v1"], handler=watch.handle, dlq_producer=producer,
                           max_batch=5000)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield watch
    finally:
        stop.set()
        await task
        await producer.stop()


@pytest.fixture(scope="session")
async def producer(kafka_settings: KafkaSettings) -> AsyncIterator[BusProducer]:
    p = BusProducer(kafka_settings, "archive-test-collector")
    await p.start()
    try:
        yield p
    finally:
        await p.stop()
