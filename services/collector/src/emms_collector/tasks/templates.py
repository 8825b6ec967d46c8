"""Task templates by meter type, and the automatic tasks made from them (R-4.6.5).

A template names a meter type (utility, and optionally the meter protocol) and
the task fields every such meter should be read with. Each template has one
automatic task (``auto-<template id>``) whose target is its member list; when
master data reports a new or replaced meter of that type, the meter joins the
task (created on first use), and a removed meter leaves every task.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from emms_collector.reading.items import Utility
from emms_collector.repository import tasks as task_sql
from emms_collector.schema import SCHEMA
from emms_collector.tasks.model import PeriodSpec, Target, Task
from emms_collector.tasks.types import TaskType
from emms_db.connection import Connection

TemplateId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60,
                                              pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")]


class TemplateSpec(BaseModel):
    """The task fields a template gives its automatic task (the target is always its member list)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    type: TaskType
    items: list[str] = Field(default_factory=list, max_length=64)
    period: PeriodSpec
    priority: int = Field(default=5, ge=0, le=9)
    retries: int = Field(default=2, ge=0, le=10)
    retry_delay_s: float = Field(default=30.0, ge=0, le=86_400)
    backfill_days: int = Field(default=7, ge=0, le=366)


class Template(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: TemplateId
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    utility: Utility
    protocol: str | None = Field(default=None, max_length=40, description="meter protocol; empty = any")
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


def _from_row(row: Any) -> Template:
    spec = row["spec"]
    return Template(id=row["id"], name=row["name"], utility=row["utility"], protocol=row["protocol"],
                    spec=TemplateSpec.model_validate(json.loads(spec) if isinstance(spec, str) else spec),
                    enabled=row["enabled"])


async def list_templates(conn: Connection) -> list[Template]:
    rows = await conn.fetch(f"SELECT id, name, utility, protocol, spec, enabled FROM {SCHEMA}.template ORDER BY id")
    return [_from_row(r) for r in rows]


async def get_template(conn: Connection, template_id: str) -> Template | None:
    row = await conn.fetchrow(f"SELECT id, name, utility, protocol, spec, enabled FROM {SCHEMA}.template"
                              " WHERE id = $1", template_id)
    return _from_row(row) if row else None


async def put_template(conn: Connection, template: Template, *, only_if_missing: bool = False) -> bool:
    """Create or replace a template; True if stored."""
    conflict = "DO NOTHING" if only_if_missing else (
        "DO UPDATE SET name = excluded.name, utility = excluded.utility, protocol = excluded.protocol,"
        " spec = excluded.spec, enabled = excluded.enabled, updated_at = now()")
    done = await conn.fetchval(
        f"INSERT INTO {SCHEMA}.template (id, name, utility, protocol, spec, enabled)"
        f" VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT (id) {conflict} RETURNING true",
        template.id, template.name, template.utility.value, template.protocol, template.spec.model_dump_json(),
        template.enabled)
    return bool(done)


async def delete_template(conn: Connection, template_id: str) -> bool:
    return bool(await conn.fetchval(f"DELETE FROM {SCHEMA}.template WHERE id = $1 RETURNING true", template_id))


async def ensure_task(conn: Connection, template: Template, now: datetime | None = None) -> str:
    """The id of the template's automatic task, created now if it does not exist."""
    task = template.task()
    existing = await conn.fetchval(f"SELECT id FROM {SCHEMA}.task WHERE template_id = $1 AND auto"
                                   " AND deleted_at IS NULL", template.id)
    if existing:
        return str(existing)
    try:
        async with conn.transaction():  # a savepoint: a concurrent creator's row must not abort the caller
            await task_sql.insert_task(conn, task, planned_from=now or datetime.now(UTC))
    except task_sql.TaskExists:
        pass
    return task.id


async def join(conn: Connection, templates: list[Template], meter_id: str, utility: str, protocol: str,
               reason: str) -> list[str]:
    """Put a meter into the automatic task of every template of its type; the task ids."""
    joined = []
    for template in templates:
        if template.matches(utility, protocol):
            task_id = await ensure_task(conn, template)
            await task_sql.add_members(conn, task_id, [meter_id], reason)
            joined.append(task_id)
    return joined


async def join_many(conn: Connection, templates: list[Template], meters: list[tuple[str, str, str]],
                    reason: str) -> int:
    """Bulk :func:`join` for (meter id, utility, protocol) triples (manifest import)."""
    added = 0
    for template in templates:
        ids = [m for m, u, p in meters if template.matches(u, p)]
        if ids:
            task_id = await ensure_task(conn, template)
            added += await task_sql.add_members(conn, task_id, ids, reason)
    return added
