"""Remote control inside the running service: its consumers (FEP results, master data), the command
engine's worker and the gauges; :func:`wire` registers them on the service runtime."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from emms_bus import BusConsumer, BusProducer, Delivery
from emms_control.commands.engine import CommandEngine, Outbox
from emms_control.commands.policy import configure
from emms_control.commands.settings import CommandSettings
from emms_control.schema import SCHEMA
from emms_control.topology import masterdata
from emms_db.inbox import claim
from emms_messages.masterdata import MasterDataChange
from emms_messages.terminal import DownlinkResult
from emms_runtime import ServiceRuntime
from emms_runtime.periodic import PeriodicWorker
from emms_runtime.retriable import is_retriable

RESULT_TOPIC = "emms.downlink.result.v1"
MASTERDATA_TOPIC = "emms.masterdata.change.v1"
RESULTS_GROUP = "control-commands"
MASTERDATA_GROUP = "control-masterdata"


@dataclass
class CommandService:
    pool: asyncpg.Pool
    engine: CommandEngine
    masterdata_applied: int = 0

    async def handle_results(self, deliveries: Sequence[Delivery]) -> None:
        unique = {d.envelope.message_id: d.payload for d in deliveries
                  if isinstance(d.payload, DownlinkResult) and d.payload.request_id.startswith("ctl-")}
        if not unique:
            return
        out = Outbox()
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await claim(conn, SCHEMA, "downlink-results", list(unique))
            results = [p for mid, p in unique.items() if mid in fresh and isinstance(p, DownlinkResult)]
            await self.engine.handle_results(conn, results, out)
        self.engine.wake.set()
        await self.engine.publish(out)

    async def handle_masterdata(self, deliveries: Sequence[Delivery]) -> None:
        unique = {d.envelope.message_id: d.payload for d in deliveries}
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await claim(conn, SCHEMA, "masterdata", list(unique))
            for mid, change in unique.items():
                if mid in fresh and isinstance(change, MasterDataChange):
                    await masterdata.apply(conn, change)
                    self.masterdata_applied += 1

    async def run_gauges(self, stop: asyncio.Event) -> None:
        await PeriodicWorker("control-command-gauges", self.engine.refresh_gauges, lambda: 5.0).run(stop)


def configure_policy(s: CommandSettings) -> None:
    configure(protected_classes=frozenset(s.protected_classes), confirm_above=s.confirm_above,
              confirm_ttl_s=s.confirm_ttl_s, attempts=s.attempts, retry_delay_s=s.retry_delay_s,
              request_timeout_s=s.request_timeout_s, fep_retries=s.fep_retries, result_grace_s=s.result_grace_s,
              terminal_in_flight=s.terminal_in_flight, jobs_per_operator_per_min=s.jobs_per_operator_per_min,
              devices_per_min=s.devices_per_min)


def wire(rt: ServiceRuntime, settings: CommandSettings) -> CommandService:
    assert rt.pool is not None
    configure_policy(settings)
    producer: BusProducer | None = rt.producer
    engine = CommandEngine(rt.pool, producer, batch=settings.engine_batch, tick_s=settings.engine_tick_s)
    service = CommandService(rt.pool, engine)
    assert producer is not None
    results = BusConsumer(rt.settings.kafka, group=RESULTS_GROUP, topics=[RESULT_TOPIC],
                          handler=service.handle_results, dlq_producer=producer, max_batch=500, urgent=True,
                          retriable=is_retriable)
    rt.consumers.append(results)  # urgent: a result → the next request is the latency of a command
    rt.add_worker(f"consumer:{RESULTS_GROUP}", results.run)
    rt.add_consumer(MASTERDATA_GROUP, [MASTERDATA_TOPIC], service.handle_masterdata, max_batch=500)
    rt.add_worker("command-engine", engine.run)
    rt.add_worker("command-gauges", service.run_gauges)
    return service
