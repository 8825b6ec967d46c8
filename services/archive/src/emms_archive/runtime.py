"""The archive's domain runtime, built once in the lifespan and kept in ``rt.state``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
from fastapi import Request

from emms_archive.access import RateLimiter
from emms_archive.events.store import EventStore
from emms_archive.outbox import OutboxRelay
from emms_archive.passwords.rotation import RotationResults
from emms_archive.passwords.sealing import Sealer
from emms_archive.readings.ingest import RawIngest
from emms_archive.readings.partitions import Partitions
from emms_archive.readings.validated import ValidatedIngest
from emms_archive.settings import ArchiveSettings
from emms_bus import BusProducer
from emms_runtime import ServiceRuntime
from emms_runtime.periodic import PeriodicWorker


@dataclass
class ArchiveRuntime:
    settings: ArchiveSettings
    pool: asyncpg.Pool
    producer: BusProducer
    partitions: Partitions
    raw: RawIngest
    validated: ValidatedIngest
    events: EventStore
    outbox: OutboxRelay
    sealer: Sealer
    rotations: RotationResults
    limiter: RateLimiter = field(default_factory=RateLimiter)


def build_runtime(settings: ArchiveSettings, pool: asyncpg.Pool, producer: BusProducer) -> ArchiveRuntime:
    partitions = Partitions(pool)
    raw = RawIngest(pool, partitions, direct_copy=settings.ingest.direct_copy)
    return ArchiveRuntime(settings=settings, pool=pool, producer=producer, partitions=partitions,
                          raw=raw, validated=ValidatedIngest(pool, partitions),
                          events=EventStore(pool, partitions), outbox=OutboxRelay(pool, producer),
                          sealer=Sealer(settings.terminal_passwords.keys(settings.environment)),
                          rotations=RotationResults(pool, settings.terminal_passwords.rotation_timeout_s))


async def prepare_partitions(archive: ArchiveRuntime, stop: asyncio.Event) -> None:
    """Worker: keep this month's and the next months' partitions made ahead of the writers."""
    ahead = archive.settings.ingest.partitions_ahead_months

    async def step() -> None:
        now = datetime.now(UTC)
        await archive.partitions.ensure(now + timedelta(days=31 * i) for i in range(ahead + 1))

    await PeriodicWorker("archive-partitions", step, 3600).run(stop)


def archive_of(request: Request) -> ArchiveRuntime:
    rt: ServiceRuntime = request.app.state.runtime
    if not isinstance(rt.state, ArchiveRuntime):
        raise RuntimeError("the archive runtime is not ready")
    return rt.state
