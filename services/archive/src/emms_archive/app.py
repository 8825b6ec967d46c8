"""The archive service: FastAPI app and lifespan."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from emms_archive.settings import ArchiveSettings
from emms_runtime import ServiceSpec, create_service_app

SPEC = ServiceSpec(
    name="archive",
    title="EMMS archive",
    description="System of record: master data, readings and events, query and data service, backup and restore.",
    schema="archive",
    migrations=Path(__file__).parent / "migrations",
)


def create_app(settings: ArchiveSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
