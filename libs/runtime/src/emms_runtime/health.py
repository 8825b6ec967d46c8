"""``/healthz`` (alive), ``/readyz`` (database and broker really reachable) and ``/metrics``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from emms_bus import broker_reachable
from emms_runtime.auth.dependencies import PUBLIC
from emms_runtime.health_models import LIVENESS_RESPONSES, READINESS_RESPONSES, Liveness, Readiness
from emms_runtime.service import ServiceRuntime

router = APIRouter(tags=["health"])
PROBE_TIMEOUT_S = 3.0


def _runtime(request: Request) -> ServiceRuntime:
    rt: ServiceRuntime = request.app.state.runtime
    return rt


@router.get("/healthz", openapi_extra=PUBLIC, response_model=Liveness, responses=LIVENESS_RESPONSES,
            summary="Liveness: the process runs and no worker has died")
async def healthz(request: Request) -> JSONResponse:
    rt = _runtime(request)
    dead = rt.dead_workers()
    body = {"status": "ok" if not dead else "failing", "service": rt.name, "dead_workers": dead}
    return JSONResponse(body, status_code=200 if not dead else 503)


async def _check_database(rt: ServiceRuntime) -> str:
    if rt.pool is None:
        return "not used"
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await rt.pool.fetchval("SELECT 1")
        return "ok"
    except Exception as exc:
        return f"unreachable: {exc!r}"[:200]


async def _check_broker(rt: ServiceRuntime) -> str:
    if rt.producer is None:
        return "not used"
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S + 1):
            return "ok" if await broker_reachable(rt.settings.kafka) else "unreachable"
    except TimeoutError:
        return "unreachable: timeout"


@router.get("/readyz", openapi_extra=PUBLIC, response_model=Readiness, responses=READINESS_RESPONSES,
            summary="Readiness: database and broker reachable; storage mode")
async def readyz(request: Request) -> JSONResponse:
    rt = _runtime(request)
    db, broker = await asyncio.gather(_check_database(rt), _check_broker(rt))
    dead = rt.dead_workers()
    waiting = rt.waiting_consumers()
    checks: dict[str, Any] = {"database": db, "broker": broker, "workers": "ok" if not dead else f"dead: {dead}"}
    if waiting:  # handlers failing on an outage: offsets kept, nothing dead-lettered, retried until it ends
        checks["consumers"] = f"waiting out an outage: {waiting}"[:500]
    elif joining := rt.joining_consumers():  # from the end of their topics: what comes now would be missed
        checks["consumers"] = f"joining their groups: {joining}"[:500]
    ready = all(v in ("ok", "not used") for v in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "service": rt.name,
        "instance": rt.settings.instance_id,
        "storage_mode": rt.storage_mode.value if rt.storage_mode else None,
        "checks": checks,
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", openapi_extra=PUBLIC, include_in_schema=False, response_class=PlainTextResponse)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
