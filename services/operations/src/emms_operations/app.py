"""The operations service: FastAPI app, and the lifespan hook that starts its consumers and workers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from emms_db.inbox import purge
from emms_operations import consumers as c
from emms_operations.api.routes_availability import router as availability_router
from emms_operations.api.routes_faults import router as faults_router
from emms_operations.api.routes_oplog import router as oplog_router
from emms_operations.api.routes_status import router as status_router
from emms_operations.api.routes_tickets import router as tickets_router
from emms_operations.runtime import OperationsRuntime
from emms_operations.schema import SCHEMA
from emms_operations.settings import OperationsSettings
from emms_runtime import ServiceRuntime, ServiceSpec, create_service_app
from emms_runtime.periodic import PeriodicWorker

INBOX_DAYS = 8
"""Inbox rows older than the longest retention of the topics claimed through it (master data 30 days is
applied as upserts, so a late redelivery of those re-applies the same values)."""


async def setup(rt: ServiceRuntime) -> None:
    assert rt.pool is not None
    settings = rt.settings
    assert isinstance(settings, OperationsSettings)
    ops = OperationsRuntime(settings, rt.pool)
    rt.state = ops
    batch = settings.consumer_max_batch
    h = ops.consumers
    rt.add_consumer("operations-sessions", [c.SESSION_TOPIC], h.sessions, max_batch=batch)
    rt.add_consumer("operations-results", [c.RESULT_TOPIC], h.results, max_batch=batch)
    rt.add_consumer("operations-readings", [c.RAW_TOPIC], h.readings, max_batch=batch)
    rt.add_consumer("operations-events", [c.EVENT_TOPIC], h.events, max_batch=batch)
    rt.add_consumer("operations-masterdata", [c.MASTERDATA_TOPIC], h.masterdata, max_batch=batch)
    rt.add_consumer("operations-commands", [c.COMMAND_TOPIC], h.commands, max_batch=batch)
    rt.add_consumer("operations-oplog", [c.OPLOG_TOPIC], h.oplog, max_batch=batch)
    rt.add_worker("health-poll", PeriodicWorker("health-poll", ops.poller.step, settings.poll_interval_s).run)
    rt.add_worker("fault-detect", PeriodicWorker("fault-detect", ops.detector.step, settings.detect_interval_s).run)
    rt.add_worker("ticket-escalate", PeriodicWorker("ticket-escalate", ops.escalate,
                                                    settings.tickets.escalate_interval_s).run)
    rt.add_worker("consumer-lag", PeriodicWorker("consumer-lag", ops.lag.step, settings.lag_interval_s).run)
    rt.add_worker("availability-gauges", PeriodicWorker("availability-gauges", ops.refresh_availability,
                                                        settings.availability_interval_s).run)

    async def purge_inbox() -> None:
        async with ops.pool.acquire() as conn:
            await purge(conn, SCHEMA, INBOX_DAYS)

    rt.add_worker("inbox-purge", PeriodicWorker("inbox-purge", purge_inbox, 3600.0).run)


SPEC = ServiceSpec(
    name="operations",
    title="EMMS operations",
    description="Faults located and ticketed, maintenance records, availability of the master and the terminals,"
                " the duty log and the operating status.",
    schema=SCHEMA,
    migrations=Path(__file__).parent / "migrations",
    routers=(status_router, faults_router, tickets_router, availability_router, oplog_router),
    setup=setup,
)


def create_app(settings: OperationsSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
