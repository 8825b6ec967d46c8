"""The front-end processor service: FastAPI app and lifespan."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from emms_fep.settings import FepSettings
from emms_runtime import ServiceSpec, create_service_app

SPEC = ServiceSpec(
    name="fep",
    title="EMMS front-end processor",
    description="Terminal connections, sessions, SEQ correlation, uplink and downlink on the bus.",
    schema="fep",
    migrations=Path(__file__).parent / "migrations",
)


def create_app(settings: FepSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
