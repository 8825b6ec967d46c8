"""Settings of the collector service (env prefix ``EMMS_COLLECTOR_``).

Nested groups use ``__``: ``EMMS_COLLECTOR_SCHEDULER__TICK_S=1``,
``EMMS_COLLECTOR_DISPATCH__MAX_IN_FLIGHT_PER_TERMINAL=2``,
``EMMS_COLLECTOR_TIMESYNC__TOLERANCE_S=5``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from emms_collector.terminal_config.settings import TerminalConfigSettings
from emms_runtime import ServiceSettings, service_config
from emms_runtime.gc_policy import GcSettings
from emms_runtime.settings import HttpSettings


class SchedulerSettings(BaseModel):
    """When due runs are created and claimed (R-4.2.3a)."""

    enabled: bool = True
    tick_s: float = Field(default=2.0, gt=0, le=60, description="how often due runs are looked for")
    lease_s: float = Field(default=60.0, ge=5, description="a run whose lease lapses is resumed by another replica")
    max_running: int = Field(default=4, ge=1, le=64, description="runs executed at once by one replica")
    catchup_days: float = Field(default=7.0, ge=0, description="missed slots older than this are recorded 'missed'")
    local_tz: str = Field(default="Asia/Shanghai", description="the fleet's wall clock: periods and frozen days")
    masterdata_wait_s: float = Field(default=120.0, ge=0, description=(
        "a run waits at most this long for the master-data changes already published to be applied"
        " before it plans its targets (0: no wait)"))


class DispatchSettings(BaseModel):
    """How requests go to the FEP: batching, bounds in flight, time-outs (R-4.5.1)."""

    max_points_per_request: int = Field(default=32, ge=1, le=256, description="measurement points in one frame")
    max_in_flight_per_terminal: int = Field(default=2, ge=1, le=16)
    max_in_flight: int = Field(default=512, ge=1, description="requests in flight from this replica in total")
    request_timeout_s: float = Field(default=10.0, gt=0, le=600, description="the FEP's wait for one answer")
    fep_retries: int = Field(default=1, ge=0, le=10, description="the FEP's re-sends of one frame")
    send_within_s: float = Field(default=60.0, gt=0,
                                 description="a request the FEP has not sent by then is rejected (expires_at)")
    result_slack_s: float = Field(default=10.0, ge=0, description="extra wait for a result before presuming it lost")
    target_latency_s: float = Field(default=3.0, gt=0, description="answers slower than this shrink the in-flight "
                                                                   "window like time-outs do (queues stay short)")
    publish_batch: int = Field(default=2000, ge=1)


class BackfillSettings(BaseModel):
    """Automatic re-collection of gaps (R-4.2.6)."""

    enabled: bool = True
    every_s: float = Field(default=60.0, gt=0, description="how often open gaps are looked at")
    horizon_days: float = Field(default=31.0, gt=0, description="how far back gaps are back-filled")
    max_attempts: int = Field(default=10, ge=1, description="then the gap is abandoned (still listed)")
    retry_after_s: float = Field(default=300.0, ge=0, description="minimum wait between attempts on one gap")
    batch: int = Field(default=5000, ge=1, description="gaps taken per pass")


class MasterClockSettings(BaseModel):
    """The master's own clock against NTP servers (R-4.6.1.2): measured and alarmed, never set."""

    servers: list[str] = Field(default_factory=list, description="NTP servers, ``host`` or ``host:port``")
    tolerance_s: float = Field(default=0.1, gt=0, description="offset of the master's clock alarmed above this")
    every_s: float = Field(default=64.0, gt=0, description="how often the servers are asked")
    timeout_s: float = Field(default=2.0, gt=0, le=30)


class TimeSyncSettings(BaseModel):
    """Terminal clock management (R-4.6.1)."""

    enabled: bool = True
    tolerance_s: float = Field(default=5.0, gt=0, description=(
        "terminal clock error tolerated, for terminal classes without their own (PUT /api/v1/terminal-classes)"))
    every_s: float = Field(default=30.0, gt=0, description="how often deviations are looked at")
    quiet_minutes: int = Field(default=5, ge=0, le=29,
                               description="no sync within this many minutes of the hour (frozen data)")
    min_interval_s: float = Field(default=600.0, ge=0, description="between two syncs of one terminal")
    auto_approve_meter_sync: bool = False
    meter_tolerance_s: float = Field(default=10.0, gt=0, description=(
        "meter clock error tolerated: a meter read beyond it gets a sync to approve (ERC 12 says so by itself)"))
    collector_tolerance_s: float = Field(default=5.0, gt=0, description="collector (采集器) clock error tolerated")
    collector_check_every_s: float = Field(default=86_400.0, ge=0, description=(
        "each online concentrator's collectors are read and, beyond tolerance, set this often by the worker "
        "(0: only on request, POST /api/v1/clock/terminals/{t}/collectors/check)"))
    collector_check_batch: int = Field(default=20, ge=1, le=1000, description="concentrators checked per pass")
    master: MasterClockSettings = Field(default_factory=MasterClockSettings)


class ManualSettings(BaseModel):
    """On-demand reading (召测, R-4.2.3b)."""

    max_targets: int = Field(default=2000, ge=1)
    priority: int = Field(default=0, ge=0, le=9)
    job_retention_h: float = Field(default=72.0, gt=0)


class CollectorSettings(ServiceSettings):
    model_config = service_config("COLLECTOR")

    http: HttpSettings = HttpSettings(port=8002)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)
    backfill: BackfillSettings = Field(default_factory=BackfillSettings)
    timesync: TimeSyncSettings = Field(default_factory=TimeSyncSettings)
    manual: ManualSettings = Field(default_factory=ManualSettings)
    terminal_config: TerminalConfigSettings = Field(default_factory=TerminalConfigSettings)
    role: Literal["all", "interactive"] = "all"
    """``interactive``: a replica that serves the HTTP API (manual reads, queries, task edits) and
    hears results, but runs no schedule, back-fill, time sync and consumes no uplink, master-data,
    back-fill or session messages — so a 200,000-meter run in the ``all`` replicas never holds up
    an operator's read on its event loop. Replicas of both roles share the database."""
    gc: GcSettings = Field(default_factory=GcSettings)
    """The live heap frozen every 2 s: a run's working set out of the cyclic collector's walks."""
    manifest_path: str | None = Field(default=None, description="simulator manifest JSON imported as points")
    manifest_poll_s: float = Field(default=10.0, gt=0)
    install_default_templates: bool = True
    freeze_at: Literal["start", "end"] = Field(
        default="end", description="a daily freeze tagged D is the register at local midnight ending D ('end') "
                                   "or starting it ('start')")
