"""``validator.rule_overrides``: rule configuration per scope, with an audit log of every change."""

from __future__ import annotations

import json
from typing import Any

from emms_db.connection import Connection
from emms_validator.config.resolve import RuleOverride, ScopeKind, StoredOverride


async def load_overrides(conn: Connection, schema: str) -> list[StoredOverride]:
    rows = await conn.fetch(f"SELECT scope, scope_value, rule, override::text AS override"
                            f" FROM {schema}.rule_overrides ORDER BY scope, scope_value, rule")
    return [StoredOverride(ScopeKind(r["scope"]), r["scope_value"], r["rule"],
                           RuleOverride.model_validate_json(r["override"])) for r in rows]


async def list_overrides(conn: Connection, schema: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT scope, scope_value, rule, override::text AS override, updated_by, updated_at"
                            f" FROM {schema}.rule_overrides ORDER BY scope, scope_value, rule")
    return [{**dict(r), "override": json.loads(r["override"])} for r in rows]


async def put_override(conn: Connection, schema: str, scope: ScopeKind, scope_value: str, rule: str,
                       override: RuleOverride, actor: str) -> None:
    body = override.model_dump_json(exclude_none=True)
    async with conn.transaction():
        await conn.execute(
            f"INSERT INTO {schema}.rule_overrides (scope, scope_value, rule, override, updated_by)"
            " VALUES ($1, $2, $3, $4::jsonb, $5) ON CONFLICT (scope, scope_value, rule) DO UPDATE"
            " SET override = EXCLUDED.override, updated_by = EXCLUDED.updated_by, updated_at = now()",
            scope.value, scope_value, rule, body, actor)
        await conn.execute(f"INSERT INTO {schema}.rule_override_log (scope, scope_value, rule, override, actor)"
                           " VALUES ($1, $2, $3, $4::jsonb, $5)", scope.value, scope_value, rule, body, actor)


async def delete_override(conn: Connection, schema: str, scope: ScopeKind, scope_value: str, rule: str,
                          actor: str) -> bool:
    async with conn.transaction():
        result = await conn.execute(f"DELETE FROM {schema}.rule_overrides WHERE scope = $1 AND scope_value = $2"
                                    " AND rule = $3", scope.value, scope_value, rule)
        if result.split()[-1] == "0":
            return False
        await conn.execute(f"INSERT INTO {schema}.rule_override_log (scope, scope_value, rule, override, actor)"
                           " VALUES ($1, $2, $3, NULL, $4)", scope.value, scope_value, rule, actor)
    return True


async def override_log(conn: Connection, schema: str, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT id, scope, scope_value, rule, override::text AS override, actor, at"
                            f" FROM {schema}.rule_override_log ORDER BY id DESC LIMIT $1", limit)
    return [{**dict(r), "override": json.loads(r["override"]) if r["override"] else None} for r in rows]
