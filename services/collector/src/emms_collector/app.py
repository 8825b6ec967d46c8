"""The collector service: FastAPI app, and the lifespan hooks that build the collector runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from fastapi import FastAPI

from emms_collector.api.routes_clock import router as clock_router
from emms_collector.api.routes_gaps import router as gaps_router
from emms_collector.api.routes_points import router as points_router
from emms_collector.api.routes_quality import router as quality_router
from emms_collector.api.routes_reads import router as reads_router
from emms_collector.api.routes_runs import router as runs_router
from emms_collector.api.routes_tasks import router as tasks_router
from emms_collector.api.routes_templates import router as templates_router
from emms_collector.api.routes_terminal_class import router as terminal_class_router
from emms_collector.api.routes_terminal_config import router as terminal_config_router
from emms_collector.api.routes_terminal_tariff import router as terminal_tariff_router
from emms_collector.intake.acd import AcdWatcher
from emms_collector.intake.manifest import import_manifest
from emms_collector.repository.templates import put_template
from emms_collector.runtime import CollectorRuntime, build_runtime, results_consumer
from emms_collector.scheduling.executor import RunExecutor
from emms_collector.scheduling.scheduler import Scheduler
from emms_collector.schema import SCHEMA
from emms_collector.settings import CollectorSettings
from emms_collector.tasks.templates import default_templates
from emms_collector.tasks.types import TaskType
from emms_collector.terminal_config.setup import register_terminals
from emms_db import inbox
from emms_runtime import ServiceRuntime, ServiceSpec, create_service_app
from emms_runtime.gc_policy import GcFreezer
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.collector")
Worker = Callable[[asyncio.Event], Awaitable[None]]
HOUSEKEEPING_S = 3600.0
INBOX_DAYS = 35  # longer than any consumed topic keeps its messages (master data: 30 days)


async def setup(rt: ServiceRuntime) -> None:
    assert rt.pool is not None and rt.producer is not None
    settings = rt.settings
    assert isinstance(settings, CollectorSettings)
    c = build_runtime(settings, rt.pool, rt.producer)
    rt.state = c
    if settings.install_default_templates:
        async with rt.pool.acquire() as conn:
            for template in default_templates():
                await put_template(conn, template, only_if_missing=True)
    results = results_consumer(c)
    rt.consumers.append(results)
    rt.add_worker(f"consumer:{results.group}", results.run)
    rt.add_worker("gc-freezer", GcFreezer(settings.gc).run)
    if settings.timesync.master.servers:  # every replica measures its own host's clock
        rt.add_worker("master-clock", c.timesync.master.run)
    if settings.role == "interactive":
        rt.add_worker("housekeeping", _housekeeping(c))
        return
    rt.add_consumer("collector-uplink", ["emms.uplink.frame.v1"], c.reports.handle)
    c.masterdata.consumer = rt.add_consumer("collector-masterdata", ["emms.masterdata.change.v1"],
                                            c.masterdata.handle)
    rt.add_consumer("collector-backfill", ["emms.backfill.request.v1"], c.backfill.handle_requests)
    rt.add_consumer("collector-sessions", ["emms.terminal.session.v1"], c.timesync.handle_sessions)
    c.event_poller.on_meter_clock = c.timesync.note_meter_clock_events  # ERC 12 read → a meter sync
    acd = AcdWatcher(rt.pool, c.event_poller)  # events on demand (R-4.5.4.3)
    rt.add_consumer("collector-acd", ["emms.uplink.frame.v1"], acd.handle)
    rt.add_worker("acd-reads", _stopping(acd.stop))
    executor = RunExecutor(rt.pool, c.engine, terminal_jobs={TaskType.CLOCK: c.timesync.clock_task,
                                                             TaskType.EVENTS: c.event_poller.events_task},
                           settle=lambda: c.masterdata.settled(settings.scheduler.masterdata_wait_s))
    c.scheduler = Scheduler(rt.pool, settings.scheduler, c.me, executor, freeze_at=settings.freeze_at,
                            on_finished=executor.finished)
    if settings.scheduler.enabled:
        rt.add_worker("scheduler", _gated(c, c.scheduler.run))
    if settings.backfill.enabled:
        rt.add_worker("backfill", _gated(c, c.backfill.run))
    if settings.timesync.enabled:
        rt.add_worker("timesync", _gated(c, c.timesync.run))
    register_terminals(rt, c.terminals, c.wait_results_ready)
    if settings.manifest_path:
        rt.add_worker("manifest", _manifest_watcher(c))
    rt.add_worker("housekeeping", _housekeeping(c))


def _stopping(at_stop: Callable[[], Awaitable[None]]) -> Worker:
    """A worker that only runs ``at_stop`` when the service stops."""

    async def run(stop: asyncio.Event) -> None:
        await stop.wait()
        await at_stop()

    return run


def _gated(c: CollectorRuntime, worker: Worker) -> Worker:
    """Start a worker that sends requests only once this replica can hear the results."""

    async def run(stop: asyncio.Event) -> None:
        await c.wait_results_ready(stop)
        if not stop.is_set():
            await worker(stop)

    return run


def _manifest_watcher(c: CollectorRuntime) -> Worker:
    """Import the simulator's manifest at start and whenever the file changes (``make up``, tests)."""
    path = Path(str(c.settings.manifest_path))
    seen: float | None = None

    async def step() -> None:
        nonlocal seen
        try:
            mtime = (await asyncio.to_thread(path.stat)).st_mtime
        except FileNotFoundError:
            return
        if mtime != seen:
            await import_manifest(c.pool, path)
            seen = mtime
            c.poke_scheduler()

    return PeriodicWorker("manifest", step, c.settings.manifest_poll_s).run


def _housekeeping(c: CollectorRuntime) -> Worker:
    """Hourly: drop finished manual-read jobs past their retention and inbox rows past topic retention."""

    async def step() -> None:
        await c.manual.purge()
        async with c.pool.acquire() as conn:
            await inbox.purge(conn, SCHEMA, INBOX_DAYS)

    return PeriodicWorker("housekeeping", step, HOUSEKEEPING_S).run


SPEC = ServiceSpec(
    name="collector",
    title="EMMS collector",
    description="Collection tasks, scheduled and manual reading, back-fill, execution quality, time synchronisation.",
    schema=SCHEMA,
    migrations=Path(__file__).parent / "migrations",
    routers=(tasks_router, runs_router, reads_router, quality_router, gaps_router, clock_router, points_router,
             templates_router, terminal_class_router, terminal_config_router,
             terminal_tariff_router),
    setup=setup,
)


def create_app(settings: CollectorSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
