"""The direct ingest path: readings attributed in the writer and COPY'd straight into
``reading_raw``, the staging path for batches already (partly) stored, and the writer's memory
of meter periods forgotten whenever meter periods change (R-4.3.1, R-4.3.3a, R-4.6.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from archive_harness import OPERATOR, Service, customer_meter_rows, eventually, seed_reference

from emms_archive.metrics import DIRECT_FALLBACKS
from emms_bus import BusProducer
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
T0 = datetime(2026, 5, 1, tzinfo=UTC)
ITEM = "energy_active_import_total"


def _batch(meters: list[str], days: range, tag: str) -> RawReadingBatch:
    return RawReadingBatch(batch_id=f"{tag}-{days.start}", terminal="t", readings=[
        Reading(meter_id=m, item=ITEM, data_time=T0 + timedelta(days=d), value=100.0 + d, unit="kWh",
                source=ReadingSource.SCHEDULED, collected_at=T0 + timedelta(days=d, minutes=2), pn=1)
        for m in meters for d in days])


async def _epoch(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT epoch FROM archive.meter_period_epoch"))


async def test_a_meter_replaced_after_its_periods_were_remembered_is_attributed_by_the_new_periods(
        api: httpx.AsyncClient, archive_service: Service, db: asyncpg.Connection, producer: BusProducer,
        run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    rows = customer_meter_rows(ids, run_id, 1, installed_at=T0.isoformat())
    assert (await api.post("/api/v1/import/customer-meters", json=rows, headers=OPERATOR)).status_code == 200
    point, old, new = f"MP-{run_id}-0", f"M-{run_id}-0", f"M-{run_id}-NEW"
    assert archive_service.archive.raw.direct_copy
    await producer.publish(_batch([old], range(0, 5), f"a-{run_id}"))  # the writer now remembers old's periods

    async def stored(n: int) -> bool:
        return int(await db.fetchval("SELECT count(*) FROM archive.reading_raw WHERE meter_id = $1", old)) == n

    await eventually(lambda: stored(5))
    before = await _epoch(db)
    meter = {"id": new, "utility": "electricity", "protocol": "dlt645-2007", "address": f"{run_id}888888",
             "company_id": ids["company"]}
    assert (await api.post("/api/v1/meters", json=meter, headers=OPERATOR)).status_code == 201
    swap = await api.post(f"/api/v1/metering-points/{point}/replace-meter",
                          json={"new_meter_id": new, "at": (T0 + timedelta(days=10)).isoformat()}, headers=OPERATOR)
    assert swap.status_code == 200, swap.text
    assert await _epoch(db) > before

    # day 12 of the old meter: after its removal, so on no point; days 10-11 of the new one: on the point
    await producer.publish(_batch([old], range(12, 13), f"b-{run_id}"))
    await producer.publish(_batch([new], range(10, 12), f"c-{run_id}"))

    async def settled() -> bool:
        held = await db.fetchval("SELECT count(*) FROM archive.reading_unmatched WHERE meter_id = $1", old)
        moved = await db.fetchval("SELECT count(*) FROM archive.reading_raw WHERE meter_id = $1"
                                  " AND metering_point_id = $2", new, point)
        return held == 1 and moved == 2

    await eventually(settled)
    assert await stored(5)  # nothing of day 12 was put on the point the old meter had left


async def test_a_batch_partly_stored_already_takes_the_staging_path_and_stores_each_reading_once(
        api: httpx.AsyncClient, archive_service: Service, db: asyncpg.Connection, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    rows = customer_meter_rows(ids, run_id, 3, installed_at=T0.isoformat())
    assert (await api.post("/api/v1/import/customer-meters", json=rows, headers=OPERATOR)).status_code == 200
    meters = [f"M-{run_id}-{i}" for i in range(3)] + [f"M-{run_id}-UNKNOWN"]
    raw = archive_service.archive.raw
    first = await raw.store([_batch(meters, range(0, 6), f"p-{run_id}")])
    assert (first.total, first.stored, first.held, first.duplicates) == (24, 18, 6, 0)

    fallbacks = DIRECT_FALLBACKS._value.get()
    second = await raw.store([_batch(meters, range(3, 9), f"q-{run_id}")])  # days 3-5 again, 6-8 new
    assert DIRECT_FALLBACKS._value.get() == fallbacks + 1
    assert (second.total, second.stored, second.held, second.duplicates) == (24, 9, 3, 12)
    assert await db.fetchval("SELECT count(*) FROM archive.reading_raw WHERE meter_id LIKE $1", f"M-{run_id}-%") == 27
    assert await db.fetchval("SELECT count(*) FROM archive.reading_unmatched WHERE meter_id = $1",
                             f"M-{run_id}-UNKNOWN") == 9


async def test_every_directly_stored_reading_has_the_point_the_databases_rule_gives(
        api: httpx.AsyncClient, archive_service: Service, db: asyncpg.Connection, run_id: str) -> None:
    """The writer's attribution equals the staging join's: the period with valid_from <= t < valid_to."""
    ids = await seed_reference(api, run_id)
    rows = customer_meter_rows(ids, run_id, 4, installed_at=(T0 + timedelta(days=2)).isoformat())
    assert (await api.post("/api/v1/import/customer-meters", json=rows, headers=OPERATOR)).status_code == 200
    point = f"MP-{run_id}-0"
    assert (await api.post(f"/api/v1/metering-points/{point}/remove-meter",
                           json={"at": (T0 + timedelta(days=5)).isoformat()}, headers=OPERATOR)).status_code == 200
    meters = [f"M-{run_id}-{i}" for i in range(4)]
    result = await archive_service.archive.raw.store([_batch(meters, range(0, 8), f"r-{run_id}")])
    # meter 0: days 2-4 on its point (installed day 2, removed day 5); meters 1-3: days 2-7
    assert (result.stored, result.held) == (3 + 3 * 6, 2 + 3 + 3 * 2)
    mismatches = await db.fetchval("""
        SELECT count(*) FROM archive.reading_raw r
        WHERE r.meter_id = ANY($1::text[]) AND r.metering_point_id IS DISTINCT FROM (
            SELECT p.metering_point_id FROM archive.meter_period p WHERE p.meter_id = r.meter_id
              AND p.valid_from <= r.data_time AND (p.valid_to IS NULL OR r.data_time < p.valid_to))""", meters)
    assert mismatches == 0


async def test_the_period_epoch_moves_once_per_committed_change_and_not_for_a_rolled_back_one(
        api: httpx.AsyncClient, db: asyncpg.Connection, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    rows = customer_meter_rows(ids, run_id, 3, installed_at=T0.isoformat())
    assert (await api.post("/api/v1/import/customer-meters", json=rows, headers=OPERATOR)).status_code == 200
    meters = [f"M-{run_id}-{i}" for i in range(3)]
    start = await _epoch(db)
    async with db.transaction():
        for m in meters:  # three statements, three rows: one bump, at commit
            await db.execute("UPDATE archive.meter_period SET reason = 'checked' WHERE meter_id = $1", m)
        assert await _epoch(db) == start  # deferred: nothing yet
    assert await _epoch(db) == start + 1
    tx = db.transaction()
    await tx.start()
    await db.execute("UPDATE archive.meter_period SET reason = 'undone' WHERE meter_id = ANY($1::text[])", meters)
    await tx.rollback()
    assert await _epoch(db) == start + 1
