"""Which meters a command's target names: a list, a group, a region (with its sub-regions) or a query."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from emms_control.repository import devices as device_sql
from emms_db.connection import Connection
from emms_db.where import Where
from emms_runtime.errors import Invalid, NotFound

ID = r"^[A-Za-z0-9_.:\-]{1,64}$"
MAX_TARGET = 100_000


class Query(BaseModel):
    utility: str | None = Field(default=None, pattern="^(electricity|water|gas|heat)$")
    company_id: str | None = Field(default=None, pattern=ID)
    region_id: str | None = Field(default=None, pattern=ID)
    category: str | None = Field(default=None, pattern=ID)
    customer_id: str | None = Field(default=None, pattern=ID)
    terminal: str | None = Field(default=None, pattern=r"^[0-9A-Fa-f]{4}-\d{5}$")


class Target(BaseModel):
    """Exactly one of: ``meter_ids``, ``group_id``, ``region_id``, ``query``."""

    meter_ids: list[Any] | None = Field(default=None, max_length=MAX_TARGET)
    group_id: str | None = Field(default=None, pattern=ID)
    region_id: str | None = Field(default=None, pattern=ID)
    query: Query | None = None


async def meters_of(conn: Connection, target: Target) -> list[str]:
    given = [n for n in ("meter_ids", "group_id", "region_id", "query") if getattr(target, n) is not None]
    if len(given) != 1:
        raise Invalid(f"a target names exactly one of meter_ids, group_id, region_id, query (got {given or 'none'})")
    if target.meter_ids is not None:
        ids = [str(m) for m in target.meter_ids]
        if not ids or any(not m or len(m) > 64 for m in ids):
            raise Invalid("meter_ids: a non-empty list of ids of 1..64 characters")
        return ids
    where = Where([])
    if target.group_id is not None:
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM control.groups WHERE group_id = $1)",
                                   target.group_id):
            raise NotFound(f"no group {target.group_id}")
        where.add("d.meter_id IN (SELECT meter_id FROM control.group_members WHERE group_id = {})", target.group_id)
    elif target.region_id is not None:
        where.add("o.region_id IN (SELECT control.region_subtree({}::text[]))", [target.region_id])
    else:
        q = target.query or Query()
        if not any(v is not None for v in q.model_dump().values()):
            raise Invalid("a query names at least one condition")
        where.add_if("d.utility = {}", q.utility)
        where.add_if("o.company_id = {}", q.company_id)
        if q.region_id is not None:
            where.add("o.region_id IN (SELECT control.region_subtree({}::text[]))", [q.region_id])
        where.add_if("d.category = {}", q.category)
        where.add_if("d.customer_id = {}", q.customer_id)
        where.add_if("d.terminal = {}", q.terminal.upper() if q.terminal else None)
    ids = await device_sql.select_ids(conn, where.sql(), where.args, MAX_TARGET + 1)
    if not ids:
        raise Invalid("the target selects no active meter")
    if len(ids) > MAX_TARGET:
        raise Invalid(f"the target selects more than {MAX_TARGET} meters")
    return ids
