"""Executing one run of a task: targets, rounds of reading with retries, per-meter status, gaps.

1. The first claim waits until the master-data changes already published are
   applied (``settle``), then resolves the target and seeds one status row per
   meter with the items it must deliver (a resumed run finds them and goes on).
2. Round 0 reads every open meter; rounds 1..retries re-read what is still
   missing after ``retry_delay_s``. The first round's outcome per meter is the
   one-time success; the state after the last round is the success after
   retries (R-4.2.5).
3. Meters that joined the target while the rounds ran are seeded and read the
   same way (up to :data:`LATE_TAKES` times), so the run covers every point
   known when it finishes planning (:mod:`emms_collector.scheduling.run_targets`).
4. Status is flushed every few seconds and after each round, so a crash loses
   at most a few seconds of work.
5. Items still missing become gaps for back-fill (frozen data only: a past
   instant of current data cannot be read again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from emms_collector import metrics
from emms_collector.quality import figures
from emms_collector.reading.datatime import tag_of
from emms_collector.reading.engine import MeterOutcome, Pass, ReadingEngine
from emms_collector.repository import gaps as gap_sql
from emms_collector.repository import points as point_sql
from emms_collector.repository import runs as run_sql
from emms_collector.repository import status as status_sql
from emms_collector.repository import tasks as task_sql
from emms_collector.repository.gaps import Gap
from emms_collector.repository.points import Point
from emms_collector.repository.runs import ClaimedRun
from emms_collector.repository.scope import Scope
from emms_collector.repository.status import MeterStatus
from emms_collector.scheduling.dispatch import TALLY, RequestTally
from emms_collector.scheduling.planner import Wanted
from emms_collector.scheduling.run_targets import seed_late, seed_run
from emms_collector.scheduling.scheduler import RunOutcome
from emms_collector.tasks.model import Task
from emms_collector.tasks.types import TaskType
from emms_messages.readings import ReadingSource

log = structlog.get_logger("emms.collector.executor")
FROZEN = (TaskType.DAILY_FROZEN, TaskType.MONTHLY_FROZEN)
FLUSH_S = 3.0
TerminalJob = Callable[[Task, ClaimedRun, list[str]], Awaitable[RunOutcome]]


YIELD_EVERY = 5000
"""Meters handled between two turns of the event loop in a run's bulk steps."""
LATE_TAKES = 5
"""How often one run looks again for meters that joined its target while it read (a steady trickle of
new points must not keep a run open for ever: what comes after is the next run's)."""
Settle = Callable[[], Awaitable[object]]


