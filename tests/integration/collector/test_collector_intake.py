"""What comes in on the bus: master-data changes (R-4.6.5), back-fill requests (R-4.2.6), active reports and
events (R-4.2.3c), terminal clocks and their sync (R-4.6.1) — on the real broker and database."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from collector_harness import (
    FakeFleet,
    ReadingWatch,
    Responder,
    Running,
    collector_settings,
    running_collector,
    truncate,
    until,
)

from emms_bus import KafkaSettings
from emms_collector.reading.datatime import freeze_instant
from emms_collector.repository import points as point_sql
from emms_collector.repository.templates import put_template
from emms_collector.tasks.periods import zone
from emms_collector.tasks.templates import default_templates
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import BackfillRequest, ReadingSource
from emms_messages.terminal import FrameKind, SessionState, TerminalSession, UplinkFrame
from emms_protocol.gdw1376 import Address, DataUnit, builders, decode_frame, encode_frame
from emms_protocol.gdw1376.afn0e import EventRecord
from emms_protocol.gdw1376.energy_blocks import EnergyReading
from emms_protocol.gdw1376.json_view import frame_view

pytestmark = pytest.mark.integration
TZ = zone("Asia/Shanghai")
T1, T2 = "6201-00001", "6201-00002"


@pytest.fixture(scope="module")
def fleet() -> FakeFleet:
    f = FakeFleet()
    for pn in range(1, 5):
        f.daily[(T1, pn)] = lambda d, pn=pn: 500.0 + pn + d.day
    f.clock_offset[T2] = 42.0
    f.events[T1] = [EventRecord.build(12, datetime(2026, 1, 5, 10, 30, tzinfo=UTC), bytes((0x02, 0x80))),
                    EventRecord.build(3, datetime(2026, 1, 5, 11, 0, tzinfo=UTC), bytes(3))]
    return f


@pytest.fixture(scope="module")
async def collector(database_url: str, kafka_settings: KafkaSettings, fleet: FakeFleet) -> AsyncIterator[Running]:
    settings = collector_settings(database_url, kafka_settings, "collector-it-intake",
                                  timesync={"tolerance_s": 5.0, "every_s": 0.3})
    async with running_collector(settings) as running, Responder(kafka_settings, fleet):
        await truncate(running.c.pool)
        async with running.c.pool.acquire() as conn:
            for template in default_templates():
                await put_template(conn, template)
            await point_sql.upsert_points(conn, [
                {"meter_id": f"m-{pn}", "terminal": T1, "pn": pn, "utility": "electricity",
                 "protocol": "dlt645-2007"} for pn in range(1, 5)])
        yield running


@pytest.fixture(scope="module")
async def watch(kafka_settings: KafkaSettings) -> AsyncIterator[ReadingWatch]:
    async with ReadingWatch(kafka_settings) as w:
        yield w


def _change(entity: str, entity_id: str, kind: ChangeKind, data: dict[str, object]) -> MasterDataChange:
    return MasterDataChange(change_id=secrets.token_hex(8), entity=entity, entity_id=entity_id, kind=kind,
                            changed_at=datetime.now(UTC), changed_by="archive", data=data)


async def _poll(check: object, timeout_s: float = 15.0) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("condition not met")


async def test_master_data_changes_keep_points_and_automatic_tasks(collector: Running, watch: ReadingWatch) -> None:
    producer = watch.producer
    installed = {"metering_point_id": "mp-9", "meter_id": "m-new", "customer_id": "c-1", "utility": "electricity",
                 "terminal_id": "t-1", "terminal_address": "62010001", "pn": 9, "port": 31,
                 "meter_address": "000000000009", "protocol": "dlt645-2007", "valid_from": "2026-01-01T00:00:00Z"}
    await producer.publish(_change("customer", "c-1", ChangeKind.CREATED,
                                   {"region_id": "north", "category": "residential", "utility": "electricity"}))
    message = _change("meter_installation", "mp-9", ChangeKind.CREATED, installed)
    await producer.publish(message)
    await producer.publish(message)  # a redelivered change does nothing more

    async def point_there() -> bool:
        async with collector.c.pool.acquire() as conn:
            points = await point_sql.by_meters(conn, ["m-new"])
        return "m-new" in points

    await _poll(point_there)
    members = (await collector.client.get("/api/v1/tasks/auto-electricity-daily/members")).json()
    assert members["items"] == ["m-new"]
    points = (await collector.client.get("/api/v1/points", params={"terminal": T1})).json()
    new = next(p for p in points["items"] if p["meter_id"] == "m-new")
    assert new["terminal"] == T1 and new["pn"] == 9 and new["region_id"] == "north"
    replaced = _change("meter_installation", "mp-9", ChangeKind.REPLACED,
                       {**installed, "meter_id": "m-newer", "meter_address": "000000000010"})
    await producer.publish(replaced)
    await producer.publish(_change("meter_installation", "mp-9", ChangeKind.REMOVED,
                                   {**installed, "meter_id": "m-newer", "removed_at": "2026-02-01T00:00:00Z"}))

    async def gone() -> bool:
        async with collector.c.pool.acquire() as conn:
            active = await point_sql.by_meters(conn, ["m-new", "m-newer"])
        body = (await collector.client.get("/api/v1/tasks/auto-electricity-daily/members")).json()
        return not active and body["items"] == [] and collector.c.masterdata.applied >= 4

    await _poll(gone)


async def test_a_replaced_meter_is_read_by_the_tasks_that_read_the_old_one(collector: Running,
                                                                            watch: ReadingWatch) -> None:
    """A task naming a meter by id means the point's meter: after a replacement it reads the new meter (target
    and member list), else the new meter would never be collected by it."""
    producer = watch.producer
    installed = {"metering_point_id": "mp-7", "meter_id": "m-a", "customer_id": "c-1", "utility": "electricity",
                 "terminal_id": "t-1", "terminal_address": "62010001", "pn": 7, "port": 31,
                 "meter_address": "000000000007", "protocol": "dlt645-2007", "valid_from": "2026-01-01T00:00:00Z"}
    await producer.publish(_change("meter_installation", "mp-7", ChangeKind.CREATED, installed))

    async def on(meter: str) -> bool:
        async with collector.c.pool.acquire() as conn:
            return meter in await point_sql.by_meters(conn, [meter])

    await _poll(lambda: on("m-a"))
    resp = await collector.client.post("/api/v1/tasks", json={
        "id": "by-meter", "name": "two meters", "type": "daily_frozen", "target": {"meters": ["m-a", "m-1"]},
        "period": {"unit": "daily", "at": "01:00"}})
    assert resp.status_code == 201, resp.text
    before = resp.json()["version"]
    await producer.publish(_change("meter_installation", "mp-7", ChangeKind.REPLACED, {
        **installed, "meter_id": "m-b", "meter_address": "000000000107", "valid_from": "2026-03-01T00:00:00Z"}))
    await _poll(lambda: on("m-b"))
    task = (await collector.client.get("/api/v1/tasks/by-meter")).json()
    assert task["target"]["meters"] == ["m-b", "m-1"] and task["version"] == before + 1
    members = (await collector.client.get("/api/v1/tasks/auto-electricity-daily/members")).json()["items"]
    assert "m-b" in members and "m-a" not in members
    assert not await on("m-a")


async def test_the_local_scheme_follows_master_data_and_else_the_port(collector: Running, watch: ReadingWatch) -> None:
    """R-4.6.7: an installation's ``local_scheme`` reaches the point; without one the port gives it; a metering
    point's later change moves its points' scheme (and port)."""
    producer = watch.producer
    base = {"customer_id": "c-1", "utility": "electricity", "terminal_id": "t-1", "terminal_address": "62010001",
            "protocol": "dlt645-2007", "valid_from": "2026-01-01T00:00:00Z"}
    declared = {**base, "metering_point_id": "mp-20", "meter_id": "m-s20", "pn": 20, "port": 31,
                "local_scheme": "hplc", "meter_address": "000000000020"}
    silent = {**base, "metering_point_id": "mp-21", "meter_id": "m-s21", "pn": 21, "port": 3,
              "meter_address": "000000000021"}
    for data in (declared, silent):
        await producer.publish(_change("meter_installation", str(data["metering_point_id"]), ChangeKind.CREATED,
                                       data))

    async def schemes() -> dict[str, tuple[int | None, str | None]]:
        body = (await collector.client.get("/api/v1/points", params={"terminal": T1})).json()
        return {p["meter_id"]: (p["port"], p["local_scheme"]) for p in body["items"]
                if p["meter_id"] in ("m-s20", "m-s21")}

    async def are(expected: dict[str, tuple[int | None, str | None]]) -> bool:
        return await schemes() == expected

    await _poll(lambda: are({"m-s20": (31, "hplc"), "m-s21": (3, "rs485")}))
    point = {"customer_id": "c-1", "utility": "electricity", "terminal_id": "t-1", "status": "active"}
    await producer.publish(_change("metering_point", "mp-20", ChangeKind.UPDATED,
                                   {**point, "id": "mp-20", "pn": 20, "port": 31, "local_scheme": None}))
    await producer.publish(_change("metering_point", "mp-21", ChangeKind.UPDATED,
                                   {**point, "id": "mp-21", "pn": 21, "port": 31, "local_scheme": "rf"}))
    await _poll(lambda: are({"m-s20": (31, "plc"), "m-s21": (31, "rf")}))


async def test_a_back_fill_request_from_the_validator_is_honoured(collector: Running, watch: ReadingWatch) -> None:
    day = datetime.now(TZ).date() - timedelta(days=3)
    at = freeze_instant(day, TZ, freeze_at="end")
    request = BackfillRequest(request_id=secrets.token_hex(6), meter_id="m-2", items=["energy.active.import.total"],
                              start=at - timedelta(hours=1), end=at + timedelta(hours=1), reason="gap in series",
                              requested_by="validator")
    await watch.producer.publish(request)

    async def filled() -> bool:
        body = (await collector.client.get("/api/v1/gaps", params={"meter_id": "m-2", "state": "filled"})).json()
        return body["total"] == 1

    await _poll(filled)
    await until(lambda: any(r.meter_id == "m-2" and r.source is ReadingSource.BACKFILL and r.data_time == at
                            and r.value == 502.0 + day.day for b in watch.batches for r in b.readings))


async def test_reported_data_is_normalised_published_and_fills_gaps(collector: Running, watch: ReadingWatch) -> None:
    day = datetime.now(TZ).date() - timedelta(days=5)
    at = freeze_instant(day, TZ, freeze_at="end")
    async with collector.c.pool.acquire() as conn:
        await conn.execute("INSERT INTO collector.gap (meter_id, item, data_time, task_type, terminal, attempts)"
                           " VALUES ('m-3', 'energy.active.import.total', $1, 'daily_frozen', $2, 99)", at, T1)
    address = Address.parse(T1)
    report = builders.request(address, 0x0D, [], 3)  # only the header matters to build the terminal's frame
    frame = decode_frame(encode_frame(builders.response(report, [
        DataUnit(3, 161, EnergyReading(None, 777.5, (777.5, 0.0, 0.0, 0.0), day))])))
    uplink = UplinkFrame(terminal=T1, fep_instance="fep-x", connection_id="c1", received_at=datetime.now(UTC),
                         kind=FrameKind.REPORT, afn=0x0D, seq=3, raw_hex=encode_frame(frame).hex(),
                         decoded=frame_view(frame))
    await watch.producer.publish(uplink)
    await until(lambda: any(r.meter_id == "m-3" and r.source is ReadingSource.REPORT and r.value == 777.5
                            and r.data_time == at for b in watch.batches for r in b.readings))

    async def filled() -> bool:
        body = (await collector.client.get("/api/v1/gaps", params={"meter_id": "m-3"})).json()
        return body["items"][0]["state"] == "filled" and body["items"][0]["filled_by"] == "report"

    await _poll(filled)


async def test_events_are_read_by_an_events_task_and_published(collector: Running, watch: ReadingWatch) -> None:
    body = {"id": "events", "name": "event query", "type": "events", "target": {"terminals": [T1]},
            "period": {"unit": "hourly"}}
    assert (await collector.client.post("/api/v1/tasks", json=body)).status_code == 201
    run = (await collector.client.post("/api/v1/tasks/events/runs", json={})).json()

    async def done() -> bool:
        return (await collector.client.get(f"/api/v1/runs/{run['run_id']}")).json()["status"] == "done"

    await _poll(done)
    await until(lambda: {e.code for e in watch.events if e.terminal == T1} >= {"ERC12", "ERC3"})
    drift = next(e for e in watch.events if e.code == "ERC12")
    assert drift.meter_id == "m-2" and drift.event_class.value == "important"


async def test_a_terminal_clock_out_of_tolerance_is_synced_with_delay_compensation(
        collector: Running, watch: ReadingWatch, fleet: FakeFleet) -> None:
    now = datetime.now(UTC)
    await watch.producer.publish(TerminalSession(
        terminal=T2, state=SessionState.ONLINE, fep_instance="fep-x", connection_id="c2", peer="10.0.0.2:4000",
        since=now, last_seen=now, terminal_clock=now + timedelta(seconds=42), clock_deviation_s=42.0))

    async def synced() -> bool:
        body = (await collector.client.get("/api/v1/clock/syncs", params={"terminal": T2})).json()
        return any(s["outcome"] == "synced" for s in body["items"])

    await _poll(synced)
    sync = next(s for s in (await collector.client.get("/api/v1/clock/syncs", params={"terminal": T2})).json()["items"]
                if s["outcome"] == "synced")
    assert sync["deviation_before_s"] == pytest.approx(42, abs=2) and abs(sync["deviation_after_s"]) <= 5
    assert sync["round_trip_ms"] is not None and "delay compensated" in sync["detail"]
    assert abs(fleet.clock_offset[T2]) < 2
    clocks = (await collector.client.get("/api/v1/clock/terminals")).json()
    assert next(c for c in clocks["items"] if c["terminal"] == T2)["last_result"] == "synced"
