"""``validator.meters``, ``customers``, ``regions``, ``key_customers`` and ``key_customer_rules``: master data
VEE keeps (attributes for the rules, owners for the caller's scope)."""

from __future__ import annotations

import json
from typing import Any

from emms_db.connection import Connection
from emms_db.where import Where
from emms_validator.masterdata import CustomerChange, InstallationChange, MeterChange, RegionChange
from emms_validator.scope import Scope
from emms_validator.state import MeterState

_COLUMNS = ("utility", "meter_type", "customer_id", "customer_category", "register_modulus", "multiplier", "active",
            "company_id")


async def lock_meter_state(conn: Connection, schema: str, meter_id: str) -> MeterState:
    """The meter's event state, its row created and locked for this transaction."""
    await conn.execute(f"INSERT INTO {schema}.meters (meter_id) VALUES ($1) ON CONFLICT DO NOTHING", meter_id)
    raw = await conn.fetchval(f"SELECT state::text FROM {schema}.meters WHERE meter_id = $1 FOR UPDATE", meter_id)
    return MeterState.from_json(json.loads(raw))


async def save_meter_state(conn: Connection, schema: str, meter_id: str, state: MeterState) -> None:
    await conn.execute(f"UPDATE {schema}.meters SET state = $2::jsonb, updated_at = now() WHERE meter_id = $1",
                       meter_id, json.dumps(state.to_json()))


async def apply_meter_change(conn: Connection, schema: str, change: MeterChange) -> None:
    state = await lock_meter_state(conn, schema, change.meter_id)
    fields = {k: v for k, v in change.fields.items() if k in _COLUMNS}
    if fields:
        sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(fields, start=2))
        await conn.execute(f"UPDATE {schema}.meters SET {sets}, updated_at = now() WHERE meter_id = $1",
                           change.meter_id, *fields.values())
    if change.replaced_at is not None:
        state.replaced(change.replaced_at.timestamp(), change.start_value)
        await save_meter_state(conn, schema, change.meter_id, state)


async def apply_customer_change(conn: Connection, schema: str, change: CustomerChange, actor: str) -> None:
    await _put_owner(conn, schema, change)
    if change.category is not None:
        await conn.execute(f"UPDATE {schema}.meters SET customer_category = $2 WHERE customer_id = $1",
                           change.customer_id, change.category)
    if change.key is True:
        await mark_key(conn, schema, change.customer_id, "manual", "marked key in the archive", actor)
    elif change.key is False:
        await conn.execute(f"DELETE FROM {schema}.key_customers WHERE customer_id = $1 AND source = 'manual'",
                           change.customer_id)


async def _put_owner(conn: Connection, schema: str, change: CustomerChange) -> None:
    """The customer's company and region; a change that carries neither leaves them as they are."""
    if change.company_id is None and change.region_id is None:
        return
    await conn.execute(
        f"INSERT INTO {schema}.customers (customer_id, company_id, region_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (customer_id) DO UPDATE SET company_id = COALESCE(EXCLUDED.company_id, customers.company_id),"
        " region_id = COALESCE(EXCLUDED.region_id, customers.region_id), updated_at = now()",
        change.customer_id, change.company_id, change.region_id)


async def apply_installation_change(conn: Connection, schema: str, change: InstallationChange) -> None:
    """A meter on a customer's point belongs to that customer from now on. Taking it off keeps the last
    owner: its history stays with the customer it measured until it is put on another point."""
    if change.removed or change.customer is None:
        return
    await _put_owner(conn, schema, change.customer)
    await conn.execute(f"INSERT INTO {schema}.meters (meter_id) VALUES ($1) ON CONFLICT DO NOTHING", change.meter_id)
    await conn.execute(
        f"UPDATE {schema}.meters SET customer_id = $2, customer_category = COALESCE($3, customer_category),"
        " utility = COALESCE($4, utility), company_id = COALESCE($5, company_id), updated_at = now()"
        " WHERE meter_id = $1", change.meter_id, change.customer.customer_id, change.customer.category,
        change.utility, change.customer.company_id)


async def apply_region_change(conn: Connection, schema: str, change: RegionChange) -> None:
    await conn.execute(
        f"INSERT INTO {schema}.regions (region_id, parent_id) VALUES ($1, $2) ON CONFLICT (region_id) DO UPDATE"
        " SET parent_id = CASE WHEN $3 THEN EXCLUDED.parent_id ELSE regions.parent_id END, updated_at = now()",
        change.region_id, change.parent_id, change.has_parent)


async def mark_key(conn: Connection, schema: str, customer_id: str, source: str, reason: str, actor: str) -> bool:
    """Mark a customer as key; a manual mark replaces a rule's, never the other way round."""
    result = await conn.execute(
        f"INSERT INTO {schema}.key_customers (customer_id, source, reason, marked_by) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (customer_id) DO UPDATE SET source = EXCLUDED.source, reason = EXCLUDED.reason,"
        " marked_by = EXCLUDED.marked_by, marked_at = now()"
        " WHERE EXCLUDED.source = 'manual' OR key_customers.source = 'rule'",
        customer_id, source, reason, actor)
    return _affected(result) == 1


async def unmark_key(conn: Connection, schema: str, customer_id: str) -> bool:
    result = await conn.execute(f"DELETE FROM {schema}.key_customers WHERE customer_id = $1", customer_id)
    return _affected(result) == 1


async def list_key_customers(conn: Connection, schema: str, limit: int, offset: int,
                             scope: Scope | None = None) -> list[dict[str, Any]]:
    """Key customers (in ``scope``, when given), with how many meters each has."""
    where = Where()
    if scope is not None:
        scope.restrict_customers("k.customer_id", where)
    rows = await conn.fetch(
        f"SELECT k.*, (SELECT count(*) FROM {schema}.meters m WHERE m.customer_id = k.customer_id) AS meters"
        f" FROM {schema}.key_customers k WHERE {where.sql()} ORDER BY customer_id"
        f" LIMIT {where.param(limit)} OFFSET {where.param(offset)}", *where.args)
    return [dict(r) for r in rows]


async def list_key_rules(conn: Connection, schema: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT * FROM {schema}.key_customer_rules ORDER BY rule_id")
    return [dict(r) for r in rows]


async def put_key_rule(conn: Connection, schema: str, rule_id: str, category: str | None, utility: str | None,
                       min_daily: float | None, actor: str) -> None:
    await conn.execute(
        f"INSERT INTO {schema}.key_customer_rules (rule_id, customer_category, utility, min_daily_consumption,"
        " created_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (rule_id) DO UPDATE SET"
        " customer_category = EXCLUDED.customer_category, utility = EXCLUDED.utility,"
        " min_daily_consumption = EXCLUDED.min_daily_consumption, created_by = EXCLUDED.created_by,"
        " created_at = now()", rule_id, category, utility, min_daily, actor)


async def delete_key_rule(conn: Connection, schema: str, rule_id: str) -> bool:
    result = await conn.execute(f"DELETE FROM {schema}.key_customer_rules WHERE rule_id = $1", rule_id)
    return _affected(result) == 1


async def meter_row(conn: Connection, schema: str, meter_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT meter_id, {', '.join(_COLUMNS)}, state::text AS state, updated_at"
                              f" FROM {schema}.meters WHERE meter_id = $1", meter_id)
    if row is None:
        return None
    out = dict(row)
    out["state"] = json.loads(out["state"])
    return out


def _affected(status: str) -> int:
    """Rows affected, from a command status such as ``INSERT 0 1`` or ``DELETE 1``."""
    return int(status.split()[-1])
