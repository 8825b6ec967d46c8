"""A collection run through an outage: the collector's database is stopped for a minute while the
run waits for answers (a private cluster, fast shutdown: every connection ends), or its broker hangs
for a minute (a broker of the test's own, frozen with SIGSTOP). The run is not lost and nothing is
dead-lettered: it completes once the outage is over, every meter read, and every reading published
with the concentrator's value.

The FEP stand-in answers the first terminal at once and holds the other terminals' requests until
the database is down, so the outage falls in the middle of the run. ``EMMS_TEST_OUTAGE_S`` sets
the outage's length (60 s).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import asyncpg
import pytest
from collector_harness import FakeFleet, ReadingWatch, Responder, collector_settings, migrated_pool, running_collector
from collector_harness import until as wait

from emms_bus import Delivery, KafkaSettings, ensure_topics
from emms_collector.reading.datatime import freeze_instant
from emms_collector.repository import points as point_sql
from emms_collector.tasks.periods import zone
from emms_db import ensure_database
from emms_devstack.local_broker import LocalBroker
from emms_devstack.timescale import TimescaleCluster
from emms_messages.terminal import DownlinkRequest

pytestmark = pytest.mark.integration
OUTAGE_S = float(os.environ.get("EMMS_TEST_OUTAGE_S", "60"))
TZ = zone("Asia/Shanghai")
FIRST, HELD = "5201-00001", ("5201-00002", "5201-00003")
TERMINALS = (FIRST, *HELD)


class GatedResponder(Responder):
    """Answers ``FIRST`` at once; every other terminal's requests wait for ``gate``."""

    def __init__(self, kafka: KafkaSettings, fleet: FakeFleet) -> None:
        super().__init__(kafka, fleet)
        self.gate = asyncio.Event()
        self.held = 0

    async def _handle(self, batch: Sequence[Delivery]) -> None:
        now = [d for d in batch if isinstance(d.payload, DownlinkRequest) and d.payload.terminal == FIRST]
        later = [d for d in batch if d not in now]
        await super()._handle(now)
        if later:
            self.held += len(later)
            await self.gate.wait()
            await super()._handle(later)


def _value(terminal: str, pn: int, day: int) -> float:
    return round(1000 * int(terminal[-1]) + pn + day / 100, 2)


async def _points(url: str) -> None:
    await ensure_database(url)
    pool = await migrated_pool(url)
    rows = [{"meter_id": f"e-{t}-{pn}", "terminal": t, "pn": pn, "utility": "electricity", "protocol": "dlt645-2007",
             "region_id": "r-1"} for t in TERMINALS for pn in range(1, 9)]
    try:
        async with pool.acquire() as conn:
            await point_sql.upsert_points(conn, rows)
    finally:
        await pool.close()


async def _run_through(url: str, ks: KafkaSettings, begin: Callable[[], None], end: Callable[[], None]) -> None:
    """Start a daily run of 24 meters; once the first terminal is read, ``begin`` the outage, let the
    held answers go, wait OUTAGE_S, ``end`` it; the run must complete with every reading."""
    await _points(url)
    fleet = FakeFleet()
    for t in TERMINALS:
        for pn in range(1, 9):
            fleet.daily[(t, pn)] = lambda d, t=t, pn=pn: _value(t, pn, d.day)
    settings = collector_settings(url, ks, "collector-outage",
                                  dispatch={"request_timeout_s": OUTAGE_S + 60, "result_slack_s": 5.0},
                                  scheduler={"tick_s": 0.5, "lease_s": 6.0})
    async with (running_collector(settings) as collector, GatedResponder(ks, fleet) as fep,
                ReadingWatch(ks) as watch):
        created = await collector.client.post("/api/v1/tasks", json={
            "id": "outage-daily", "name": "daily through an outage", "type": "daily_frozen",
            "target": {"terminals": list(TERMINALS)}, "items": ["energy.active.import.total"],
            "period": {"unit": "daily", "at": "00:20"}, "retries": 2, "retry_delay_s": 0.2})
        assert created.status_code == 201, created.text
        started = await collector.client.post("/api/v1/tasks/outage-daily/runs", json={})
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        day = datetime.now(TZ).date() - timedelta(days=1)
        at = freeze_instant(day, TZ, freeze_at="end")
        await wait(lambda: fep.held > 0 and all((f"e-{FIRST}-{pn}", "energy.active.import.total", at)
                                                in watch.values() for pn in range(1, 9)), 30)

        begin()
        fep.gate.set()  # the held answers arrive during the outage
        await asyncio.sleep(OUTAGE_S)
        end()

        finished: dict[str, object] = {}

        async def done() -> bool:
            resp = await collector.client.get(f"/api/v1/runs/{run_id}")
            finished.update(resp.json() if resp.status_code == 200 else {})
            return finished.get("status") in ("done", "failed")

        for _ in range(240):
            if await done():
                break
            await asyncio.sleep(0.5)
        assert finished.get("status") == "done", finished
        assert finished["meters"] == 24 and finished["ok_final"] == 24
        values = watch.values()
        for t in TERMINALS:
            for pn in range(1, 9):
                assert values.get((f"e-{t}-{pn}", "energy.active.import.total", at)) == \
                    pytest.approx(_value(t, pn, day.day)), (t, pn)
        assert all(c.dead_lettered == 0 for c in collector.app.state.runtime.consumers)
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM collector.task_run WHERE status = 'done'") == 1
    finally:
        await conn.close()


@pytest.mark.timeout(int(OUTAGE_S) + 240)
async def test_a_run_through_a_database_outage_completes_with_every_reading(
        private_cluster: TimescaleCluster, kafka_settings: KafkaSettings) -> None:
    await _run_through(private_cluster.database_url("collector_outage"), kafka_settings,
                       private_cluster.stop, lambda: private_cluster.start() and None)


@pytest.mark.timeout(int(OUTAGE_S) + 300)
async def test_a_run_through_a_hung_broker_completes_with_every_reading(
        private_broker: LocalBroker, database_url: str, kafka_settings: KafkaSettings) -> None:
    ks = kafka_settings.model_copy(update={"bootstrap": private_broker.bootstrap, "topic_prefix": "colhung."})
    await ensure_topics(ks)
    process = private_broker.process
    assert process is not None
    url = database_url.rsplit("/", 1)[0] + "/collector_hung_broker"
    try:
        await _run_through(url, ks, lambda: process.send_signal(signal.SIGSTOP),
                           lambda: process.send_signal(signal.SIGCONT))
    finally:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute('DROP DATABASE IF EXISTS "collector_hung_broker" WITH (FORCE)')
        finally:
            await conn.close()
