"""Payloads about events and anomalies."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from emms_messages.envelope import Payload


class EventClass(StrEnum):
    IMPORTANT = "important"
    NORMAL = "normal"


class DeviceEvent(Payload):
    """An event recorded by a terminal or meter (e.g. an ERC record), normalised."""

    SCHEMA_NAME = "device.event"
    SCHEMA_VERSION = 1

    terminal: str
    meter_id: str | None = None
    code: str
    event_class: EventClass
    occurred_at: datetime
    received_at: datetime
    detail: dict[str, Any] = Field(default_factory=dict)

    def natural_key(self) -> str:
        return f"{self.terminal}/{self.meter_id}/{self.code}/{self.occurred_at.isoformat()}"


class Anomaly(Payload):
    """A finding of a validation rule."""

    SCHEMA_NAME = "anomaly"
    SCHEMA_VERSION = 1

    anomaly_id: str
    meter_id: str
    rule: str
    item: str
    data_time: datetime
    severity: EventClass
    values: dict[str, Any] = Field(default_factory=dict)
    detected_at: datetime

    def natural_key(self) -> str:
        return self.anomaly_id
