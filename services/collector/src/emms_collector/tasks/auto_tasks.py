"""Automatic tasks of templates (R-4.6.5): one per template, created on first use; meters of the template's
type join it (master data, the simulator manifest)."""

from __future__ import annotations

from datetime import UTC, datetime

from emms_collector.repository import tasks as task_sql
from emms_collector.repository import templates as template_sql
from emms_collector.tasks.templates import Template
from emms_db.connection import Connection


async def ensure_task(conn: Connection, template: Template, now: datetime | None = None) -> str:
    """The id of the template's automatic task, created now if it does not exist."""
    task = template.task()
    existing = await template_sql.auto_task_id(conn, template.id)
    if existing:
        return existing
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
