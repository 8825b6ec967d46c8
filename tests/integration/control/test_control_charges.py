"""Charges from validated readings published on the real broker: equal to a hand computation, estimated
and held readings marked, and a redelivered (or re-sent) batch changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from control_harness import Control, token, uid

from emms_bus import BusProducer, KafkaSettings
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus

pytestmark = [pytest.mark.integration, pytest.mark.both_storage_modes]
V = ValidationStatus


@pytest.fixture
async def producer(kafka_settings: KafkaSettings) -> AsyncIterator[BusProducer]:
    p = BusProducer(kafka_settings, "control-test")
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


def local(hour: int) -> datetime:
    return datetime.fromisoformat(f"2026-03-01T{hour:02d}:00:00+08:00")


def utc(hour: int) -> str:
    return local(hour).astimezone(UTC).isoformat()


def reading(meter: str, hour: int, value: float | None, status: ValidationStatus = V.VALID) -> ValidatedReading:
    return ValidatedReading(meter_id=meter, item="energy.active.import.total", data_time=local(hour), value=value,
                            unit="kWh", status=status, validated_at=local(hour) + timedelta(minutes=5))


async def charges_of(control: Control, account_id: str) -> list[dict[str, Any]]:
    resp = await control.client.get(f"/api/v1/accounts/{account_id}/charges", headers=token("viewer"))
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


async def wait_for(control: Control, account_id: str, n: int) -> list[dict[str, Any]]:
    for _ in range(300):
        found = await charges_of(control, account_id)
        if len(found) >= n:
            return found
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{n} charges expected, {len(await charges_of(control, account_id))} came")


async def test_charges_from_a_validated_batch_equal_the_hand_computation_and_redelivery_changes_nothing(
        control: Control, producer: BusProducer) -> None:
    meter = uid("M")
    account = await control.account(await control.tariff(), meter)
    url = f"/api/v1/accounts/{account['account_id']}"
    await control.client.post(f"{url}/payments", headers=token(), json={"payment_id": uid("P"), "amount": "100"})
    batch = ValidatedReadingBatch(batch_id=uid("vee"), terminal="T1", readings=[
        reading(meter, 6, 1000.0), reading(meter, 8, 1020.0), reading(meter, 9, None, V.HELD),
        reading(meter, 10, 1110.0, V.ESTIMATED), reading(meter, 11, 1120.0),
        reading(uid("M-unknown"), 11, 5.0)])
    await producer.publish(batch)
    charges = await wait_for(control, account["account_id"], 3)
    # 06–08 local: 10 kWh valley × 0.3 + 10 kWh flat × 0.6 (month's tier 1)                 =  9.00
    # 08–10: 90 kWh flat; month so far 20 → 80 × 0.6 in tier 1, 10 × (0.6 + 0.05) in tier 2  = 54.50
    # 10–11: 10 kWh peak × (0.8 + 0.05), tier 2                                               =  8.50
    assert [(c["start"], c["end"], c["quantity"], c["amount"], c["flags"]) for c in charges] == [
        (utc(6), utc(8), 20.0, 9.0, []), (utc(8), utc(10), 90.0, 54.5, ["estimated", "held"]),
        (utc(10), utc(11), 10.0, 8.5, ["estimated"])]
    assert [c["estimated"] for c in charges] == [False, True, True] and charges[1]["held"]
    assert [(line["period"], line["tier"], line["quantity"], line["unit_price"]) for line in charges[1]["lines"]] == [
        ("flat", 1, "80.000000", "0.6"), ("flat", 2, "10.000000", "0.65")]
    before = (await control.client.get(url, headers=token("viewer"))).json()
    assert before["balance"] == 100 - 72.0
    ledger_before = (await control.client.get(f"{url}/ledger", headers=token("viewer"))).json()

    await producer.publish(batch)  # redelivery: the same message id
    resent = ValidatedReadingBatch(batch_id=uid("vee"), terminal="T1", readings=batch.readings[:5])
    await producer.publish(resent)  # the same readings in another message: all at or before the baseline
    later = ValidatedReadingBatch(batch_id=uid("vee"), terminal="T1", readings=[reading(meter, 12, 1121.0)])
    await producer.publish(later)  # a marker: once it is charged, the two before it have been handled
    charges = await wait_for(control, account["account_id"], 4)
    assert len(charges) == 4 and charges[3]["amount"] == 0.85  # 11–12: 1 kWh peak, tier 2
    after = (await control.client.get(url, headers=token("viewer"))).json()
    ledger_after = (await control.client.get(f"{url}/ledger", headers=token("viewer"))).json()
    assert ledger_after[:len(ledger_before)] == ledger_before and len(ledger_after) == len(ledger_before) + 1
    assert after["balance"] == before["balance"] - charges[3]["amount"]
