"""Manual reading (召测, R-4.2.3b): read given items of given meters now, answer with the values.

A read is a job: its request and, when done, its per-meter results are kept in
``manual_job`` so any replica can answer a poll. The caller may wait for it
(up to ``wait_s``) or take the job id and poll. Requests go out with priority 0,
ahead of scheduled reads in the FEP's per-terminal queue; readings are
published with source ``manual`` and fill any open gap they match.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from datetime import UTC, date, datetime
from typing import Any, Literal

import asyncpg
import structlog
from pydantic import BaseModel, ConfigDict, Field, model_validator

from emms_collector import metrics
from emms_collector.inputs import Code, Reason, Ref
from emms_collector.reading.datatime import freeze_instant
from emms_collector.reading.engine import MeterOutcome, Pass, ReadingEngine
from emms_collector.reading.item_routing import check_items
from emms_collector.reading.items import items_for
from emms_collector.repository import gaps as gap_sql
from emms_collector.repository import manual_jobs as job_sql
from emms_collector.repository import points as point_sql
from emms_collector.repository.scope import UNRESTRICTED, Scope
from emms_collector.scheduling.planner import Wanted
from emms_collector.settings import ManualSettings
from emms_collector.tasks.types import TaskType
from emms_messages.readings import ReadingSource

log = structlog.get_logger("emms.collector.manual")


class ManualRead(BaseModel):
    """What to read now. ``type`` realtime reads current values; daily / monthly frozen read the freeze of
    ``date`` (default: yesterday / last month)."""

    model_config = ConfigDict(extra="forbid")

    meters: list[Ref] = Field(default_factory=list, max_length=10_000)
    terminals: list[Ref] = Field(default_factory=list, max_length=1000)
    items: list[Code] = Field(default_factory=list, max_length=64)
    type: Literal["realtime", "daily_frozen", "monthly_frozen"] = "realtime"
    date: dt.date | None = Field(default=None, ge=dt.date(1970, 1, 1), le=dt.date(2999, 12, 31))
    wait_s: float = Field(default=10.0, ge=0, le=120, description="0: return the job at once and poll it")
    reason: Reason = Field(default="", description="e.g. the alarm that prompted the read")

    @model_validator(mode="after")
    def _has_targets(self) -> ManualRead:
        if not self.meters and not self.terminals:
            raise ValueError("name the meters (or terminals) to read")
        problem = check_items(TaskType(self.type), self.items)
        if problem:
            raise ValueError(problem)
        if self.date is not None and self.type == "realtime":
            raise ValueError("a date is given for frozen data only")
        return self


class ManualReads:
    def __init__(self, pool: asyncpg.Pool, engine: ReadingEngine, settings: ManualSettings) -> None:
        self._pool = pool
        self._engine = engine
        self._settings = settings
        self._jobs: dict[str, asyncio.Task[dict[str, Any]]] = {}

    async def start(self, body: ManualRead, requested_by: str) -> tuple[str, list[str]]:
        """Create the job and start reading; (job id, meters not found)."""
        async with self._pool.acquire() as conn:
            points = list((await point_sql.by_meters(conn, body.meters)).values()) if body.meters else []
            for terminal in body.terminals:
                points.extend((await point_sql.by_terminal_pn(conn, terminal)).values())
            unknown = sorted(set(body.meters) - {p.meter_id for p in points})
            points = list({p.meter_id: p for p in points}.values())
            if len(points) > self._settings.max_targets:
                raise ValueError(f"{len(points)} meters exceed the manual-read limit of {self._settings.max_targets}")
            if not points:
                raise LookupError(f"none of the meters is known to the collector: {unknown[:5]}")
            job_id = f"read-{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(4)}"
            await job_sql.insert_job(conn, job_id, requested_by, body.reason, body.model_dump_json(),
                                     sorted(p.meter_id for p in points))
        wanted = [Wanted(p, tuple(items_for(body.items, p.utility))) for p in points]
        wanted = [w for w in wanted if w.items]
        self._jobs[job_id] = asyncio.create_task(self._run(job_id, body, wanted, unknown, requested_by))
        return job_id, unknown

    async def wait(self, job_id: str, wait_s: float) -> dict[str, Any] | None:
        """The job's result if it finishes within ``wait_s``; None if it is still running."""
        task = self._jobs.get(job_id)
        if task is None:
            return await self.get(job_id)
        done, _ = await asyncio.wait([task], timeout=wait_s)
        return task.result() if done else None

    async def get(self, job_id: str, scope: Scope = UNRESTRICTED) -> dict[str, Any] | None:
        """The job, None if there is none or it read a meter outside ``scope``."""
        async with self._pool.acquire() as conn:
            return await job_sql.get_job(conn, job_id, scope)

    def _pass(self, body: ManualRead, requested_by: str) -> Pass:
        task_type = TaskType(body.type)
        if task_type is TaskType.REALTIME:
            return Pass(task_type, ReadingSource.MANUAL, "manual", requested_by, priority=self._settings.priority,
                        keep_readings=True)
        monthly = task_type is TaskType.MONTHLY_FROZEN
        tag = body.date or _default_tag(monthly, self._engine)
        if monthly:
            tag = tag.replace(day=1)
        expect = freeze_instant(tag, self._engine.tz, monthly=monthly, freeze_at=self._engine.freeze_at)
        return Pass(task_type, ReadingSource.MANUAL, "manual", requested_by, tag=tag, expect_time=expect,
                    priority=self._settings.priority, keep_readings=True)

    async def _run(self, job_id: str, body: ManualRead, wanted: list[Wanted], unknown: list[str],
                   requested_by: str) -> dict[str, Any]:
        started = time.perf_counter()
        status = "done"
        outcomes: list[MeterOutcome] = []
        try:
            outcomes = await self._engine.read(self._pass(body, requested_by), wanted)
        except Exception as exc:
            log.exception("manual read failed", job=job_id)
            status = f"failed: {exc!r}"[:200]
        items_of = {w.point.meter_id: w.items for w in wanted}
        results = [_result(o, items_of.get(o.meter_id, ())) for o in outcomes]
        results += [{"meter_id": m, "values": {}, "missing": [], "reason": "unknown meter"} for m in unknown]
        async with self._pool.acquire() as conn, conn.transaction():
            await job_sql.finish_job(conn, job_id, status, results)
            await gap_sql.fill(conn, [(r.meter_id, r.item, r.data_time) for o in outcomes for r in o.readings],
                               "manual")
        metrics.MANUAL_SECONDS.observe(time.perf_counter() - started)
        self._jobs.pop(job_id, None)
        job = await self.get(job_id)
        assert job is not None
        return job

    async def purge(self) -> int:
        async with self._pool.acquire() as conn:
            return await job_sql.purge(conn, self._settings.job_retention_h)


def _default_tag(monthly: bool, engine: ReadingEngine) -> date:
    from datetime import timedelta

    today = datetime.now(engine.tz).date()
    if monthly:
        return (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return today - timedelta(days=1)


def _result(o: MeterOutcome, items: tuple[str, ...]) -> dict[str, Any]:
    values = {r.item: {"value": r.value, "unit": r.unit, "data_time": r.data_time.isoformat()} for r in o.readings}
    missing = [i for i in items if i not in values]
    return {"meter_id": o.meter_id, "values": values, "missing": missing,
            "reason": (o.reason or "no value") if missing else ""}

