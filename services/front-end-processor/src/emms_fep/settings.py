"""Settings of the front-end processor (env prefix ``EMMS_FEP_``).

Nested groups use ``__``: ``EMMS_FEP_TERMINALS__PORT=9027``,
``EMMS_FEP_LIMITS__MAX_CONNECTIONS_PER_PEER=64``, ``EMMS_FEP_DOWNLINK__MAX_IN_FLIGHT=1``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from emms_fep.passwords import TerminalPasswordSettings
from emms_runtime import ServiceSettings, service_config
from emms_runtime.gc_policy import GcSettings
from emms_runtime.settings import HttpSettings


class TerminalListenSettings(BaseModel):
    """Where concentrators connect (TCP server channel)."""

    host: str = "0.0.0.0"
    port: int = Field(default=9027, ge=0, le=65535)
    backlog: int = Field(default=4096, ge=16)
    enabled: bool = True


class DialEndpoint(BaseModel):
    host: str
    port: int = Field(ge=1, le=65535)


class DialTarget(BaseModel):
    """A terminal the master dials (TCP client channel); ``terminal`` binds the link when known.

    With a ``standby`` channel (R-4.6.6): after ``failover_after`` failed dials of the primary the standby is
    dialled; on the standby the primary is dialled again every ``primary_retry_s`` (0: only once the standby
    link ends) and takes over when it connects (``channels/tcp_client.py``)."""

    host: str
    port: int = Field(ge=1, le=65535)
    terminal: str | None = None
    standby: DialEndpoint | None = None
    failover_after: int = Field(default=3, ge=1, le=100)
    primary_retry_s: float = Field(default=600.0, ge=0)


class SerialTarget(BaseModel):
    """A locally wired terminal on a serial port (aioserial)."""

    device: str
    baudrate: int = Field(default=9600, ge=300)
    terminal: str | None = None


class SessionSettings(BaseModel):
    login_timeout_s: float = Field(default=30.0, gt=0, description="close a socket that never logs in")
    heartbeat_timeout_s: float = Field(default=600.0, gt=0, description="close a session heard from no longer")
    sweep_resolution_s: float = Field(default=1.0, gt=0, le=10)
    clock_publish_interval_s: float = Field(default=900.0, ge=0)
    clock_publish_delta_s: float = Field(default=5.0, ge=0)
    master_address: int = Field(default=1, ge=0, le=127, description="MSA written in A3 of downlink frames")


class LimitSettings(BaseModel):
    max_connections: int = Field(default=19_900, ge=1)
    max_connections_per_peer: int = Field(default=256, ge=1)
    max_frame_bytes: int = Field(default=16_391, ge=64, le=16_391)
    max_buffer_bytes: int = Field(default=32_768, ge=256)
    publish_queue_high: int = Field(default=20_000, ge=10)
    publish_queue_low: int = Field(default=5_000, ge=1)
    publish_batch: int = Field(default=256, ge=1, description="payloads serialised per step (blocks the loop)")
    publish_link_frames: bool = True

    @model_validator(mode="after")
    def _low_below_high(self) -> LimitSettings:
        if self.publish_queue_low >= self.publish_queue_high:
            raise ValueError("limits.publish_queue_low must be below limits.publish_queue_high")
        return self


class DownlinkSettings(BaseModel):
    max_in_flight: int = Field(default=1, ge=1, le=8, description="requests in flight per terminal")
    max_queued: int = Field(default=64, ge=1, description="requests waiting per terminal")
    offline_grace_s: float = Field(default=2.0, ge=0, description="wait for a reconnect before 'offline'")
    answer_slack_s: float = Field(default=3.0, ge=0, description="extra wait of replicas not preferred")
    tp_delay_min: int = Field(default=5, ge=0, le=255, description="allowed transmission delay in Tp")
    password_hex: str = Field(default="00" * 16, pattern=r"^[0-9a-fA-F]{32}$",
                              description="the PW of terminals without their own in master data"
                                          " (terminal_passwords.default_allowed)")
    reassembly_timeout_s: float = Field(default=30.0, gt=0)


class ReplicaSettings(BaseModel):
    heartbeat_s: float = Field(default=5.0, gt=0)
    dead_after_s: float = Field(default=20.0, gt=0)
    request_retention_h: float = Field(default=48.0, gt=0)


class FepGcSettings(GcSettings):
    """The cyclic garbage collector with tens of thousands of long-lived link objects.

    A full collection walks every tracked object — with 20,000 links a stall of
    hundreds of milliseconds. The FEP therefore *freezes* what is alive
    (``gc.freeze``: moved out of the collector's sight) when the link count has
    grown and every ``freeze_interval_s``; the objects of a closed link are
    freed by reference counting (the FEP breaks their cycles on close). Every
    ``full_collect_s`` the frozen set is thawed and collected once. The
    freezer is ``emms_runtime.gc_policy.GcFreezer`` with a growth trigger.
    """

    freeze_interval_s: float = Field(default=60.0, gt=0)
    freeze_growth: int = Field(default=500, ge=1, description="links gained since the last freeze that freeze again")
    full_collect_s: float = Field(default=3600.0, ge=0, description="0: never thaw")


class FepSettings(ServiceSettings):
    model_config = service_config("FEP")

    http: HttpSettings = HttpSettings(port=8001)
    terminals: TerminalListenSettings = Field(default_factory=TerminalListenSettings)
    dial: list[DialTarget] = Field(default_factory=list)
    serial: list[SerialTarget] = Field(default_factory=list)
    sessions: SessionSettings = Field(default_factory=SessionSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    downlink: DownlinkSettings = Field(default_factory=DownlinkSettings)
    replica: ReplicaSettings = Field(default_factory=ReplicaSettings)
    gc: FepGcSettings = Field(default_factory=FepGcSettings)
    terminal_passwords: TerminalPasswordSettings = Field(default_factory=TerminalPasswordSettings)
    replica_id: str = Field(default="", description="stable replica name (pod name); defaults to instance_id")
    stats_flush_s: float = Field(default=5.0, gt=0)
    relay_refresh_s: float = Field(default=2.0, gt=0, description="re-read the relay routes (terminal_channel)")

    @model_validator(mode="after")
    def _checks(self) -> FepSettings:
        if self.terminals.enabled and self.terminals.port != 0 and self.terminals.port == self.http.port:
            raise ValueError("terminals.port must differ from http.port")
        self.terminal_passwords.keys(self.environment)  # refuses a missing, malformed or development KEK
        if not self.replica_id:
            object.__setattr__(self, "replica_id", self.instance_id)
        return self
