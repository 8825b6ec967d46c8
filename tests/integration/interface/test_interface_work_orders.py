"""Work orders through the interface: install in the archive's master data, idempotent by key, refused with
reasons, completed by the new meter's first validated reading from the bus, then a signed webhook to a real
receiver. (Against the simulator end to end: see docs/integration.md — not covered here.)"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from archive_harness import ADMIN, customer_meter_rows, seed_reference
from conftest import Stack
from interface_harness import Receiver, eventually
from service_harness import FreshBearer

from emms_messages.readings import ValidatedReading, ValidatedReadingBatch, ValidationStatus

pytestmark = pytest.mark.integration
CLIENT = FreshBearer("billing-system", "integrator")


async def _seed(stack: Stack) -> tuple[str, dict[str, str]]:
    run = secrets.token_hex(3)
    ids = await seed_reference(stack.archive, run, utilities=("electricity",))
    rows = customer_meter_rows(ids, run, 2)
    resp = await stack.archive.post("/api/v1/import/customer-meters", json=rows, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    # point 1 is left without a meter (its meter taken off), the work order puts one back
    resp = await stack.archive.post(f"/api/v1/metering-points/MP-{run}-1/remove-meter", headers=ADMIN,
                                    json={"at": "2026-06-01T00:00:00Z", "reason": "test"})
    assert resp.status_code == 200, resp.text
    return run, ids


async def test_a_work_order_is_one_job_per_key_refused_with_reasons_and_ends_with_the_first_reading(
        stack: Stack) -> None:
    run, _ = await _seed(stack)
    receiver = Receiver()
    await receiver.up()
    try:
        resp = await stack.interface.post("/api/v1/webhooks/subscriptions", headers=CLIENT,
                                          json={"url": receiver.url, "events": ["workorder.completed"]})
        assert resp.status_code == 201, resp.text
        receiver.secrets.append(resp.json()["secret"])
        at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        order = {"metering_point_id": f"MP-{run}-1", "meter_id": f"M-{run}-1", "at": at.isoformat(),
                 "order_ref": "WO-1"}
        key = {"Idempotency-Key": f"wo-{run}"}

        # an unknown meter, and a meter installed on another point: 4xx with the reason, nothing made
        unknown = await stack.interface.post("/api/v1/jobs/work-orders/install",
                                             headers={**CLIENT, "Idempotency-Key": f"u-{run}"},
                                             json={**order, "meter_id": f"M-{run}-none"})
        assert unknown.status_code == 422 and "unknown meter" in unknown.json()["detail"], unknown.text
        elsewhere = await stack.interface.post("/api/v1/jobs/work-orders/install",
                                               headers={**CLIENT, "Idempotency-Key": f"e-{run}"},
                                               json={**order, "meter_id": f"M-{run}-0"})
        assert elsewhere.status_code in (409, 422), elsewhere.text
        assert f"M-{run}-0" in elsewhere.json()["detail"] or "meter" in elsewhere.json()["detail"]

        first = await stack.interface.post("/api/v1/jobs/work-orders/install", headers={**CLIENT, **key}, json=order)
        assert first.status_code == 201, first.text
        job = first.json()
        assert job["state"] == "awaiting_first_reading" and job["upstream"]["change_id"]
        again = await stack.interface.post("/api/v1/jobs/work-orders/install", headers={**CLIENT, **key}, json=order)
        assert again.status_code == 200 and again.json()["job_id"] == job["job_id"]
        other = await stack.interface.post("/api/v1/jobs/work-orders/install", headers={**CLIENT, **key},
                                           json={**order, "order_ref": "WO-2"})
        assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
        history = (await stack.archive.get(f"/api/v1/metering-points/MP-{run}-1/meters", headers=ADMIN)).json()
        assert [p["meter_id"] for p in history if p["valid_to"] is None] == [f"M-{run}-1"]
        assert len([p for p in history if p["meter_id"] == f"M-{run}-1"]) == 2  # the old period and the new one

        # the validator's output for the new meter: its first reading completes the order (twice: once)
        reading = ValidatedReading(meter_id=f"M-{run}-1", item="energy.active.import.total",
                                   data_time=at + timedelta(minutes=1), value=1234.5, unit="kWh",
                                   status=ValidationStatus.VALID, validated_at=datetime.now(UTC))
        batch = ValidatedReadingBatch(batch_id=f"b-{run}", terminal=f"T-{run}", readings=[reading])
        await stack.producer.publish(batch)
        await stack.producer.publish(batch)

        async def completed() -> dict | None:
            body = (await stack.interface.get(f"/api/v1/jobs/{job['job_id']}", headers=CLIENT)).json()
            return body if body["state"] == "completed" else None

        done = await eventually(completed, 60)
        assert done["result"]["first_reading"]["value"] == 1234.5
        def ours() -> list[dict]:
            return [d for d in receiver.deliveries if d["body"]["data"]["job_id"] == job["job_id"]]

        await eventually(lambda: _async(len(ours()) >= 1), 30)
        delivered = ours()[0]
        assert delivered["body"]["type"] == "workorder.completed"
        assert delivered["body"]["data"]["state"] == "completed"
        assert delivered["body"]["data"]["order_ref"] == "WO-1"
        assert delivered["body"]["data"]["result"]["first_reading"]["meter_id"] == f"M-{run}-1"
        assert delivered["headers"]["x-emms-event-id"] == delivered["body"]["event_id"]
        assert receiver.bad_signatures == 0
        # the two refused orders end too (state rejected, with the reason); every event arrives once
        await eventually(lambda: _async(len(receiver.deliveries) >= 3), 30)
        states = sorted(d["body"]["data"]["state"] for d in receiver.deliveries)
        assert states == ["completed", "rejected", "rejected"]
        assert len(set(receiver.event_ids())) == len(receiver.event_ids()) == 3
    finally:
        await receiver.down()


async def _async(value: object) -> object:
    return value
