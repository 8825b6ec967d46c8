"""What business systems hand in as jobs (R-4.7), and the states a job goes through.

* ``collection`` — the collector's tasks API: the task is created (id ``ext-<job>``) and run now, with the
  caller's own token; ends with the run (``done`` → ``completed``, else ``failed``).
* ``control`` — the control service's commands API with the caller's own (step-up) token; ends with the
  control job.
* ``install`` / ``replace`` — the archive's master-data API (a meter on a metering point); ends with the new
  meter's first validated reading.
* ``remove`` — the archive's master-data API; ends at once.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from emms_runtime.instants import Instant

IdText = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")


class JobState(StrEnum):
    ACCEPTED = "accepted"
    AWAITING_APPROVAL = "awaiting_approval"
    RUNNING = "running"
    AWAITING_FIRST_READING = "awaiting_first_reading"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"


FINISHED = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.REJECTED})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CollectionJob(Strict):
    """A collection task for the collector (its fields but ``id``: docs/collector.md), run now by default."""

    task: dict[str, Any] = Field(description="the collector task: name, type, target, items, period …")
    run_now: bool = True


class ControlJob(Strict):
    """A remote-control command for the control service (``POST /api/v1/commands``'s body)."""

    command: dict[str, Any] = Field(description="action, target, reason … (docs/control.md)")


class WorkOrder(Strict):
    """Install, replace or remove a meter on a metering point at ``at``."""

    metering_point_id: str = IdText
    meter_id: str | None = Field(default=None, min_length=1, max_length=64,
                                 description="the meter to install (install) or the new meter (replace)")
    at: Instant
    reason: str | None = Field(default=None, max_length=500)
    order_ref: str | None = Field(default=None, max_length=100, description="the business system's order number")


WorkOrderKind = Literal["install", "replace", "remove"]


def body_hash(body: BaseModel) -> str:
    """The request's fingerprint: the same key with another fingerprint is a reused key (409)."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def public(job: dict[str, Any]) -> dict[str, Any]:
    """A job as the API shows it (no fingerprint)."""
    return {k: v for k, v in job.items() if k not in ("body_hash",)}


def as_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value) if isinstance(value, str) else None
