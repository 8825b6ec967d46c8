"""Fixtures of the interface tests: archive, control and the interface in the test loop (real PostgreSQL,
real broker, topics of this area's own); the interface reaches the owners through ASGI transports and
delivers webhooks to a real receiver over loopback TCP."""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from service_harness import area_topics

from emms_archive.app import create_app as archive_app
from emms_archive.settings import ArchiveSettings
from emms_bus import BusProducer, KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_interface.app import create_app
from emms_interface.runtime import InterfaceRuntime
from emms_interface.settings import InterfaceSettings, JobSettings, WebhookSettings

for _area in ("control", "archive"):  # the owners' harnesses, importable whatever else the session collects
    if str(Path(__file__).resolve().parents[1] / _area) not in sys.path:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / _area))

from control_harness import Control, running_control  # noqa: E402  (after the path)


@pytest.fixture(scope="session")
def kafka_settings(kafka_settings: KafkaSettings) -> KafkaSettings:
    return area_topics(kafka_settings, "interface")


@dataclass
class Stack:
    archive: httpx.AsyncClient
    control: Control
    interface: httpx.AsyncClient
    rt: InterfaceRuntime
    producer: BusProducer


@pytest.fixture(scope="module")
async def stack(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[Stack]:
    archive_settings = ArchiveSettings(database=DatabaseSettings(url=database_url), kafka=kafka_settings,
                                       environment="test", shutdown_grace_s=5.0,
                                       instance_id=f"archive-{secrets.token_hex(2)}")
    archive = archive_app(archive_settings)
    async with archive.router.lifespan_context(archive), running_control(database_url, kafka_settings) as control:
        settings = InterfaceSettings(
            _env_file=None, environment="test", database=DatabaseSettings(url=database_url),  # type: ignore[call-arg]
            kafka=kafka_settings, shutdown_grace_s=5.0,
            webhooks=WebhookSettings(base_backoff_s=0.2, max_backoff_s=1.0, max_attempts=60, poll_s=0.2,
                                     timeout_s=2.0),
            jobs=JobSettings(poll_s=0.5, first_read_every_s=1.0))
        transports = {"archive": httpx.ASGITransport(app=archive),
                      "control": httpx.ASGITransport(app=control.app)}
        app = create_app(settings, transports)
        async with app.router.lifespan_context(app):
            rt = app.state.runtime.state
            assert isinstance(rt, InterfaceRuntime)
            producer = BusProducer(kafka_settings, "validator")
            await producer.start()
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=archive), base_url="http://archive",
                                         timeout=30) as archive_client, \
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://interface",
                                      timeout=30) as client:
                try:
                    yield Stack(archive_client, control, client, rt, producer)
                finally:
                    await producer.stop()
