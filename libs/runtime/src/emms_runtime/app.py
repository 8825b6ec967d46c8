"""``create_service_app``: a FastAPI app whose lifespan builds the service runtime.

Start-up: open the pool (creating the database if allowed), migrate the
service's schema under an advisory lock, detect the storage mode, create the
bus topics, start the producer, run the service's ``setup`` hook, start every
worker (consumers, servers, schedulers) as its own task.

Shutdown (SIGTERM or SIGINT through uvicorn): set the stop event so workers
stop taking work, wait up to ``shutdown_grace_s`` for them to finish what is in
flight and commit, cancel what is left, run ``teardown``, flush the producer,
close the pool. Each step after the workers has a bound (``STEP_BOUND_S``): a
client stuck on a broker or a connection never held in use must not keep the
process from exiting (a pool still holding one is terminated).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, suppress
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from prometheus_client import Info
from starlette.requests import Request

from emms_bus import BusProducer, ensure_topics
from emms_db import create_pool, detect_storage_mode, migrate
from emms_runtime.auth import TokenVerifier, annotate_openapi
from emms_runtime.auth.audit import BusAccessAudit
from emms_runtime.auth.quotas import RateLimiter
from emms_runtime.errors import DomainError, domain_error_handler
from emms_runtime.health import router as health_router
from emms_runtime.http_metrics import http_metrics_middleware
from emms_runtime.request_hygiene import RequestHygiene
from emms_runtime.routes_service import router as service_router
from emms_runtime.service import ServiceRuntime, ServiceSpec
from emms_runtime.settings import ServiceSettings

log = structlog.get_logger("emms.runtime")
SERVICE_INFO = Info("emms_service", "Service identity and storage mode")


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


async def _start_storage(rt: ServiceRuntime, spec: ServiceSpec) -> None:
    rt.pool = await create_pool(rt.settings.database)
    async with rt.pool.acquire() as conn:
        if spec.schema and spec.migrations and rt.settings.migrate_on_start:
            rt.migration = await migrate(conn, spec.schema, spec.migrations,
                                         enable_timescaledb=rt.settings.database.timescaledb)
            rt.storage_mode = rt.migration.mode
            log.info("migrated", schema=spec.schema, applied=rt.migration.applied, mode=rt.storage_mode)
        else:
            rt.storage_mode = await detect_storage_mode(conn, enable=False)


async def _start_bus(rt: ServiceRuntime, app: FastAPI) -> None:
    if rt.settings.kafka.ensure_topics:
        await ensure_topics(rt.settings.kafka)
    rt.producer = BusProducer(rt.settings.kafka, source=f"emms-{rt.name}", service=rt.name)
    await rt.producer.start()
    audit = BusAccessAudit(rt.producer, rt.name, rt.settings.instance_id)
    audit.start()
    app.state.access_audit.append(audit)


async def _run_worker(rt: ServiceRuntime, name: str) -> None:
    try:
        await rt.workers[name](rt.stop)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("worker died", worker=name)
        raise


STEP_BOUND_S = 10.0


async def _bounded(step: Awaitable[None], what: str) -> bool:
    """Await one shutdown step for at most ``STEP_BOUND_S``; False (logged) when it did not finish."""
    try:
        await asyncio.wait_for(step, STEP_BOUND_S)
    except TimeoutError:
        log.warning("shutdown step did not finish in time; going on", step=what, bound_s=STEP_BOUND_S)
        return False
    except Exception:
        log.exception("shutdown step failed; going on", step=what)
    return True


async def _stop_workers(rt: ServiceRuntime) -> None:
    rt.stop.set()
    tasks = list(rt.tasks.values())
    if not tasks:
        return
    _done, pending = await asyncio.wait(tasks, timeout=rt.settings.shutdown_grace_s)
    for task in pending:
        log.warning("worker did not stop in time; cancelling", worker=task.get_name())
        task.cancel()
    with suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)


def build_lifespan(spec: ServiceSpec, settings: ServiceSettings):  # type: ignore[no-untyped-def]
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = ServiceRuntime(name=spec.name, settings=settings, stop=asyncio.Event())
        app.state.runtime = rt
        try:
            if spec.uses_database:
                await _start_storage(rt, spec)
            if spec.uses_bus:
                await _start_bus(rt, app)
            if spec.setup:
                await spec.setup(rt)
            for name in rt.workers:
                rt.tasks[name] = asyncio.create_task(_run_worker(rt, name), name=name)
            SERVICE_INFO.info({"service": spec.name, "instance": settings.instance_id,
                               "storage_mode": rt.storage_mode.value if rt.storage_mode else "none"})
            log.info("service started", service=spec.name, workers=list(rt.workers))
            yield
        finally:
            await _stop_workers(rt)
            if spec.teardown:
                await _bounded(spec.teardown(rt), "teardown")
            for hook in app.state.access_audit:
                if isinstance(hook, BusAccessAudit):
                    await _bounded(hook.stop(), "access audit")
            app.state.access_audit.clear()
            if rt.producer:
                await _bounded(rt.producer.stop(), "producer")
            if rt.pool and not await _bounded(rt.pool.close(), "database pool"):
                rt.pool.terminate()
            log.info("service stopped", service=spec.name)

    return lifespan


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
              for e in exc.errors()]
    return JSONResponse({"detail": "request validation failed", "errors": errors}, status_code=422)


VALIDATION_ERROR_SCHEMA = {
    "title": "HTTPValidationError",
    "type": "object",
    "description": "422: ``detail`` says why; ``errors`` names each bad field when the request did not parse.",
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "errors": {"type": "array", "title": "Errors", "items": {"$ref": "#/components/schemas/ValidationError"}},
    },
    "required": ["detail"],
}


def _document_validation_errors(app: FastAPI) -> None:
    """The OpenAPI document describes the 422 body :func:`_validation_error` and ``Invalid`` send
    (``{"detail": str, "errors": [...]}``), not FastAPI's default (``detail`` as a list)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        schemas = document.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def create_service_app(settings: ServiceSettings, spec: ServiceSpec) -> FastAPI:
    app = FastAPI(title=spec.title, description=spec.description, version=spec.version,
                  lifespan=build_lifespan(spec, settings), generate_unique_id_function=_operation_id)
    app.state.auth_settings = settings.auth
    app.state.token_verifier = TokenVerifier(settings.auth)
    app.state.rate_limiter = RateLimiter()
    app.state.access_audit = []
    app.add_middleware(RequestHygiene, own_body_checks=spec.own_body_checks)  # inside the metrics: 422s counted
    app.middleware("http")(http_metrics_middleware(spec.name))
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DomainError, domain_error_handler)
    app.include_router(health_router)
    app.include_router(service_router)
    for router in spec.routers:
        app.include_router(router)
    annotate_openapi(app)
    _document_validation_errors(app)
    return app
