"""Settings of the archive service (env prefix ``EMMS_ARCHIVE_``, nested with ``__``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator

from emms_archive.passwords.sealing import TerminalPasswordSettings
from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


class IngestSettings(BaseModel):
    """Bus → database writers."""

    raw_consumers: int = Field(default=2, ge=1, le=16)
    """Consumers of raw readings in one process (same group, partitions split): DB writes overlap."""
    max_batch: int = Field(default=500, ge=1, le=10_000)
    """Bus messages per handler call (a raw batch message carries many readings)."""
    direct_copy: bool = True
    """Raw readings: COPY new batches straight into reading_raw (attributed in the writer), the
    staging path for redeliveries; false: every batch through staging + INSERT … ON CONFLICT."""
    reattribute_interval_s: float = Field(default=30.0, gt=0)
    partitions_ahead_months: int = Field(default=2, ge=0, le=24)


class RetentionSettings(BaseModel):
    """How long each time-partitioned table keeps its rows (``EMMS_ARCHIVE_RETENTION__…``).

    Whole months (plain PostgreSQL) or whole chunks (TimescaleDB) are dropped once all their rows
    are older than this; readings are kept 10 years by default (billing disputes and the
    statutory keeping of metering records), events and anomalies 5 years."""

    enabled: bool = True
    reading_raw_days: int = Field(default=3653, ge=31)
    reading_validated_days: int = Field(default=3653, ge=31)
    event_days: int = Field(default=1826, ge=31)
    anomaly_days: int = Field(default=1826, ge=31)
    interval_s: float = Field(default=3600.0, gt=0)
    """Plain PostgreSQL: how often expired partitions are looked for (and, on TimescaleDB, the
    policies compared with these settings)."""

    def by_table(self) -> dict[str, timedelta]:
        return {"reading_raw": timedelta(days=self.reading_raw_days),
                "reading_validated": timedelta(days=self.reading_validated_days),
                "event": timedelta(days=self.event_days), "anomaly": timedelta(days=self.anomaly_days)}


class StorageSettings(BaseModel):
    """TimescaleDB's chunks and compression (``EMMS_ARCHIVE_STORAGE__…``); no effect on plain
    PostgreSQL, whose partitions are months.

    The default chunk of 7 days follows TimescaleDB's rule that the chunks being written, with their
    indexes, fit in a quarter of the server's memory: at the target fleet (200,000 meters, about
    0.76 million raw readings a day, 275 bytes a row with its indexes, measured) a 7-day chunk of
    raw and validated readings is about 3 GB together, a 28-day one about 12 GB. Longer chunks
    compress daily data much better (3.4× at 7 days, 7.6× at 28: more rows of a point per
    compressed batch; docs/benchmarks.md): a database server with the memory sets 28. A change
    applies to chunks made from then on."""

    reading_chunk_days: int = Field(default=7, ge=1, le=366)
    event_chunk_days: int = Field(default=30, ge=1, le=366)
    compress_after_days: int = Field(default=45, ge=1)
    """Chunks of raw and validated readings older than this are compressed (past the collector's
    back-fill window; late readings are still accepted into compressed chunks)."""


class RoleLimits(BaseModel):
    """What one caller of a role may take from the data service (R-4.3.3a: frequency, volume)."""

    max_rows: int = Field(ge=1)
    per_minute: int = Field(ge=1)
    max_export_rows: int = Field(default=1_000_000, ge=1)


def _default_limits() -> dict[str, RoleLimits]:
    return {
        "admin": RoleLimits(max_rows=100_000, per_minute=6000),
        "operator": RoleLimits(max_rows=50_000, per_minute=1200),
        "integrator": RoleLimits(max_rows=50_000, per_minute=600),
        "viewer": RoleLimits(max_rows=5_000, per_minute=300, max_export_rows=100_000),
    }


class BackupSettings(BaseModel):
    directory: Path = Path(".cache/archive-backups")


class ArchiveSettings(ServiceSettings):
    model_config = service_config("ARCHIVE")

    http: HttpSettings = HttpSettings(port=8006)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    limits: dict[str, RoleLimits] = Field(default_factory=_default_limits)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    import_max_rows: int = Field(default=100_000, ge=1)
    local_tz: str = Field(default="Asia/Shanghai", description=(
        "the utility's wall clock: /usage buckets (hour, day, month, quarter, year) are its local calendar"))

    @field_validator("local_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    terminal_passwords: TerminalPasswordSettings = Field(default_factory=TerminalPasswordSettings)

    @model_validator(mode="after")
    def _check_terminal_password_key(self) -> ArchiveSettings:
        self.terminal_passwords.keys(self.environment)  # refuses a missing, malformed or development key
        return self
