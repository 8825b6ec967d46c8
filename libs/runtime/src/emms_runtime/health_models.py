"""The bodies of ``/healthz`` and ``/readyz`` (both also answer 503 with the same body)."""

from __future__ import annotations

from typing import Any

from emms_runtime.api_models import ApiModel


class Liveness(ApiModel):
    """``ok``, or ``failing`` (503) when a worker has died."""

    status: str
    service: str
    dead_workers: list[str]


class Readiness(ApiModel):
    """``ready``, or ``not ready`` (503) with the check that failed: database, broker, workers, consumers."""

    status: str
    service: str
    instance: str
    storage_mode: str | None
    checks: dict[str, Any]


LIVENESS_RESPONSES: dict[int | str, dict[str, Any]] = {503: {"model": Liveness, "description": "a worker died"}}
READINESS_RESPONSES: dict[int | str, dict[str, Any]] = {503: {"model": Readiness, "description": "not ready"}}
