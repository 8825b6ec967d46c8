"""The operations service in the test loop on the real database and broker; an FEP replica beside it."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from service_harness import in_process

from emms_bus import KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_operations.app import create_app
from emms_operations.runtime import OperationsRuntime
from emms_operations.settings import OperationsSettings

FEP_DIR = Path(__file__).resolve().parents[1] / "fep"
if str(FEP_DIR) not in sys.path:
    sys.path.insert(0, str(FEP_DIR))


@dataclass
class Operations:
    app: FastAPI
    ops: OperationsRuntime
    client: httpx.AsyncClient


def operations_settings(database_url: str, kafka: KafkaSettings, **overrides: Any) -> OperationsSettings:
    values: dict[str, Any] = {
        "environment": "test", "instance_id": "operations-it", "database": DatabaseSettings(url=database_url),
        "kafka": kafka, "services": {}, "poll_interval_s": 0.5, "poll_timeout_s": 2.0, "detect_interval_s": 0.3,
        "lag_interval_s": 5.0, "consumer_max_batch": 200,
        "faults": {"terminal_offline_s": 1.0, "service_unhealthy_s": 0.5, "meter_silent_days": 3.0},
        "tickets": {"escalate_interval_s": 0.3}, "shutdown_grace_s": 5.0,
    }
    values.update(overrides)
    return OperationsSettings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def running_operations(settings: OperationsSettings, role: str = "admin") -> AsyncIterator[Operations]:
    async with in_process(create_app(settings), "http://operations", role=role) as (app, ops, client):
        assert isinstance(ops, OperationsRuntime)
        yield Operations(app, ops, client)
