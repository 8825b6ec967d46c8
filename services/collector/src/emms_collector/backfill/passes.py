"""Gaps and back-fill (R-4.2.6): find missing points per meter and item, re-collect them.

Gaps come from three places: items a run ended without (the executor), runs
that never ran (slots older than the catch-up window, opened here for every
meter of the task's target), and ``BackfillRequest`` messages from the
validator (one gap per daily freeze in the requested period). Every
``every_s`` a pass takes the open gaps inside each task's back-fill horizon
that are due for another attempt, reads them grouped by freeze time (several
meters per frame as usual), stamps the readings ``backfill`` and fills what
came back; after ``max_attempts`` a gap is abandoned (and still listed).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import asyncpg
import structlog

from emms_bus import Delivery
from emms_collector import metrics
from emms_collector.reading.datatime import tag_of
from emms_collector.reading.engine import Pass, ReadingEngine
from emms_collector.reading.item_routing import choose
from emms_collector.reading.items import items_for
from emms_collector.repository import gaps as gap_sql
from emms_collector.repository import points as point_sql
from emms_collector.repository import runs as run_sql
from emms_collector.repository import tasks as task_sql
from emms_collector.repository.gaps import Gap
from emms_collector.repository.scope import Scope
from emms_collector.scheduling.planner import Wanted
from emms_collector.schema import SCHEMA
from emms_collector.settings import BackfillSettings
from emms_collector.tasks.types import TaskType
from emms_db import inbox
from emms_messages.readings import BackfillRequest, ReadingSource
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.collector.backfill")
CONSUMER = "backfill-requests"
MAX_REQUEST_DAYS = 62


class Backfiller:
    def __init__(self, pool: asyncpg.Pool, engine: ReadingEngine, settings: BackfillSettings) -> None:
        self._pool = pool
        self._engine = engine
        self._settings = settings
        self._worker = PeriodicWorker("backfill", self._step, settings.every_s)
        self._stop = asyncio.Event()
        self.passes = 0

    def poke(self) -> None:
        """Gaps were opened: pass now rather than at the end of the interval."""
        self._worker.poke()

    async def run(self, stop: asyncio.Event) -> None:
        """The worker: open the missed runs' gaps, then pass until a pass takes less than a batch."""
        self._stop = stop
        await self._worker.run(stop)

    async def _step(self) -> None:
        await self.open_missed_runs()
        while await self.pass_once() >= self._settings.batch and not self._stop.is_set():
            pass

    async def pass_once(self, now: datetime | None = None) -> int:
        """Take the due gaps, re-collect them; return how many gaps were taken."""
        now = now or datetime.now(UTC)
        s = self._settings
        async with self._pool.acquire() as conn, conn.transaction():
            gaps = await gap_sql.take_due(conn, now, horizon=timedelta(days=s.horizon_days),
                                          retry_after=timedelta(seconds=s.retry_after_s),
                                          max_attempts=s.max_attempts, limit=s.batch)
            open_count = await gap_sql.count_open(conn, now, timedelta(days=s.horizon_days))
        metrics.GAPS_OPEN.set(open_count)
        if not gaps:
            return 0
        groups: dict[tuple[str, datetime], list[Gap]] = defaultdict(list)
        for g in gaps:
            groups[(g.task_type, g.data_time)].append(g)
        await asyncio.gather(*(self._refill(TaskType(t), at, group) for (t, at), group in groups.items()))
        self.passes += 1
        return len(gaps)

    async def _refill(self, task_type: TaskType, data_time: datetime, gaps: list[Gap]) -> None:
        async with self._pool.acquire() as conn:
            points = await point_sql.by_meters(conn, sorted({g.meter_id for g in gaps}), active_only=False)
        items: dict[str, list[str]] = defaultdict(list)
        for g in gaps:
            items[g.meter_id].append(g.item)
        wanted = [Wanted(points[m], tuple(i)) for m, i in items.items() if m in points]
        monthly = task_type is TaskType.MONTHLY_FROZEN
        tag = tag_of(data_time, self._engine.tz, monthly=monthly, freeze_at=self._engine.freeze_at)
        p = Pass(task_type, ReadingSource.BACKFILL, "backfill", "collector:backfill", tag=tag, expect_time=data_time,
                 priority=6)
        outcomes = await self._engine.read(p, wanted)
        got = {(o.meter_id, item) for o in outcomes for item in o.collected}
        reasons = {o.meter_id: o.reason for o in outcomes}
        failed = [g for g in gaps if (g.meter_id, g.item) not in got]
        async with self._pool.acquire() as conn, conn.transaction():
            filled = await gap_sql.fill(conn, [(m, i, data_time) for m, i in got], "backfill")
            await gap_sql.note_failure(conn, failed, [reasons.get(g.meter_id) or "meter unknown" for g in failed])
        if filled:
            metrics.GAPS_FILLED.labels("backfill").inc(filled)

    async def open_missed_runs(self, now: datetime | None = None) -> int:
        """Open gaps for every meter of frozen-data runs that were never executed (beyond catch-up)."""
        now = now or datetime.now(UTC)
        async with self._pool.acquire() as conn:
            runs = await run_sql.missed_without_gaps(conn, now, [TaskType.DAILY_FROZEN.value,
                                                                 TaskType.MONTHLY_FROZEN.value])
        opened = 0
        for run in runs:
            async with self._pool.acquire() as conn, conn.transaction():
                task = await task_sql.get_task(conn, run["task_id"])
                if task is not None:
                    targets = await point_sql.resolve(conn, task.id, task.target,
                                                      Scope.owned_by(task.company_id, task.scope_regions))
                    gaps = []
                    for p in targets:
                        wanted = items_for(task.items, p.utility)
                        _, uncovered = choose(task.type, p.protocol, wanted)
                        gaps += [Gap(p.meter_id, i, run["data_time"], task.type.value, p.terminal, task_id=task.id,
                                     run_id=run["id"], reason="the run was missed", origin="missed")
                                 for i in wanted if i not in uncovered]
                    opened += await gap_sql.open_gaps(conn, gaps)
                await run_sql.mark_gaps_opened(conn, run["id"])
        return opened

    async def handle_requests(self, batch: Sequence[Delivery]) -> None:
        """Consumer of ``emms.backfill.request.v1``: one gap per item and daily freeze in the period."""
        async with self._pool.acquire() as conn, conn.transaction():
            fresh = await inbox.claim(conn, SCHEMA, CONSUMER, [d.envelope.message_id for d in batch])
            requests = [d.payload for d in batch
                        if d.envelope.message_id in fresh and isinstance(d.payload, BackfillRequest)]
            points = await point_sql.by_meters(conn, sorted({r.meter_id for r in requests}), active_only=False)
            gaps = []
            for r in requests:
                point = points.get(r.meter_id)
                if point is None:
                    log.info("back-fill request for a meter the collector does not read", meter=r.meter_id)
                    continue
                for at in self.freezes_between(r.start, r.end):
                    gaps += [Gap(r.meter_id, item, at, TaskType.DAILY_FROZEN.value, point.terminal,
                                 reason=f"requested by {r.requested_by}: {r.reason}", origin="request")
                             for item in r.items]
            await gap_sql.open_gaps(conn, gaps)
        if gaps:
            self.poke()

    def freezes_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Daily freeze instants (local midnights) in ``[start, end]``, at most :data:`MAX_REQUEST_DAYS`."""
        tz = self._engine.tz
        day: date = start.astimezone(tz).date()
        out: list[datetime] = []
        while len(out) < MAX_REQUEST_DAYS:
            at = datetime.combine(day, time(), tz).astimezone(UTC)
            if at > end:
                break
            if at >= start:
                out.append(at)
            day += timedelta(days=1)
        return out
