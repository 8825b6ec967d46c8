"""The interface's bus consumer (group ``interface-events``): validated readings, anomalies, command results.

At least once, idempotent by natural keys: an event's id is derived from the bus message id (stored
once, ``ON CONFLICT DO NOTHING``), and a work order is completed only from ``awaiting_first_reading``
(a redelivered batch finds it completed). Both happen in one transaction per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emms_bus.consumer import Delivery
from emms_interface.repository import jobs as jobs_repo
from emms_interface.repository import webhooks as hooks
from emms_interface.runtime import InterfaceRuntime
from emms_interface.webhooks.events import from_bus, from_job
from emms_messages.readings import ValidatedReadingBatch, ValidationStatus

GROUP = "interface-events"
TOPICS = ("emms.reading.validated.v1", "emms.anomaly.v1", "emms.control.command.v1")
_USABLE = {ValidationStatus.VALID, ValidationStatus.ESTIMATED, ValidationStatus.REPAIRED}


def _first_reading_candidates(batch: ValidatedReadingBatch) -> list[dict[str, Any]]:
    return [{"meter_id": r.meter_id, "item": r.item, "data_time": r.data_time.isoformat(), "value": r.value,
             "unit": r.unit, "status": r.status.value, "method": r.method,
             "raw_source": r.raw_source.value if r.raw_source else None}
            for r in batch.readings if r.status in _USABLE and r.value is not None]


def handler(rt: InterfaceRuntime) -> Any:
    async def handle(deliveries: Sequence[Delivery]) -> None:
        events: list[dict[str, Any]] = []
        readings: list[dict[str, Any]] = []
        for d in deliveries:
            payload = d.envelope.payload
            event = from_bus(d.envelope.message_id, payload)
            if event is not None:
                events.append(event)
            if isinstance(payload, ValidatedReadingBatch):
                readings.extend(_first_reading_candidates(payload))
        async with rt.pool.acquire() as conn, conn.transaction():
            completed = await jobs_repo.complete_first_readings(conn, readings)
            events.extend(from_job(job) for job in completed)
            queued = await hooks.add_events(conn, events)
        if queued:
            rt.dispatcher.poke()

    return handle
