"""The bodies the collector's routes return (documented in its OpenAPI; see ``emms_runtime.api_models``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from emms_runtime.api_models import ApiModel


class TaskOut(ApiModel):
    """A stored collection task (the body a client sent, plus its identity and version)."""

    id: str
    name: str
    type: str
    target: dict[str, Any]
    items: list[str]
    valid_from: datetime | None
    valid_to: datetime | None
    period: dict[str, Any]
    priority: int
    retries: int
    retry_delay_s: float
    backfill_days: int
    enabled: bool
    auto: bool
    template_id: str | None
    version: int
    created_at: datetime | None
    updated_at: datetime | None
    created_by: str | None
    company_id: str | None = None
    """The company the task reads for (none: the whole utility)."""
    scope_regions: list[str] = Field(default_factory=list)
    """The regions its creator was restricted to (its runs read only meters in them or below)."""


class TaskPage(ApiModel):
    total: int
    limit: int
    offset: int
    items: list[TaskOut]


class TaskWithRuns(TaskOut):
    last_runs: list[dict[str, Any]]


class MemberPage(ApiModel):
    """The explicit member meter ids of a task."""

    total: int
    limit: int
    offset: int
    items: list[str]


class RunStarted(ApiModel):
    run_id: int
    task_id: str
    due_at: datetime
    data_time: datetime


class Run(ApiModel):
    """One run of a task: its slot, state, lease and counts (meters expected, read first time / on retry / at all)."""

    id: int
    task_id: str
    due_at: datetime
    kind: str
    data_time: datetime | None
    status: str
    priority: int
    claimed_by: str | None
    lease_until: datetime | None
    claims: int
    started_at: datetime | None
    finished_at: datetime | None
    expected: int
    ok_first: int
    ok_retry: int
    ok_final: int
    meters: int
    requests: int
    detail: str


class RunPage(ApiModel):
    total: int
    limit: int
    offset: int
    items: list[Run]


class RunDetail(Run):
    """A run with its success rates (share of the expected meters), meter states and failure reasons."""

    success_first: float | None
    success_after_retries: float | None
    success_final: float | None
    meter_states: dict[str, int]
    failure_reasons: list[dict[str, Any]]


class Page(ApiModel):
    """A page of rows."""

    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


class PointPage(Page):
    by_utility: dict[str, Any]


class PointsImported(ApiModel):
    points: int


class ReadJob(ApiModel):
    """A manual read job: ``running``, or done with the values per meter."""

    id: str
    status: str


class Quality(ApiModel):
    """Overall success rates and completeness, the ``breakdown`` by a dimension when asked, failure reasons."""

    overall: dict[str, Any]


class RunQuality(Quality):
    run: dict[str, Any]


class TaskQuality(Quality):
    task_id: str
    runs: list[dict[str, Any]]


class BackfillStarted(ApiModel):
    """How many gaps were opened, for which daily freezes, and the meters the collector does not know."""

    gaps: int
    freezes: list[datetime]
    unknown_meters: list[str]


class TerminalClocks(ApiModel):
    tolerance_s: float
    total: int
    items: list[dict[str, Any]]


class ClockSyncs(ApiModel):
    items: list[dict[str, Any]]


class ClockRead(ApiModel):
    terminal: str
    terminal_clock: datetime
    deviation_s: float
    round_trip_ms: float


class ClockSync(ApiModel):
    """The recorded sync (``deferred`` when it falls in the quiet minutes: not recorded)."""

    terminal: str
    outcome: str
    detail: str | None


class MasterClock(ApiModel):
    """The master's clock against its NTP servers (R-4.6.1.2): the last check of each, the median offset."""

    servers: list[dict[str, Any]]
    offset_s: float | None
    tolerance_s: float
    within_tolerance: bool | None


class TerminalClass(ApiModel):
    """One terminal class's settings (R-4.6.1.3, R-4.5.4.3)."""

    class_: str = Field(alias="class")
    clock_tolerance_s: float | None
    important_ercs: list[int] | None
    updated_at: datetime
    updated_by: str


class EventConfigPush(ApiModel):
    """AFN 04 F9 sent to a class's terminals: each terminal's outcome."""

    class_: str = Field(alias="class")
    important_ercs: list[int]
    results: list[dict[str, Any]]


class TerminalClasses(ApiModel):
    default_clock_tolerance_s: float
    items: list[dict[str, Any]]


class CollectorCheck(ApiModel):
    """A concentrator's collectors: how many, their clock reads and the syncs (R-4.6.1.4)."""

    terminal: str
    collectors: int
    detail: str
    tolerance_s: float
    out_of_tolerance: int
    mode: str | None
    reads: list[dict[str, Any]]
    syncs: list[dict[str, Any]]


class CollectorClocks(ApiModel):
    tolerance_s: float
    items: list[dict[str, Any]]


class MeterClockRead(ApiModel):
    """A meter clock measurement's record (``level`` meter) and the sync it led to, if any."""

    id: int
    terminal: str
    meter_id: str
    deviation_before_s: float | None
    round_trip_ms: float | None
    outcome: str
    sync: dict[str, Any] | None = None


class MeterClockSync(ApiModel):
    """The meter clock sync as recorded after sending it."""

    id: int | None = None
    outcome: str | None = None
    detail: str | None = None


class TemplateOut(ApiModel):
    """A task template: which meters (utility, protocol) get an automatic task, and that task's fields."""

    id: str
    name: str
    utility: str
    protocol: str | None
    spec: dict[str, Any]
    enabled: bool


class TemplateList(ApiModel):
    items: list[TemplateOut]


class ItemCatalog(ApiModel):
    """Canonical items, each with the task types / meter protocols / routes that can read it."""

    items: list[dict[str, Any]]
