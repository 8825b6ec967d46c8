"""Report definitions and their versions (``definition``, ``definition_version``)."""

from __future__ import annotations

import json
from typing import Any

from emms_db.connection import Connection
from emms_reports.schema import SCHEMA


async def create(conn: Connection, definition_id: str, name: str, body: dict[str, Any], actor: str) -> None:
    await conn.execute(f"INSERT INTO {SCHEMA}.definition (definition_id, name, latest, created_by)"
                       " VALUES ($1, $2, 1, $3)", definition_id, name, actor)
    await conn.execute(f"INSERT INTO {SCHEMA}.definition_version (definition_id, version, body, changed_by)"
                       " VALUES ($1, 1, $2::jsonb, $3)", definition_id, json.dumps(body), actor)


async def lock_latest(conn: Connection, definition_id: str) -> int | None:
    """The latest version, the row locked for a new version (None: no such live definition)."""
    value = await conn.fetchval(f"SELECT latest FROM {SCHEMA}.definition WHERE definition_id = $1"
                                " AND deleted_at IS NULL FOR UPDATE", definition_id)
    return int(value) if value is not None else None


async def add_version(conn: Connection, definition_id: str, version: int, name: str, body: dict[str, Any],
                      actor: str) -> None:
    await conn.execute(f"INSERT INTO {SCHEMA}.definition_version (definition_id, version, body, changed_by)"
                       " VALUES ($1, $2, $3::jsonb, $4)", definition_id, version, json.dumps(body), actor)
    await conn.execute(f"UPDATE {SCHEMA}.definition SET latest = $2, name = $3 WHERE definition_id = $1",
                       definition_id, version, name)


async def get(conn: Connection, definition_id: str, version: int | None = None) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT d.definition_id, d.name, d.latest, d.created_by, d.created_at, v.version, v.body, v.changed_by,"
        f" v.changed_at FROM {SCHEMA}.definition d JOIN {SCHEMA}.definition_version v"
        f" ON v.definition_id = d.definition_id AND v.version = coalesce($2, d.latest)"
        f" WHERE d.definition_id = $1 AND d.deleted_at IS NULL", definition_id, version)
    return _row(row) if row is not None else None


async def listing(conn: Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT d.definition_id, d.name, d.latest, d.created_by, d.created_at, v.version, v.body, v.changed_by,"
        f" v.changed_at FROM {SCHEMA}.definition d JOIN {SCHEMA}.definition_version v"
        f" ON v.definition_id = d.definition_id AND v.version = d.latest"
        f" WHERE d.deleted_at IS NULL ORDER BY d.created_at, d.definition_id")
    return [_row(r) for r in rows]


async def versions(conn: Connection, definition_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT version, changed_by, changed_at, body FROM {SCHEMA}.definition_version"
                            " WHERE definition_id = $1 ORDER BY version", definition_id)
    return [{**dict(r), "body": json.loads(r["body"])} for r in rows]


async def delete(conn: Connection, definition_id: str) -> bool:
    done = await conn.execute(f"UPDATE {SCHEMA}.definition SET deleted_at = now() WHERE definition_id = $1"
                              " AND deleted_at IS NULL", definition_id)
    return bool(done.endswith(" 1"))


def _row(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["body"] = json.loads(out["body"])
    return out
