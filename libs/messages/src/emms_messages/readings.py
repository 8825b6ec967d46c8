"""Payloads about readings: raw (as collected) and validated / estimated."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from emms_messages.envelope import Payload


class ReadingSource(StrEnum):
    SCHEDULED = "scheduled"
    MANUAL = "manual"
    REPORT = "report"
    BACKFILL = "backfill"


class Reading(Payload):
    """One value of one canonical item of one meter at one data time."""

    SCHEMA_NAME = "reading"
    SCHEMA_VERSION = 1

    meter_id: str
    item: str
    data_time: datetime
    value: float | None
    unit: str
    source: ReadingSource
    collected_at: datetime
    quality: int = 0
    terminal: str | None = None
    pn: int | None = None

    def natural_key(self) -> str:
        return f"{self.meter_id}/{self.item}/{self.data_time.isoformat()}/{self.source}"


class RawReadingBatch(Payload):
    """Readings collected together (one answer, one report), keyed by terminal."""

    SCHEMA_NAME = "reading.raw"
    SCHEMA_VERSION = 1

    batch_id: str
    terminal: str
    readings: list[Reading] = Field(min_length=1)

    def natural_key(self) -> str:
        return self.batch_id


class ValidationStatus(StrEnum):
    VALID = "valid"
    ESTIMATED = "estimated"
    REPAIRED = "repaired"
    HELD = "held"


class ValidatedReading(Payload):
    """A reading after VEE, with its provenance; raw rows are never changed."""

    SCHEMA_NAME = "reading.validated"
    SCHEMA_VERSION = 1

    meter_id: str
    item: str
    data_time: datetime
    value: float | None
    unit: str
    status: ValidationStatus
    method: str = ""
    raw_source: ReadingSource | None = None
    rules_failed: list[str] = Field(default_factory=list)
    validated_at: datetime

    def natural_key(self) -> str:
        return f"{self.meter_id}/{self.item}/{self.data_time.isoformat()}/{self.status}/{self.value}"


class ValidatedReadingBatch(Payload):
    """The VEE results of one raw batch (one terminal, one collection), in one message."""

    # One message per reading cost more to wrap, identify, serialise and send than the
    # validation itself. ``batch_id`` is derived from the raw batch's id, so a redelivered
    # raw batch yields the same message id; each element keeps its own version key
    # (meter, item, data time, validated_at, status) for the consumers that store it.

    SCHEMA_NAME = "reading.validated.batch"
    SCHEMA_VERSION = 1

    batch_id: str
    terminal: str
    readings: list[ValidatedReading] = Field(min_length=1)

    def natural_key(self) -> str:
        return self.batch_id


class BackfillRequest(Payload):
    """Ask the collector to re-collect items of a meter over a period."""

    SCHEMA_NAME = "backfill.request"
    SCHEMA_VERSION = 1

    request_id: str
    meter_id: str
    items: list[str]
    start: datetime
    end: datetime
    reason: str
    requested_by: str

    def natural_key(self) -> str:
        return self.request_id
