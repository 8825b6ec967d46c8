"""The validator's findings (``emms.anomaly.v1``) kept for the key-customer answer.

Idempotent by the natural key: an anomaly id stored once; a redelivery (or a re-published
finding, which keeps its id) changes nothing. Nothing is read from the validator's schema.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from emms_bus import Delivery
from emms_messages.events import Anomaly

ANOMALY_TOPIC = "emms.anomaly.v1"


async def store(pool: asyncpg.Pool, schema: str, deliveries: Sequence[Delivery]) -> None:
    found = {d.payload.anomaly_id: d.payload for d in deliveries if isinstance(d.payload, Anomaly)}
    if not found:
        return
    rows = list(found.values())
    async with pool.acquire() as conn:
        await conn.execute(
            f"""INSERT INTO {schema}.anomaly (anomaly_id, meter_id, rule, item, data_time, severity, detected_at,
                                              detail)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
                                     $7::timestamptz[], $8::jsonb[])
                ON CONFLICT (anomaly_id) DO NOTHING""",
            [a.anomaly_id for a in rows], [a.meter_id for a in rows], [a.rule for a in rows], [a.item for a in rows],
            [a.data_time for a in rows], [str(a.severity) for a in rows], [a.detected_at for a in rows],
            [json.dumps(a.values, default=str) for a in rows])
