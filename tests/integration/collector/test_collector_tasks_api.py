"""The task API on the real database: create, read, change, delete, with 4xx reasons and roles (R-4.2.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from collector_harness import DutyLogWatch, Running, collector_settings, running_collector, truncate

from emms_bus import KafkaSettings
from emms_collector.repository.templates import put_template
from emms_collector.tasks.auto_tasks import ensure_task
from emms_collector.tasks.templates import default_templates
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

pytestmark = pytest.mark.integration
TASK = {"id": "elec-daily", "name": "Electricity daily", "type": "daily_frozen",
        "target": {"utilities": ["electricity"], "regions": ["r-1"]}, "items": ["energy.active.import.total"],
        "period": {"unit": "daily", "at": "01:30"}, "priority": 3, "retries": 2}


@pytest.fixture(scope="module")
async def collector(database_url: str, kafka_settings: KafkaSettings) -> AsyncIterator[Running]:
    settings = collector_settings(database_url, kafka_settings, "collector-it-api", install_default_templates=True)
    async with running_collector(settings) as running:
        await truncate(running.c.pool)
        async with running.c.pool.acquire() as conn:
            for template in default_templates():
                await put_template(conn, template)
        yield running


async def test_a_task_is_created_read_listed_changed_and_deleted(collector: Running) -> None:
    client = collector.client
    created = await client.post("/api/v1/tasks", json=TASK)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["version"] == 1 and body["created_by"] == "tester" and body["period"]["at"] == "01:30"
    assert (await client.post("/api/v1/tasks", json=TASK)).status_code == 409
    listed = (await client.get("/api/v1/tasks", params={"type": "daily_frozen"})).json()
    assert [t["id"] for t in listed["items"]] == ["elec-daily"]
    patched = await client.patch("/api/v1/tasks/elec-daily", params={"version": 1}, json={"priority": 1})
    assert patched.status_code == 200 and patched.json()["priority"] == 1 and patched.json()["version"] == 2
    stale = await client.patch("/api/v1/tasks/elec-daily", params={"version": 1}, json={"priority": 2})
    assert stale.status_code == 409 and "no longer at version 1" in stale.json()["detail"]
    bad_patch = await client.patch("/api/v1/tasks/elec-daily", json={"items": ["voltage.a"]})
    assert bad_patch.status_code == 422 and "cannot read" in bad_patch.text
    replaced = await client.put("/api/v1/tasks/elec-daily", json={**TASK, "name": "renamed",
                                                                  "period": {"unit": "hourly", "at": "00:10"}})
    assert replaced.status_code == 200 and replaced.json()["name"] == "renamed"
    one = (await client.get("/api/v1/tasks/elec-daily")).json()
    assert one["period"]["unit"] == "hourly" and one["last_runs"] == []
    assert (await client.delete("/api/v1/tasks/elec-daily")).status_code == 204
    assert (await client.get("/api/v1/tasks/elec-daily")).status_code == 404
    assert (await client.delete("/api/v1/tasks/elec-daily")).status_code == 404


async def test_task_changes_and_manual_runs_reach_the_duty_log(collector: Running,
                                                                kafka_settings: KafkaSettings) -> None:
    """R-4.6.7: who changed which task when, in the duty log (emms.operation.log.v1), in the order they happened."""
    async with DutyLogWatch(kafka_settings) as duty:
        client = collector.client
        assert (await client.post("/api/v1/tasks", json={**TASK, "id": "logged", "enabled": False})).status_code == 201
        assert (await client.patch("/api/v1/tasks/logged", json={"priority": 1})).status_code == 200
        run = await client.post("/api/v1/tasks/logged/runs", json={"slot": "2026-01-05T01:30:00+08:00"})
        assert run.status_code == 202, run.text
        assert (await client.delete("/api/v1/tasks/logged")).status_code == 204
        entries = [await duty.entry(a, target="task logged")
                   for a in ("task.create", "task.update", "task.run", "task.delete")]
    assert {(e.service, e.category, e.actor, e.outcome) for e in entries} == {
        ("collector", "task", "tester", "success")}
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    assert entries[1].detail["version"] == 2 and entries[2].detail["run_id"] == run.json()["run_id"]
    assert {k: v for k, v in entries[0].detail["target"].items() if v} == TASK["target"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"target": {}}, "selects no meters"),
    ({"items": ["energy.nonsense"]}, "unknown item codes"),
    ({"period": {"unit": "minutes", "every": 7}}, "does not divide a day"),
    ({"priority": 12}, "less than or equal to 9"),
    ({"type": "weekly"}, "Input should be"),
])
async def test_invalid_tasks_get_422_with_the_reason(collector: Running, change: dict[str, object],
                                                     reason: str) -> None:
    answer = await collector.client.post("/api/v1/tasks", json={**TASK, "id": "bad", **change})
    assert answer.status_code == 422 and reason in answer.text


async def test_a_manual_run_of_a_slot_is_accepted_once(collector: Running) -> None:
    await collector.client.post("/api/v1/tasks", json={**TASK, "id": "rerun", "enabled": False})
    slot = {"slot": "2026-01-05T01:30:00+08:00"}
    first = await collector.client.post("/api/v1/tasks/rerun/runs", json=slot)
    assert first.status_code == 202 and first.json()["data_time"] == "2026-01-04T16:00:00+00:00"
    again = await collector.client.post("/api/v1/tasks/rerun/runs", json=slot)
    assert again.status_code == 409
    future = await collector.client.post("/api/v1/tasks/rerun/runs", json={"slot": "2099-01-01T00:00:00Z"})
    assert future.status_code == 422


async def test_templates_and_items_are_listed_and_auto_tasks_are_guarded(collector: Running) -> None:
    templates = (await collector.client.get("/api/v1/templates")).json()["items"]
    assert {t["utility"] for t in templates} == {"electricity", "water", "gas", "heat"}
    items = {i["code"]: i for i in (await collector.client.get("/api/v1/items")).json()["items"]}
    assert any(r["task_type"] == "daily_frozen" for r in items["energy.active.import.total"]["readable"])
    template = next(t for t in templates if t["utility"] == "gas")
    async with collector.c.pool.acquire() as conn:
        task_id = await ensure_task(conn, default_templates()[2])
    assert task_id == "auto-gas-daily"
    guarded = await collector.client.put(f"/api/v1/tasks/{task_id}", json={**TASK, "id": task_id})
    assert guarded.status_code == 409 and "through its template" in guarded.json()["detail"]
    stored = await collector.client.put(f"/api/v1/templates/{template['id']}",
                                        json={**template, "spec": {**template["spec"], "priority": 1}})
    assert stored.status_code == 200
    assert (await collector.client.get(f"/api/v1/tasks/{task_id}")).json()["priority"] == 1


async def test_roles_are_enforced(collector: Running) -> None:
    transport = httpx.ASGITransport(app=collector.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://collector") as anonymous:
        assert (await anonymous.get("/api/v1/tasks")).status_code == 401
        viewer = {"Authorization": f"Bearer {issue_token(AuthSettings(), 'v', 'viewer')}"}
        assert (await anonymous.get("/api/v1/tasks", headers=viewer)).status_code == 200
        refused = await anonymous.post("/api/v1/tasks", json=TASK, headers=viewer)
        assert refused.status_code == 403 and "'collection:run' is needed" in refused.json()["detail"]
