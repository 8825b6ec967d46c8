"""Re-attribution of readings that arrived before the archive knew where their meter was.

Readings whose meter had no period on any metering point at their data time wait in
``reading_unmatched`` (whole, as received). When master data catches up — a meter installed
with an installation date in the past, a late import — this worker moves every waiting
reading that now resolves into its table, through the same staging path as live ingest, and
deletes it from the holding table in the same transaction.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from emms_archive.readings import ingest, validated
from emms_archive.readings.partitions import Partitions
from emms_archive.schema import SCHEMA
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.archive.unmatched")

RESOLVABLE = f"""
SELECT u.layer, u.meter_id, u.item, u.data_time, u.variant, u.payload
FROM {SCHEMA}.reading_unmatched u
WHERE EXISTS (SELECT 1 FROM {SCHEMA}.meter_period p
              WHERE p.meter_id = u.meter_id AND p.valid_from <= u.data_time
                AND (p.valid_to IS NULL OR u.data_time < p.valid_to))
ORDER BY u.received_at
LIMIT $1
FOR UPDATE OF u SKIP LOCKED"""


def _t(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _raw_row(p: dict[str, Any]) -> tuple[Any, ...]:
    return (p["meter_id"], p["item"], _t(p["data_time"]), p["source"], p["value"], p["unit"],
            _t(p["collected_at"]), p["quality"], p["terminal"], p["pn"], p["batch_id"])


def _validated_row(p: dict[str, Any]) -> tuple[Any, ...]:
    return (p["meter_id"], p["item"], _t(p["data_time"]), _t(p["validated_at"]), p["status"], p["value"],
            p["unit"], p["method"], p["raw_source"], list(p["rules_failed"] or []))


async def reattribute(pool: asyncpg.Pool, partitions: Partitions, *, limit: int = 5000) -> int:
    """Move one batch of now-resolvable waiting readings; return how many moved."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(RESOLVABLE, limit)
        if not rows:
            return 0
        payloads = [(r["layer"], json.loads(r["payload"])) for r in rows]
        await partitions.ensure(r["data_time"] for r in rows)
        await ingest.store_rows(conn, [_raw_row(p) for layer, p in payloads if layer == "raw"])
        await validated.store_rows(conn, [_validated_row(p) for layer, p in payloads if layer == "validated"])
        await conn.execute(
            f"DELETE FROM {SCHEMA}.reading_unmatched u USING unnest($1::text[], $2::text[], $3::text[],"
            " $4::timestamptz[], $5::text[]) AS k(layer, meter_id, item, data_time, variant)"
            " WHERE (u.layer, u.meter_id, u.item, u.data_time, u.variant)"
            " = (k.layer, k.meter_id, k.item, k.data_time, k.variant)",
            [r["layer"] for r in rows], [r["meter_id"] for r in rows], [r["item"] for r in rows],
            [r["data_time"] for r in rows], [r["variant"] for r in rows])
    log.info("re-attributed waiting readings", count=len(rows))
    return len(rows)


async def run_reattribution(pool: asyncpg.Pool, partitions: Partitions, stop: asyncio.Event,
                            interval_s: float) -> None:
    """Worker: re-attribute waiting readings every ``interval_s`` until stopped."""

    async def drain() -> None:
        while await reattribute(pool, partitions) > 0 and not stop.is_set():
            pass

    await PeriodicWorker("archive-reattribution", drain, interval_s).run(stop)
