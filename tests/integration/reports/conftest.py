"""Fixtures of the reports integration tests: analytics and the archive served on real sockets, fed through
their real paths, and the reports service calling them (see reports_harness)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from reports_harness import (
    ADMIN,
    FIRST,
    LAST,
    MASTERDATA,
    METERS,
    TERMINAL,
    World,
    anomalies,
    batches,
    events,
    midnight,
    point,
    served,
    usage,
)
from service_harness import area_topics, own_database

from emms_analytics.app import create_app as analytics_app
from emms_analytics.settings import AnalyticsSettings
from emms_archive.app import create_app as archive_app
from emms_archive.settings import ArchiveSettings, BackupSettings
from emms_bus import BusProducer, KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_identity.app import create_app as identity_app
from emms_identity.settings import HashingSettings, IdentitySettings
from emms_reports.app import create_app as reports_app
from emms_reports.settings import ReportsSettings
from emms_runtime.settings import AuthSettings


@pytest.fixture(scope="module")
def database_url(database_url: str) -> Iterator[str]:
    """A database of each module's own: every reports module loads the same world (meters, readings, events,
    anomalies) and reads whole reports of it, which a second copy in a shared database would double."""
    yield from own_database(database_url, "rpt")


@pytest.fixture(scope="module")
def topics(kafka_settings: KafkaSettings) -> KafkaSettings:
    return area_topics(kafka_settings, f"reports{secrets.token_hex(2)}")


async def _until(check: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.3)


@pytest.fixture(scope="module")
async def world(database_url: str, topics: KafkaSettings, tmp_path_factory: pytest.TempPathFactory,
                ) -> AsyncIterator[World]:
    run = secrets.token_hex(3)
    db = DatabaseSettings(url=database_url)
    i_settings = IdentitySettings(_env_file=None, environment="test", instance_id=f"identity-rpt-{run}", database=db,
                                  kafka=topics, shutdown_grace_s=5.0,
                                  hashing=HashingSettings(time_cost=1, memory_cost_kib=8, parallelism=1))
    producer = BusProducer(topics, "reports-test")
    await producer.start()
    try:
        async with served(identity_app(i_settings)) as i_url:
            # the sources verify the identity service's tokens too (the reports client's, scheduled runs)
            auth = AuthSettings(jwks_url=f"{i_url}/.well-known/jwks.json")
            a_settings = AnalyticsSettings(_env_file=None, environment="test", instance_id=f"analytics-rpt-{run}",
                                           database=db, kafka=topics, shutdown_grace_s=5.0, refresh_interval_s=0.3,
                                           auth=auth)
            r_settings = ArchiveSettings(_env_file=None, environment="test", instance_id=f"archive-rpt-{run}",
                                         database=db, kafka=topics, shutdown_grace_s=5.0, auth=auth,
                                         backup=BackupSettings(directory=tmp_path_factory.mktemp("rpt-backups")))
            async with _world(run, db, topics, producer, tmp_path_factory, a_settings, r_settings, i_url) as world:
                yield world
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def _world(run: str, db: DatabaseSettings, topics: KafkaSettings, producer: BusProducer,
                 tmp_path_factory: pytest.TempPathFactory, a_settings: AnalyticsSettings,
                 r_settings: ArchiveSettings, i_url: str) -> AsyncIterator[World]:
    """The sources served and fed, then the reports service on them."""
    async with served(analytics_app(a_settings)) as a_url, served(archive_app(r_settings)) as r_url, \
            httpx.AsyncClient(base_url=a_url, headers=ADMIN, timeout=60) as analytics, \
            httpx.AsyncClient(base_url=r_url, headers=ADMIN, timeout=60) as archive:
        for kind, rows in MASTERDATA:
            resp = await archive.post(f"/api/v1/import/{kind}", json=rows)
            assert resp.status_code == 200, resp.text
        await producer.publish_many(batches(run), topic="emms.reading.validated.v1")
        await producer.publish_many(events(), topic="emms.device.event.v1")
        await producer.publish_many(anomalies(), topic="emms.anomaly.v1")

        async def rolled_up() -> bool:
            got = await analytics.get("/api/v1/analytics/usage", params={
                "regions": "RPT-R", "group_by": "metering_point", "interval": "period",
                "from": midnight(FIRST).isoformat(), "to": midnight(LAST).isoformat()})
            rows = {r["key"]: r["usage"] for r in got.json()["rows"]} if got.status_code == 200 else {}
            return all(abs(rows.get(point(m), -1) - usage([m], FIRST, LAST)) < 1e-6 for m in METERS)

        async def recorded() -> bool:
            span = {"from": "2026-02-01T00:00:00+08:00", "to": "2026-03-01T00:00:00+08:00"}
            ev = await archive.get("/api/v1/events", params={**span, "terminals": TERMINAL})
            an = await archive.get("/api/v1/anomalies", params={**span, "meters": METERS})
            return (ev.status_code == an.status_code == 200 and ev.json()["count"] >= 5
                    and an.json()["count"] >= 3)

        await _until(rolled_up, 180, "the readings did not reach analytics' rollups in time")
        await _until(recorded, 60, "the events and anomalies did not reach the archive in time")
        settings = ReportsSettings(
            _env_file=None, environment="test", instance_id=f"reports-{run}", database=db, kafka=topics,
            shutdown_grace_s=5.0, upstream={"analytics_url": a_url, "archive_url": r_url, "page_size": 2},
            delivery={"store_dir": Path(tmp_path_factory.mktemp("rpt-store")), "tick_s": 3600})
        app = reports_app(settings)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://reports", headers=ADMIN,
                timeout=120) as reports:
            yield World(run, analytics, archive, reports, app.state.runtime.state, a_url, r_url, i_url)
