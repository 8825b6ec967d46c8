"""CSV exports streamed from the database with psycopg 3 (issue 16 item 8), on both storage modes.

The service runs under a real uvicorn (an in-process ASGI transport would gather the body before
the test sees it). A year of daily values of twelve meters is published on the bus; the usage
export (per point and local day, a few thousand rows) is read back and compared with ``/usage``
and with the test's own truth. For streaming, 400,000 register values of one meter are loaded with
COPY; when the first chunk of their export arrives, the export's COPY is still running in the
database, held back by the client that has not read on — an implementation that gathered the
result first would have finished its query before sending a byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import secrets
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
import uvicorn
from service_harness import FreshBearer, area_topics

from emms_analytics.app import create_app
from emms_analytics.exports.database import APPLICATION_NAME
from emms_analytics.settings import AnalyticsSettings
from emms_bus import BusProducer, KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_devstack.ports import free_port
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
TZ = ZoneInfo("Asia/Shanghai")
E = "energy.active.import.total"
FIRST, LAST = date(2025, 1, 1), date(2026, 1, 1)
METERS = [f"XM{i:02d}" for i in range(1, 13)]
BIG, BIG_ROWS = "XBIG", 400_000
# ~31 MB of CSV, well over what the sockets between database, service and client can hold (a few MB each, with
# the client's receive buffer kept small): if the COPY finished while the client reads nothing, the service
# buffered it. 200,000 rows (15 MB) fitted in autotuned loopback buffers once and the COPY ended.
SMALL_RECEIVE_BUFFER = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 65_536)]
VIEWER = FreshBearer("viewer-x", "viewer")


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ).astimezone(UTC)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


def region_of(meter: str) -> str:
    return "XR1" if int(meter[2:]) <= 6 else "XR2"


def used(meter: str, d: date) -> float:
    """The truth: the meter's usage on local day ``d``."""
    return float(int(meter[2:]) + d.toordinal() % 7)


def change(entity: str, entity_id: str, data: dict[str, Any]) -> MasterDataChange:
    return MasterDataChange(change_id=f"{entity}/{entity_id}/x", entity=entity, entity_id=entity_id,
                            kind=ChangeKind.CREATED, changed_at=datetime(2024, 12, 1, tzinfo=UTC), changed_by="test",
                            data=data)


def masterdata() -> list[MasterDataChange]:
    out = [change("company", "XCO", {"id": "XCO", "name": "Export utility"}),
           change("region", "XR", {"id": "XR", "name": "Export city", "parent_id": None}),
           change("region", "XR1", {"id": "XR1", "name": "One", "parent_id": "XR"}),
           change("region", "XR2", {"id": "XR2", "name": "Two", "parent_id": "XR"}),
           change("region", "XRB", {"id": "XRB", "name": "Big", "parent_id": None})]
    for meter in [*METERS, BIG]:
        cid, region = f"XC-{meter}", "XRB" if meter == BIG else region_of(meter)
        out += [change("customer", cid, {"id": cid, "name": cid, "party_id": cid, "utility": "electricity",
                                         "category": "x_e_business", "company_id": "XCO", "region_id": region}),
                change("metering_point", f"{meter}-P", {"id": f"{meter}-P", "customer_id": cid,
                                                       "utility": "electricity"}),
                change("meter", meter, {"id": meter, "utility": "electricity", "multiplier": 1.0}),
                change("meter_installation", f"{meter}-P", {"metering_point_id": f"{meter}-P", "meter_id": meter,
                                                            "valid_from": midnight(date(2024, 1, 1)).isoformat(),
                                                            "customer_id": cid, "utility": "electricity"})]
    return out


def readings() -> list[ValidatedReading]:
    out = []
    for meter in METERS:
        total = 500.0
        for d in days(FIRST, LAST + timedelta(days=1)):
            out.append(ValidatedReading(meter_id=meter, item=E, data_time=midnight(d), value=total, unit="kWh",
                                        status=ValidationStatus.VALID, validated_at=datetime(2026, 1, 2, tzinfo=UTC)))
            total += used(meter, d)
    return out


