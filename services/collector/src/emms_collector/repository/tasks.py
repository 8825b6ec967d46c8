"""SQL of tasks, their members and templates: create, read, change, delete.

A change that moves the schedule (period, validity) resets the scheduler's
cursor to now, so a changed task neither replays old slots nor loses the next
one. Deleting a task is soft (its runs and quality figures stay readable) and
cancels its pending runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import ValidationError

from emms_collector.reading.items import Utility
from emms_collector.repository.scope import UNRESTRICTED, Scope
from emms_collector.schema import SCHEMA
from emms_collector.tasks.model import PeriodSpec, Target, Task
from emms_collector.tasks.periods import PeriodUnit
from emms_collector.tasks.types import TaskType
from emms_db.connection import Connection
from emms_db.where import Where

_COLUMNS = ("id, name, task_type, target, items, valid_from, valid_to, period, priority, retries, retry_delay_s,"
            " backfill_days, enabled, auto, template_id, version, created_by, created_at, updated_at, company_id,"
            " scope_regions")


class TaskExists(Exception):
    """A task with this id exists already."""


class VersionConflict(Exception):
    """The task changed since the client read it."""


def task_from_row(row: asyncpg.Record | Mapping[str, Any]) -> Task:
    """The stored task; one stored before today's input bounds (a control character in a selector, a time
    before 1970) is read as it is stored rather than refused — a client changing it must fix it."""
    data = {
        "id": row["id"], "name": row["name"], "type": row["task_type"], "target": _json(row["target"]),
        "items": list(row["items"]), "valid_from": row["valid_from"], "valid_to": row["valid_to"],
        "period": _json(row["period"]), "priority": row["priority"], "retries": row["retries"],
        "retry_delay_s": row["retry_delay_s"], "backfill_days": row["backfill_days"], "enabled": row["enabled"],
        "auto": row["auto"], "template_id": row["template_id"], "version": row["version"],
        "created_by": row["created_by"], "created_at": row["created_at"], "updated_at": row["updated_at"],
        "company_id": row["company_id"], "scope_regions": list(row["scope_regions"]),
    }
    try:
        return Task.model_validate(data)
    except ValidationError:
        target = data["target"]
        utilities = [Utility(u) for u in target.get("utilities", [])]
        return Task.model_construct(**{
            **data, "type": TaskType(data["type"]), "period": period_as_stored(data["period"]),
            "target": Target.model_construct(**{**target, "utilities": utilities})})


def period_as_stored(period: dict[str, Any]) -> PeriodSpec:
    """A stored period, not validated again."""
    return PeriodSpec.model_construct(**{**period, "unit": PeriodUnit(period["unit"])})


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _args(task: Task) -> list[Any]:
    return [task.name, task.type.value, task.target.model_dump_json(), list(task.items), task.valid_from,
            task.valid_to, task.period.model_dump_json(), task.priority, task.retries, task.retry_delay_s,
            task.backfill_days, task.enabled, task.company_id, list(task.scope_regions)]


async def insert_task(conn: Connection, task: Task, *, planned_from: datetime) -> Task:
    try:
        row = await conn.fetchrow(
            f"INSERT INTO {SCHEMA}.task (id, name, task_type, target, items, valid_from, valid_to, period, priority,"
            " retries, retry_delay_s, backfill_days, enabled, company_id, scope_regions, auto, template_id,"
            " created_by, planned_until)"
            " VALUES ($15, $1, $2, $3::jsonb, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $16, $17, $18,"
            " $19)"
            f" RETURNING {_COLUMNS}",
            *_args(task), task.id, task.auto, task.template_id, task.created_by, planned_from)
    except asyncpg.UniqueViolationError as exc:
        if "task_template_once" in str(exc):
            raise TaskExists(f"template {task.template_id} already has its task") from None
        raise TaskExists(f"task {task.id} exists") from None
    assert row is not None
    return task_from_row(row)


async def get_task(conn: Connection, task_id: str, *, include_deleted: bool = False,
                   scope: Scope = UNRESTRICTED) -> Task | None:
    """The task, None if there is none (deleted, or outside ``scope``)."""
    w = Where([task_id])
    w.add("t.id = $1")
    if not include_deleted:
        w.add("t.deleted_at IS NULL")
    scope.tasks("t", w)
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM {SCHEMA}.task t WHERE {w.sql()}", *w.args)
    return task_from_row(row) if row else None


async def list_tasks(conn: Connection, *, task_type: str | None = None, enabled: bool | None = None,
                     auto: bool | None = None, limit: int = 100, offset: int = 0,
                     scope: Scope = UNRESTRICTED) -> tuple[int, list[Task]]:
    w = Where()
    w.add("t.deleted_at IS NULL")
    w.add_if("t.task_type = {}", task_type)
    w.add_if("t.enabled = {}", enabled)
    w.add_if("t.auto = {}", auto)
    scope.tasks("t", w)
    total = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.task t WHERE {w.sql()}", *w.args)
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM {SCHEMA}.task t WHERE {w.sql()} ORDER BY t.priority, t.id"
                            f" LIMIT {int(limit)} OFFSET {int(offset)}", *w.args)
    return int(total), [task_from_row(r) for r in rows]


async def update_task(conn: Connection, task: Task, *, expected_version: int | None, reschedule_from: datetime | None,
                      ) -> Task:
    """Store ``task`` over its row; ``reschedule_from`` moves the scheduler's cursor (schedule changed)."""
    row = await conn.fetchrow(
        f"UPDATE {SCHEMA}.task SET name = $1, task_type = $2, target = $3::jsonb, items = $4, valid_from = $5,"
        " valid_to = $6, period = $7::jsonb, priority = $8, retries = $9, retry_delay_s = $10, backfill_days = $11,"
        " enabled = $12, company_id = $13, scope_regions = $14, version = version + 1, updated_at = now(),"
        " planned_until = coalesce($17, planned_until)"
        f" WHERE id = $15 AND deleted_at IS NULL AND ($16::int IS NULL OR version = $16) RETURNING {_COLUMNS}",
        *_args(task), task.id, expected_version, reschedule_from)
    if row is None:
        if await get_task(conn, task.id) is None:
            raise KeyError(task.id)
        raise VersionConflict(f"task {task.id} is no longer at version {expected_version}")
    if reschedule_from is not None:
        await conn.execute(f"UPDATE {SCHEMA}.task_run SET status = 'cancelled', detail = 'task rescheduled',"
                           " finished_at = now() WHERE task_id = $1 AND status = 'pending' AND kind = 'scheduled'"
                           " AND due_at > $2", task.id, reschedule_from)
    return task_from_row(row)


