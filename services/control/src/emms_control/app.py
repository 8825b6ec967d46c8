"""The control service: FastAPI app and lifespan."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from emms_control.settings import ControlSettings
from emms_runtime import ServiceSpec, create_service_app

SPEC = ServiceSpec(
    name="control",
    title="EMMS control",
    description="Quantity, cost and remote control; prepayment; tariffs; audited commands.",
    schema="control",
    migrations=Path(__file__).parent / "migrations",
)


def create_app(settings: ControlSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
