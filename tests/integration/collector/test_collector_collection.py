"""Collection through the real broker and database, against a FEP stand-in that answers with emms_protocol
frames: scheduled runs with retries, per-meter status, gaps and back-fill, manual reads, quality figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import pytest
from collector_harness import (
    FakeFleet,
    ReadingWatch,
    Responder,
    Running,
    collector_settings,
    running_collector,
    truncate,
    until,
)

from emms_bus import KafkaSettings
from emms_collector.reading.datatime import freeze_instant
from emms_collector.repository import points as point_sql
from emms_collector.tasks.periods import zone
from emms_messages.readings import ReadingSource

pytestmark = pytest.mark.integration
TZ = zone("Asia/Shanghai")
GOOD, FLAKY, SILENT = "5101-00001", "5101-00002", "5101-00003"


def _daily(terminal: str, pn: int) -> float:
    return round(1000 * int(terminal[-1]) + pn + 0.25, 2)


@pytest.fixture(scope="module")
def fleet() -> FakeFleet:
    f = FakeFleet()
    for t in (GOOD, FLAKY, SILENT):
        for pn in range(1, 11):
            f.daily[(t, pn)] = lambda d, t=t, pn=pn: _daily(t, pn) + d.day / 100
    f.volume["00000000000011"] = 12.5
    f.fail_once.add((FLAKY, 3))
    f.silent.add(SILENT)
    return f


@pytest.fixture(scope="module")
async def collector(database_url: str, kafka_settings: KafkaSettings, fleet: FakeFleet) -> AsyncIterator[Running]:
    settings = collector_settings(database_url, kafka_settings, "collector-it-a")
    async with running_collector(settings) as running, Responder(kafka_settings, fleet):
        await truncate(running.c.pool)
        rows = [{"meter_id": f"e-{t}-{pn}", "terminal": t, "pn": pn, "utility": "electricity",
                 "protocol": "dlt645-2007", "region_id": "r-" + t[-1]} for t in (GOOD, FLAKY, SILENT)
                for pn in range(1, 11)]
        rows.append({"meter_id": "w-1", "terminal": GOOD, "pn": 11, "utility": "water", "protocol": "cjt188-2004",
                     "meter_address": "00000000000011", "port": 2, "region_id": "r-1"})
        async with running.c.pool.acquire() as conn:
            await point_sql.upsert_points(conn, rows)
        yield running


@pytest.fixture(scope="module")
async def watch(kafka_settings: KafkaSettings) -> AsyncIterator[ReadingWatch]:
    async with ReadingWatch(kafka_settings) as w:
        yield w


async def _run_task(collector: Running, body: dict[str, object]) -> dict[str, object]:
    created = await collector.client.post("/api/v1/tasks", json=body)
    assert created.status_code == 201, created.text
    run = await collector.client.post(f"/api/v1/tasks/{body['id']}/runs", json={})
    assert run.status_code == 202, run.text
    run_id = run.json()["run_id"]
    finished: dict[str, object] = {}

    async def done() -> bool:
        finished.update((await collector.client.get(f"/api/v1/runs/{run_id}")).json())
        return finished["status"] in ("done", "failed")

    for _ in range(300):
        if await done():
            break
        await _sleep(0.1)
    assert finished["status"] in ("done", "failed"), finished
    return finished


async def _sleep(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)


def _yesterday_freeze() -> tuple[date, datetime]:
    day = datetime.now(TZ).date() - timedelta(days=1)
    return day, freeze_instant(day, TZ, freeze_at="end")


async def test_a_daily_run_collects_retries_and_records_each_meter(collector: Running, fleet: FakeFleet,
                                                                    watch: ReadingWatch) -> None:
    run = await _run_task(collector, {
        "id": "daily-good", "name": "daily frozen", "type": "daily_frozen",
        "target": {"terminals": [GOOD, FLAKY]}, "items": [],  # each meter type's main registers
        "period": {"unit": "daily", "at": "00:20"}, "retries": 2, "retry_delay_s": 0.2})
    day, at = _yesterday_freeze()
    # 20 electricity meters × (total + 4 tariffs) and one water meter (its current volume, read by forwarding)
    assert run["status"] == "done" and run["meters"] == 21 and run["expected"] == 101
    assert run["ok_first"] == 96 and run["ok_retry"] == 101 and run["ok_final"] == 101
    await until(lambda: all((f"e-{t}-{pn}", "energy.active.import.total", at) in watch.values()
                            for t in (GOOD, FLAKY) for pn in range(1, 11)), 10)
    values = watch.values()
    assert values[(f"e-{FLAKY}-3", "energy.active.import.total", at)] == pytest.approx(_daily(FLAKY, 3) + day.day / 100)
    assert all(r.source is ReadingSource.SCHEDULED for b in watch.batches for r in b.readings)
    water = [r for b in watch.batches for r in b.readings if r.meter_id == "w-1" and r.item == "water.volume"]
    assert water and water[0].value == 12.5 and water[0].data_time > at  # stamped with the read time
    # several points share a frame: 10 meters of a terminal in one request (plus the retry of the flaky one)
    requests = [r for r in fleet.seen if r.afn == 0x0D and r.terminal in (GOOD, FLAKY)]
    assert len(requests) == 3 and sorted(len(r.units) for r in requests) == [1, 2, 2]  # pn 1–8, 9–10 per DA group
    # the run counts every request it sent the FEP: those 3 (the retry of the flaky meter among them) + the water read
    sent = [r for r in fleet.seen if r.requested_by == "collector:task:daily-good"]
    assert len(sent) == 4 and run["requests"] == 4
    listed = (await collector.client.get("/api/v1/runs", params={"task_id": "daily-good"})).json()
    assert [(r["id"], r["requests"]) for r in listed["items"]] == [(run["id"], 4)]
    quality = (await collector.client.get(f"/api/v1/quality/runs/{run['id']}", params={"by": "terminal"})).json()
    assert quality["overall"]["success_first"] == pytest.approx(20 / 21)
    assert quality["overall"]["success_after_retries"] == 1.0 and quality["overall"]["completeness"] == 1.0
    assert {b["key"]: b["success_first"] for b in quality["breakdown"]} == {GOOD: 1.0, FLAKY: 0.9}
    by_utility = (await collector.client.get(f"/api/v1/quality/runs/{run['id']}", params={"by": "utility"})).json()
    assert {b["key"]: b["meters"] for b in by_utility["breakdown"]} == {"electricity": 20, "water": 1}


async def test_a_silent_terminal_leaves_gaps_that_back_fill_closes(collector: Running, fleet: FakeFleet,
                                                                   watch: ReadingWatch) -> None:
    run = await _run_task(collector, {
        "id": "daily-silent", "name": "silent", "type": "daily_frozen", "target": {"terminals": [SILENT]},
        "items": ["energy.active.import.total"], "period": {"unit": "daily", "at": "00:20"}, "retries": 1,
        "retry_delay_s": 0.1, "backfill_days": 3})
    assert run["ok_retry"] == 0 and run["status"] == "failed"  # nothing at all collected: a failed run
    # unanswered requests count too: one frame (pn 1–8 and 9–10) in round 0 and again in the retry round
    seen = [r for r in fleet.seen if r.requested_by == "collector:task:daily-silent"]
    assert run["requests"] == len(seen) == 2
    assert run["failure_reasons"][0]["meters"] == 10 and "timed_out" in run["failure_reasons"][0]["reason"]
    gaps = (await collector.client.get("/api/v1/gaps", params={"task_id": "daily-silent"})).json()
    assert gaps["total"] == 10 and {g["state"] for g in gaps["items"]} <= {"open"}
    fleet.silent.discard(SILENT)  # the terminal comes back; back-fill runs every 0.5 s in these tests
    _, at = _yesterday_freeze()

    async def filled() -> bool:
        body = (await collector.client.get("/api/v1/gaps", params={"task_id": "daily-silent",
                                                                    "state": "filled"})).json()
        return body["total"] == 10

    for _ in range(200):
        if await filled():
            break
        await _sleep(0.1)
    assert await filled()
    after = (await collector.client.get(f"/api/v1/runs/{run['id']}")).json()
    assert after["ok_final"] == 10 and after["ok_retry"] == 0
    quality = (await collector.client.get(f"/api/v1/quality/runs/{run['id']}")).json()["overall"]
    assert quality["success_first"] == 0 and quality["success_final"] == 1.0 and quality["completeness"] == 1.0
    await until(lambda: any(r.source is ReadingSource.BACKFILL and r.meter_id == f"e-{SILENT}-1"
                            and r.data_time == at for b in watch.batches for r in b.readings), 10)


async def test_a_manual_read_returns_values_now_or_as_a_job(collector: Running) -> None:
    answer = await collector.client.post("/api/v1/reads", json={"meters": ["w-1"], "items": ["water.volume"],
                                                                "wait_s": 10, "reason": "alarm 42"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "done"
    (result,) = body["results"]
    assert result["meter_id"] == "w-1" and result["values"]["water.volume"]["value"] == 12.5
    queued = await collector.client.post("/api/v1/reads", json={"meters": [f"e-{GOOD}-1", "nope"],
                                                                "type": "daily_frozen", "wait_s": 0})
    assert queued.status_code == 202 and queued.headers["location"].endswith(queued.json()["id"])
    job: dict[str, object] = {}
    for _ in range(100):
        job = (await collector.client.get(queued.headers["location"])).json()
        if job["status"] != "running":
            break
        await _sleep(0.1)
    results = {r["meter_id"]: r for r in job["results"]}  # type: ignore[union-attr]
    day, _ = _yesterday_freeze()
    assert results[f"e-{GOOD}-1"]["values"]["energy.active.import.total"]["value"] == pytest.approx(
        _daily(GOOD, 1) + day.day / 100)
    assert results["nope"]["reason"] == "unknown meter"


async def test_manual_reads_are_refused_with_reasons(collector: Running) -> None:
    nothing = await collector.client.post("/api/v1/reads", json={"meters": ["ghost"]})
    assert nothing.status_code == 404 and "none of the meters is known" in nothing.json()["detail"]
    bad = await collector.client.post("/api/v1/reads", json={"items": ["water.volume"]})
    assert bad.status_code == 422 and "name the meters" in bad.text


async def test_an_interactive_replica_serves_manual_reads_and_runs_no_bulk_work(
        collector: Running, database_url: str, kafka_settings: KafkaSettings) -> None:
    """ROLE=interactive: the API and the results consumer only, beside a collecting replica on the same data."""
    settings = collector_settings(database_url, kafka_settings, "collector-it-api", role="interactive")
    async with running_collector(settings) as api:
        workers = set(api.app.state.runtime.workers)
        assert {"scheduler", "backfill", "timesync", "consumer:collector-uplink", "consumer:collector-masterdata",
                "consumer:collector-backfill", "consumer:collector-sessions"}.isdisjoint(workers)
        assert {"consumer:collector-results.collector-it-api", "gc-freezer", "housekeeping"} <= workers
        assert api.c.scheduler is None
        answer = await api.client.post("/api/v1/reads", json={"meters": ["w-1"], "items": ["water.volume"],
                                                              "wait_s": 10})
        assert answer.status_code == 200, answer.text
        (result,) = answer.json()["results"]
        assert result["values"]["water.volume"]["value"] == 12.5
    assert "scheduler" in collector.app.state.runtime.workers  # the collecting replica (role all) schedules
