"""The validator service: FastAPI app, and the lifespan hook that builds the VEE runtime."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from emms_runtime import ServiceRuntime, ServiceSpec, create_service_app
from emms_validator.api.routes_anomalies import router as anomalies_router
from emms_validator.api.routes_customers import router as customers_router
from emms_validator.api.routes_readings import router as readings_router
from emms_validator.api.routes_rules import router as rules_router
from emms_validator.handoff import Handoff
from emms_validator.runtime import EVENT_TOPIC, MASTERDATA_TOPIC, RAW_TOPIC, SCHEMA, ValidatorRuntime, build_pipeline
from emms_validator.settings import ValidatorSettings


async def setup(rt: ServiceRuntime) -> None:
    assert rt.pool is not None and rt.producer is not None
    settings = rt.settings
    assert isinstance(settings, ValidatorSettings)
    pipeline, resolver = build_pipeline(settings)
    vr = ValidatorRuntime(settings, rt.pool, rt.producer, pipeline, resolver)
    await vr.refresh_config()
    rt.state = vr
    rt.add_consumer("validator-masterdata", [MASTERDATA_TOPIC], vr.handle_masterdata)
    rt.add_consumer("validator-events", [EVENT_TOPIC], vr.handle_events)
    rt.add_consumer("validator-raw", [RAW_TOPIC], vr.handle_raw, max_batch=settings.consumer_max_batch)
    rt.add_worker("config-refresh", vr.run_config_refresh)
    rt.add_worker("backfill-sweep", vr.run_sweep)
    rt.add_worker("handoff", Handoff(rt.pool, SCHEMA, settings.handoff).run)


SPEC = ServiceSpec(
    name="validator",
    title="EMMS validator",
    description="Validation, estimation and editing (VEE) of readings; anomalies and their workflow.",
    schema=SCHEMA,
    migrations=Path(__file__).parent / "migrations",
    routers=(rules_router, anomalies_router, readings_router, customers_router),
    setup=setup,
)


def create_app(settings: ValidatorSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
