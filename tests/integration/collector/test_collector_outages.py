"""Outages are waited out, not dead-lettered — through the whole chain: a collection run (the
collector and a FEP stand-in) publishes its readings and the archive ingests them, while the
database of both is stopped for half a minute (a private cluster, fast shutdown: every connection
ends), or while their broker hangs for a minute (longer than a client's 40 s request timeout; a broker of
the test's own, frozen with SIGSTOP:
Tansu keeps its topics in memory, so a real stop would lose them). Afterwards the run has
completed, every reading is stored once in the archive with the concentrator's value, and
nothing is in the dead-letter topic.

The FEP stand-in answers the first terminal at once and holds the other terminals' requests
until the outage has begun, so it falls in the middle of the run and of the ingest.
``EMMS_TEST_OUTAGE_S`` sets the broker's outage (60 s), ``EMMS_TEST_DB_OUTAGE_S`` the database's (30 s).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from collector_harness import FakeFleet, Responder, collector_settings, migrated_pool, running_collector

from emms_archive.app import create_app as create_archive
from emms_archive.settings import ArchiveSettings
from emms_bus import Delivery, KafkaSettings, ensure_topics
from emms_collector.reading.datatime import freeze_instant
from emms_collector.repository import points as point_sql
from emms_collector.tasks.periods import zone
from emms_db import drop_database, ensure_database
from emms_db.settings import DatabaseSettings
from emms_devstack.local_broker import LocalBroker
from emms_devstack.timescale import TimescaleCluster
from emms_messages.terminal import DownlinkRequest
from emms_runtime import ServiceRuntime

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "archive"))
from archive_harness import OPERATOR, seed_reference

pytestmark = pytest.mark.integration
OUTAGE_S = float(os.environ.get("EMMS_TEST_OUTAGE_S", "60"))
DB_OUTAGE_S = float(os.environ.get("EMMS_TEST_DB_OUTAGE_S", "30"))
TZ = zone("Asia/Shanghai")
FIRST, HELD = "5201-00001", ("5201-00002", "5201-00003")
TERMINALS = (FIRST, *HELD)
PNS = range(1, 9)
ITEM = "energy.active.import.total"


class GatedResponder(Responder):
    """Answers ``FIRST`` at once; every other terminal's requests are answered once ``gate`` is set.

    The held answers wait in tasks of their own, never in the consumer's handler: a handler that
    waited would stop the consumer, and ``FIRST``'s requests in a later batch would never be read."""

    def __init__(self, kafka: KafkaSettings, fleet: FakeFleet) -> None:
        super().__init__(kafka, fleet)
        self.gate = asyncio.Event()
        self.held = 0
        self._waiting: set[asyncio.Task[None]] = set()

    async def _handle(self, batch: Sequence[Delivery]) -> None:
        now = [d for d in batch if isinstance(d.payload, DownlinkRequest) and d.payload.terminal == FIRST]
        later = [d for d in batch if d not in now]
        await super()._handle(now)
        if later:
            self.held += len(later)
            task = asyncio.create_task(self._after_the_gate(later))
            self._waiting.add(task)
            task.add_done_callback(self._waiting.discard)

    async def _after_the_gate(self, later: Sequence[Delivery]) -> None:
        await self.gate.wait()
        await Responder._handle(self, later)

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._waiting):
            task.cancel()
        await asyncio.gather(*self._waiting, return_exceptions=True)
        await super().__aexit__(*exc)


def _value(terminal: str, pn: int, day: int) -> float:
    return round(1000 * int(terminal[-1]) + pn + day / 100, 2)


