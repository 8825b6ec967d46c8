"""The interface service: FastAPI app, and the lifespan hook that builds its runtime."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI

from emms_interface.api.routes_billing import router as billing_router
from emms_interface.api.routes_customers import router as customers_router
from emms_interface.api.routes_jobs import router as jobs_router
from emms_interface.api.routes_notices import router as notices_router
from emms_interface.api.routes_webhooks import router as webhooks_router
from emms_interface.consumers import GROUP, TOPICS, handler
from emms_interface.customers.payments import PendingPayments
from emms_interface.jobs.service import JobWorker
from emms_interface.runtime import InterfaceRuntime
from emms_interface.schema import SCHEMA
from emms_interface.settings import InterfaceSettings
from emms_interface.upstream import Upstream
from emms_interface.webhooks.dispatcher import Dispatcher
from emms_interface.webhooks.sealing import SecretSealer
from emms_runtime import ServiceRuntime, ServiceSpec, create_service_app


def spec(transports: Mapping[str, httpx.AsyncBaseTransport] | None = None) -> ServiceSpec:
    """The service; ``transports`` route the upstream calls (tests: the owners' apps in process, a receiver)."""

    async def setup(rt: ServiceRuntime) -> None:
        assert rt.pool is not None
        settings = rt.settings
        assert isinstance(settings, InterfaceSettings)
        upstream = Upstream(settings, transports)
        webhooks = settings.webhooks
        dispatcher = Dispatcher(rt.pool, webhooks, SecretSealer(webhooks.secret_keys(settings.environment)),
                                webhooks.policy(settings.environment), (transports or {}).get("webhooks"))
        await dispatcher.seal_stored(renew=True)  # no secret stays in clear text; all under the first key
        state = InterfaceRuntime(settings, rt.pool, upstream, dispatcher)
        rt.state = state
        rt.add_worker("webhook-deliveries", dispatcher.run)
        rt.add_worker("jobs", JobWorker(state).worker.run)
        rt.add_worker("pending-payments", PendingPayments(rt.pool, upstream, 30.0).worker.run)
        if rt.producer is not None:
            rt.add_consumer(GROUP, list(TOPICS), handler(state))

    async def teardown(rt: ServiceRuntime) -> None:
        if isinstance(rt.state, InterfaceRuntime):
            await rt.state.upstream.aclose()

    return ServiceSpec(
        name="interface",
        title="EMMS system interface",
        description="One API for other utility systems (R-4.7): collection and control tasks and install / replace /"
                    " remove work orders as jobs with Idempotency-Keys; validated readings per billing cycle; signed"
                    " outbound webhooks with retries, a delivery log and replay. And the customers' value-added"
                    " services (R-4.5.7): usage with comparison, notices, online payment, usage advice."
                    " Guide: docs/integration.md.",
        schema=SCHEMA,
        migrations=Path(__file__).parent / "migrations",
        routers=(jobs_router, webhooks_router, billing_router, customers_router, notices_router),
        setup=setup,
        teardown=teardown,
    )


SPEC = spec()


def create_app(settings: InterfaceSettings,
               transports: Mapping[str, httpx.AsyncBaseTransport] | None = None) -> FastAPI:
    return create_service_app(settings, SPEC if transports is None else spec(transports))


__all__ = ["SPEC", "InterfaceRuntime", "create_app"]
