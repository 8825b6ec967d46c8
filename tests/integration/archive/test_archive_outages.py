"""Outages are waited out, not dead-lettered: the archive ingests readings while its database is
stopped for a minute, and while its broker hangs for a minute; afterwards every reading is
stored exactly once and the dead-letter topic is empty.

Each test has its own parts, so nothing else in the session sees the outage: a private
PostgreSQL cluster (``../shared/timescaledb/cluster``: stopped with a fast shutdown, which ends
every connection, and started again) and a broker of its own (the process frozen with SIGSTOP
and thawed with SIGCONT: a hung broker; Tansu keeps its topics in memory, so a real stop would
lose them). ``EMMS_TEST_OUTAGE_S`` sets the outage's length (60 s).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from archive_harness import OPERATOR, customer_meter_rows, seed_reference

from emms_archive.app import create_app
from emms_archive.settings import ArchiveSettings
from emms_bus import BusProducer, KafkaSettings, ensure_topics
from emms_db import ensure_database
from emms_db.settings import DatabaseSettings
from emms_devstack.local_broker import LocalBroker
from emms_devstack.timescale import TimescaleCluster
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource
from emms_runtime import ServiceRuntime

pytestmark = pytest.mark.integration
OUTAGE_S = float(os.environ.get("EMMS_TEST_OUTAGE_S", "60"))
T0 = datetime(2026, 10, 1, tzinfo=UTC)
METERS = 20


def _batch(run: str, terminal: str, day: int) -> RawReadingBatch:
    t = T0 + timedelta(days=day)
    return RawReadingBatch(batch_id=f"{run}-{day}", terminal=terminal, readings=[
        Reading(meter_id=f"M-{run}-{m}", item="energy_active_import_total", data_time=t, value=100.0 * m + day,
                unit="kWh", source=ReadingSource.SCHEDULED, collected_at=t + timedelta(minutes=5), quality=0, pn=1)
        for m in range(METERS)])


@asynccontextmanager
async def _archive(url: str, ks: KafkaSettings) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    settings = ArchiveSettings(database=DatabaseSettings(url=url, command_timeout_s=10), kafka=ks,
                               environment="test", shutdown_grace_s=5.0)
    app = create_app(settings)
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://archive") as client):
        yield client, app.state.runtime


async def _stored(url: str, run: str) -> tuple[int, int]:
    """(rows, distinct readings) of this run; -1s while the database is away."""
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return -1, -1
    try:
        row = await conn.fetchrow("SELECT count(*) AS n, count(DISTINCT (meter_id, data_time)) AS d"
                                  " FROM archive.reading_raw WHERE meter_id LIKE $1", f"M-{run}-%")
        assert row is not None
        return int(row["n"]), int(row["d"])
    finally:
        await conn.close()


async def _until_stored(url: str, run: str, n: int, timeout_s: float) -> tuple[int, int]:
    got = (-1, -1)
    for _ in range(int(timeout_s * 2)):
        got = await _stored(url, run)
        if got[0] >= n:
            break
        await asyncio.sleep(0.5)
    return got


async def _dead_letters(ks: KafkaSettings) -> int:
    reader = AIOKafkaConsumer(ks.topic("emms.reading.raw.v1.dlq"), bootstrap_servers=ks.bootstrap,
                              auto_offset_reset="earliest", enable_auto_commit=False)
    await reader.start()
    try:
        batches = await reader.getmany(timeout_ms=2000)
        return sum(len(r) for r in batches.values())
    finally:
        await reader.stop()


@asynccontextmanager
async def _ingesting(url: str, ks: KafkaSettings, run: str,
                     ) -> AsyncIterator[tuple[BusProducer, ServiceRuntime, httpx.AsyncClient, str]]:
    """A database and topics of the run's own, the archive on them with its meters imported, and
    ten days of readings already stored: (producer, runtime, client, terminal)."""
    await ensure_database(url)
    await ensure_topics(ks)
    producer = BusProducer(ks, "outage-test")
    await producer.start()
    try:
        async with _archive(url, ks) as (client, rt):
            terminal = await _seed(client, run)
            for day in range(10):
                await producer.publish(_batch(run, terminal, day))
            assert (await _until_stored(url, run, 10 * METERS, 30))[0] == 10 * METERS
            yield producer, rt, client, terminal
    finally:
        await producer.stop()


async def _seed(client: httpx.AsyncClient, run: str) -> str:
    ids = await seed_reference(client, run)
    rows = customer_meter_rows(ids, run, METERS, installed_at="2026-01-01T00:00:00Z")
    assert (await client.post("/api/v1/import/customer-meters", json=rows, headers=OPERATOR)).status_code == 200
    return ids["terminal_address"] + "00"


@pytest.mark.timeout(int(OUTAGE_S) + 240)
async def test_a_database_outage_during_ingest_loses_nothing_and_dead_letters_nothing(
        private_cluster: TimescaleCluster, kafka_settings: KafkaSettings) -> None:
    run = secrets.token_hex(3)
    url = private_cluster.database_url(f"outage_{run}")
    ks = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}dbout{run}."})
    async with _ingesting(url, ks, run) as (producer, rt, client, terminal):
        private_cluster.stop()  # fast shutdown: every connection ends, new ones are refused
        for day in range(10, 30):  # readings keep arriving while the database is away
            await producer.publish(_batch(run, terminal, day))
        await asyncio.sleep(min(15.0, OUTAGE_S / 2))
        waiting = rt.waiting_consumers()
        ready = await client.get("/readyz")
        assert waiting, "the raw-reading consumer should be waiting the outage out"
        assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("unreachable")
        assert "waiting out an outage" in ready.json()["checks"]["consumers"]
        await asyncio.sleep(max(0.0, OUTAGE_S - min(15.0, OUTAGE_S / 2)))
        private_cluster.start()

        rows, distinct = await _until_stored(url, run, 30 * METERS, 90)
        for day in range(30, 32):  # and the service goes on as before
            await producer.publish(_batch(run, terminal, day))
        rows, distinct = await _until_stored(url, run, 32 * METERS, 60)
        assert (rows, distinct) == (32 * METERS, 32 * METERS)  # every reading, each once
        assert (await client.get("/readyz")).status_code == 200
        assert not any(c.waiting_out for c in rt.consumers)
        assert sum(c.dead_lettered for c in rt.consumers) == 0
    assert await _dead_letters(ks) == 0


@pytest.mark.timeout(int(OUTAGE_S) + 300)
async def test_a_hung_broker_during_ingest_loses_nothing_and_dead_letters_nothing(
        private_broker: LocalBroker, database_url: str, kafka_settings: KafkaSettings) -> None:
    run = secrets.token_hex(3)
    ks = kafka_settings.model_copy(update={"bootstrap": private_broker.bootstrap,
                                           "topic_prefix": f"brout{run}."})
    url = database_url.rsplit("/", 1)[0] + f"/outage_{run}"
    async with _ingesting(url, ks, run) as (producer, rt, _client, terminal):
        for day in range(10, 30):
            await producer.publish(_batch(run, terminal, day))
        assert private_broker.process is not None
        private_broker.process.send_signal(signal.SIGSTOP)  # hung: connections stay, nothing answers
        await asyncio.sleep(OUTAGE_S)
        private_broker.process.send_signal(signal.SIGCONT)
        for day in range(30, 32):
            await producer.publish(_batch(run, terminal, day))
        rows, distinct = await _until_stored(url, run, 32 * METERS, 120)
        assert (rows, distinct) == (32 * METERS, 32 * METERS)
        assert sum(c.dead_lettered for c in rt.consumers) == 0
        assert not any(c.waiting_out for c in rt.consumers)
    assert await _dead_letters(ks) == 0
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "outage_{run}" WITH (FORCE)')
    finally:
        await conn.close()
