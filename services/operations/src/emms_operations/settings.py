"""Settings of the operations service (env prefix ``EMMS_OPERATIONS_``, nested with ``__``)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator

from emms_runtime import ServiceSettings, service_config
from emms_runtime.settings import HttpSettings


def _default_services() -> dict[str, str]:
    # the Kubernetes Services of base/ (deploy/k8s/base/<service>/service.yaml); make up sets local ports
    return {"identity": "http://emms-identity:8007", "fep": "http://emms-fep:8001",
            "collector": "http://emms-collector-api:8002", "validator": "http://emms-validator:8003",
            "control": "http://emms-control:8004", "analytics": "http://emms-analytics:8005",
            "archive": "http://emms-archive:8006"}


KNOWN_GROUPS = (
    "fep-masterdata", "collector-uplink", "collector-sessions", "collector-masterdata", "collector-backfill",
    "collector-acd", "collector-terminal-masterdata", "collector-terminal-sessions", "validator-raw",
    "validator-events", "validator-masterdata", "archive-raw", "archive-records", "archive-terminal-password-rotations",
    "control-commands", "control-masterdata", "control-charges", "control-prepay-readback", "analytics-validated",
    "analytics-masterdata", "analytics-anomalies", "analytics-tariffs", "identity-access-audit", "operations-sessions",
    "operations-results", "operations-readings", "operations-events", "operations-masterdata", "operations-commands",
    "operations-oplog")
"""The services' consumer groups (``rt.add_consumer`` names) for brokers that do not list groups."""


class ApiClient(BaseModel):
    """The operations service's API client for the FEP's token-protected figures (``EMMS_OPERATIONS_API_CLIENT__…``):
    an identity API client (trust level internal, role viewer) whose secret is mounted as a file. Unset: outside
    production a development token is used (where accepted); in production the per-port success is not read."""

    client_id: str | None = None
    client_secret_file: Path | None = None
    token_url: str = "http://emms-identity:8007/oauth/token"


class FaultRules(BaseModel):
    """When a condition is a fault (``EMMS_OPERATIONS_FAULTS__…``)."""

    terminal_offline_s: float = Field(default=900.0, gt=0)
    """A terminal offline longer than this is a fault (located at the terminal)."""
    meter_silent_days: float = Field(default=3.0, gt=0)
    """A meter with no reading for this many days is a fault (located at the meter)."""
    service_unhealthy_s: float = Field(default=60.0, ge=0)
    """A service not ready for this long is a fault (located at the master)."""
    illegal_frame_ratio: float = Field(default=0.05, gt=0, le=1)
    """Illegal frames / all frames of a FEP port over one health poll above this is a fault (the channel)."""
    illegal_frame_min: int = Field(default=20, ge=1)
    channel_min_links: int = Field(default=5, ge=1)
    """A FEP port that carried this many links and has none left is a channel down (critical)."""
    """…when at least this many illegal frames were counted in the poll (a few bad frames are noise)."""
    alarm_codes: list[str] = Field(default_factory=lambda: ["ERC10", "ERC13", "ERC14", "ERC31", "ERC33", "ERC37",
                                                            "ERC38", "ERC40"])
    """Event codes (emms.device.event.v1 ``code``) that are remote-monitoring alarms, each a fault: voltage
    circuit abnormal, meter fault, terminal power off, RS-485 read failure, meter status word change, meter
    cover, terminal cover, magnetic interference. (Clock deviations, ERC12, are the clock hierarchy's.)"""
    critical_codes: list[str] = Field(default_factory=lambda: ["ERC37", "ERC38", "ERC40"])
    """Of those, the ones whose fault is critical (cover opened, magnetic interference): the others are major."""


class TicketRules(BaseModel):
    """Due times by severity and the escalation worker (``EMMS_OPERATIONS_TICKETS__…``)."""

    due_h: dict[str, float] = Field(default_factory=lambda: {"critical": 4.0, "major": 24.0, "minor": 72.0})
    escalate_interval_s: float = Field(default=60.0, gt=0)


class OperationsSettings(ServiceSettings):
    model_config = service_config("OPERATIONS")

    http: HttpSettings = HttpSettings(port=8008)
    local_tz: str = Field(default="Asia/Shanghai", description="the wall clock of monthly / yearly availability")
    services: dict[str, str] = Field(default_factory=_default_services)
    """Service name → base URL: ``/readyz`` of each is polled (the master's up/down history); the FEP's
    ``/metrics`` gives the channels' figures."""
    fep_metrics_urls: list[str] = Field(default_factory=list)
    fep_api_urls: list[str] = Field(default_factory=list)
    """The FEP replicas' API base URLs (per-port requests and answers); empty: ``services["fep"]``."""
    api_client: ApiClient = Field(default_factory=ApiClient)
    """The FEP replicas' ``/metrics`` (each replica counts its own links); empty: ``services["fep"]``."""
    poll_interval_s: float = Field(default=15.0, gt=0)
    poll_timeout_s: float = Field(default=5.0, gt=0)
    detect_interval_s: float = Field(default=30.0, gt=0)
    lag_interval_s: float = Field(default=60.0, gt=0)
    lag_groups: list[str] = Field(default_factory=lambda: list(KNOWN_GROUPS))
    """Consumer groups whose lag is read besides those the broker lists (a broker without ListGroups)."""
    availability_interval_s: float = Field(default=300.0, gt=0)
    """How often the month-so-far availability gauges are recomputed."""
    faults: FaultRules = Field(default_factory=FaultRules)
    tickets: TicketRules = Field(default_factory=TicketRules)
    consumer_max_batch: int = Field(default=500, ge=1, le=5000)
    health_retention_days: int = Field(default=800, ge=1)
    """Service health polls are kept this long (the yearly availability needs a year)."""

    @field_validator("local_tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.local_tz)
