"""The validator service: FastAPI app and lifespan."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from emms_runtime import ServiceSpec, create_service_app
from emms_validator.settings import ValidatorSettings

SPEC = ServiceSpec(
    name="validator",
    title="EMMS validator",
    description="Validation, estimation and editing (VEE) of readings; anomalies and their workflow.",
    schema="validator",
    migrations=Path(__file__).parent / "migrations",
)


def create_app(settings: ValidatorSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