@contextlib.asynccontextmanager
async def served(settings: AnalyticsSettings) -> AsyncIterator[str]:
    """The analytics app under a real uvicorn in this loop; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None,
                                           lifespan="on", access_log=False))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(600):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        assert server.started, "the analytics server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
def topics(kafka_settings: KafkaSettings) -> KafkaSettings:
    return area_topics(kafka_settings, "exports")


async def load_big(database_url: str) -> None:
    """400,000 register values of one meter every 2 minutes (from 2024-02 to mid-2025), loaded with COPY."""
    conn = await asyncpg.connect(database_url)
    try:
        start = midnight(date(2024, 2, 1))
        rows = [(BIG, E, start + timedelta(minutes=2 * i), float(i), "valid", start) for i in range(BIG_ROWS)]
        await conn.execute("DELETE FROM analytics.register_value WHERE meter_id = $1", BIG)
        await conn.copy_records_to_table("register_value", schema_name="analytics", records=rows,
                                         columns=["meter_id", "item", "data_time", "value", "status", "validated_at"])
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def http(database_url: str, topics: KafkaSettings) -> AsyncIterator[httpx.AsyncClient]:
    settings = AnalyticsSettings(
        _env_file=None, environment="test", instance_id=f"analytics-{secrets.token_hex(2)}",
        database=DatabaseSettings(url=database_url), kafka=topics, shutdown_grace_s=5.0, refresh_interval_s=0.3,
        budget={"max_scan_rows": 50_000})
    producer = BusProducer(topics, "analytics-export-test")
    await producer.start()
    try:
        async with served(settings) as base, httpx.AsyncClient(
                base_url=base, headers=VIEWER, timeout=60,
                transport=httpx.AsyncHTTPTransport(socket_options=SMALL_RECEIVE_BUFFER)) as client:
            await producer.publish_many(masterdata(), topic="emms.masterdata.change.v1")
            batch = readings()
            await producer.publish_many([ValidatedReadingBatch(batch_id=f"x-{i}", terminal="XT",
                                                               readings=batch[i:i + 400])
                                         for i in range(0, len(batch), 400)], topic="emms.reading.validated.v1")
            await load_big(database_url)
            year = {"from": midnight(FIRST).isoformat(), "to": midnight(LAST).isoformat()}
            deadline = time.monotonic() + 180
            while True:  # every reading through the consumer and, on TimescaleDB, the aggregates refreshed
                got = await client.get("/api/v1/analytics/usage", params={
                    "regions": "XR", "group_by": "metering_point", "interval": "period", **year})
                totals = {r["key"]: r["usage"] for r in got.json()["rows"]} if got.status_code == 200 else {}
                if all(abs(totals.get(f"{m}-P", -1) - sum(used(m, d) for d in days(FIRST, LAST))) < 1e-6
                       for m in METERS):
                    break
                assert time.monotonic() < deadline, "the readings did not reach the rollups in time"
                await asyncio.sleep(0.3)
            yield client
    finally:
        await producer.stop()


async def test_usage_export_is_the_usage_answer(http: httpx.AsyncClient) -> None:
    params = {"regions": "XR", "group_by": "metering_point", "interval": "day",
              "from": midnight(FIRST).isoformat(), "to": midnight(LAST).isoformat()}
    resp = await http.get("/api/v1/analytics/exports/usage.csv", params=params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/csv")
    exported = list(csv.DictReader(io.StringIO(resp.text)))
    assert len(exported) == len(METERS) * 365
    answer = await http.get("/api/v1/analytics/usage", params=params)
    assert answer.status_code == 200, answer.text
    expected = {(datetime.fromisoformat(r["bucket"]), r["key"]): r for r in answer.json()["rows"]}
    got = {(datetime.fromisoformat(r["bucket"]), r["key"]): r for r in exported}
    assert got.keys() == expected.keys()
    for key, row in got.items():
        assert float(row["usage"]) == pytest.approx(expected[key]["usage"])
        assert int(row["intervals"]) == expected[key]["intervals"] == 1
        day = key[0].astimezone(TZ).date()
        assert float(row["usage"]) == pytest.approx(used(key[1][:-2], day))  # and the truth
    assert exported[0]["bucket"] == "2025-01-01 00:00:00+08"  # local time
    # the caller's scope: a token of region XR1 exports XR1's points only
    xr1 = await http.get("/api/v1/analytics/exports/usage.csv", params={**params, "regions": "XR"},
                         headers=FreshBearer("viewer-xr1", "viewer", regions=["XR1"]))
    keys = {r["key"] for r in csv.DictReader(io.StringIO(xr1.text))}
    assert keys == {f"{m}-P" for m in METERS if region_of(m) == "XR1"}
    # the same refusals as /usage
    unknown = await http.get("/api/v1/analytics/exports/usage.csv", params={**params, "regions": "NOWHERE"})
    assert unknown.status_code == 404 and "NOWHERE" in unknown.json()["detail"]
    inverted = await http.get("/api/v1/analytics/exports/usage.csv", params={
        **params, "from": params["to"], "to": params["from"]})
    assert inverted.status_code == 422 and "inverted" in inverted.json()["detail"]
    costly = await http.get("/api/v1/analytics/exports/usage.csv", params={
        "interval": "hour", "from": "2017-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"})
    assert costly.status_code == 422 and "50000" in costly.json()["detail"]


async def export_activity(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch("SELECT state, query FROM pg_stat_activity WHERE application_name = $1"
                                " AND datname = current_database()", APPLICATION_NAME)
    finally:
        await conn.close()


async def test_a_large_export_streams_while_the_database_produces_it(http: httpx.AsyncClient,
                                                                     database_url: str) -> None:
    params = {"metering_points": f"{BIG}-P", "from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    async with http.stream("GET", "/api/v1/analytics/exports/readings.csv", params=params) as resp:
        assert resp.status_code == 200
        chunks = resp.aiter_raw()
        first = await anext(chunks)
        assert first.startswith(b"metering_point_id,meter_id,item,data_time,value,status,multiplier\n")
        await asyncio.sleep(0.5)  # the client reads no more: buffers fill, the COPY must wait
        running = await export_activity(database_url)
        assert [r["state"] for r in running] == ["active"] and running[0]["query"].startswith("COPY")
        size, lines, tail = len(first), first.count(b"\n"), first
        async for chunk in chunks:
            size, lines, tail = size + len(chunk), lines + chunk.count(b"\n"), (tail + chunk)[-200:]
    assert lines == BIG_ROWS + 1 and size > 10_000_000
    last = tail.decode().strip().splitlines()[-1].split(",")
    assert last[:3] == [f"{BIG}-P", BIG, E] and float(last[4]) == BIG_ROWS - 1
    assert await export_activity(database_url) == []  # its connection closed when the export ended
