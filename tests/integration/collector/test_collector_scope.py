"""Company / region scope on every company-scoped route of the collector (R-4.6.2), on the real database.

Two companies' master data go through the collector's own intake (``MasterDataSync.apply``): company A
with regions ``north`` (and ``north-east`` below it) and ``west``, company B in ``south``. Each route
whose OpenAPI operation says ``x-emms-scope: company`` has a case here — the test fails when a route has
none — where a caller of A is allowed on A's things and a caller of B is refused (404 for a thing looked
up by id, 403 for a command naming B's meters or terminals) or sees A's rows filtered out.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from clock_scope_cases import clock_cases
from collector_harness import FakeFleet, Responder, Running, collector_settings, running_collector, truncate
from terminal_config_scope_cases import terminal_config_cases

from emms_bus import KafkaSettings
from emms_collector.repository import clock as clock_sql
from emms_collector.repository import gaps as gap_sql
from emms_collector.repository import manual_jobs as job_sql
from emms_collector.repository import tasks as task_sql
from emms_collector.repository.gaps import Gap
from emms_collector.schema import SCHEMA
from emms_messages.masterdata import ChangeKind, MasterDataChange
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

pytestmark = pytest.mark.integration

TA, TA2, TB = "3711-00001", "3711-00002", "3712-00001"
"""Company A's terminals in north and west, company B's in south."""
TASK = {"name": "scope test", "type": "daily_frozen", "period": {"unit": "daily", "at": "01:00"},
        "enabled": False}


def _token(subject: str, role: str = "operator", companies: tuple[str, ...] = (),
           regions: tuple[str, ...] = ()) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(AuthSettings(), subject, role, companies=companies,
                                                     regions=regions)}


A = _token("op-a", companies=("A",))
B = _token("op-b", companies=("B",))
A_NORTH = _token("op-a-north", companies=("A",), regions=("north",))
AB = _token("op-ab", companies=("A", "B"))
ADMIN = _token("admin", "admin")
VIEWER_A = _token("viewer-a", "viewer", companies=("A",))


def _change(entity: str, entity_id: str, data: dict[str, Any]) -> MasterDataChange:
    return MasterDataChange(change_id=str(uuid.uuid4()), entity=entity, entity_id=entity_id,
                            kind=ChangeKind.CREATED, changed_at=datetime.now(UTC), changed_by="test", data=data)


def _installation(meter: str, terminal: str, pn: int, customer: str, utility: str = "electricity",
                  protocol: str = "dlt645-2007") -> MasterDataChange:
    return _change("meter_installation", f"mp-{meter}", {
        "meter_id": meter, "metering_point_id": f"mp-{meter}", "terminal_address": terminal, "pn": pn,
        "utility": utility, "protocol": protocol, "meter_address": f"{pn:014d}", "port": 2 if utility == "water" else 1,
        "customer_id": customer, "valid_from": "2025-01-01T00:00:00+00:00"})


MASTER_DATA = [
    _change("region", "north", {"id": "north", "parent_id": None}),
    _change("region", "north-east", {"id": "north-east", "parent_id": "north"}),
    _change("region", "west", {"id": "west", "parent_id": None}),
    _change("region", "south", {"id": "south", "parent_id": None}),
    _change("customer", "cu-a1", {"company_id": "A", "region_id": "north-east", "category": "resident",
                                  "utility": "electricity"}),
    _change("customer", "cu-a2", {"company_id": "A", "region_id": "west", "category": "resident",
                                  "utility": "electricity"}),
    _change("customer", "cu-b1", {"company_id": "B", "region_id": "south", "category": "resident",
                                  "utility": "electricity"}),
    _change("terminal", "t-a", {"address": TA, "company_id": "A", "region_id": "north", "status": "active"}),
    _change("terminal", "t-a2", {"address": TA2, "company_id": "A", "region_id": "west", "status": "active"}),
    _change("terminal", "t-b", {"address": TB, "company_id": "B", "region_id": "south", "status": "active"}),
    _installation("mA1", TA, 1, "cu-a1"),
    _installation("mA2", TA, 2, "cu-a1", "water", "cjt188-2004"),
    _installation("mA3", TA2, 1, "cu-a2"),
    _installation("mB1", TB, 1, "cu-b1"),
    _installation("mB2", TB, 2, "cu-b1", "water", "cjt188-2004"),
]


@dataclass
class World:
    client: httpx.AsyncClient
    running: Running
    run_a: int
    run_b: int
    sync_a: int
    sync_b: int
    tmp: Path

    async def call(self, who: dict[str, str], method: str, url: str, **kw: Any) -> httpx.Response:
        return await self.client.request(method, url, headers=who, **kw)


@pytest.fixture(scope="module")
async def world(database_url: str, kafka_settings: KafkaSettings,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    settings = collector_settings(database_url, kafka_settings, "collector-it-scope",
                                  backfill={"enabled": False}, timesync={"enabled": False})
    async with running_collector(settings, role="admin") as running, Responder(kafka_settings, FakeFleet()):
        c = running.c
        await truncate(c.pool)
        async with c.pool.acquire() as conn, conn.transaction():
            for change in MASTER_DATA:
                await c.masterdata.apply(conn, change, [])
        client = running.client
        for who, task_id, target in ((A, "task-a", {"meters": ["mA1", "mA2"]}), (B, "task-b", {"all": True})):
            made = await client.post("/api/v1/tasks", headers=who, json={**TASK, "id": task_id, "target": target})
            assert made.status_code == 201, made.text
        now = datetime.now(UTC)
        async with c.pool.acquire() as conn:
            runs = {}
            for task_id, meters in (("task-a", (("mA1", TA), ("mA2", TA))), ("task-b", (("mB1", TB),))):
                runs[task_id] = await conn.fetchval(
                    f"INSERT INTO {SCHEMA}.task_run (task_id, due_at, data_time, status, kind, expected, meters)"
                    " VALUES ($1, $2, $2, 'done', 'scheduled', $3, $3) RETURNING id",
                    task_id, now - timedelta(days=1), len(meters))
                await conn.executemany(
                    f"INSERT INTO {SCHEMA}.run_meter (run_id, meter_id, terminal, items, state, reason)"
                    " VALUES ($1, $2, $3, '{energy.active.import.total}', 'failed', $4)",
                    [(runs[task_id], m, t, f"{m} did not answer") for m, t in meters])
            await task_sql.add_members(conn, "task-a", ["mA1", "mB1"], "test")
            await gap_sql.open_gaps(conn, [Gap(m, "energy.active.import.total", now - timedelta(days=2),
                                               "daily_frozen", t) for m, t in (("mA1", TA), ("mB1", TB))])
            await clock_sql.note_sessions(conn, [TA, TA2, TB], [1.5, 2.5, 3.5], [now] * 3, [True] * 3)
            await clock_sql.add_meter_syncs(conn, [(TA, "mA2", "awaiting_approval", "ERC 12", None),
                                                   (TB, "mB2", "awaiting_approval", "ERC 12", None)])
            syncs = {r["meter_id"]: r["id"] for r in await conn.fetch(f"SELECT id, meter_id FROM {SCHEMA}.clock_sync")}
            for job, meter in (("read-a-1", "mA1"), ("read-b-1", "mB1")):
                await job_sql.insert_job(conn, job, "test", "", json.dumps({"meters": [meter]}), [meter])
        yield World(client, running, runs["task-a"], runs["task-b"], syncs["mA2"], syncs["mB2"],
                    tmp_path_factory.mktemp("scope"))


def _ids(answer: httpx.Response, key: str = "id") -> set[str]:
    assert answer.status_code == 200, answer.text
    return {str(i[key]) if isinstance(i, dict) else str(i) for i in answer.json()["items"]}


# -- one case per company-scoped operation: A allowed on A's things, B refused or filtered -------------------------

async def _create_task(w: World) -> None:
    mine = await w.call(A, "POST", "/api/v1/tasks", json={**TASK, "target": {"meters": ["mA3"]}})
    assert mine.status_code == 201 and mine.json()["company_id"] == "A", mine.text
    theirs = await w.call(B, "POST", "/api/v1/tasks", json={**TASK, "target": {"meters": ["mA3"]}})
    assert theirs.status_code == 403 and "mA3" in theirs.json()["detail"]


async def _list_tasks(w: World) -> None:
    assert {"task-a"} <= _ids(await w.call(A, "GET", "/api/v1/tasks")) and \
        "task-b" not in _ids(await w.call(A, "GET", "/api/v1/tasks"))
    assert "task-a" not in _ids(await w.call(B, "GET", "/api/v1/tasks"))


async def _get_task(w: World) -> None:
    assert (await w.call(A, "GET", "/api/v1/tasks/task-a")).status_code == 200
    assert (await w.call(B, "GET", "/api/v1/tasks/task-a")).status_code == 404


async def _replace_task(w: World) -> None:
    body = {**TASK, "target": {"meters": ["mA1", "mA2"]}}
    assert (await w.call(A, "PUT", "/api/v1/tasks/task-a", json=body)).status_code == 200
    assert (await w.call(B, "PUT", "/api/v1/tasks/task-a", json=body)).status_code == 404
    reaching_out = await w.call(A, "PUT", "/api/v1/tasks/task-a", json={**TASK, "target": {"terminals": [TB]}})
    assert reaching_out.status_code == 403 and TB in reaching_out.json()["detail"]


async def _patch_task(w: World) -> None:
    assert (await w.call(A, "PATCH", "/api/v1/tasks/task-a", json={"priority": 4})).status_code == 200
    assert (await w.call(B, "PATCH", "/api/v1/tasks/task-a", json={"priority": 1})).status_code == 404
    assert (await w.call(A, "PATCH", "/api/v1/tasks/task-a", json={"company_id": "B"})).status_code == 403


async def _delete_task(w: World) -> None:
    made = await w.call(A, "POST", "/api/v1/tasks", json={**TASK, "target": {"all": True}})
    task_id = made.json()["id"]
    assert (await w.call(B, "DELETE", f"/api/v1/tasks/{task_id}")).status_code == 404
    assert (await w.call(A, "DELETE", f"/api/v1/tasks/{task_id}")).status_code == 204


async def _task_members(w: World) -> None:
    mine = await w.call(A, "GET", "/api/v1/tasks/task-a/members")
    assert _ids(mine) == {"mA1"}  # the stray member of company B is not shown
    assert (await w.call(B, "GET", "/api/v1/tasks/task-a/members")).status_code == 404


async def _run_now(w: World) -> None:
    assert (await w.call(A, "POST", "/api/v1/tasks/task-a/runs", json={})).status_code == 202
    assert (await w.call(B, "POST", "/api/v1/tasks/task-a/runs", json={})).status_code == 404


async def _task_runs(w: World) -> None:
    assert str(w.run_a) in _ids(await w.call(A, "GET", "/api/v1/tasks/task-a/runs"))
    assert (await w.call(B, "GET", "/api/v1/tasks/task-a/runs")).status_code == 404


async def _list_runs(w: World) -> None:
    mine = _ids(await w.call(A, "GET", "/api/v1/runs"))
    assert str(w.run_a) in mine and str(w.run_b) not in mine
    assert str(w.run_a) not in _ids(await w.call(B, "GET", "/api/v1/runs"))


async def _get_run(w: World) -> None:
    mine = await w.call(A, "GET", f"/api/v1/runs/{w.run_a}")
    assert mine.status_code == 200 and mine.json()["meter_states"] == {"failed": 2}
    assert (await w.call(B, "GET", f"/api/v1/runs/{w.run_a}")).status_code == 404


async def _run_meters(w: World) -> None:
    assert _ids(await w.call(A, "GET", f"/api/v1/runs/{w.run_a}/meters"), "meter_id") == {"mA1", "mA2"}
    assert (await w.call(B, "GET", f"/api/v1/runs/{w.run_a}/meters")).status_code == 404


async def _list_gaps(w: World) -> None:
    assert _ids(await w.call(A, "GET", "/api/v1/gaps"), "meter_id") == {"mA1"}
    assert _ids(await w.call(B, "GET", "/api/v1/gaps"), "meter_id") == {"mB1"}
    assert _ids(await w.call(B, "GET", "/api/v1/gaps", params={"meter_id": "mA1"}), "meter_id") == set()


async def _backfill(w: World) -> None:
    now = datetime.now(UTC)
    body = {"items": ["energy.active.import.total"], "start": (now - timedelta(days=3)).isoformat(),
            "end": (now - timedelta(days=1)).isoformat()}
    assert (await w.call(A, "POST", "/api/v1/gaps/backfill", json={**body, "meters": ["mA1"]})).status_code == 202
    refused = await w.call(B, "POST", "/api/v1/gaps/backfill", json={**body, "meters": ["mA1", "nobody"]})
    assert refused.status_code == 403 and "mA1" in refused.json()["detail"]


async def _list_points(w: World) -> None:
    mine = await w.call(A, "GET", "/api/v1/points")
    assert _ids(mine, "meter_id") == {"mA1", "mA2", "mA3"}
    assert mine.json()["by_utility"] == {"electricity": 2, "water": 1}
    assert {i["company_id"] for i in mine.json()["items"]} == {"A"}
    assert _ids(await w.call(B, "GET", "/api/v1/points"), "meter_id") == {"mB1", "mB2"}


async def _import_manifest(w: World) -> None:
    path = w.tmp / "manifest.json"
    path.write_text(json.dumps({"terminals": []}))
    assert (await w.call(ADMIN, "POST", "/api/v1/points/import-manifest", json={"path": str(path)})).status_code == 200
    assert (await w.call(A, "POST", "/api/v1/points/import-manifest", json={"path": str(path)})).status_code == 403


async def _run_quality(w: World) -> None:
    mine = await w.call(A, "GET", f"/api/v1/quality/runs/{w.run_a}", params={"by": "terminal"})
    assert mine.status_code == 200 and mine.json()["overall"]["meters"] == 2
    assert (await w.call(B, "GET", f"/api/v1/quality/runs/{w.run_a}")).status_code == 404


async def _task_quality(w: World) -> None:
    mine = await w.call(A, "GET", "/api/v1/quality/tasks/task-a")
    assert mine.status_code == 200 and mine.json()["overall"]["meters"] >= 2
    assert (await w.call(B, "GET", "/api/v1/quality/tasks/task-a")).status_code == 404


async def _all_quality(w: World) -> None:
    everything = await w.call(ADMIN, "GET", "/api/v1/quality", params={"by": "terminal"})
    keys = {r["key"] for r in everything.json()["breakdown"]}
    assert {TA, TB} <= keys
    for who, own, other in ((A, TA, TB), (B, TB, TA)):
        figures = await w.call(who, "GET", "/api/v1/quality", params={"by": "terminal"})
        keys = {r["key"] for r in figures.json()["breakdown"]}
        assert own in keys and other not in keys
    reasons = (await w.call(A, "GET", "/api/v1/quality")).json()["failure_reasons"]
    assert not any("mB" in r["reason"] for r in reasons)


async def _manual_read(w: World) -> None:
    mine = await w.call(A, "POST", "/api/v1/reads", json={"meters": ["mA1"], "wait_s": 0})
    assert mine.status_code == 202, mine.text
    assert (await w.call(B, "POST", "/api/v1/reads", json={"meters": ["mA1"], "wait_s": 0})).status_code == 403
    assert (await w.call(B, "POST", "/api/v1/reads", json={"terminals": [TA], "wait_s": 0})).status_code == 403


async def _read_job(w: World) -> None:
    assert (await w.call(A, "GET", "/api/v1/reads/read-a-1")).status_code == 200
    assert (await w.call(B, "GET", "/api/v1/reads/read-a-1")).status_code == 404


async def _terminal_clocks(w: World) -> None:
    assert _ids(await w.call(A, "GET", "/api/v1/clock/terminals"), "terminal") == {TA, TA2}
    assert _ids(await w.call(B, "GET", "/api/v1/clock/terminals"), "terminal") == {TB}


async def _syncs(w: World) -> None:
    mine = _ids(await w.call(A, "GET", "/api/v1/clock/syncs", params={"level": "meter"}), "meter_id")
    assert "mA2" in mine and "mB2" not in mine
    assert _ids(await w.call(B, "GET", "/api/v1/clock/syncs", params={"terminal": TA}), "terminal") == set()


async def _read_clock(w: World) -> None:
    assert (await w.call(A, "POST", f"/api/v1/clock/terminals/{TA}/read")).status_code == 200
    refused = await w.call(B, "POST", f"/api/v1/clock/terminals/{TA}/read")
    assert refused.status_code == 403 and TA in refused.json()["detail"]


async def _sync_clock(w: World) -> None:
    assert (await w.call(A, "POST", f"/api/v1/clock/terminals/{TA}/sync", params={"force": "true"})).status_code == 200
    assert (await w.call(B, "POST", f"/api/v1/clock/terminals/{TA}/sync")).status_code == 403


async def _approve(w: World) -> None:
    assert (await w.call(B, "POST", f"/api/v1/clock/meter-syncs/{w.sync_a}/approve")).status_code == 404
    approved = await w.call(A, "POST", f"/api/v1/clock/meter-syncs/{w.sync_a}/approve")
    assert approved.status_code == 200 and approved.json()["id"] == w.sync_a


Case = Callable[[World], Awaitable[None]]
CASES: dict[str, Case] = {
    "POST /api/v1/tasks": _create_task,
    "GET /api/v1/tasks": _list_tasks,
    "GET /api/v1/tasks/{task_id}": _get_task,
    "PUT /api/v1/tasks/{task_id}": _replace_task,
    "PATCH /api/v1/tasks/{task_id}": _patch_task,
    "DELETE /api/v1/tasks/{task_id}": _delete_task,
    "GET /api/v1/tasks/{task_id}/members": _task_members,
    "POST /api/v1/tasks/{task_id}/runs": _run_now,
    "GET /api/v1/tasks/{task_id}/runs": _task_runs,
    "GET /api/v1/runs": _list_runs,
    "GET /api/v1/runs/{run_id}": _get_run,
    "GET /api/v1/runs/{run_id}/meters": _run_meters,
    "GET /api/v1/gaps": _list_gaps,
    "POST /api/v1/gaps/backfill": _backfill,
    "GET /api/v1/points": _list_points,
    "POST /api/v1/points/import-manifest": _import_manifest,
    "GET /api/v1/quality/runs/{run_id}": _run_quality,
    "GET /api/v1/quality/tasks/{task_id}": _task_quality,
    "GET /api/v1/quality": _all_quality,
    "POST /api/v1/reads": _manual_read,
    "GET /api/v1/reads/{job_id}": _read_job,
    "GET /api/v1/clock/terminals": _terminal_clocks,
    "GET /api/v1/clock/syncs": _syncs,
    "POST /api/v1/clock/terminals/{terminal}/read": _read_clock,
    "POST /api/v1/clock/terminals/{terminal}/sync": _sync_clock,
    "POST /api/v1/clock/meter-syncs/{sync_id}/approve": _approve,
}
CASES.update(terminal_config_cases(A, B, ADMIN, TA))
CASES.update(clock_cases(A, B, TA, TB))


async def test_every_company_scoped_operation_has_a_case(world: World) -> None:
    spec = world.running.app.openapi()
    scoped = {f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method, op in ops.items()
              if isinstance(op, dict) and op.get("x-emms-scope") == "company"}
    assert sorted(scoped - set(CASES)) == []
    assert sorted(set(CASES) - scoped) == []


@pytest.mark.parametrize("operation", list(CASES))
async def test_a_caller_reaches_only_its_companys_data(world: World, operation: str) -> None:
    await CASES[operation](world)


# -- regions, owners, spanning ---------------------------------------------------------------------------------

async def test_a_region_includes_the_regions_below_it(world: World) -> None:
    assert _ids(await world.call(A_NORTH, "GET", "/api/v1/points"), "meter_id") == {"mA1", "mA2"}
    assert _ids(await world.call(A_NORTH, "GET", "/api/v1/clock/terminals"), "terminal") == {TA}
    assert (await world.call(A_NORTH, "POST", f"/api/v1/clock/terminals/{TA2}/read")).status_code == 403
    refused = await world.call(A_NORTH, "POST", "/api/v1/tasks", json={**TASK, "target": {"regions": ["west"]}})
    assert refused.status_code == 403 and "west" in refused.json()["detail"]
    viewer = await world.call(VIEWER_A, "GET", "/api/v1/points", params={"terminal": TA2})
    assert _ids(viewer, "meter_id") == {"mA3"}


async def test_a_restricted_creators_task_reads_only_inside_its_scope(world: World) -> None:
    made = await world.call(A_NORTH, "POST", "/api/v1/tasks", json={**TASK, "target": {"all": True}})
    assert made.status_code == 201, made.text
    task = made.json()
    assert task["company_id"] == "A" and task["scope_regions"] == ["north"]
    assert task["id"] in _ids(await world.call(A, "GET", "/api/v1/tasks"))  # the whole company sees it
    assert task["id"] not in _ids(await world.call(B, "GET", "/api/v1/tasks"))
    assert "task-a" not in _ids(await world.call(A_NORTH, "GET", "/api/v1/tasks"))  # not confined to north
    started = await world.call(A_NORTH, "POST", f"/api/v1/tasks/{task['id']}/runs", json={})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    meters: set[str] = set()
    for _ in range(150):  # the scheduler claims and seeds the run (in one transaction)
        async with world.running.c.pool.acquire() as conn:
            meters = {r["meter_id"] for r in await conn.fetch(f"SELECT meter_id FROM {SCHEMA}.run_meter"
                                                              " WHERE run_id = $1", run_id)}
        if meters:
            break
        await asyncio.sleep(0.1)
    assert meters == {"mA1", "mA2"}  # target "all": only company A's meters in north (and below)


async def test_a_task_spanning_companies_is_refused_for_a_restricted_creator(world: World) -> None:
    spanning = await world.call(AB, "POST", "/api/v1/tasks",
                                json={**TASK, "target": {"meters": ["mA1", "mB1"]}})
    assert spanning.status_code == 403 and "B" in spanning.json()["detail"]
    unnamed = await world.call(AB, "POST", "/api/v1/tasks", json={**TASK, "target": {"all": True}})
    assert unnamed.status_code == 422 and "company_id" in unnamed.json()["detail"]
    named = await world.call(AB, "POST", "/api/v1/tasks", json={**TASK, "company_id": "B", "target": {"all": True}})
    assert named.status_code == 201 and named.json()["company_id"] == "B"
    foreign = await world.call(A, "POST", "/api/v1/tasks", json={**TASK, "company_id": "B", "target": {"all": True}})
    assert foreign.status_code == 403


async def test_an_unrestricted_caller_sees_every_company(world: World) -> None:
    assert {"task-a", "task-b"} <= _ids(await world.call(ADMIN, "GET", "/api/v1/tasks"))
    assert _ids(await world.call(ADMIN, "GET", "/api/v1/gaps"), "meter_id") >= {"mA1", "mB1"}
    assert (await world.call(ADMIN, "GET", f"/api/v1/runs/{world.run_b}")).status_code == 200
    assert (await world.call(ADMIN, "GET", "/api/v1/tasks/task-a/members")).json()["total"] == 2
