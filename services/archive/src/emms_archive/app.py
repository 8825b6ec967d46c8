"""The archive service: FastAPI app, and the lifespan hooks that build the archive runtime."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from emms_archive.api.routes_audit import router as audit_router
from emms_archive.api.routes_backup import router as backup_router
from emms_archive.api.routes_catalog import router as catalog_router
from emms_archive.api.routes_events import router as events_router
from emms_archive.api.routes_import import router as import_router
from emms_archive.api.routes_installations import router as installations_router
from emms_archive.api.routes_joint import router as joint_router
from emms_archive.api.routes_masterdata import router as masterdata_router
from emms_archive.api.routes_readings import router as readings_router
from emms_archive.api.routes_terminal_passwords import router as terminal_passwords_router
from emms_archive.consumers import (
    RAW_DECODERS,
    RAW_GROUP,
    RAW_TOPIC,
    RECORD_TOPICS,
    RECORDS_GROUP,
    raw_handler,
    records_handler,
)
from emms_archive.passwords.rotation import RESULTS_GROUP, RESULTS_TOPIC
from emms_archive.readings.retention import run_retention
from emms_archive.readings.unmatched import run_reattribution
from emms_archive.runtime import ArchiveRuntime, build_runtime, prepare_partitions
from emms_archive.schema import SCHEMA
from emms_archive.settings import ArchiveSettings
from emms_runtime import ServiceRuntime, ServiceSpec, create_service_app


async def setup(rt: ServiceRuntime) -> None:
    assert rt.pool is not None and rt.producer is not None
    settings = rt.settings
    assert isinstance(settings, ArchiveSettings)
    archive = build_runtime(settings, rt.pool, rt.producer)
    rt.state = archive
    ingest = settings.ingest
    for i in range(ingest.raw_consumers):
        rt.add_consumer(RAW_GROUP, [RAW_TOPIC], raw_handler(archive), max_batch=ingest.max_batch,
                        decoders=RAW_DECODERS)
        # add_consumer names the worker after the group; each member of the group gets its own name
        rt.workers[f"consumer:{RAW_GROUP}#{i}"] = rt.workers.pop(f"consumer:{RAW_GROUP}")
    rt.add_consumer(RECORDS_GROUP, list(RECORD_TOPICS), records_handler(archive), max_batch=ingest.max_batch)
    rt.add_worker("outbox", archive.outbox.run)
    rt.add_consumer(RESULTS_GROUP, [RESULTS_TOPIC], archive.rotations.handle, max_batch=ingest.max_batch)
    rt.add_worker("password-rotations", archive.rotations.run_expiry)
    rt.add_worker("partitions", lambda stop: prepare_partitions(archive, stop))
    rt.add_worker("retention", lambda stop: run_retention(archive.pool, archive.partitions, settings.retention,
                                                          settings.storage, stop))
    rt.add_worker("reattribution", lambda stop: run_reattribution(archive.pool, archive.partitions, stop,
                                                                  ingest.reattribute_interval_s))


SPEC = ServiceSpec(
    name="archive",
    title="EMMS archive",
    description="System of record: master data, readings and events, query and data service, backup and restore.",
    schema=SCHEMA,
    migrations=Path(__file__).parent / "migrations",
    routers=(catalog_router, installations_router, masterdata_router, import_router, readings_router,
             joint_router, events_router, audit_router, backup_router, terminal_passwords_router),
    setup=setup,
)


def create_app(settings: ArchiveSettings) -> FastAPI:
    return create_service_app(settings, SPEC)


__all__ = ["SPEC", "ArchiveRuntime", "create_app"]
