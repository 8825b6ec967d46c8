"""SQL of master-data entities, generic over :data:`~emms_archive.masterdata.entities.ENTITIES`.

Upserts are set-based: the records travel as one JSON array, are expanded with
``jsonb_populate_recordset`` and written with ``INSERT … ON CONFLICT (key) DO UPDATE … WHERE
the row differs``. So a record that did not change is not touched (no ``updated_at`` bump, no
audit row, no bus message): applying the same import twice changes nothing. The audit and
outbox rows are written by the same statement.
"""

from __future__ import annotations

import json
from typing import Any

from emms_archive.audit import Change
from emms_archive.masterdata.entities import EntitySpec
from emms_archive.schema import SCHEMA
from emms_archive.scope import Scope
from emms_db.connection import Connection
from emms_db.where import Where


def _key_expr(spec: EntitySpec, alias: str) -> str:
    parts = [f"{alias}.{k}::text" for k in spec.key]
    return parts[0] if len(parts) == 1 else f"concat_ws('/', {', '.join(parts)})"


def upsert_sql(spec: EntitySpec) -> str:
    """The statement that upserts ``$1`` (JSON array of records) and audits as ``$2`` (actor)."""
    cols = ", ".join(spec.columns)
    keys = ", ".join(spec.key)
    nonkey = [c for c in spec.columns if c not in spec.key]
    if nonkey:
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in nonkey)
        old = ", ".join("t." + c for c in nonkey)
        new = ", ".join("EXCLUDED." + c for c in nonkey)
        differs = f"({old}) IS DISTINCT FROM ({new})"
        conflict = f"DO UPDATE SET {sets}, updated_at = now() WHERE {differs}"
    else:
        conflict = "DO NOTHING"
    match = " AND ".join(f"o.{k} = up.{k}" for k in spec.key)
    table = f"{SCHEMA}.{spec.table}"
    return f"""
WITH src AS (SELECT {cols} FROM jsonb_populate_recordset(NULL::{table}, $1::jsonb)),
old AS (SELECT t.* FROM {table} t JOIN src USING ({keys})),
up AS (
    INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM src
    ON CONFLICT ({keys}) {conflict}
    RETURNING t.*, (xmax = 0) AS inserted
),
aud AS (
    INSERT INTO {SCHEMA}.audit_log (actor, entity, entity_id, action, before, after)
    SELECT $2, '{spec.name}', {_key_expr(spec, 'up')}, CASE WHEN up.inserted THEN 'created' ELSE 'updated' END,
           (SELECT to_jsonb(o) FROM old o WHERE {match}), to_jsonb(up) - 'inserted'
    FROM up
    RETURNING change_id, entity_id, action
),
ob AS (INSERT INTO {SCHEMA}.outbox (change_id) SELECT change_id FROM aud)
SELECT change_id, entity_id, action FROM aud"""


async def upsert(conn: Connection, spec: EntitySpec, records: list[dict[str, Any]], actor: str) -> list[Change]:
    """Insert new and update changed records; return one audited change per row that changed."""
    if not records:
        return []
    rows = await conn.fetch(upsert_sql(spec), json.dumps(records, default=str), actor)
    return [Change(r["change_id"], spec.name, r["entity_id"], r["action"]) for r in rows]


def _key_where(spec: EntitySpec, key: tuple[str, ...], where: Where, alias: str = "t") -> None:
    for column, value in zip(spec.key, key, strict=True):
        where.add(f"{alias}.{column}::text = {{}}", value)


async def get(conn: Connection, spec: EntitySpec, key: tuple[str, ...],
              scope: Scope | None = None) -> dict[str, Any] | None:
    where = Where()
    _key_where(spec, key, where)
    if scope is not None:
        scope.restrict(spec.scope, "t", where, has_region=spec.has_region)
    row = await conn.fetchrow(f"SELECT t.* FROM {SCHEMA}.{spec.table} t WHERE {where.sql()}", *where.args)
    return dict(row) if row else None


async def list_rows(conn: Connection, spec: EntitySpec, *, filters: dict[str, str], scope: Scope,
                    after: tuple[str, ...] | None, limit: int) -> list[dict[str, Any]]:
    """Rows in key order, equality-filtered on columns, inside the scope; keyset-paged."""
    where = Where()
    for column, value in filters.items():
        where.add(f"t.{column}::text = {{}}", value)
    if after is not None:
        cols = ", ".join(f"t.{k}::text" for k in spec.key)
        values = ", ".join("{}" for _ in spec.key)
        where.add(f"({cols}) > ({values})" if len(spec.key) > 1 else f"{cols} > {values}", *after)
    scope.restrict(spec.scope, "t", where, has_region=spec.has_region)
    order = ", ".join(f"t.{k}::text" for k in spec.key)
    rows = await conn.fetch(f"SELECT t.* FROM {SCHEMA}.{spec.table} t WHERE {where.sql()}"
                            f" ORDER BY {order} LIMIT {int(limit)}", *where.args)
    return [dict(r) for r in rows]


async def remove(conn: Connection, spec: EntitySpec, key: tuple[str, ...], actor: str) -> Change | None:
    """Mark the row removed (entities with a status) or delete it (links); audited and published."""
    where = Where()
    _key_where(spec, key, where)
    table = f"{SCHEMA}.{spec.table}"
    if spec.soft_delete:
        sql = (f"WITH old AS (SELECT t.* FROM {table} t WHERE {where.sql()} AND t.status <> 'removed' FOR UPDATE),"
               f" up AS (UPDATE {table} t SET status = 'removed', updated_at = now() FROM old"
               f"  WHERE {' AND '.join(f't.{k} = old.{k}' for k in spec.key)} RETURNING t.*)"
               f" SELECT (SELECT to_jsonb(old) FROM old) AS before, (SELECT to_jsonb(up) FROM up) AS after")
    else:
        sql = (f"WITH up AS (DELETE FROM {table} t WHERE {where.sql()} RETURNING t.*)"
               f" SELECT (SELECT to_jsonb(up) FROM up) AS before, NULL::jsonb AS after")
    row = await conn.fetchrow(sql, *where.args)
    if row is None or row["before"] is None:
        return None
    change_id = await conn.fetchval(
        f"WITH aud AS (INSERT INTO {SCHEMA}.audit_log (actor, entity, entity_id, action, before, after)"
        f" VALUES ($1, $2, $3, 'removed', $4::jsonb, $5::jsonb) RETURNING change_id),"
        f" ob AS (INSERT INTO {SCHEMA}.outbox (change_id) SELECT change_id FROM aud)"
        f" SELECT change_id FROM aud",
        actor, spec.name, spec.entity_id(key), row["before"], row["after"])
    return Change(change_id, spec.name, spec.entity_id(key), "removed")
