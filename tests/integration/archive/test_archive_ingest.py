"""Readings, events and anomalies from the real bus into the database: bulk, attributed to the
metering point by meter period, idempotent under redelivery, raw rows insert-only
(R-4.3.1, R-4.3.3a, R-4.5.4.3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from archive_harness import OPERATOR, customer_meter_rows, eventually, seed_reference

from emms_bus import BusProducer
from emms_messages.events import Anomaly, DeviceEvent, EventClass
from emms_messages.readings import (
    RawReadingBatch,
    Reading,
    ReadingSource,
    ValidatedReading,
    ValidatedReadingBatch,
    ValidationStatus,
)

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def reading(meter: str, day: int, value: float, source: ReadingSource = ReadingSource.SCHEDULED,
            item: str = "energy_active_import_total") -> Reading:
    t = T0 + timedelta(days=day)
    return Reading(meter_id=meter, item=item, data_time=t, value=value, unit="kWh", source=source,
                   collected_at=t + timedelta(minutes=5), quality=0, pn=1)


async def _count(db: asyncpg.Connection, sql: str, *args: object) -> int:
    return int(await db.fetchval(sql, *args))


async def test_a_batch_redelivered_five_times_is_stored_once(
        api: httpx.AsyncClient, db: asyncpg.Connection, producer: BusProducer, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    assert (await api.post("/api/v1/import/customer-meters", json=customer_meter_rows(ids, run_id, 3),
                           headers=OPERATOR)).status_code == 200
    batch = RawReadingBatch(batch_id=f"b-{run_id}", terminal=ids["terminal_address"] + "00",
                            readings=[reading(f"M-{run_id}-{m}", d, 100.0 + d) for m in range(3) for d in range(10)])
    for _ in range(5):
        await producer.publish(batch)
    # the same readings once more inside a different batch (a collector retry after a timeout)
    await producer.publish(RawReadingBatch(batch_id=f"b-{run_id}-retry", terminal=batch.terminal,
                                           readings=batch.readings[:5]))

    query = "SELECT count(*) FROM archive.reading_raw WHERE meter_id LIKE $1"
    await eventually(lambda: _count(db, query, f"M-{run_id}-%"))
    marker = RawReadingBatch(batch_id=f"marker-{run_id}", terminal=batch.terminal,
                             readings=[reading(f"M-{run_id}-0", 30, 999.0)])
    await producer.publish(marker)  # same key → same partition, after the others: once stored, all were handled
    await eventually(lambda: _count(db, "SELECT count(*) FROM archive.reading_raw WHERE batch_id = $1",
                                    marker.batch_id))
    assert await _count(db, query, f"M-{run_id}-%") == 31
    rows = await db.fetch("SELECT metering_point_id, meter_id, source, unit, quality, terminal, batch_id"
                          " FROM archive.reading_raw WHERE meter_id = $1 AND data_time = $2",
                          f"M-{run_id}-1", T0 + timedelta(days=2))
    assert [dict(r) for r in rows] == [{"metering_point_id": f"MP-{run_id}-1", "meter_id": f"M-{run_id}-1",
                                        "source": "scheduled", "unit": "kWh", "quality": 0,
                                        "terminal": batch.terminal, "batch_id": batch.batch_id}]


async def test_another_source_of_the_same_reading_is_kept_beside_it(
        api: httpx.AsyncClient, db: asyncpg.Connection, producer: BusProducer, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    await api.post("/api/v1/import/customer-meters", json=customer_meter_rows(ids, run_id, 1), headers=OPERATOR)
    meter = f"M-{run_id}-0"
    await producer.publish(RawReadingBatch(batch_id=f"s-{run_id}", terminal="t", readings=[reading(meter, 1, 5.0)]))
    await producer.publish(RawReadingBatch(batch_id=f"m-{run_id}", terminal="t",
                                           readings=[reading(meter, 1, 5.5, ReadingSource.MANUAL)]))
    rows = await eventually(lambda: _two(db, meter))
    assert [(r["source"], r["value"]) for r in rows] == [("manual", 5.5), ("scheduled", 5.0)]


async def _two(db: asyncpg.Connection, meter: str) -> list[asyncpg.Record] | None:
    rows = await db.fetch("SELECT source, value FROM archive.reading_raw WHERE meter_id = $1 ORDER BY source", meter)
    return rows if len(rows) == 2 else None


async def test_update_delete_and_truncate_of_raw_readings_are_refused_by_the_database(
        api: httpx.AsyncClient, db: asyncpg.Connection, producer: BusProducer, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    await api.post("/api/v1/import/customer-meters", json=customer_meter_rows(ids, run_id, 1), headers=OPERATOR)
    meter = f"M-{run_id}-0"
    await producer.publish(RawReadingBatch(batch_id=f"r-{run_id}", terminal="t", readings=[reading(meter, 3, 7.0)]))
    await eventually(lambda: _count(db, "SELECT count(*) FROM archive.reading_raw WHERE meter_id = $1", meter))

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="insert-only"):
        await db.execute("UPDATE archive.reading_raw SET value = 0 WHERE meter_id = $1", meter)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="insert-only"):
        await db.execute("DELETE FROM archive.reading_raw WHERE meter_id = $1", meter)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="insert-only"):
        await db.execute("TRUNCATE archive.reading_raw")
    partition = await db.fetchval("SELECT tableoid::regclass::text FROM archive.reading_raw WHERE meter_id = $1", meter)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="insert-only"):
        await db.execute(f"DELETE FROM {partition} WHERE meter_id = $1", meter)  # directly on the partition too
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="insert-only"):
        await db.execute("UPDATE archive.audit_log SET actor = 'someone else' WHERE entity_id = $1", meter)
    assert await db.fetchval("SELECT value FROM archive.reading_raw WHERE meter_id = $1", meter) == 7.0


async def test_unknown_meter_waits_and_is_attributed_once_the_archive_knows_it(
        api: httpx.AsyncClient, db: asyncpg.Connection, producer: BusProducer, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    meter = f"M-{run_id}-0"
    await producer.publish(RawReadingBatch(batch_id=f"u-{run_id}", terminal="t",
                                           readings=[reading(meter, d, 10.0 + d) for d in range(4)]))
    await eventually(lambda: _count(db, "SELECT count(*) FROM archive.reading_unmatched WHERE meter_id = $1", meter))
    assert await _count(db, "SELECT count(*) FROM archive.reading_raw WHERE meter_id = $1", meter) == 0

    rows = customer_meter_rows(ids, run_id, 1, installed_at=T0.isoformat())  # installed before the readings
    assert (await api.post("/api/v1/import/customer-meters", json=rows, headers=OPERATOR)).status_code == 200
    await eventually(lambda: _moved(db, meter, 4))
    assert await _count(db, "SELECT count(*) FROM archive.reading_unmatched WHERE meter_id = $1", meter) == 0


async def _moved(db: asyncpg.Connection, meter: str, n: int) -> bool:
    return await _count(db, "SELECT count(*) FROM archive.reading_raw WHERE meter_id = $1"
                            " AND metering_point_id = 'MP-' || split_part($1, '-', 2) || '-0'", meter) == n


async def test_validated_readings_events_and_anomalies_are_stored_with_their_point(
        api: httpx.AsyncClient, db: asyncpg.Connection, producer: BusProducer, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    await api.post("/api/v1/import/customer-meters", json=customer_meter_rows(ids, run_id, 1), headers=OPERATOR)
    meter, point = f"M-{run_id}-0", f"MP-{run_id}-0"
    t = T0 + timedelta(days=1)
    validated = [ValidatedReading(meter_id=meter, item="energy_active_import_total", data_time=t, value=v, unit="kWh",
                                  status=s, method=m, raw_source=ReadingSource.SCHEDULED,
                                  validated_at=T0 + timedelta(days=2, minutes=i), rules_failed=f)
                 for i, (v, s, m, f) in enumerate([(9.0, ValidationStatus.HELD, "", ["V10"]),
                                                   (12.5, ValidationStatus.ESTIMATED, "E3", ["V10"])])]
    event = DeviceEvent(terminal=ids["terminal_address"] + "00", meter_id=meter, code="ERC14",
                        event_class=EventClass.IMPORTANT, occurred_at=t, received_at=t, detail={"phase": "A"})
    anomaly = Anomaly(anomaly_id=f"a-{run_id}", meter_id=meter, rule="V10", item="energy_active_import_total",
                      data_time=t, severity=EventClass.NORMAL, values={"adu": 3.1}, detected_at=t)
    stranger = ValidatedReading(meter_id=f"X-{run_id}", item="energy_active_import_total", data_time=t, value=1.0,
                                unit="kWh", status=ValidationStatus.VALID, validated_at=T0 + timedelta(days=2))
    batch = ValidatedReadingBatch(batch_id=f"vee|v-{run_id}", terminal=ids["terminal_address"] + "00",
                                  readings=[*validated, stranger])  # one message, one statement, two outcomes
    for _ in range(2):  # redelivered: still stored once
        for payload in (batch, event, anomaly):
            await producer.publish(payload)

    await eventually(lambda: _count(db, "SELECT count(*) FROM archive.anomaly WHERE anomaly_id = $1", f"a-{run_id}"))
    await eventually(lambda: _count(db, "SELECT (SELECT count(*) FROM archive.reading_validated WHERE meter_id = $1)"
                                        " = 2 AND (SELECT count(*) FROM archive.event WHERE meter_id = $1) = 1"
                                        " AS done", meter))
    stored = await db.fetch("SELECT metering_point_id, status, value, rules_failed, raw_source"
                            " FROM archive.reading_validated WHERE meter_id = $1 ORDER BY validated_at", meter)
    assert [(r["metering_point_id"], r["status"], r["value"]) for r in stored] == [
        (point, "held", 9.0), (point, "estimated", 12.5)]
    assert stored[0]["rules_failed"] == ["V10"] and stored[0]["raw_source"] == "scheduled"
    await eventually(lambda: _count(db, "SELECT count(*) FROM archive.reading_unmatched WHERE layer = 'validated'"
                                        " AND meter_id = $1", f"X-{run_id}"))  # no meter period: waits
    ev = await db.fetchrow("SELECT * FROM archive.event WHERE meter_id = $1", meter)
    assert ev["metering_point_id"] == point and ev["event_class"] == "important" and ev["code"] == "ERC14"
    assert isinstance(ev["event_id"], uuid.UUID)
    an = await db.fetchrow("SELECT * FROM archive.anomaly WHERE anomaly_id = $1", f"a-{run_id}")
    assert an["metering_point_id"] == point and an["severity"] == "normal"
