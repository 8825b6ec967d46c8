"""Run a service app under uvicorn, with graceful shutdown on SIGTERM."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from emms_runtime.logging_setup import configure_logging
from emms_runtime.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings, service: str) -> None:
    configure_logging(settings.log_level, settings.log_json, service=service)
    config = uvicorn.Config(
        app, host=settings.http.host, port=settings.http.port, log_config=None, access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s), lifespan="on",
    )
    uvicorn.Server(config).run()