@asynccontextmanager
async def _archive(url: str, ks: KafkaSettings) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    settings = ArchiveSettings(database=DatabaseSettings(url=url, command_timeout_s=10), kafka=ks,
                               environment="test", shutdown_grace_s=5.0)
    app = create_archive(settings)
    async with (app.router.lifespan_context(app),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://archive") as client):
        yield client, app.state.runtime


async def _import_meters(client: httpx.AsyncClient, run: str) -> None:
    """The archive's master data for the collector's 24 meters (their readings are attributed)."""
    ids = await seed_reference(client, run)
    rows = [{"customer_id": f"C-{t}-{pn}", "customer_name": f"Customer {t} {pn}", "utility": "electricity",
             "category": "e_residential", "company_id": ids["company"], "region_id": ids["district"],
             "metering_point_id": f"MP-{t}-{pn}", "terminal_id": ids["terminal"], "pn": i + 1,
             "meter_id": f"e-{t}-{pn}", "protocol": "dlt645-2007", "meter_address": f"{run}{i:06d}",
             "installed_at": "2026-01-01T00:00:00Z"}
            for i, (t, pn) in enumerate((t, pn) for t in TERMINALS for pn in PNS)]
    resp = await client.post("/api/v1/import/customer-meters", json=rows, headers=OPERATOR)
    assert resp.status_code == 200, resp.text


async def _collector_points(url: str) -> None:
    pool = await migrated_pool(url)
    try:
        async with pool.acquire() as conn:
            await point_sql.upsert_points(conn, [
                {"meter_id": f"e-{t}-{pn}", "terminal": t, "pn": pn, "utility": "electricity",
                 "protocol": "dlt645-2007", "region_id": "r-1"} for t in TERMINALS for pn in PNS])
    finally:
        await pool.close()


async def _stored(url: str, at: datetime) -> dict[str, list[float]]:
    """The archive's raw readings of the run's freeze instant, by meter; {} while the database is away."""
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return {}
    try:
        rows = await conn.fetch("SELECT meter_id, value FROM archive.reading_raw WHERE item = $1 AND data_time = $2",
                                ITEM, at)
    finally:
        await conn.close()
    out: dict[str, list[float]] = {}
    for r in rows:
        out.setdefault(r["meter_id"], []).append(r["value"])
    return out


async def _dead_letters(ks: KafkaSettings) -> int:
    reader = AIOKafkaConsumer(*(ks.topic(f"{t}.dlq") for t in ("emms.reading.raw.v1", "emms.downlink.result.v1",
                                                                 "emms.masterdata.change.v1")),
                              bootstrap_servers=ks.bootstrap, auto_offset_reset="earliest", enable_auto_commit=False)
    await reader.start()
    try:
        batches = await reader.getmany(timeout_ms=2000)
        return sum(len(r) for r in batches.values())
    finally:
        await reader.stop()


async def _through_an_outage(archive_url: str, collector_url: str, ks: KafkaSettings,
                             begin: Callable[[], None], end: Callable[[], None], outage_s: float,
                             during: Callable[[httpx.AsyncClient, ServiceRuntime], Awaitable[None]] | None = None,
                             ) -> None:
    """Run the chain; once the first terminal's readings are stored, ``begin`` the outage, let the
    held answers go, (check ``during`` it), wait ``outage_s``, ``end`` it; then check everything."""
    for url in (archive_url, collector_url):
        await ensure_database(url)
    await ensure_topics(ks)
    await _collector_points(collector_url)
    fleet = FakeFleet()
    for t in TERMINALS:
        for pn in PNS:
            fleet.daily[(t, pn)] = lambda d, t=t, pn=pn: _value(t, pn, d.day)
    settings = collector_settings(collector_url, ks, "collector-outage",
                                  dispatch={"request_timeout_s": outage_s + 60, "result_slack_s": 5.0},
                                  scheduler={"tick_s": 0.5, "lease_s": 6.0})
    day = datetime.now(TZ).date() - timedelta(days=1)
    at = freeze_instant(day, TZ, freeze_at="end")
    async with (_archive(archive_url, ks) as (archive, archive_rt), running_collector(settings) as collector,
                GatedResponder(ks, fleet) as fep):
        await _import_meters(archive, secrets.token_hex(3))
        created = await collector.client.post("/api/v1/tasks", json={
            "id": "outage-daily", "name": "daily through an outage", "type": "daily_frozen",
            "target": {"terminals": list(TERMINALS)}, "items": [ITEM],
            "period": {"unit": "daily", "at": "00:20"}, "retries": 2, "retry_delay_s": 0.2})
        assert created.status_code == 201, created.text
        started = await collector.client.post("/api/v1/tasks/outage-daily/runs", json={})
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        for _ in range(120):  # the first terminal's readings reach the archive; the others are held
            if fep.held and len(await _stored(archive_url, at)) == len(PNS):
                break
            await asyncio.sleep(0.25)
        assert fep.held and len(await _stored(archive_url, at)) == len(PNS)

        begin()
        fep.gate.set()  # the held answers arrive during the outage
        checked = 0.0
        if during is not None:
            await asyncio.sleep(checked := min(15.0, outage_s / 2))
            await during(archive, archive_rt)
        await asyncio.sleep(outage_s - checked)
        end()

        finished: dict[str, object] = {}
        for _ in range(240):
            resp = await collector.client.get(f"/api/v1/runs/{run_id}")
            finished = resp.json() if resp.status_code == 200 else {}
            if finished.get("status") in ("done", "failed"):
                break
            await asyncio.sleep(0.5)
        assert finished.get("status") == "done" and finished["ok_final"] == 24, finished
        stored: dict[str, list[float]] = {}
        for _ in range(120):
            stored = await _stored(archive_url, at)
            if len(stored) == 24:
                break
            await asyncio.sleep(0.5)
        assert stored == {f"e-{t}-{pn}": [pytest.approx(_value(t, pn, day.day))] for t in TERMINALS for pn in PNS}
        for rt in (archive_rt, collector.app.state.runtime):
            assert all(c.dead_lettered == 0 and c.waiting_out is None for c in rt.consumers)
        assert (await archive.get("/readyz")).status_code == 200
    assert await _dead_letters(ks) == 0


@pytest.mark.timeout(int(DB_OUTAGE_S) + 300)
async def test_a_run_and_its_ingest_through_a_database_outage_lose_nothing_and_dead_letter_nothing(
        private_cluster: TimescaleCluster, kafka_settings: KafkaSettings) -> None:
    ks = kafka_settings.model_copy(update={"topic_prefix": f"{kafka_settings.topic_prefix}dbout."})

    async def during(archive: httpx.AsyncClient, rt: ServiceRuntime) -> None:
        ready = await archive.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("unreachable")
        assert rt.waiting_consumers(), "the raw-reading consumer waits the outage out"
        assert "waiting out an outage" in ready.json()["checks"]["consumers"]

    def restart() -> None:
        private_cluster.start()

    await _through_an_outage(private_cluster.database_url("archive_outage"),
                             private_cluster.database_url("collector_outage"), ks,
                             private_cluster.stop, restart, DB_OUTAGE_S, during)


@pytest.mark.timeout(int(OUTAGE_S) + 300)
async def test_a_run_and_its_ingest_through_a_hung_broker_lose_nothing_and_dead_letter_nothing(
        private_broker: LocalBroker, database_url: str, kafka_settings: KafkaSettings) -> None:
    ks = kafka_settings.model_copy(update={"bootstrap": private_broker.bootstrap, "topic_prefix": "hung."})
    process = private_broker.process
    assert process is not None
    server = database_url.rsplit("/", 1)[0]
    urls = (f"{server}/archive_hung_broker", f"{server}/collector_hung_broker")
    try:
        await _through_an_outage(*urls, ks, lambda: process.send_signal(signal.SIGSTOP),
                                 lambda: process.send_signal(signal.SIGCONT), OUTAGE_S)
    finally:
        for url in urls:
            await drop_database(url)