async def delete_task(conn: Connection, task_id: str) -> bool:
    done = await conn.fetchval(
        f"UPDATE {SCHEMA}.task SET deleted_at = now(), enabled = false, updated_at = now()"
        " WHERE id = $1 AND deleted_at IS NULL RETURNING true", task_id)
    if done:
        await conn.execute(f"UPDATE {SCHEMA}.task_run SET status = 'cancelled', detail = 'task deleted',"
                           " finished_at = now() WHERE task_id = $1 AND status = 'pending'", task_id)
    return bool(done)


async def add_members(conn: Connection, task_id: str, meter_ids: Sequence[str], reason: str) -> int:
    if not meter_ids:
        return 0
    rows = await conn.fetch(
        f"INSERT INTO {SCHEMA}.task_member (task_id, meter_id, reason) SELECT $1, unnest($2::text[]), $3"
        " ON CONFLICT DO NOTHING RETURNING meter_id", task_id, list(meter_ids), reason)
    return len(rows)


async def substitute_meter(conn: Connection, old_ids: Sequence[str], new_id: str, reason: str) -> list[str]:
    """A replacement: every live task that names an old meter of the point by id — in its target's ``meters``
    or its member list — reads the new meter instead (a task on a meter means the point's meter; left alone,
    the new meter would never be collected by it). The ids of the tasks whose target changed (version + 1)."""
    if not old_ids:
        return []
    old = set(old_ids)
    changed = []
    rows = await conn.fetch(f"SELECT id, target FROM {SCHEMA}.task WHERE deleted_at IS NULL"
                            " AND target->'meters' ?| $1::text[] FOR UPDATE", list(old))
    for row in rows:
        target = _json(row["target"])
        meters = [new_id if m in old else m for m in target["meters"]]
        target["meters"] = list(dict.fromkeys(meters))
        await conn.execute(f"UPDATE {SCHEMA}.task SET target = $2::jsonb, version = version + 1, updated_at = now()"
                           " WHERE id = $1", row["id"], json.dumps(target))
        changed.append(row["id"])
    await conn.execute(
        f"INSERT INTO {SCHEMA}.task_member (task_id, meter_id, reason) SELECT DISTINCT task_id, $2, $3"
        f" FROM {SCHEMA}.task_member WHERE meter_id = ANY($1::text[]) ON CONFLICT DO NOTHING",
        list(old), new_id, reason)
    await conn.execute(f"DELETE FROM {SCHEMA}.task_member WHERE meter_id = ANY($1::text[])", list(old))
    return changed


async def remove_member_everywhere(conn: Connection, meter_id: str) -> int:
    result = await conn.execute(f"DELETE FROM {SCHEMA}.task_member WHERE meter_id = $1", meter_id)
    return int(result.split()[-1])


async def members(conn: Connection, task_id: str, *, limit: int = 1000, offset: int = 0,
                  scope: Scope = UNRESTRICTED) -> tuple[int, list[str]]:
    """(total, page) of a task's member meters (those in ``scope``)."""
    w = Where([task_id])
    w.add("m.task_id = $1")
    scope.meters("m.meter_id", w)
    total = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.task_member m WHERE {w.sql()}", *w.args)
    rows = await conn.fetch(f"SELECT m.meter_id FROM {SCHEMA}.task_member m WHERE {w.sql()} ORDER BY m.meter_id"
                            f" LIMIT {int(limit)} OFFSET {int(offset)}", *w.args)
    return int(total), [r["meter_id"] for r in rows]
