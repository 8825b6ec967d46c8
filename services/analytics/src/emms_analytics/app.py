"""The analytics service: FastAPI app and lifespan."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from emms_analytics.settings import AnalyticsSettings
from emms_runtime import ServiceSpec, create_service_app

SPEC = ServiceSpec(
    name="analytics",
    title="EMMS analytics",
    description="Usage statistics, supply quality, loss analysis and reports.",
    schema="analytics",
    migrations=Path(__file__).parent / "migrations",
)


def create_app(settings: AnalyticsSettings) -> FastAPI:
    return create_service_app(settings, SPEC)
