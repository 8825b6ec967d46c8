"""A meter replacement keeps readings of both meters attributable to the metering point, and
is announced on the bus with the communication parameters (R-4.6.4, R-4.6.5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from archive_harness import ADMIN, OPERATOR, VIEWER, ChangeWatch, customer_meter_rows, eventually, seed_reference

from emms_bus import BusProducer
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
T0 = datetime(2026, 4, 1, tzinfo=UTC)
SWAP = T0 + timedelta(days=10)
ITEM = "energy_active_import_total"


def _batch(meter: str, days: range, base: float, run: str) -> RawReadingBatch:
    return RawReadingBatch(batch_id=f"{meter}-{days.start}-{run}", terminal="t", readings=[
        Reading(meter_id=meter, item=ITEM, data_time=T0 + timedelta(days=d), value=base + d, unit="kWh",
                source=ReadingSource.SCHEDULED, collected_at=T0 + timedelta(days=d, minutes=3)) for d in days])


async def test_replacement_keeps_both_meters_readings_on_the_point(
        api: httpx.AsyncClient, db: asyncpg.Connection, producer: BusProducer, run_id: str,
        change_watch: ChangeWatch) -> None:
    ids = await seed_reference(api, run_id)
    rows = customer_meter_rows(ids, run_id, 1, installed_at=T0.isoformat())
    assert (await api.post("/api/v1/import/customer-meters", json=rows, headers=OPERATOR)).status_code == 200
    point, old, new = f"MP-{run_id}-0", f"M-{run_id}-0", f"M-{run_id}-NEW"
    meter = {"id": new, "utility": "electricity", "protocol": "dlt645-2007", "address": f"{run_id}999999",
             "company_id": ids["company"]}
    assert (await api.post("/api/v1/meters", json=meter, headers=OPERATOR)).status_code == 201

    swap = await api.post(f"/api/v1/metering-points/{point}/replace-meter",
                          json={"new_meter_id": new, "at": SWAP.isoformat(), "reason": "faulty display"},
                          headers=OPERATOR)
    assert swap.status_code == 200, swap.text
    assert swap.json()["action"] == "replaced"

    # the old meter's register ran to 1009, the new one starts near zero
    await producer.publish(_batch(old, range(0, 10), 1000.0, run_id))
    await producer.publish(_batch(new, range(10, 20), 0.0, run_id))
    late = _batch(old, range(12, 13), 1012.0, run_id)  # the old meter read after it was taken off
    await producer.publish(late)

    async def stored() -> bool:
        n = await db.fetchval("SELECT count(*) FROM archive.reading_raw WHERE metering_point_id = $1", point)
        held = await db.fetchval("SELECT count(*) FROM archive.reading_unmatched WHERE meter_id = $1", old)
        return n == 20 and held == 1

    await eventually(stored)
    by_meter = await db.fetch("SELECT meter_id, min(data_time) AS first, max(data_time) AS last, count(*) AS n"
                              " FROM archive.reading_raw WHERE metering_point_id = $1 GROUP BY 1 ORDER BY 2", point)
    assert [(r["meter_id"], r["first"], r["last"], r["n"]) for r in by_meter] == [
        (old, T0, SWAP - timedelta(days=1), 10), (new, SWAP, T0 + timedelta(days=19), 10)]

    # both meters show up through the API, and usage never subtracts one register from the other
    history = (await api.get(f"/api/v1/metering-points/{point}/meters", headers=VIEWER)).json()
    assert [h["meter_id"] for h in history] == [old, new]
    assert datetime.fromisoformat(history[0]["valid_to"]) == SWAP and history[1]["valid_to"] is None
    usage = await api.get("/api/v1/usage", headers=VIEWER, params={
        "metering_points": point, "from": T0.isoformat(), "to": (T0 + timedelta(days=20)).isoformat(),
        "interval": "month", "items": ITEM})
    assert usage.status_code == 200, usage.text
    assert [(r["usage"], r["intervals"]) for r in usage.json()["rows"]] == [(18.0, 18)]  # 9 + 9 increments

    # the collector hears of it with what it needs to re-configure reading
    replaced = await change_watch.wait_for(lambda c: c.entity == "meter_installation" and c.entity_id == point
                                           and c.kind == "replaced")
    data = replaced[0].data
    assert data["meter_id"] == new and data["old_meter_id"] == old and data["meter_address"] == meter["address"]
    assert data["terminal_address"] == ids["terminal_address"] + "00" and data["pn"] == 1
    assert data["customer_category"] == "e_residential" and data["region_id"] == ids["district"]
    # … and the validator hears that the new meter's register starts afresh at the swap
    restart = await change_watch.wait_for(lambda c: c.entity == "meter" and c.entity_id == new and c.kind == "replaced")
    assert datetime.fromisoformat(restart[0].data["replaced_at"]) == SWAP
    assert restart[0].data["old_meter_id"] == old and restart[0].data["multiplier"] == 1.0


async def test_installation_rules_are_409_with_reasons(api: httpx.AsyncClient, run_id: str) -> None:
    ids = await seed_reference(api, run_id)
    rows = customer_meter_rows(ids, run_id, 2, installed_at=T0.isoformat())
    assert (await api.post("/api/v1/import/customer-meters", json=rows, headers=ADMIN)).status_code == 200
    point = f"MP-{run_id}-0"
    early = await api.post(f"/api/v1/metering-points/{point}/replace-meter",
                           json={"new_meter_id": f"M-{run_id}-1", "at": SWAP.isoformat()}, headers=OPERATOR)
    assert early.status_code == 409 and "is on metering point" in early.json()["detail"]
    before = await api.post(f"/api/v1/metering-points/{point}/remove-meter",
                            json={"at": (T0 - timedelta(days=1)).isoformat()}, headers=OPERATOR)
    assert before.status_code == 409 and "not after the installation" in before.json()["detail"]
    twice = await api.post(f"/api/v1/metering-points/{point}/install-meter",
                           json={"meter_id": f"M-{run_id}-0", "at": SWAP.isoformat()}, headers=OPERATOR)
    assert twice.status_code == 409 and "already has meter" in twice.json()["detail"]
    naive = await api.post(f"/api/v1/metering-points/{point}/remove-meter", json={"at": "2026-05-01T00:00:00"},
                           headers=OPERATOR)
    assert naive.status_code == 422
    removed = await api.post(f"/api/v1/metering-points/{point}/remove-meter", json={"at": SWAP.isoformat()},
                             headers=OPERATOR)
    assert removed.status_code == 200 and removed.json()["action"] == "removed"
    current = await api.get("/api/v1/installations", params={"terminal_id": ids["terminal"]}, headers=VIEWER)
    assert [i["metering_point_id"] for i in current.json()] == [f"MP-{run_id}-1"]
    viewer = await api.post(f"/api/v1/metering-points/{point}/install-meter",
                            json={"meter_id": f"M-{run_id}-0", "at": SWAP.isoformat()}, headers=VIEWER)
    assert viewer.status_code == 403
