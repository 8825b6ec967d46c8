"""Periodic event queries (R-4.5.4.3): read terminals' event records (AFN 0E) an ``events`` task asks for.

Per terminal the next record pointer of each queue (F1 important, F2 normal)
is kept; a read asks from there up to the terminal's event counter when known
(from its last answer), else up to ``BATCH`` records further. Records become
``DeviceEvent`` messages keyed by terminal (stable ids: a re-read publishes
the same messages, deduplicated downstream).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from emms_bus import BusProducer
from emms_collector import metrics
from emms_collector.intake.event_class import classify
from emms_collector.intake.events import MeterClockEvent, events_of
from emms_collector.reading.answers import typed_frames
from emms_collector.repository import points as point_sql
from emms_collector.repository import terminal_class as class_sql
from emms_collector.repository import terminal_events as event_sql
from emms_collector.repository.runs import ClaimedRun
from emms_collector.scheduling.dispatch import Dispatcher
from emms_collector.scheduling.scheduler import RunOutcome
from emms_collector.tasks.model import Task
from emms_db.connection import Connection
from emms_messages.terminal import DataUnitRequest, DownlinkRequest, RequestOutcome
from emms_protocol.gdw1376.afn0e import EventBatch

BATCH = 32
ClockSink = Callable[[Connection, list[MeterClockEvent]], Awaitable[None]]


class EventPoller:
    def __init__(self, pool: asyncpg.Pool, dispatcher: Dispatcher, producer: BusProducer) -> None:
        self._pool = pool
        self._dispatcher = dispatcher
        self._producer = producer
        self.on_meter_clock: ClockSink | None = None
        """Where meter clock-drift records (ERC 12) read go (time synchronisation, R-4.6.1.5)."""

    async def read_terminal(self, terminal: str) -> tuple[int, str]:
        """Read both queues of one terminal; (events published, failure reason)."""
        async with self._pool.acquire() as conn:
            row = await event_sql.pointers(conn, terminal)
            points = await point_sql.by_terminal_pn(conn, terminal)
            important = await class_sql.important_ercs_of(conn, terminal)
        published, reasons = 0, []
        for fn, (ptr_col, ec_col) in event_sql.QUEUES.items():
            start = int(row[ptr_col]) if row else 0
            ec = row[ec_col] if row else None
            end = int(ec) % 256 if ec is not None and ec != start else (start + BATCH) % 256
            request = DownlinkRequest(request_id=f"col-events-{secrets.token_hex(8)}", terminal=terminal, afn=0x0E,
                                      units=[DataUnitRequest(pn=[0], fn=[fn], data={"value": {
                                          "type": "EventRequest", "start": start, "end": end}})],
                                      requested_by="collector:events", timeout_s=10.0, retries=1, priority=4)
            result = await self._dispatcher.send(request, "events")
            if result.outcome is not RequestOutcome.ANSWERED:
                reasons.append(f"F{fn} {result.outcome.value}")
                continue
            frames = typed_frames(result.frames)
            found, clocks = events_of(frames, terminal, points, result.completed_at)
            events = classify(found, important)  # the terminal class's important ERCs, when it sets them
            if events:
                await self._producer.publish_many(events)
                for e in events:
                    metrics.EVENTS.labels(e.event_class.value).inc()
                published += len(events)
            batch = next((u.value for f in frames for u in f.units if isinstance(u.value, EventBatch)), None)
            if batch is not None:
                async with self._pool.acquire() as conn, conn.transaction():
                    if clocks and self.on_meter_clock is not None:
                        await self.on_meter_clock(conn, clocks)
                    await event_sql.advance(conn, terminal, fn, (start + len(batch.records)) % 256,
                                            batch.ec1 if fn == 1 else batch.ec2, datetime.now(UTC))
        return published, "; ".join(reasons)

    async def events_task(self, task: Task, run: ClaimedRun, terminals: list[str]) -> RunOutcome:
        results = await asyncio.gather(*(self.read_terminal(t) for t in terminals))
        failed = [t for t, (_, why) in zip(terminals, results, strict=True) if why]
        events = sum(n for n, _ in results)
        status = "failed" if terminals and len(failed) == len(terminals) else "done"
        return status, f"{events} events from {len(terminals) - len(failed)} of {len(terminals)} terminals"