class RunExecutor:
    def __init__(self, pool: asyncpg.Pool, engine: ReadingEngine, *, terminal_jobs: dict[TaskType, TerminalJob]
                 | None = None, settle: Settle | None = None) -> None:
        self._pool = pool
        self._engine = engine
        self._terminal_jobs = terminal_jobs or {}
        self._settle = settle

    async def __call__(self, run: ClaimedRun) -> RunOutcome:
        tally = RequestTally()
        TALLY.set(tally)  # the scheduler runs each run in a task of its own: the tally is this run's alone
        try:
            return await self._execute(run)
        finally:
            async with self._pool.acquire() as conn:
                await run_sql.add_requests(conn, run.id, tally.unreported())

    async def _execute(self, run: ClaimedRun) -> RunOutcome:
        if self._settle is not None and run.claims == 1:
            await self._settle()  # the first claim plans with the master data published so far applied
        async with self._pool.acquire() as conn:
            task = await task_sql.get_task(conn, run.task_id)
        if task is None:
            return "cancelled", "the task was deleted"
        job = self._terminal_jobs.get(task.type)
        if job is not None:
            async with self._pool.acquire() as conn:
                points = await point_sql.resolve(conn, task.id, task.target,
                                                 Scope.owned_by(task.company_id, task.scope_regions))
            return await job(task, run, sorted({p.terminal for p in points}))
        return await self._collect(task, run)

    async def _collect(self, task: Task, run: ClaimedRun) -> RunOutcome:
        first = await seed_run(self._pool, task, run)
        async with self._pool.acquire() as conn:
            open_rows = await status_sql.load_open(conn, run.id)
        frozen = task.type in FROZEN
        curve = task.type is TaskType.CURVE  # data time = the day's first point; no gaps are opened for curves
        tag = tag_of(run.data_time, self._engine.tz, monthly=task.type is TaskType.MONTHLY_FROZEN,
                     freeze_at=self._engine.freeze_at) if frozen else None
        if curve:
            tag = run.data_time.astimezone(self._engine.tz).date()
        p = Pass(task.type, ReadingSource.SCHEDULED, "scheduled", f"collector:task:{task.id}", tag=tag,
                 expect_time=run.data_time if frozen or curve else None, priority=max(task.priority, 2))
        missing = await self._rounds(task, run, p, open_rows)
        late, skipped = 0, set(first.skipped)
        for _ in range(LATE_TAKES):
            joined = await seed_late(self._pool, task, run)
            skipped |= joined.skipped
            if not joined.rows:
                break
            log.info("run takes up meters that joined its target meanwhile", run=run.id, meters=len(joined.rows))
            late += len(joined.rows)
            missing += await self._rounds(task, run, p, joined.rows)
        await self._close(task, run, missing, frozen)
        seeded = len(first.rows) + late
        if first.rows and len(missing) == seeded and not any(r.collected for r in missing):
            return "failed", f"nothing collected from {seeded} meters: {missing[0].reason}"[:300]
        return self._verdict(seeded, late, sorted(skipped))

    async def _rounds(self, task: Task, run: ClaimedRun, p: Pass, open_rows: list[MeterStatus],
                      ) -> list[MeterStatus]:
        """Read ``open_rows`` in the task's rounds; the rows still missing something afterwards."""
        async with self._pool.acquire() as conn:
            points = await point_sql.by_meters(conn, [r.meter_id for r in open_rows])
        gone = [r for r in open_rows if r.meter_id not in points]
        for r in gone:
            r.reason = "the meter is no longer in the measurement-point table"
        open_rows = [r for r in open_rows if r.meter_id in points]
        start_round = max((r.attempts for r in open_rows), default=0)
        for round_no in range(start_round, task.retries + 1):
            if not open_rows:
                break
            if round_no > start_round and task.retry_delay_s:
                await asyncio.sleep(task.retry_delay_s)
            await self._round(run, p, open_rows, points)
            open_rows = [r for r in open_rows if r.missing]
        return open_rows + gone

    async def _round(self, run: ClaimedRun, p: Pass, rows: list[MeterStatus], points: dict[str, Point]) -> None:
        by_id = {r.meter_id: r for r in rows}
        dirty: dict[str, MeterStatus] = {}

        def on_outcome(got: list[MeterOutcome]) -> None:
            for o in got:
                row = by_id.get(o.meter_id)
                if row is None:
                    continue
                row.attempts += 1
                row.collected |= o.collected & set(row.items)
                if row.first_ok is None:
                    row.first_ok = not row.missing
                    row.first_count = len(row.collected)
                row.reason = "" if not row.missing else o.reason
                row.via = o.via or row.via
                dirty[o.meter_id] = row

        wanted = []
        for n, r in enumerate(rows, 1):
            wanted.append(Wanted(points[r.meter_id], r.missing))
            if n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
        reading = asyncio.create_task(self._engine.read(p, wanted, on_outcome))
        while not reading.done():
            await asyncio.wait([reading], timeout=FLUSH_S)
            await self._flush(run.id, dirty)
        outcomes = reading.result()
        for o in outcomes:  # meters no request covered (no route) still count one attempt
            row = by_id[o.meter_id]
            if o.meter_id not in dirty and row.missing and o.reason:
                on_outcome([o])
        await self._flush(run.id, dirty)

    async def _flush(self, run_id: int, dirty: dict[str, MeterStatus]) -> None:
        tally = TALLY.get()
        sent = tally.unreported() if tally is not None else 0
        if not dirty and not sent:
            return
        rows = list(dirty.values())
        dirty.clear()
        async with self._pool.acquire() as conn:
            await status_sql.write(conn, run_id, rows)
            await run_sql.add_requests(conn, run_id, sent)

    async def _close(self, task: Task, run: ClaimedRun, missing: list[MeterStatus], frozen: bool) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await status_sql.write(conn, run.id, missing, final=True)
            if frozen and task.backfill_days > 0:
                await gap_sql.open_gaps(conn, [
                    Gap(r.meter_id, item, run.data_time, task.type.value, r.terminal, task_id=task.id, run_id=run.id,
                        reason=r.reason or "not collected") for r in missing for item in r.missing])

    async def finished(self, run_id: int) -> None:
        """After the scheduler closed a run: its success rates as metrics."""
        await publish_run_gauges(self._pool, run_id)

    def _verdict(self, seeded: int, late: int, skipped: list[str]) -> RunOutcome:
        return "done", (f"{seeded} meters seeded" if seeded else "resumed") + (
            f" ({late} joined while it ran)" if late else "") + (
            f"; items with no route for some meter types: {skipped[:5]}" if skipped else "")


async def publish_run_gauges(pool: asyncpg.Pool, run_id: int) -> None:
    """Set the task's success-rate gauges from a finished run's figures."""
    async with pool.acquire() as conn:
        task_id = await run_sql.task_of(conn, run_id)
        found = (await figures(conn, run_id=run_id))["overall"]
    if task_id is None or not found["meters"]:
        return
    metrics.SUCCESS_FIRST.labels(task_id).set(found["success_first"])
    metrics.SUCCESS_FINAL.labels(task_id).set(found["success_final"])
    metrics.COMPLETENESS.labels(task_id).set(found["completeness"])

