"""SQL of named device groups (command targets)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from emms_db.connection import Connection
from emms_runtime.errors import Conflict, NotFound


async def list_groups(conn: Connection, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT g.*, (SELECT count(*) FROM control.group_members m WHERE m.group_id = g.group_id) AS members"
        " FROM control.groups g ORDER BY g.group_id LIMIT $1 OFFSET $2", limit, offset)
    return [dict(r) for r in rows]


async def create(conn: Connection, group_id: str, name: str, description: str, by: str,
                 meter_ids: Sequence[str]) -> dict[str, Any]:
    row = await conn.fetchrow(
        "INSERT INTO control.groups (group_id, name, description, created_by) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING RETURNING group_id", group_id, name, description, by)
    if row is None:
        raise Conflict(f"group {group_id} exists")
    await conn.execute("INSERT INTO control.group_members (group_id, meter_id) SELECT $1, unnest($2::text[])"
                       " ON CONFLICT DO NOTHING", group_id, list(meter_ids))
    return await get(conn, group_id)


async def get(conn: Connection, group_id: str) -> dict[str, Any]:
    row = await conn.fetchrow("SELECT * FROM control.groups WHERE group_id = $1", group_id)
    if row is None:
        raise NotFound(f"no group {group_id}")
    members = await conn.fetch("SELECT meter_id FROM control.group_members WHERE group_id = $1 ORDER BY meter_id",
                               group_id)
    return {**dict(row), "meter_ids": [m["meter_id"] for m in members]}


async def change_members(conn: Connection, group_id: str, add: Sequence[str], remove: Sequence[str]
                         ) -> dict[str, Any]:
    if await conn.fetchval("SELECT 1 FROM control.groups WHERE group_id = $1 FOR UPDATE", group_id) is None:
        raise NotFound(f"no group {group_id}")
    await conn.execute("INSERT INTO control.group_members (group_id, meter_id) SELECT $1, unnest($2::text[])"
                       " ON CONFLICT DO NOTHING", group_id, list(add))
    await conn.execute("DELETE FROM control.group_members WHERE group_id = $1 AND meter_id = ANY($2::text[])",
                       group_id, list(remove))
    await conn.execute("UPDATE control.groups SET updated_at = now() WHERE group_id = $1", group_id)
    return await get(conn, group_id)


async def delete(conn: Connection, group_id: str) -> None:
    if await conn.fetchval("DELETE FROM control.groups WHERE group_id = $1 RETURNING 1", group_id) is None:
        raise NotFound(f"no group {group_id}")
