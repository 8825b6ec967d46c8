"""Collection tasks (R-4.2.1): what to read, from whom, when, how urgently, how often to retry.

A task is validated here, field by field, with reasons a client can act on;
the repository stores it as it is. A task's *type* says which data a run
collects: ``daily_frozen`` yesterday's daily freeze, ``monthly_frozen`` last
month's, ``realtime`` current values, ``events`` the terminals' event records,
``clock`` the terminals' clocks (for time synchronisation).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from emms_collector.inputs import Code, Instant, Name, Ref, TaskId
from emms_collector.reading import items as item_table
from emms_collector.reading.item_routing import check_items
from emms_collector.tasks.periods import Period, PeriodError, PeriodUnit, format_at, parse_at
from emms_collector.tasks.types import TaskType

_TERMINAL = re.compile(r"^[0-9A-Fa-f]{4}-\d{5}$")
MAX_LISTED = 10_000


class PeriodSpec(BaseModel):
    """``{"unit": "daily", "at": "01:30"}``, ``{"unit": "minutes", "every": 15, "at": "00:02"}``,
    ``{"unit": "monthly", "day": 1, "at": "02:00"}``, ``{"unit": "once", "start": "…"}``."""

    model_config = ConfigDict(extra="forbid")

    unit: PeriodUnit
    every: int = Field(default=1, ge=1, le=1440)
    at: str = Field(default="00:00", max_length=7, pattern=r"^[0-9]{1,4}:[0-9]{2}$",
                    description="offset inside the period, HH:MM")
    day: int = Field(default=1, ge=1, le=28, description="day of month (monthly)")

    @model_validator(mode="after")
    def _schedulable(self) -> PeriodSpec:
        self.to_period()
        return self

    def to_period(self) -> Period:
        try:
            return Period(self.unit, self.every, parse_at(self.at), self.day)
        except PeriodError as exc:
            raise ValueError(str(exc)) from None

    @classmethod
    def of(cls, period: Period) -> PeriodSpec:
        return cls(unit=period.unit, every=period.every, at=format_at(period.offset_min), day=period.day)


class Target(BaseModel):
    """Which meters a task reads. Selectors of different kinds must all match; values of one kind
    are alternatives. ``members`` adds the task's member list (kept up to date automatically for
    tasks made from templates). A target that selects nothing explicit must say ``all``."""

    model_config = ConfigDict(extra="forbid")

    all: bool = False
    members: bool = False
    meters: list[Ref] = Field(default_factory=list, max_length=MAX_LISTED)
    terminals: list[Ref] = Field(default_factory=list, max_length=MAX_LISTED)
    groups: list[Ref] = Field(default_factory=list, max_length=100)
    regions: list[Ref] = Field(default_factory=list, max_length=1000)
    categories: list[Ref] = Field(default_factory=list, max_length=100)
    utilities: list[item_table.Utility] = Field(default_factory=list, max_length=4)
    protocols: list[Ref] = Field(default_factory=list, max_length=10)

    @field_validator("terminals")
    @classmethod
    def _terminal_keys(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if not _TERMINAL.match(t)]
        if bad:
            raise ValueError(f"terminal addresses look like '3701-00012' (A1 hex, A2 decimal); got {bad[:3]}")
        return value

    @model_validator(mode="after")
    def _says_something(self) -> Target:
        if not self.all and not self.members and not self.selectors():
            raise ValueError('the target selects no meters: give meters, terminals, groups, regions, categories, '
                             'utilities or protocols, or "all": true')
        return self

    def selectors(self) -> dict[str, list[str]]:
        return {k: [str(v) for v in getattr(self, k)] for k in
                ("meters", "terminals", "groups", "regions", "categories", "utilities", "protocols")
                if getattr(self, k)}


class TaskBody(BaseModel):
    """A task as a client creates or replaces it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: TaskId | None = None
    name: Name
    type: TaskType
    target: Target
    items: list[Code] = Field(default_factory=list, max_length=64)
    valid_from: Instant | None = None
    valid_to: Instant | None = None
    period: PeriodSpec
    priority: int = Field(default=5, ge=0, le=9, description="0 most urgent")
    retries: int = Field(default=2, ge=0, le=10, description="re-collection rounds inside a run")
    retry_delay_s: float = Field(default=30.0, ge=0, le=86_400)
    backfill_days: int = Field(default=7, ge=0, le=366, description="gaps this old are back-filled (0 = never)")
    enabled: bool = True
    company_id: Ref | None = Field(default=None, description=(
        "the company the task reads for (its runs read only that company's meters); by default the caller's"
        " when its token names one company, else that of the meters it names; none: the whole utility"))

    @model_validator(mode="after")
    def _consistent(self) -> TaskBody:
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        problem = check_items(self.type, self.items)
        if problem:
            raise ValueError(problem)
        if self.period.unit is PeriodUnit.ONCE and self.valid_from is None:
            raise ValueError("a one-time task needs valid_from: the instant it runs")
        return self


class Task(TaskBody):
    """A stored task."""

    id: TaskId
    auto: bool = False
    template_id: str | None = None
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None
    scope_regions: list[str] = Field(default_factory=list, description=(
        "the regions its creator was restricted to: its runs read only meters in them (or below)"))

    def period_obj(self) -> Period:
        return self.period.to_period()

    def as_public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class TaskPatch(BaseModel):
    """Fields a client may change on an existing task (the rest stays)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Name | None = None
    target: Target | None = None
    items: list[Code] | None = Field(default=None, max_length=64)
    valid_from: Instant | None = None
    valid_to: Instant | None = None
    period: PeriodSpec | None = None
    priority: int | None = Field(default=None, ge=0, le=9)
    retries: int | None = Field(default=None, ge=0, le=10)
    retry_delay_s: float | None = Field(default=None, ge=0, le=86_400)
    backfill_days: int | None = Field(default=None, ge=0, le=366)
    enabled: bool | None = None
    company_id: Ref | None = None

    def apply(self, task: Task) -> Task:
        """The task with this patch applied, validated as a whole."""
        data = task.model_dump()
        data.update(self.model_dump(exclude_unset=True))
        return Task.model_validate(data)
