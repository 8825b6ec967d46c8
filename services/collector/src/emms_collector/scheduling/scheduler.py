"""The scheduler: plan due slots into runs, claim runs, execute them under a lease (R-4.2.3a).

Every tick each replica (1) plans the slots that fell due since each task's
cursor (tasks locked ``SKIP LOCKED``, runs unique per slot), (2) claims as many
due runs as it has room for, most urgent first, and (3) renews the leases of
the runs it executes. A run whose lease cannot be renewed (another replica took
it after this one stalled) is abandoned here; on a graceful stop the leases of
unfinished runs are released at once so another replica resumes them without
waiting for the lease to lapse.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from emms_collector import metrics
from emms_collector.repository import runs as run_sql
from emms_collector.repository.runs import ClaimedRun
from emms_collector.settings import SchedulerSettings
from emms_collector.tasks.periods import zone
from emms_db.connection import Connection
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.collector.scheduler")

RunOutcome = tuple[str, str]
"""(status, detail) of an executed run: ``done`` / ``failed`` / ``cancelled``."""
Execute = Callable[[ClaimedRun], Awaitable[RunOutcome]]


class Scheduler:
    def __init__(self, pool: asyncpg.Pool, settings: SchedulerSettings, me: str, execute: Execute,
                 *, freeze_at: str = "start", clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_finished: Callable[[int], Awaitable[None]] | None = None) -> None:
        self._pool = pool
        self._settings = settings
        self._me = me
        self._execute = execute
        self._freeze_at = freeze_at
        self._now = clock
        self._on_finished = on_finished
        self._tz = zone(settings.local_tz)
        self._running: dict[int, asyncio.Task[None]] = {}
        self._worker = PeriodicWorker("scheduler", self.tick, settings.tick_s, on_stop=self.stop_running)
        self._renewed_at = 0.0

    @property
    def running(self) -> list[int]:
        return sorted(self._running)

    def poke(self) -> None:
        """Something became due (a manual run, a back-fill): look now rather than at the next tick."""
        self._worker.poke()

    async def run(self, stop: asyncio.Event) -> None:
        """The worker: a :meth:`tick` every ``tick_s`` (or when poked); at stop the leases go back."""
        await self._worker.run(stop)

    async def tick(self) -> int:
        """Plan, claim and start; return how many runs were started."""
        now = self._now()
        catchup = timedelta(days=self._settings.catchup_days)
        async with self._pool.acquire() as conn:
            planned = await run_sql.plan_due(conn, now, self._tz, catchup=catchup, freeze_at=self._freeze_at)
            if planned:
                metrics.RUNS_PLANNED.inc(planned)
            await self._renew(conn)
            room = self._settings.max_running - len(self._running)
            claimed = await run_sql.claim(conn, self._me, now, timedelta(seconds=self._settings.lease_s), room) \
                if room > 0 else []
        for run in claimed:
            self._running[run.id] = asyncio.create_task(self._guarded(run), name=f"run-{run.id}")
        metrics.RUNS_RUNNING.set(len(self._running))
        return len(claimed)

    async def _renew(self, conn: Connection) -> None:
        if not self._running or time.monotonic() - self._renewed_at < self._settings.lease_s / 3:
            return
        held = await run_sql.renew(conn, self._me, list(self._running), timedelta(seconds=self._settings.lease_s))
        self._renewed_at = time.monotonic()
        for run_id in set(self._running) - held:
            log.warning("lost the lease of a run; abandoning it here", run=run_id)
            self._running.pop(run_id).cancel()

    async def _guarded(self, run: ClaimedRun) -> None:
        started = time.perf_counter()
        try:
            status, detail = await self._execute(run)
            async with self._pool.acquire() as conn:
                await run_sql.finish(conn, self._me, run.id, status, detail)
            metrics.RUNS_FINISHED.labels(status).inc()
            if self._on_finished is not None:
                await self._on_finished(run.id)
            metrics.RUN_SECONDS.observe(time.perf_counter() - started)
            log.info("run finished", run=run.id, task=run.task_id, status=status, detail=detail,
                     seconds=round(time.perf_counter() - started, 2))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("run failed unexpectedly; its lease will lapse and it is resumed", run=run.id)
        finally:
            self._running.pop(run.id, None)
            metrics.RUNS_RUNNING.set(len(self._running))
            self._worker.poke()

    async def stop_running(self) -> None:
        """Cancel unfinished runs and hand their leases back at once (another replica resumes them)."""
        tasks = list(self._running.values())
        ids = list(self._running)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task
        if ids:
            async with self._pool.acquire() as conn:
                await run_sql.release(conn, self._me, ids)
            log.info("released unfinished runs", runs=ids)
