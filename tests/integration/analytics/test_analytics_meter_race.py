"""A meter's register width arriving while its readings are being stored: the master-data consumer and the
readings consumer run side by side, each in its own transaction. Without a per-meter lock the readings'
transaction computes its intervals before the width is known and the master data's rewrite does not see the
uncommitted readings: the roll-over between them is lost from the rollups for good (seen on TimescaleDB in a
full run). The test holds the readings' transaction open at the point of commit and sends the width then."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from emms_bus import Delivery
from emms_messages.envelope import wrap
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
TZ = ZoneInfo("Asia/Shanghai")
E = "energy.active.import.total"
VALUES = [(date(2025, 3, 1), 9_990.0), (date(2025, 3, 2), 9_995.0), (date(2025, 3, 3), 5.0),
          (date(2025, 3, 4), 15.0)]  # a 4-digit register rolls over between the 2nd and the 3rd: 10 kWh


def _delivery(payload: Any, n: int) -> Delivery:
    return Delivery(topic="test", partition=0, offset=n, key=None, envelope=wrap(payload, "race-test"))


def _change(entity: str, entity_id: str, data: dict[str, Any], kind: ChangeKind = ChangeKind.CREATED
            ) -> MasterDataChange:
    return MasterDataChange(change_id=f"{entity}/{entity_id}/{kind}/{secrets.token_hex(3)}", entity=entity,
                            entity_id=entity_id, kind=kind, changed_at=datetime(2024, 12, 1, tzinfo=UTC),
                            changed_by="test", data=data)


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=TZ).astimezone(UTC)


async def test_a_width_arriving_while_the_meters_readings_are_stored_is_not_lost(
        analytics: tuple[Any, httpx.AsyncClient]) -> None:
    ar, client = analytics
    tag = secrets.token_hex(3)
    meter, customer, region = f"MR-{tag}", f"CR-{tag}", f"RR-{tag}"
    meter_data = {"id": meter, "utility": "electricity", "multiplier": 1.0}
    base = [_change("company", "CO", {"id": "CO", "name": "Utility"}),
            _change("region", region, {"id": region, "name": "Race", "parent_id": None}),
            _change("customer", customer, {"id": customer, "name": customer, "party_id": f"P-{tag}",
                                           "utility": "electricity", "category": f"race-{tag}", "industry": None,
                                           "company_id": "CO", "region_id": region}),
            _change("metering_point", f"{customer}-P", {"id": f"{customer}-P", "customer_id": customer,
                                                        "utility": "electricity", "node_id": None}),
            _change("meter", meter, meter_data),  # no width yet
            _change("meter_installation", f"{customer}-P", {
                "metering_point_id": f"{customer}-P", "meter_id": meter,
                "valid_from": _midnight(date(2025, 1, 1)).isoformat(), "customer_id": customer,
                "utility": "electricity"})]
    await ar.handle_masterdata([_delivery(c, i) for i, c in enumerate(base)])
    batch = ValidatedReadingBatch(batch_id=f"race-{tag}", terminal="T1", readings=[
        ValidatedReading(meter_id=meter, item=E, data_time=_midnight(d), value=v, unit="kWh",
                         status=ValidationStatus.VALID, validated_at=datetime(2025, 4, 1, tzinfo=UTC))
        for d, v in VALUES])
    width = _change("meter", meter, {**meter_data, "register_digits": 4}, ChangeKind.UPDATED)

    applied, commit = asyncio.Event(), asyncio.Event()
    original = ar.apply

    async def held_open(conn: Any, readings: Any) -> None:  # the readings stored, their transaction not committed
        await original(conn, readings)
        applied.set()
        await commit.wait()
    ar.apply = held_open
    try:
        readings = asyncio.create_task(ar.handle_validated([_delivery(batch, 100)]))
        await asyncio.wait_for(applied.wait(), 30)
        master = asyncio.create_task(ar.handle_masterdata([_delivery(width, 101)]))
        await asyncio.sleep(1.0)
        assert not master.done(), "the width was applied beside the meter's open readings transaction"
        commit.set()
        await asyncio.wait_for(asyncio.gather(readings, master), 30)
    finally:
        commit.set()
        del ar.apply  # the instance attribute; the class's method again

    expected = 5.0 + 10.0 + 10.0  # 9,990 → 9,995 → (roll-over) 5 → 15
    params = {"interval": "month", "group_by": "customer", "customers": customer,
              "from": _midnight(date(2025, 3, 1)).isoformat(), "to": _midnight(date(2025, 4, 1)).isoformat()}
    deadline = time.monotonic() + 60
    got = None
    while time.monotonic() < deadline:
        resp = await client.get("/api/v1/analytics/usage", params=params)
        assert resp.status_code == 200, resp.text
        rows = resp.json()["rows"]
        got = rows[0]["usage"] if rows else None
        if got is not None and abs(got - expected) < 1e-6:
            break
        await asyncio.sleep(0.3)
    assert got == pytest.approx(expected), f"March of {customer}: {got}, expected {expected} (the roll-over)"
