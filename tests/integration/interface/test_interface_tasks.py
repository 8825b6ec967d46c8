"""Collection and control tasks as jobs, carried out by the real collector and control apps with the caller's
own token: the collector's task is created and run, the job ends with the run; a control command with a
step-up goes to control at once, without one it waits for another person's stepped-up approval; an unknown
device is refused by control (the job rejected with control's reason)."""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from interface_harness import eventually
from service_harness import FreshBearer, own_database

from emms_bus import KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_interface.app import create_app
from emms_interface.settings import InterfaceSettings, JobSettings

_path = str(Path(__file__).resolve().parents[1] / "collector")
if _path not in sys.path:
    sys.path.insert(0, _path)

from collector_harness import collector_settings, running_collector  # noqa: E402  (after the path)
from control_harness import running_control  # noqa: E402

pytestmark = pytest.mark.integration
OPERATOR = FreshBearer("ops-system", "operator")
STEP_UP = FreshBearer("ops-system", "operator", step_up=True)
APPROVER = FreshBearer("duty-operator", "operator")
APPROVER_STEP_UP = FreshBearer("duty-operator", "operator", step_up=True)
VIEWER = FreshBearer("wallboard", "viewer")


@dataclass
class Owners:
    interface: httpx.AsyncClient
    collector: httpx.AsyncClient


@pytest.fixture(scope="module")
def tasks_database(database_url: str) -> Iterator[str]:
    """A database of the module's own: a collection job's task targets every point, and other modules
    leave points in the session database that nobody answers for here (the run would wait them out)."""
    yield from own_database(database_url, "ifc_tasks")


@pytest.fixture(scope="module")
async def owners(tasks_database: str, kafka_settings: KafkaSettings) -> AsyncIterator[Owners]:
    database_url = tasks_database
    async with running_collector(collector_settings(database_url, kafka_settings, "collector-ifc")) as collector, \
            running_control(database_url, kafka_settings) as control:
        settings = InterfaceSettings(
            _env_file=None, environment="test", database=DatabaseSettings(url=database_url),  # type: ignore[call-arg]
            kafka=kafka_settings, shutdown_grace_s=5.0, jobs=JobSettings(poll_s=0.3))
        app = create_app(settings, {"collector": httpx.ASGITransport(app=collector.app),
                                    "control": httpx.ASGITransport(app=control.app)})
        async with app.router.lifespan_context(app), \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://interface",
                                  timeout=30) as client:
            yield Owners(client, collector.client)


async def test_a_collection_job_creates_and_runs_the_task_and_ends_with_the_run(owners: Owners) -> None:
    key = {"Idempotency-Key": secrets.token_hex(4)}
    body = {"task": {"name": "billing re-read", "type": "realtime", "target": {"all": True},
                     "period": {"unit": "daily", "at": "01:30"}}}
    resp = await owners.interface.post("/api/v1/jobs/collection", headers={**OPERATOR, **key}, json=body)
    assert resp.status_code == 201, resp.text
    job = resp.json()
    assert job["state"] == "running"
    task_id, run_id = job["upstream"]["task_id"], job["upstream"]["run_id"]
    again = await owners.interface.post("/api/v1/jobs/collection", headers={**OPERATOR, **key}, json=body)
    assert again.status_code == 200 and again.json()["job_id"] == job["job_id"]
    runs = (await owners.collector.get(f"/api/v1/tasks/{task_id}/runs")).json()
    assert [r["id"] for r in runs["items"]] == [run_id], "one run: the retry did nothing twice"

    async def ended() -> dict | None:
        body = (await owners.interface.get(f"/api/v1/jobs/{job['job_id']}", headers=OPERATOR)).json()
        return body if body["state"] in ("completed", "failed") else None

    done = await eventually(ended, 60, 0.3)
    run = (await owners.collector.get(f"/api/v1/runs/{run_id}")).json()
    assert done["state"] == ("completed" if run["status"] == "done" else "failed")
    assert done["result"]["run"]["expected"] == run["expected"]

    bad = await owners.interface.post(
        "/api/v1/jobs/collection", headers={**OPERATOR, "Idempotency-Key": "x" + key["Idempotency-Key"]},
        json={"task": {"name": "bad", "type": "realtime", "target": {}, "period": {"unit": "once"}}})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("collector:"), bad.text
    missing = await owners.interface.post("/api/v1/jobs/collection", headers=OPERATOR, json=body)
    assert missing.status_code == 400 and "Idempotency-Key" in missing.json()["detail"]


