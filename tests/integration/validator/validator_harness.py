"""Running the validator service in the test's event loop on the real broker and database; watching its outputs."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from service_harness import in_process, wait_until

from emms_bus import BusConsumer, BusProducer, Delivery, KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_messages.events import Anomaly
from emms_messages.oplog import OperationLogged
from emms_messages.readings import BackfillRequest, RawReadingBatch, Reading, ValidatedReading, ValidatedReadingBatch
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings
from emms_validator.app import create_app
from emms_validator.runtime import ValidatorRuntime
from emms_validator.settings import ValidatorSettings

OUTPUT_TOPICS = ["emms.reading.validated.v1", "emms.anomaly.v1", "emms.backfill.request.v1", "emms.operation.log.v1"]


async def until(condition: Callable[[], bool], timeout_s: float = 30.0, poll_s: float = 0.05) -> None:
    """``service_harness.wait_until`` with this area's defaults."""
    await wait_until(condition, timeout_s, poll_s)


def validator_settings(database_url: str, kafka: KafkaSettings, **overrides: Any) -> ValidatorSettings:
    values: dict[str, Any] = {
        "environment": "test", "instance_id": f"validator-{secrets.token_hex(2)}",
        "database": DatabaseSettings(url=database_url), "kafka": kafka, "shutdown_grace_s": 5.0,
        "vee": {"sweep_interval_s": 3600.0, "config_refresh_s": 0.5},
        **overrides,
    }
    return ValidatorSettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Service:
    app: FastAPI
    vr: ValidatorRuntime
    client: httpx.AsyncClient

    def as_role(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(AuthSettings(), f'test-{role}', role)}"}


@contextlib.asynccontextmanager
async def running_validator(settings: ValidatorSettings) -> AsyncIterator[Service]:
    async with in_process(create_app(settings), "http://validator") as (app, vr, client):
        assert isinstance(vr, ValidatorRuntime)
        yield Service(app, vr, client)


@dataclass
class BusWatch:
    """Everything published on the validator's three output topics (and its duty-log entries), with envelope ids.

    ``validated`` holds the readings of every validated batch, in order; ``batches`` the batches."""

    validated: list[ValidatedReading] = field(default_factory=list)
    batches: list[ValidatedReadingBatch] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    backfills: list[BackfillRequest] = field(default_factory=list)
    duty: list[OperationLogged] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    keys: dict[str, bytes | None] = field(default_factory=dict)  # validated batch id → its message key

    async def handle(self, batch: Sequence[Delivery]) -> None:
        for d in batch:
            self.ids.append(str(d.envelope.message_id))
            p = d.payload
            if isinstance(p, ValidatedReadingBatch):
                self.batches.append(p)
                self.keys[p.batch_id] = d.key
                self.validated += p.readings
            elif isinstance(p, Anomaly):
                self.anomalies.append(p)
            elif isinstance(p, BackfillRequest):
                self.backfills.append(p)
            elif isinstance(p, OperationLogged) and p.service == "validator":
                self.duty.append(p)

    def of_meter(self, meter_id: str) -> tuple[list[ValidatedReading], list[Anomaly], list[BackfillRequest]]:
        return ([v for v in self.validated if v.meter_id == meter_id],
                [a for a in self.anomalies if a.meter_id == meter_id],
                [b for b in self.backfills if b.meter_id == meter_id])


@contextlib.asynccontextmanager
async def watching_bus(kafka: KafkaSettings) -> AsyncIterator[tuple[BusWatch, BusProducer]]:
    producer = BusProducer(kafka, "validator-test")
    await producer.start()
    watch = BusWatch()
    consumer = BusConsumer(kafka, group=f"validator-test-watch-{secrets.token_hex(3)}", topics=OUTPUT_TOPICS,
                           handler=watch.handle, dlq_producer=producer)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield watch, producer
    finally:
        stop.set()
        await task
        await producer.stop()


def batches_by_day(readings: Sequence[Reading], run: str) -> list[RawReadingBatch]:
    """One raw batch per terminal and data time, as a collector publishes one answer."""
    groups: dict[tuple[str, str], list[Reading]] = {}
    for r in readings:
        groups.setdefault((r.terminal or "T", r.data_time.isoformat()), []).append(r)
    return [RawReadingBatch(batch_id=f"{run}/{terminal}/{t}", terminal=terminal, readings=rs)
            for (terminal, t), rs in sorted(groups.items(), key=lambda kv: kv[0][1])]
