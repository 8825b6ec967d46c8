"""The collector service: FastAPI app, and the lifespan hooks that build the collector runtime."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from emms_collector.api.routes_runs import router as runs_router
from emms_collector.api.routes_tasks import router as tasks_router
from emms_collector.api.routes_templates import router as templates_router
from emms_collector.executor import RunExecutor
from emms_collector.runtime import CollectorRuntime, build_runtime, results_consumer
from emms_collector.scheduler import Scheduler
from emms_collector.schema import SCHEMA
from emms_collector.settings import CollectorSettings
from emms_collector.templates import default_templates, put_template
from emms_runtime import ServiceRuntime, ServiceSpec, create_service_app


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
    consumer = results_consumer(c)
    rt.consumers.append(consumer)
    rt.add_worker(f"consumer:{consumer.group}", consumer.run)
    executor = RunExecutor(rt.pool, c.engine)
    c.scheduler = Scheduler(rt.pool, settings.scheduler, c.me, executor, freeze_at=settings.freeze_at,
                            on_finished=executor.finished)
    if settings.scheduler.enabled:
        rt.add_worker("scheduler", _gated(c, c.scheduler.run))


def _gated(c: CollectorRuntime, worker):  # type: ignore[no-untyped-def]
    """Start a worker that sends requests only once this replica can hear the results."""

    async def run(stop: asyncio.Event) -> None:
        await c.wait_results_ready(stop)
        if not stop.is_set():
            await worker(stop)

    return run


SPEC = ServiceSpec(
    name="collector",
    title="EMMS collector",
    description="Collection tasks, scheduled and manual reading, back-fill, execution quality, time synchronisation.",
    schema=SCHEMA,
    migrations=Path(__file__).parent / "migrations",
    routers=(tasks_router, runs_router, templates_router),
    setup=setup,
)


def create_app(settings: CollectorSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
