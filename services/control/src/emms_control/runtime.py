"""The control service's runtime: the validated-readings consumer that computes charges, and the inbox purge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from emms_bus import BusProducer, Delivery
from emms_control import metrics
from emms_control.charges.apply import apply_batches
from emms_control.quantity.apply import count_batches
from emms_control.schema import SCHEMA
from emms_control.settings import ControlSettings
from emms_db.inbox import claim, purge
from emms_messages.readings import ValidatedReadingBatch
from emms_runtime.periodic import PeriodicWorker

VALIDATED_TOPIC = "emms.reading.validated.v1"
CHARGES_GROUP = "control-charges"
INBOX_CONSUMER = "validated-readings"


@dataclass
class ControlRuntime:
    settings: ControlSettings
    pool: asyncpg.Pool
    batches_handled: int = 0
    producer: BusProducer | None = None
    """The service's producer (prepayment reads are published on demand)."""

    async def handle_validated(self, deliveries: Sequence[Delivery]) -> None:
        """Charges of a consumer batch: inbox claim and effect in one transaction (redelivery: no-op)."""
        started = time.perf_counter()
        unique = {d.envelope.message_id: d.payload for d in deliveries}
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await claim(conn, SCHEMA, INBOX_CONSUMER, list(unique))
            batches = [p for mid, p in unique.items() if mid in fresh and isinstance(p, ValidatedReadingBatch)]
            if not batches:
                return
            applied = await apply_batches(conn, batches)
            await count_batches(conn, batches)
        self.batches_handled += len(batches)
        metrics.CHARGES.inc(applied.charges)
        metrics.CHARGED.inc(float(applied.amount))
        for reason, n in applied.skipped.items():
            metrics.USAGE_SKIPPED.labels(reason).inc(n)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)

    async def purge_inbox(self) -> None:
        async with self.pool.acquire() as conn:
            await purge(conn, SCHEMA, older_than_days=self.settings.inbox_keep_days)

    async def run_purge(self, stop: asyncio.Event) -> None:
        await PeriodicWorker("control-inbox-purge", self.purge_inbox,
                             lambda: self.settings.inbox_purge_interval_s).run(stop)
