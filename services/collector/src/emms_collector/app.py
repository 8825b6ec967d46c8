"""The collector service: FastAPI app and lifespan."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from emms_collector.settings import CollectorSettings
from emms_runtime import ServiceSpec, create_service_app

SPEC = ServiceSpec(
    name="collector",
    title="EMMS collector",
    description="Collection tasks, scheduled and manual reading, back-fill, execution quality, time synchronisation.",
    schema="collector",
    migrations=Path(__file__).parent / "migrations",
)


def create_app(settings: CollectorSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
