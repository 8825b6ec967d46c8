"""The analytics runtime: bus handlers for validated readings and master data; the rollup refresher.

Validated readings, per consumer batch, in one transaction: claim the messages in the inbox →
store the register and curve values (latest version per key) → rewrite the intervals they
change → on plain PostgreSQL recompute the touched hour / day / month buckets, on TimescaleDB
record the touched window for the refresher → commit. A redelivery finds the inbox rows and
does nothing; a crash before the commit leaves nothing half-applied.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import structlog

from emms_analytics import masterdata
from emms_analytics.exports.database import ExportDatabase
from emms_analytics.loss.service import note_topology
from emms_analytics.repository import dimensions, intervals
from emms_analytics.rollups import refresh_pending
from emms_analytics.settings import AnalyticsSettings
from emms_bus import Delivery, PermanentHandlerError
from emms_db.connection import Connection
from emms_db.inbox import claim, purge
from emms_db.storage_mode import StorageMode
from emms_messages.masterdata import MasterDataChange
from emms_messages.readings import ValidatedReading, ValidatedReadingBatch
from emms_protocol.items import ITEMS
from emms_runtime.periodic import PeriodicWorker

log = structlog.get_logger("emms.analytics")
SCHEMA = "analytics"
VALIDATED_TOPIC = "emms.reading.validated.v1"
MASTERDATA_TOPIC = "emms.masterdata.change.v1"


def is_register(item: str) -> bool:
    """Cumulative registers make usage; everything else known is a curve value (instant, state)."""
    known = ITEMS.get(item)
    return known.kind == "cumulative" if known is not None else item.endswith((".total", ".volume", ".energy"))


METER_LOCK_CLASS = 0x414E  # "AN": the advisory-lock namespace of analytics' per-meter locks
METER_LOCK_SLOTS = 256
"""Meters share this many locks (by hash): one lock per meter, a consumer batch of the bench's upkeep (up to
200 messages of 200 meters) ran the server's lock table (max_locks_per_transaction 64 × 100 connections)
out of shared memory, measured."""


async def lock_meters(conn: Connection, meter_ids: set[str]) -> None:
    """Serialise, per meter, the readings consumer and the master-data consumer (transaction-scoped locks, taken
    in one order). A register width arriving while the same meter's readings are being stored would otherwise
    be missed by both: the readings' transaction computes intervals without the width, the master data's
    rewrite does not see the uncommitted readings — a roll-over lost from the rollups (seen on TimescaleDB)."""
    if meter_ids:
        await conn.execute("SELECT pg_advisory_xact_lock($1::int, k) FROM (SELECT DISTINCT"
                           f" hashtext(m) & {METER_LOCK_SLOTS - 1} AS k FROM unnest($2::text[]) m ORDER BY 1) x",
                           METER_LOCK_CLASS, sorted(meter_ids))


@dataclass
class AnalyticsRuntime:
    settings: AnalyticsSettings
    pool: asyncpg.Pool
    storage_mode: StorageMode
    readings_handled: int = 0
    monthly_refreshed_at: float = float("-inf")
    """TimescaleDB: when the refresher last ran the monthly level (``time.monotonic``)."""
    exports: ExportDatabase | None = None
    """psycopg 3 connections for streaming CSV exports (asyncpg stays on the hot paths)."""

    @property
    def timescale(self) -> bool:
        return self.storage_mode is StorageMode.TIMESCALEDB

    async def check_calendar(self) -> None:
        async with self.pool.acquire() as conn:
            zone = await conn.fetchval(f"SELECT local_tz FROM {SCHEMA}.calendar")
        if zone != self.settings.local_tz:
            raise RuntimeError(f"the rollups are built in {zone}; local_tz is {self.settings.local_tz}"
                               " (rebuild the schema to change the calendar)")

    async def handle_validated(self, deliveries: Sequence[Delivery]) -> None:
        unique = {d.envelope.message_id: d.payload for d in deliveries}
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await claim(conn, SCHEMA, "validated", list(unique))
            readings: list[ValidatedReading] = []
            for mid, payload in unique.items():
                if mid not in fresh:
                    continue
                if isinstance(payload, ValidatedReadingBatch):
                    readings += payload.readings
                elif isinstance(payload, ValidatedReading):
                    readings.append(payload)
            await lock_meters(conn, {r.meter_id for r in readings})
            await self.apply(conn, readings)
        self.readings_handled += len(readings)

    async def apply(self, conn: Connection, readings: Sequence[ValidatedReading]) -> None:
        """Store and roll up (in the caller's transaction)."""
        registers = [r for r in readings if is_register(r.item)]
        curves = [r for r in readings if not is_register(r.item)]
        await intervals.store_curves(conn, SCHEMA, curves)
        await self.follow(conn, await intervals.store_registers(conn, SCHEMA, registers))

    async def follow(self, conn: Connection, touched: intervals.Touched) -> None:
        """Bring the rollups up to date with rewritten intervals (in the caller's transaction)."""
        if self.timescale:
            await intervals.mark_for_refresh(conn, SCHEMA, touched)
            await dimensions.mark_dirty(conn, SCHEMA, touched.keys, self.settings.local_tz)
        else:
            await intervals.roll_up(conn, SCHEMA, touched, self.settings.local_tz)
            await dimensions.follow_meters(conn, SCHEMA, touched.keys, self.settings.local_tz)

    async def handle_masterdata(self, deliveries: Sequence[Delivery]) -> None:
        unique = {d.envelope.message_id: d.payload for d in deliveries}
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await claim(conn, SCHEMA, "masterdata", list(unique))
            widths = {m for mid, c in unique.items() if mid in fresh and isinstance(c, MasterDataChange)
                      for m in (masterdata.width_changed(c),) if m is not None}
            await lock_meters(conn, widths)
            concerned: set[str] = set()
            for mid, change in unique.items():
                if mid in fresh and isinstance(change, MasterDataChange):
                    try:
                        concerned |= await self.customers_of(conn, change)
                        await masterdata.apply_change(conn, SCHEMA, change)
                        await note_topology(conn, SCHEMA, change)  # loss models follow the topology
                        concerned |= await self.customers_of(conn, change)
                        meter = masterdata.width_changed(change)
                        if meter is not None:
                            await self.follow(conn, await intervals.rewrite_decreases(conn, SCHEMA, meter))
                    except (ValueError, TypeError) as exc:
                        raise PermanentHandlerError(f"master data change {change.change_id}: {exc}") from exc
            if self.timescale:  # by the refresher, once the aggregates hold what was recorded before
                await dimensions.mark_customers_dirty(conn, SCHEMA, concerned)
            else:  # once, last: the dimension rollups' lock is held until the commit
                await dimensions.rewrite_customers(conn, SCHEMA, concerned)

    @staticmethod
    async def customers_of(conn: Connection, change: MasterDataChange) -> set[str]:
        return await dimensions.customers_of_change(conn, SCHEMA, change.entity.lower(), change.entity_id,
                                                    dict(change.data))

    async def refresh(self) -> None:
        if self.timescale:
            due = time.monotonic() - self.monthly_refreshed_at >= self.settings.monthly_refresh_every_s
            if (await refresh_pending(self.pool, SCHEMA, self.settings.local_tz, monthly_due=due)).monthly:
                self.monthly_refreshed_at = time.monotonic()

    async def run_refresher(self, stop: asyncio.Event) -> None:
        await PeriodicWorker("analytics-rollup-refresh", self.refresh, self.settings.refresh_interval_s).run(stop)

    async def purge_inbox(self) -> None:
        async with self.pool.acquire() as conn:
            await purge(conn, SCHEMA, older_than_days=8)

    async def run_purge(self, stop: asyncio.Event) -> None:
        await PeriodicWorker("analytics-inbox-purge", self.purge_inbox, 3600.0).run(stop)
