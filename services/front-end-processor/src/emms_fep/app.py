"""The front-end processor service: FastAPI app, and the lifespan hooks that build the FEP runtime."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from emms_fep.allowance import AllowanceWatch
from emms_fep.api.routes_channels import router as channels_router
from emms_fep.api.routes_fep import router as fep_router
from emms_fep.api.routes_terminals import router as terminals_router
from emms_fep.masterdata import MASTERDATA_TOPIC, MasterDataSync
from emms_fep.runtime import (
    SCHEMA,
    FepRuntime,
    build_runtime,
    conclude_abandoned,
    downlink_consumer,
    shutdown,
)
from emms_fep.settings import FepSettings
from emms_runtime import ServiceRuntime, ServiceSpec, create_service_app
from emms_runtime.gc_policy import GcFreezer, GrowthTrigger


async def setup(rt: ServiceRuntime) -> None:
    assert rt.pool is not None and rt.producer is not None
    settings = rt.settings
    assert isinstance(settings, FepSettings)
    fep = build_runtime(settings, rt.pool, rt.producer)
    rt.state = fep
    fep.gc_pauses.install()
    await conclude_abandoned(fep)
    await fep.router.beat()
    await fep.passwords.refresh()  # every terminal's own PW before the first request is sent
    await fep.relays.refresh()  # relay routes before the first terminal logs in
    for channel in fep.channels:
        await channel.start()
    consumer = downlink_consumer(fep, rt.producer)
    rt.consumers.append(consumer)
    rt.add_worker("publisher", fep.publish.run)
    rt.add_worker("deadlines", lambda stop: fep.gateway.sweep(stop, settings.sessions.sweep_resolution_s))
    rt.add_worker("routing", fep.router.run)
    rt.add_worker("relay-routes", fep.relays.run)
    rt.add_worker("stores", fep.run_store_flusher)
    rt.add_worker("retention", fep.run_retention)
    rt.add_worker("loop-lag", fep.lag.run)
    if settings.gc.freeze:
        freezer = GcFreezer(settings.gc, growth=GrowthTrigger(fep.gateway.__len__, settings.gc.freeze_growth))
        rt.add_worker("gc-freezer", freezer.run)
    rt.add_worker(f"consumer:{consumer.group}", consumer.run)
    owners = MasterDataSync(rt.pool, SCHEMA)  # owners of terminals (scope of the terminal routes), their PWs
    owners.on_committed = fep.passwords.poke
    rt.add_worker("terminal-passwords", fep.passwords.run)
    rt.add_consumer("fep-masterdata", [MASTERDATA_TOPIC], owners.handle)
    rt.add_worker("masterdata-inbox-purge", owners.run_purge)
    rt.add_worker("traffic-allowance", AllowanceWatch(rt.pool, SCHEMA).run)  # SIM allowances


async def teardown(rt: ServiceRuntime) -> None:
    fep = rt.state
    if isinstance(fep, FepRuntime):
        await shutdown(fep)


SPEC = ServiceSpec(
    name="fep",
    title="EMMS front-end processor",
    description="Terminal connections, sessions, SEQ correlation, uplink and downlink on the bus.",
    schema=SCHEMA,
    migrations=Path(__file__).parent / "migrations",
    routers=(terminals_router, fep_router, channels_router),
    setup=setup,
    teardown=teardown,
)


def create_app(settings: FepSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
