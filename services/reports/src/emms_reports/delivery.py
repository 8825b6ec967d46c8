"""Scheduled delivery: daily and monthly runs of a report to the file store or a webhook, each recorded.

A schedule's ``run_for`` is the due moment of its next run (local ``at_hour`` of the next day, or of the
1st of the next month); the run covers the whole local day / month before it. A failed delivery is
recorded and tried again ``retry_s`` later for the same period; a delivered one moves ``run_for`` on. The
due schedule is claimed with ``FOR UPDATE SKIP LOCKED``, so two replicas never deliver one run twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import structlog

from emms_reports.definition import Period, ReportDefinition
from emms_reports.metrics import DELIVERIES
from emms_reports.render import MEDIA_TYPES
from emms_reports.repository import schedules as repo
from emms_reports.run import FILE_CHUNK, Runner
from emms_reports.tokens import ServiceToken
from emms_runtime import Invalid
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.reports.delivery")
RETRY_S = 300.0
SCHEDULED_ROLES = ("admin",)


def first_due(cadence: str, at_hour: int, now: datetime, tz: ZoneInfo) -> datetime:
    """The first due moment after ``now``."""
    local = now.astimezone(tz)
    if cadence == "daily":
        due = datetime.combine(local.date(), time(at_hour), tz)
        return (due if due > local else due + timedelta(days=1)).astimezone(UTC)
    due = datetime.combine(local.date().replace(day=1), time(at_hour), tz)
    return (due if due > local else following(cadence, at_hour, due, tz)).astimezone(UTC)


def following(cadence: str, at_hour: int, due: datetime, tz: ZoneInfo) -> datetime:
    """The due moment after ``due``."""
    local = due.astimezone(tz)
    if cadence == "daily":
        return datetime.combine(local.date() + timedelta(days=1), time(at_hour), tz).astimezone(UTC)
    first = (local.date().replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(first, time(at_hour), tz).astimezone(UTC)


def check_target(kind: str, target: str) -> None:
    if kind == "file":
        p = PurePosixPath(target)
        if p.is_absolute() or ".." in p.parts or not target.strip():
            raise Invalid(f"file target {target!r} must be a relative directory below the file store (no '..')")
    elif kind == "webhook":
        if not (target.startswith("https://") or target.startswith("http://")):
            raise Invalid(f"webhook target {target!r} must be an http(s) URL")
    else:
        raise Invalid(f"unknown target kind {kind!r}; kinds are file, webhook")


def for_run(definition: ReportDefinition, cadence: str) -> ReportDefinition:
    """The definition with the schedule's period: the day or the month before the due moment."""
    kind = "previous_day" if cadence == "daily" else "previous_month"
    return definition.model_copy(update={"period": Period(kind=kind)})


class Delivery:
    def __init__(self, runner: Runner, pool: asyncpg.Pool, token: ServiceToken,
                 definitions: Any) -> None:
        self._runner = runner
        self._pool = pool
        self._token = token
        self._definitions = definitions
        """``async (report) -> ReportDefinition``: a dedicated report or a stored definition."""
        settings = runner.settings
        self._store = settings.delivery.store_dir
        self._timeout = settings.delivery.webhook_timeout_s
        self.worker = PeriodicWorker("report-delivery", self.tick, settings.delivery.tick_s)

    async def run(self, stop: asyncio.Event) -> None:
        await self.worker.run(stop)

    async def tick(self, limit: int | None = None) -> int:
        """Deliver due runs (every one, or at most ``limit``), oldest first; how many were tried."""
        tried = 0
        while (limit is None or tried < limit) and await self._one():
            tried += 1
        return tried

    async def _one(self) -> bool:
        tz = self._runner.tz
        async with self._pool.acquire() as conn, conn.transaction():
            s = await repo.claim_due(conn, datetime.now(UTC))
            if s is None:
                return False
            started = datetime.now(UTC)
            record: dict[str, Any] = {"schedule_id": s["schedule_id"], "started_at": started}
            try:
                definition = for_run(await self._definitions(s["report"]), s["cadence"])
                span = self._runner.span_of(definition, s["run_for"])
                record.update(period_start=span.start, period_end=span.end)
                prepared = await self._runner.prepare(definition, SCHEDULED_ROLES, await self._token.get(),
                                                      s["run_for"])
                path = await self._runner.to_file(prepared, s["format"])
                try:
                    location = await self._deliver(s, path, span.start.astimezone(tz))
                    record.update(status="delivered", rows=prepared.table.count, bytes=path.stat().st_size,
                                  location=location)
                finally:
                    path.unlink(missing_ok=True)
            except Exception as exc:  # recorded with its reason, tried again later
                log.warning("report delivery failed", schedule=s["schedule_id"], error=str(exc))
                span = self._runner.span_of(for_run(_FALLBACK, s["cadence"]), s["run_for"])
                record.setdefault("period_start", span.start)
                record.setdefault("period_end", span.end)
                record.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:1000])
            await repo.record(conn, record)
            DELIVERIES.labels(s["target_kind"], record["status"]).inc()
            if record["status"] == "delivered":
                nxt = following(s["cadence"], s["at_hour"], s["run_for"], tz)
                await repo.advance(conn, s["schedule_id"], nxt, nxt)
            else:
                await repo.advance(conn, s["schedule_id"], s["run_for"], started + timedelta(seconds=RETRY_S))
            return True

    async def _deliver(self, s: dict[str, Any], path: Path, start: datetime) -> str:
        name = f"{s['report']}-{start:%Y%m%d}.{s['format']}"
        if s["target_kind"] == "file":
            directory = self._store / s["target"]
            directory.mkdir(parents=True, exist_ok=True)
            final = directory / name
            tmp = directory / f".{name}.part"
            await asyncio.to_thread(_copy, path, tmp)
            tmp.replace(final)
            return str(final)
        headers = {"Content-Type": MEDIA_TYPES[s["format"]], "X-EMMS-Schedule": s["schedule_id"],
                   "X-EMMS-Report": s["report"], "X-EMMS-Period-Start": start.isoformat(),
                   "Content-Disposition": f'attachment; filename="{name}"'}
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            resp = await client.post(s["target"], content=_read(path), headers=headers)
        if resp.status_code >= 300:
            raise RuntimeError(f"webhook answered {resp.status_code}: {resp.text[:200]}")
        return str(s["target"])


_FALLBACK = ReportDefinition.model_validate({"title": "-", "dataset": "usage", "columns": [{"field": "key"}]})


def _copy(src: Path, dst: Path) -> None:
    with src.open("rb") as a, dst.open("wb") as b:
        while chunk := a.read(FILE_CHUNK):
            b.write(chunk)


async def _read(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(FILE_CHUNK):
            yield chunk
