"""Roles: the built-in ones kept in step with the code, and the roles a utility defines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from emms_db.connection import Connection
from emms_identity.model import Role
from emms_identity.schema import SCHEMA


async def sync_builtin(conn: Connection, builtin: Mapping[str, tuple[str, Sequence[str]]]) -> list[str]:
    """Make the built-in roles in the database exactly ``builtin`` (name → (description, permissions));
    return the names whose permissions changed."""
    changed: list[str] = []
    for name, (description, permissions) in builtin.items():
        row = await conn.fetchrow(
            f"INSERT INTO {SCHEMA}.roles AS r (name, description, builtin, permissions)"
            " VALUES ($1, $2, true, $3) ON CONFLICT (name) DO UPDATE"
            " SET description = excluded.description, permissions = excluded.permissions, builtin = true,"
            " company_id = NULL, updated_at = CASE WHEN r.permissions IS DISTINCT FROM excluded.permissions"
            " THEN now() ELSE r.updated_at END"
            " RETURNING (xmax = 0) AS inserted, updated_at = now() AS touched",
            name, description, sorted(permissions))
        if row and (row["inserted"] or row["touched"]):
            changed.append(name)
    return changed


async def all_roles(conn: Connection) -> list[Role]:
    rows = await conn.fetch(f"SELECT * FROM {SCHEMA}.roles ORDER BY builtin DESC, name")
    return [Role.from_row(r) for r in rows]


async def by_names(conn: Connection, names: Sequence[str]) -> list[Role]:
    rows = await conn.fetch(f"SELECT * FROM {SCHEMA}.roles WHERE name = ANY($1::text[]) ORDER BY name", list(names))
    return [Role.from_row(r) for r in rows]


async def by_name(conn: Connection, name: str) -> Role | None:
    row = await conn.fetchrow(f"SELECT * FROM {SCHEMA}.roles WHERE name = $1", name)
    return Role.from_row(row) if row else None


async def insert(conn: Connection, *, name: str, description: str, company_id: str | None,
                 permissions: Sequence[str], created_by: str, now: datetime) -> None:
    await conn.execute(f"INSERT INTO {SCHEMA}.roles (name, description, builtin, company_id, permissions,"
                       " created_by, created_at, updated_at) VALUES ($1, $2, false, $3, $4, $5, $6, $6)",
                       name, description, company_id, sorted(permissions), created_by, now)


async def update(conn: Connection, name: str, *, description: str, permissions: Sequence[str],
                 now: datetime) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.roles SET description = $2, permissions = $3, updated_at = $4"
                       " WHERE name = $1 AND NOT builtin", name, description, sorted(permissions), now)


async def delete(conn: Connection, name: str) -> None:
    await conn.execute(f"DELETE FROM {SCHEMA}.roles WHERE name = $1 AND NOT builtin", name)