async def test_a_control_job_with_a_step_up_goes_to_control_and_carries_its_refusal(owners: Owners) -> None:
    body = {"command": {"action": "trip", "target": {"meter_ids": [f"m-none-{secrets.token_hex(3)}"]},
                        "reason": "arrears"}}
    key = {"Idempotency-Key": secrets.token_hex(4)}
    refused = await owners.interface.post("/api/v1/jobs/control", headers={**STEP_UP, **key}, json=body)
    assert refused.status_code == 404 and refused.json()["detail"].startswith("control:"), refused.text
    again = await owners.interface.post("/api/v1/jobs/control", headers={**STEP_UP, **key}, json=body)
    assert again.status_code == 200 and again.json()["state"] == "rejected"
    assert again.json()["reason"] == refused.json()["detail"].removeprefix("control: ")
    viewer = await owners.interface.post("/api/v1/jobs/control", headers={**VIEWER, "Idempotency-Key": "v"}, json=body)
    assert viewer.status_code == 403 and "control:send" in viewer.json()["detail"]


async def test_a_control_job_without_a_step_up_waits_for_another_persons_approval(owners: Owners) -> None:
    """A business system's token never carries a password check: its control job waits, an operator with a
    step-up (not the requester) approves it — then control checks and logs the approver — or declines it."""
    body = {"command": {"action": "trip", "target": {"meter_ids": [f"m-none-{secrets.token_hex(3)}"]},
                        "reason": "arrears"}}
    key = {"Idempotency-Key": secrets.token_hex(4)}
    asked = await owners.interface.post("/api/v1/jobs/control", headers={**OPERATOR, **key}, json=body)
    assert asked.status_code == 201, asked.text
    job = asked.json()
    assert job["state"] == "awaiting_approval" and "approval" in job["reason"]
    again = await owners.interface.post("/api/v1/jobs/control", headers={**OPERATOR, **key}, json=body)
    assert again.status_code == 200 and again.json()["job_id"] == job["job_id"]
    approve = f"/api/v1/jobs/{job['job_id']}/approve"
    own = await owners.interface.post(approve, headers=STEP_UP)  # the requester, even stepped up: four eyes
    assert own.status_code == 409 and "four eyes" in own.json()["detail"], own.text
    plain = await owners.interface.post(approve, headers=APPROVER)
    assert plain.status_code == 403 and "step-up" in plain.json()["detail"]
    approved = await owners.interface.post(approve, headers=APPROVER_STEP_UP)
    # sent to control with the approver's token: control refuses the unknown meter, the job carries it
    assert approved.status_code == 404 and approved.json()["detail"].startswith("control:"), approved.text
    after = (await owners.interface.get(f"/api/v1/jobs/{job['job_id']}", headers=OPERATOR)).json()
    assert after["state"] == "rejected" and after["upstream"]["approved_by"].endswith("duty-operator")
    assert after["reason"] == approved.json()["detail"].removeprefix("control: ")
    twice = await owners.interface.post(approve, headers=APPROVER_STEP_UP)
    assert twice.status_code == 409 and "not awaiting approval" in twice.json()["detail"]

    other = await owners.interface.post("/api/v1/jobs/control", headers={**OPERATOR, "Idempotency-Key": "d" + key[
        "Idempotency-Key"]}, json=body)
    assert other.status_code == 201 and other.json()["state"] == "awaiting_approval"
    declined = await owners.interface.post(f"/api/v1/jobs/{other.json()['job_id']}/decline",
                                           headers=APPROVER_STEP_UP, json={"reason": "customer paid"})
    assert declined.status_code == 200 and declined.json()["state"] == "rejected", declined.text
    assert declined.json()["reason"].endswith("customer paid")
    unknown = await owners.interface.post("/api/v1/jobs/00000000-0000-0000-0000-000000000000/approve",
                                          headers=APPROVER_STEP_UP)
    assert unknown.status_code == 404
