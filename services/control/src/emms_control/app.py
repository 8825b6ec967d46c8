"""The control service: FastAPI app, and the lifespan hook that builds its runtime."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from emms_control.api.routes_accounts import router as accounts_router
from emms_control.api.routes_commands import ROUTERS as command_routers
from emms_control.api.routes_prepayment import router as prepayment_router
from emms_control.api.routes_quantity import router as quantity_router
from emms_control.api.routes_tariffs import router as tariffs_router
from emms_control.commands.service import wire as wire_commands
from emms_control.prepayment.service import wire as wire_prepayment
from emms_control.runtime import CHARGES_GROUP, VALIDATED_TOPIC, ControlRuntime
from emms_control.schema import SCHEMA
from emms_control.settings import ControlSettings
from emms_runtime import ServiceRuntime, ServiceSpec, create_service_app


async def setup(rt: ServiceRuntime) -> None:
    assert rt.pool is not None
    settings = rt.settings
    assert isinstance(settings, ControlSettings)
    cr = ControlRuntime(settings, rt.pool)
    rt.state = cr
    rt.add_consumer(CHARGES_GROUP, [VALIDATED_TOPIC], cr.handle_validated, max_batch=settings.consumer_max_batch)
    rt.add_worker("inbox-purge", cr.run_purge)
    wire_prepayment(rt, settings.prepayment)
    wire_commands(rt, settings.commands)


SPEC = ServiceSpec(
    name="control",
    title="EMMS control",
    description="Tariffs, accounts, payments and charges from validated readings; later: prepayment, quantity"
                " and remote control.",
    schema=SCHEMA,
    migrations=Path(__file__).parent / "migrations",
    routers=(tariffs_router, accounts_router, prepayment_router, quantity_router, *command_routers),
    setup=setup,
)


def create_app(settings: ControlSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
