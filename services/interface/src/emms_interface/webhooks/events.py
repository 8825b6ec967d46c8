"""Webhook events from the bus and from jobs; each event's id is stable (the same fact → the same id).

| type | from | event id |
|---|---|---|
| ``readings.ready`` | a validated batch on ``emms.reading.validated.v1`` | uuid5 of the bus message id |
| ``anomaly.detected`` | ``emms.anomaly.v1`` | uuid5 of the bus message id |
| ``command.result`` | ``emms.control.command.v1`` (a device's final result) | uuid5 of the bus message id |
| ``workorder.completed`` | an install / replace / remove job that ended (owner: its caller) | uuid5 of job + state |
| ``job.completed`` | a collection or control job that ended (owner: its caller) | uuid5 of job + state |
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from emms_messages.control import CommandResult
from emms_messages.events import Anomaly
from emms_messages.readings import ValidatedReadingBatch

EVENT_TYPES = ("readings.ready", "anomaly.detected", "command.result", "workorder.completed", "job.completed")
BUS_EVENT_TYPES = ("readings.ready", "anomaly.detected", "command.result")
_NS = uuid.UUID("6b3c8f1e-5d0a-4c1f-9a57-2f0e3d8b9c41")


def event_id(source: uuid.UUID | str, event_type: str) -> uuid.UUID:
    return uuid.uuid5(_NS, f"{event_type}:{source}")


def from_bus(message_id: uuid.UUID, payload: Any) -> dict[str, Any] | None:
    if isinstance(payload, ValidatedReadingBatch):
        readings = payload.readings
        data = {"batch_id": payload.batch_id, "terminal": payload.terminal, "count": len(readings),
                "meters": sorted({r.meter_id for r in readings}),
                "statuses": dict(Counter(r.status.value for r in readings)),
                "data_time_from": min(r.data_time for r in readings),
                "data_time_to": max(r.data_time for r in readings)}
        kind = "readings.ready"
    elif isinstance(payload, Anomaly):
        data = payload.model_dump(mode="json")
        kind = "anomaly.detected"
    elif isinstance(payload, CommandResult):
        data = payload.model_dump(mode="json")
        kind = "command.result"
    else:
        return None
    return {"event_id": str(event_id(message_id, kind)), "event_type": kind, "companies": [], "owner": None,
            "payload": data}


def from_job(job: dict[str, Any]) -> dict[str, Any]:
    kind = "workorder.completed" if job["kind"] in ("install", "replace", "remove") else "job.completed"
    data = {"job_id": job["job_id"], "kind": job["kind"], "state": job["state"], "reason": job["reason"],
            "idempotency_key": job["idempotency_key"], "meter_id": job.get("meter_id"),
            "metering_point_id": job.get("metering_point_id"), "order_ref": (job.get("body") or {}).get("order_ref"),
            "upstream": job.get("upstream") or {}, "result": job.get("result") or {}}
    return {"event_id": str(event_id(job["job_id"], f"{kind}:{job['state']}")), "event_type": kind,
            "companies": job.get("companies") or [], "owner": job["caller"], "payload": data}
