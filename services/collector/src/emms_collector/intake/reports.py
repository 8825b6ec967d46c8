"""Active reports (R-4.2.3c): data and events terminals send on their own, normalised and published.

The FEP publishes every frame a terminal sent; this consumer takes those of
kind ``report`` (scheduled data, AFN 0C / 0D, or forwarded meter frames) and
``event`` (AFN 0E), attributes values to meters through the measurement-point
table, and publishes ``RawReadingBatch`` (source ``report``) and
``DeviceEvent``. Message ids derive from the uplink frame's id, so a
redelivered frame republishes the same messages (deduplicated downstream); the
inbox row, written in the same transaction as the gap fills, makes the second
delivery a no-op here. Reported values fill the gaps they match.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import tzinfo

import asyncpg
import structlog

from emms_bus import BusProducer, Delivery
from emms_collector import metrics
from emms_collector.intake.events import MeterClockEvent, events_of
from emms_collector.reading.answers import point_values, uplink
from emms_collector.reading.normalise import Stamp, from_points
from emms_collector.repository import gaps as gap_sql
from emms_collector.repository import points as point_sql
from emms_collector.repository.points import Point
from emms_collector.schema import SCHEMA
from emms_db import inbox
from emms_db.connection import Connection
from emms_messages.envelope import Payload
from emms_messages.readings import RawReadingBatch, Reading, ReadingSource
from emms_messages.terminal import FrameKind, UplinkFrame

log = structlog.get_logger("emms.collector.reports")
CONSUMER = "reports"
ClockSink = Callable[[Connection, list[MeterClockEvent]], Awaitable[None]]
"""Where meter clock-drift events go (time synchronisation), in the intake's transaction."""


class ReportIntake:
    def __init__(self, pool: asyncpg.Pool, producer: BusProducer, tz: tzinfo, freeze_at: str,
                 on_meter_clock: ClockSink | None = None) -> None:
        self._pool = pool
        self._producer = producer
        self._tz = tz
        self._freeze_at = freeze_at
        self._on_meter_clock = on_meter_clock
        self.readings = 0
        self.events = 0

    async def handle(self, batch: Sequence[Delivery]) -> None:
        wanted = [d for d in batch if isinstance(d.payload, UplinkFrame)
                  and d.payload.kind in (FrameKind.REPORT, FrameKind.EVENT)]
        if not wanted:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            fresh = await inbox.claim(conn, SCHEMA, CONSUMER, [d.envelope.message_id for d in wanted])
            frames = [d for d in wanted if d.envelope.message_id in fresh]
            points: dict[str, dict[int, Point]] = {}
            for d in frames:
                terminal = d.payload.terminal
                if terminal not in points:
                    points[terminal] = await point_sql.by_terminal_pn(conn, terminal)
            messages: list[Payload] = []
            readings: list[Reading] = []
            clocks: list[MeterClockEvent] = []
            for d in frames:
                out, found_clocks = self._normalise(d, points[d.payload.terminal])
                messages.extend(out)
                clocks.extend(found_clocks)
                readings.extend(r for m in out if isinstance(m, RawReadingBatch) for r in m.readings)
            if messages:
                await self._producer.publish_many(messages)
            filled = await gap_sql.fill(conn, [(r.meter_id, r.item, r.data_time) for r in readings], "report")
            if clocks and self._on_meter_clock is not None:
                await self._on_meter_clock(conn, clocks)
        if filled:
            metrics.GAPS_FILLED.labels("report").inc(filled)

    def _normalise(self, d: Delivery, points: dict[int, Point]) -> tuple[list[Payload], list[MeterClockEvent]]:
        frame: UplinkFrame = d.payload
        if frame.kind is FrameKind.EVENT:
            events, clocks = events_of([uplink(frame)], frame.terminal, points, frame.received_at)
            for e in events:
                metrics.EVENTS.labels(e.event_class.value).inc()
            self.events += len(events)
            return list(events), clocks
        values, bad = point_values([uplink(frame)])
        stamp = Stamp(ReadingSource.REPORT, frame.received_at, self._tz, self._freeze_at)
        readings, unmatched = from_points(values, points, frame.terminal, stamp)
        if unmatched or bad:
            metrics.UNMATCHED.labels("report").inc(unmatched + bad)
        if not readings:
            return [], []
        metrics.READINGS.labels(ReadingSource.REPORT.value).inc(len(readings))
        self.readings += len(readings)
        return [RawReadingBatch(batch_id=f"report-{d.envelope.message_id}", terminal=frame.terminal,
                                readings=readings)], []
