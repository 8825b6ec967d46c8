"""Storage of device events and anomalies from the bus (R-4.5.4.3: important / normal classes).

Events are keyed by their stable message id (derived from terminal, meter, code and time),
anomalies by their anomaly id; both inserted ``ON CONFLICT DO NOTHING`` so redelivery is
harmless. When the event or anomaly names a meter, the metering point the meter was on at
that time is stored with it, so the joint customer view can find it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence

import asyncpg

from emms_archive.metrics import EVENTS_STORED
from emms_archive.readings.partitions import Partitions
from emms_archive.schema import SCHEMA
from emms_messages.events import Anomaly, DeviceEvent

_POINT = (f"(SELECT p.metering_point_id FROM {SCHEMA}.meter_period p WHERE p.meter_id = x.meter_id"
          " AND p.valid_from <= x.{t} AND (p.valid_to IS NULL OR x.{t} < p.valid_to))")

EVENT_SQL = f"""
INSERT INTO {SCHEMA}.event (event_id, occurred_at, terminal, meter_id, metering_point_id, code, event_class,
                           received_at, detail)
SELECT x.event_id, x.occurred_at, x.terminal, x.meter_id, {_POINT.format(t="occurred_at")}, x.code, x.event_class,
       x.received_at, coalesce(x.detail, '{{}}')
FROM jsonb_to_recordset($1::jsonb) AS x(event_id uuid, occurred_at timestamptz, terminal text, meter_id text,
                                         code text, event_class text, received_at timestamptz, detail jsonb)
ON CONFLICT DO NOTHING"""

ANOMALY_SQL = f"""
INSERT INTO {SCHEMA}.anomaly (anomaly_id, data_time, meter_id, metering_point_id, rule, item, severity, detail,
                             detected_at)
SELECT x.anomaly_id, x.data_time, x.meter_id, {_POINT.format(t="data_time")}, x.rule, x.item, x.severity,
       coalesce(x.detail, '{{}}'), x.detected_at
FROM jsonb_to_recordset($1::jsonb) AS x(anomaly_id text, data_time timestamptz, meter_id text, rule text,
                                         item text, severity text, detail jsonb, detected_at timestamptz)
ON CONFLICT DO NOTHING"""


def _count(status: str) -> int:
    return int(status.split()[-1])


class EventStore:
    def __init__(self, pool: asyncpg.Pool, partitions: Partitions) -> None:
        self._pool = pool
        self._partitions = partitions

    async def store_events(self, events: Sequence[tuple[uuid.UUID, DeviceEvent]]) -> int:
        """Store (message id, event) pairs; return how many were new."""
        if not events:
            return 0
        await self._partitions.ensure(e.occurred_at for _, e in events)
        rows = [{"event_id": str(mid), "occurred_at": e.occurred_at.isoformat(), "terminal": e.terminal,
                 "meter_id": e.meter_id, "code": e.code, "event_class": e.event_class.value,
                 "received_at": e.received_at.isoformat(), "detail": e.detail} for mid, e in events]
        async with self._pool.acquire() as conn:
            new = _count(await conn.execute(EVENT_SQL, json.dumps(rows, default=str)))
        EVENTS_STORED.labels("event", "stored").inc(new)
        EVENTS_STORED.labels("event", "duplicate").inc(len(rows) - new)
        return new

    async def store_anomalies(self, anomalies: Sequence[Anomaly]) -> int:
        if not anomalies:
            return 0
        await self._partitions.ensure(a.data_time for a in anomalies)
        rows = [{"anomaly_id": a.anomaly_id, "data_time": a.data_time.isoformat(), "meter_id": a.meter_id,
                 "rule": a.rule, "item": a.item, "severity": a.severity.value, "detail": a.values,
                 "detected_at": a.detected_at.isoformat()} for a in anomalies]
        async with self._pool.acquire() as conn:
            new = _count(await conn.execute(ANOMALY_SQL, json.dumps(rows, default=str)))
        EVENTS_STORED.labels("anomaly", "stored").inc(new)
        EVENTS_STORED.labels("anomaly", "duplicate").inc(len(rows) - new)
        return new
