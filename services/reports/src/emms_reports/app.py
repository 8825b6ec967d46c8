"""The reports service: FastAPI app, and the lifespan hook that builds the reports runtime."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from emms_reports.api.routes_definitions import router as definitions_router
from emms_reports.api.routes_designer import router as designer_router
from emms_reports.api.routes_reports import router as reports_router
from emms_reports.api.routes_schedules import router as schedules_router
from emms_reports.runtime import ReportsRuntime
from emms_reports.schema import SCHEMA
from emms_reports.settings import ReportsSettings
from emms_runtime import ServiceRuntime, ServiceSpec, create_service_app


def spec(transport: httpx.AsyncBaseTransport | None = None) -> ServiceSpec:
    """The service; ``transport`` routes its upstream calls elsewhere (tests serving the sources in-process)."""

    async def setup(rt: ServiceRuntime) -> None:
        assert rt.pool is not None
        settings = rt.settings
        assert isinstance(settings, ReportsSettings)
        reports = ReportsRuntime.build(settings, rt.pool, transport)
        rt.state = reports
        rt.add_worker("report-delivery", reports.delivery.run)

    async def teardown(rt: ServiceRuntime) -> None:
        if isinstance(rt.state, ReportsRuntime):
            await rt.state.close()

    return ServiceSpec(
        name="reports",
        title="EMMS reports",
        description="Dedicated reports and reports designed online, from the query and analysis APIs, rendered to"
                    " XLSX, PDF and CSV (streamed), and delivered daily or monthly to a file store or a webhook.",
        schema=SCHEMA,
        migrations=Path(__file__).parent / "migrations",
        routers=(reports_router, definitions_router, schedules_router, designer_router),
        setup=setup,
        teardown=teardown,
    )


SPEC = spec()


def create_app(settings: ReportsSettings, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    return create_service_app(settings, SPEC if transport is None else spec(transport))


__all__ = ["SPEC", "ReportsRuntime", "create_app"]
