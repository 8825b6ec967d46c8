"""Scheduling on the real database: every slot becomes one run, across replicas and restarts (R-4.2.3a)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from emms_collector.repository import runs as run_sql
from emms_collector.repository import tasks as task_sql
from emms_collector.repository.runs import ClaimedRun
from emms_collector.scheduling.scheduler import Scheduler
from emms_collector.settings import SchedulerSettings
from emms_collector.tasks.model import Task
from emms_collector.tasks.periods import zone

pytestmark = pytest.mark.integration
TZ = zone("Asia/Shanghai")
T0 = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)


def _task(task_id: str, period: dict[str, object], **kw: object) -> Task:
    return Task.model_validate({"id": task_id, "name": task_id, "type": "realtime", "target": {"all": True},
                                "items": ["energy.active.import.total"], "period": period, **kw})


async def _add(pool: asyncpg.Pool, task: Task, planned_from: datetime = T0) -> None:
    async with pool.acquire() as conn:
        await task_sql.insert_task(conn, task, planned_from=planned_from)


async def _plan(pool: asyncpg.Pool, now: datetime, catchup_days: float = 7) -> int:
    async with pool.acquire() as conn:
        return await run_sql.plan_due(conn, now, TZ, catchup=timedelta(days=catchup_days), freeze_at="end")


async def _runs(pool: asyncpg.Pool, task_id: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch("SELECT due_at, status FROM collector.task_run WHERE task_id = $1 ORDER BY due_at",
                                task_id)


async def test_replicas_planning_at_once_create_each_slot_once(clean: asyncpg.Pool) -> None:
    await _add(clean, _task("q15", {"unit": "minutes", "every": 15}))
    now = T0 + timedelta(hours=2)
    created = await asyncio.gather(*(_plan(clean, now) for _ in range(6)))
    assert sum(created) == 8
    assert await _plan(clean, now) == 0
    runs = await _runs(clean, "q15")
    assert [r["due_at"] for r in runs] == [T0 + timedelta(minutes=15 * k) for k in range(1, 9)]


async def test_a_restart_neither_repeats_nor_skips_a_slot(clean: asyncpg.Pool) -> None:
    await _add(clean, _task("h1", {"unit": "hourly", "at": "00:05"}))
    assert await _plan(clean, T0 + timedelta(hours=3)) == 3  # 00:05, 01:05, 02:05
    # the service is down for 5 hours, then a fresh process plans again from the task's cursor
    assert await _plan(clean, T0 + timedelta(hours=8, minutes=30)) == 6  # 03:05 … 08:05
    due = [r["due_at"] for r in await _runs(clean, "h1")]
    assert due == [T0 + timedelta(hours=h, minutes=5) for h in range(9)]
    assert len(set(due)) == len(due)


async def test_slots_beyond_the_catch_up_window_are_recorded_missed(clean: asyncpg.Pool) -> None:
    await _add(clean, _task("d1", {"unit": "daily", "at": "01:00"}))
    await _plan(clean, T0 + timedelta(days=4), catchup_days=1.5)
    statuses = Counter(r["status"] for r in await _runs(clean, "d1"))
    assert statuses == {"missed": 2, "pending": 2}  # 01:00 local = 17:00 UTC on 1–4 June; now 5 June 00:00


async def test_validity_window_and_disabled_tasks_bound_the_slots(clean: asyncpg.Pool) -> None:
    await _add(clean, _task("w1", {"unit": "hourly"}, valid_from=T0 + timedelta(hours=2),
                            valid_to=T0 + timedelta(hours=4)))
    await _add(clean, _task("off", {"unit": "hourly"}, enabled=False))
    await _plan(clean, T0 + timedelta(hours=10))
    assert [r["due_at"] for r in await _runs(clean, "w1")] == [T0 + timedelta(hours=h) for h in (2, 3, 4)]
    assert await _runs(clean, "off") == []


async def test_claims_of_two_replicas_are_disjoint_and_a_lapsed_lease_is_taken_over(clean: asyncpg.Pool) -> None:
    await _add(clean, _task("m5", {"unit": "minutes", "every": 5}))
    now = T0 + timedelta(minutes=100)
    await _plan(clean, now)

    async def claim(me: str) -> list[ClaimedRun]:
        async with clean.acquire() as conn:
            return await run_sql.claim(conn, me, now, timedelta(seconds=30), 15)

    a, b = await asyncio.gather(claim("a"), claim("b"))
    ids_a, ids_b = {r.id for r in a}, {r.id for r in b}
    assert not ids_a & ids_b and len(ids_a | ids_b) == 20
    later = now + timedelta(seconds=31)  # a's leases lapsed (a stalled or died)
    async with clean.acquire() as conn:
        taken = await run_sql.claim(conn, "c", later, timedelta(seconds=30), 100)
        assert {r.id for r in taken} == ids_a | ids_b and all(r.claims == 2 for r in taken)
        assert await run_sql.renew(conn, "a", sorted(ids_a), timedelta(seconds=30)) == set()
        assert not await run_sql.finish(conn, "a", min(ids_a), "done")
        assert await run_sql.finish(conn, "c", min(ids_a), "done")


async def test_two_scheduler_replicas_execute_every_due_run_exactly_once(clean: asyncpg.Pool) -> None:
    await _add(clean, _task("m1", {"unit": "minutes", "every": 1}), planned_from=datetime.now(UTC) - timedelta(
        minutes=30))
    executed: Counter[int] = Counter()

    async def execute(run: ClaimedRun) -> tuple[str, str]:
        executed[run.id] += 1
        await asyncio.sleep(0.01)
        return "done", ""

    settings = SchedulerSettings(tick_s=0.05, max_running=3, lease_s=30)
    replicas = [Scheduler(clean, settings, f"r{i}", execute) for i in range(2)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(s.run(stop)) for s in replicas]
    try:
        for _ in range(200):
            async with clean.acquire() as conn:
                left = await conn.fetchval("SELECT count(*) FROM collector.task_run WHERE status <> 'done'")
                total = await conn.fetchval("SELECT count(*) FROM collector.task_run")
            if total >= 30 and left == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    async with clean.acquire() as conn:  # who closed the runs: r0 / r1 only, else something else shares the table
        closers = {r["claimed_by"]: r["n"] for r in await conn.fetch(
            "SELECT claimed_by, count(*) AS n FROM collector.task_run GROUP BY 1")}
    assert total >= 30 and left == 0, closers
    assert set(closers) <= {"r0", "r1"}, f"runs closed by another scheduler in this session: {closers}"
    assert set(executed.values()) == {1} and len(executed) == total, closers
