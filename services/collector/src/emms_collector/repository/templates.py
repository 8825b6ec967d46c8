"""SQL of task templates by meter type (R-4.6.5), and of the automatic tasks that follow them."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from emms_collector.reading.items import Utility
from emms_collector.repository.tasks import period_as_stored
from emms_collector.schema import SCHEMA
from emms_collector.tasks.templates import Template, TemplateSpec
from emms_collector.tasks.types import TaskType
from emms_db.connection import Connection


def _from_row(row: Any) -> Template:
    """The stored template; one stored before today's input bounds (a control character in its name) is read
    as it is stored rather than refused (master-data intake reads every template)."""
    spec = row["spec"]
    data = {"id": row["id"], "name": row["name"], "utility": row["utility"], "protocol": row["protocol"],
            "spec": json.loads(spec) if isinstance(spec, str) else spec, "enabled": row["enabled"]}
    try:
        return Template.model_validate(data)
    except ValidationError:
        stored = data["spec"]
        spec_model = TemplateSpec.model_construct(**{**stored, "type": TaskType(stored["type"]),
                                                     "period": period_as_stored(stored["period"])})
        return Template.model_construct(**{**data, "utility": Utility(data["utility"]), "spec": spec_model})


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


async def auto_task_id(conn: Connection, template_id: str) -> str | None:
    """The id of the template's automatic task, None if it has none (or it was deleted)."""
    existing = await conn.fetchval(f"SELECT id FROM {SCHEMA}.task WHERE template_id = $1 AND auto"
                                   " AND deleted_at IS NULL", template_id)
    return str(existing) if existing else None


async def update_auto_task(conn: Connection, template: Template) -> None:
    """Give the template's automatic task the template's task fields (a new version of it)."""
    spec = template.spec
    await conn.execute(
        f"UPDATE {SCHEMA}.task SET name = $2, task_type = $3, items = $4, period = $5::jsonb, priority = $6,"
        " retries = $7, retry_delay_s = $8, backfill_days = $9, version = version + 1, updated_at = now()"
        " WHERE template_id = $1 AND auto AND deleted_at IS NULL",
        template.id, spec.name, spec.type.value, spec.items, spec.period.model_dump_json(),
        spec.priority, spec.retries, spec.retry_delay_s, spec.backfill_days)
