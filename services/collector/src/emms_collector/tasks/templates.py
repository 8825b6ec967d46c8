"""Task templates by meter type, and the automatic tasks made from them (R-4.6.5).

A template names a meter type (utility, and optionally the meter protocol) and
the task fields every such meter should be read with. Each template has one
automatic task (``auto-<template id>``) whose target is its member list; when
master data reports a new or replaced meter of that type, the meter joins the
task (created on first use), and a removed meter leaves every task.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from emms_collector.inputs import PLAIN, Code, Name
from emms_collector.reading.items import Utility
from emms_collector.tasks.model import PeriodSpec, Target, Task
from emms_collector.tasks.types import TaskType

TemplateId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60,
                                              pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")]


class TemplateSpec(BaseModel):
    """The task fields a template gives its automatic task (the target is always its member list)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    type: TaskType
    items: list[Code] = Field(default_factory=list, max_length=64)
    period: PeriodSpec
    priority: int = Field(default=5, ge=0, le=9)
    retries: int = Field(default=2, ge=0, le=10)
    retry_delay_s: float = Field(default=30.0, ge=0, le=86_400)
    backfill_days: int = Field(default=7, ge=0, le=366)


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: TemplateId
    name: Name
    utility: Utility
    protocol: str | None = Field(default=None, max_length=40, pattern=PLAIN, description="meter protocol; empty = any")
    spec: TemplateSpec
    enabled: bool = True

    def task(self) -> Task:
        """The automatic task of this template (validated like any task)."""
        s = self.spec
        return Task(id=f"auto-{self.id}", name=s.name, type=s.type, target=Target(members=True), items=s.items,
                    period=s.period, priority=s.priority, retries=s.retries, retry_delay_s=s.retry_delay_s,
                    backfill_days=s.backfill_days, auto=True, template_id=self.id, created_by="template")

    def matches(self, utility: str, protocol: str) -> bool:
        return self.enabled and self.utility.value == utility and (not self.protocol or self.protocol == protocol)


def _daily(utility: Utility, at: str, items: list[str] | None = None) -> Template:
    return Template(id=f"{utility.value}-daily", name=f"{utility.value} meters: daily frozen data",
                    utility=utility,
                    spec=TemplateSpec(name=f"Daily frozen data of {utility.value} meters", type=TaskType.DAILY_FROZEN,
                                      items=items or [], period=PeriodSpec(unit="daily", at=at), priority=3,
                                      retries=2, retry_delay_s=60, backfill_days=7))


def default_templates() -> list[Template]:
    """Daily frozen data for every utility, after the freeze and clear of the quiet minutes."""
    return [_daily(Utility.ELECTRICITY, "00:20"), _daily(Utility.WATER, "00:25"), _daily(Utility.GAS, "00:30"),
            _daily(Utility.HEAT, "00:35")]
