"""The duty log from the services that publish it: identity's user changes and control's command path (submitted,
cancelled, and the final result per device on emms.control.command.v1) reach the operations service's log."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from operations_harness import Operations

from emms_bus import BusProducer, KafkaSettings
from emms_identity.app import create_app as create_identity

HERE = Path(__file__).resolve().parents[1]
for area in ("identity", "control"):
    if str(HERE / area) not in sys.path:
        sys.path.insert(0, str(HERE / area))

from commands_harness import change, installations  # noqa: E402  (after the path)
from control_harness import Control, running_control, token  # noqa: E402
from identity_harness import Identity, settings  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def identity(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[Identity]:
    config = settings(database_url, kafka_settings)
    app = create_identity(config)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://identity", timeout=30) as client:
        yield Identity(app, client, config)


@pytest.fixture(scope="module")
async def control(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[Control]:
    async with running_control(database_url, kafka_settings) as svc:
        yield svc


async def _entries(operations: Operations, expected: int, timeout_s: float = 40.0, **params: Any
                   ) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for _ in range(int(timeout_s / 0.25)):
        resp = await operations.client.get("/api/v1/duty-log", params=params)
        assert resp.status_code == 200, resp.text
        rows = resp.json()
        if len(rows) >= expected:
            return rows
        await asyncio.sleep(0.25)
    raise AssertionError(f"duty log {params}: {len(rows)} entries of {expected}: {rows}")


async def test_identity_user_changes_reach_the_duty_log(identity: Identity, operations: Operations) -> None:
    admin = await identity.admin()
    user = await identity.create_user(admin, roles=["viewer"], prefix="duty")
    resp = await identity.client.patch(f"/api/v1/users/{user['id']}", headers=admin,
                                       json={"roles": ["operator"]})
    assert resp.status_code == 200, resp.text
    assert (await identity.client.post(f"/api/v1/users/{user['id']}/disable", headers=admin)).status_code == 200
    reset = await identity.client.post(f"/api/v1/users/{user['id']}/reset-password", headers=admin)
    assert reset.status_code == 200
    rows = await _entries(operations, 4, service="identity", target=user["username"])
    assert [r["action"] for r in rows] == ["user.create", "user.update", "user.disable", "password.reset"]
    assert {r["actor"] for r in rows} == {"admin"} and {r["category"] for r in rows} == {"user"}
    assert rows[1]["detail"]["after"] == {"roles": ["operator"]}
    assert reset.json()["temporary_password"] not in str(rows), "the duty log never holds a password"


async def test_control_commands_reach_the_duty_log(control: Control, operations: Operations,
                                                   producer: BusProducer) -> None:
    meter = f"M-DUTY-{uuid.uuid4().hex[:6]}"
    terminal = {"key": "3798-00001", "meters": [{"meter_id": meter, "pn": 1, "port": 2, "protocol": "dlt645-2007",
                                                 "address": "000000000001", "utility": "electricity"}]}
    await producer.publish_many([*installations([terminal]), change("customer", f"C-{meter}", company_id="CO-A",
                                                                   region_id="R-1", category="e_residential")])
    job = None
    for _ in range(160):  # until control has the meter from master data
        resp = await control.client.post("/api/v1/commands", headers=token(), json={
            "target": {"meter_ids": [meter]}, "action": "trip", "reason": "duty-log test: arrears",
            "not_before": "2099-01-01T00:00:00Z"})
        if resp.status_code == 201:
            job = resp.json()["job_id"]
            break
        assert resp.status_code == 404, resp.text
        await asyncio.sleep(0.25)
    assert job is not None, "control never learnt the meter"
    cancelled = await control.client.post(f"/api/v1/jobs/{job}/cancel", headers=token())
    assert cancelled.status_code == 200, cancelled.text
    rows = await _entries(operations, 2, service="control", target=f"job {job}")
    by_action = {r["action"]: r for r in rows}
    assert {"command.submitted", "command.cancelled"} <= set(by_action)
    submitted = by_action["command.submitted"]
    assert submitted["actor"] == "test-operator" and submitted["reason"] == "duty-log test: arrears"
    assert submitted["detail"]["action"] == "trip"
