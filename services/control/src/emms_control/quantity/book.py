"""Setting and showing a device's quantity control.

Scope: a caller restricted to companies sees and sets only devices whose company the topology
(``control.devices``) names as one of them; an unknown device is outside every restricted scope.
Setting replaces the device's limits (an empty list removes quantity control) and restarts its
counters (the next reading is the new base).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from emms_control.commands import record_parameter_change
from emms_control.quantity.bodies import QuantityBody
from emms_control.repository import prepayment as actions_repo
from emms_control.repository import quantity as repo
from emms_control.schema import SCHEMA
from emms_db.connection import Connection
from emms_runtime import NotFound, Principal


async def _in_scope(conn: Connection, meter_id: str, principal: Principal) -> bool:
    if not (principal.companies or principal.regions or principal.customers):
        return True
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{SCHEMA}.devices"):
        return False
    row = await conn.fetchrow(f"SELECT company_id, customer_id FROM {SCHEMA}.devices WHERE meter_id = $1", meter_id)
    if row is None:
        return False
    return ((not principal.companies or row["company_id"] in principal.companies)
            and (not principal.customers or row["customer_id"] in principal.customers)
            and not principal.regions)


async def configure(pool: asyncpg.Pool, meter_id: str, body: QuantityBody, principal: Principal) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        if not await _in_scope(conn, meter_id, principal):
            raise NotFound(f"no device {meter_id!r} in your data scope")
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('quantity:' || $1))", meter_id)
        before = [{k: r[k] for k in ("period", "usage_limit", "action")} for r in await repo.limits(conn, [meter_id])]
        await repo.delete_limits(conn, meter_id)
        for limit in body.limits:
            await repo.put_limit(conn, meter_id, {"period": limit.period.value, "utility": body.utility,
                                                  "usage_limit": limit.usage_limit, "action": limit.action.value,
                                                  "utc_offset_minutes": body.utc_offset_minutes}, principal.subject)
        await record_parameter_change(conn, who=principal.subject, what="quantity_limits", origin="manual",
                                      meter_id=meter_id, before=before, after=body.model_dump(mode="json"))
        return await _view(conn, meter_id)


async def describe(conn: Connection, meter_id: str, principal: Principal) -> dict[str, Any]:
    if not await _in_scope(conn, meter_id, principal):
        raise NotFound(f"no device {meter_id!r} in your data scope")
    return await _view(conn, meter_id)


async def _view(conn: Connection, meter_id: str) -> dict[str, Any]:
    limits = await repo.limits(conn, [meter_id])
    return {"meter_id": meter_id, "utility": limits[0]["utility"] if limits else None,
            "utc_offset_minutes": limits[0]["utc_offset_minutes"] if limits else None,
            "limits": [dict(r) for r in limits],
            "counters": [dict(r) for r in await repo.counter_rows(conn, meter_id)],
            "exceeded": [dict(r) for r in await repo.exceeded(conn, meter_id, 100)],
            "actions": [{**dict(r), "action_id": str(r["action_id"])}
                        for r in await actions_repo.actions_of(conn, meter_id=meter_id, limit=100)
                        if r["origin"] == "quantity"]}
