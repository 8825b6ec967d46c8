"""SQL of control's device topology (kept from master data), protection marks and targets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from emms_db.connection import Connection


@dataclass(frozen=True, slots=True)
class Device:
    meter_id: str
    terminal: str | None
    pn: int | None
    port: int | None
    protocol: str
    meter_address: str
    utility: str
    customer_id: str | None
    company_id: str | None
    region_id: str | None
    category: str | None
    protection: str | None
    """The protected class in force (meter's or customer's, from master data or control's API); None: none."""
    active: bool


_SELECT = """
SELECT d.meter_id, d.terminal, d.pn, d.port, d.protocol, d.meter_address, d.utility, d.customer_id,
       COALESCE(c.company_id, d.company_id) AS company_id, c.region_id, COALESCE(d.category, c.category) AS category,
       COALESCE(pm.class, pc.class, d.protection, c.protection) AS protection, d.active
FROM control.devices d
LEFT JOIN control.customers c ON c.customer_id = d.customer_id
LEFT JOIN control.protected pm ON pm.kind = 'meter' AND pm.id = d.meter_id
LEFT JOIN control.protected pc ON pc.kind = 'customer' AND pc.id = d.customer_id
"""


def _device(row: Any) -> Device:
    return Device(**dict(row))


async def by_ids(conn: Connection, meter_ids: Sequence[str]) -> dict[str, Device]:
    rows = await conn.fetch(_SELECT + " WHERE d.meter_id = ANY($1::text[])", list(meter_ids))
    return {r["meter_id"]: _device(r) for r in rows}


async def select_ids(conn: Connection, where_sql: str, args: Sequence[Any], limit: int) -> list[str]:
    """Active meter ids matching a condition over ``d`` (devices) and ``o`` (device_owner)."""
    n = len(args) + 1
    rows = await conn.fetch(
        f"SELECT d.meter_id FROM control.devices d JOIN control.device_owner o USING (meter_id)"
        f" WHERE d.active AND ({where_sql}) ORDER BY d.meter_id LIMIT ${n}", *args, limit)
    return [r["meter_id"] for r in rows]


async def upsert_device(conn: Connection, meter_id: str, fields: dict[str, Any]) -> None:
    """Insert the meter or change only the given columns."""
    cols = ["meter_id", *fields]
    values = [meter_id, *fields.values()]
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in fields) or "meter_id = EXCLUDED.meter_id"
    await conn.execute(
        f"INSERT INTO control.devices ({', '.join(cols)}) VALUES ({placeholders})"
        f" ON CONFLICT (meter_id) DO UPDATE SET {updates}, updated_at = now()", *values)


async def upsert_customer(conn: Connection, customer_id: str, fields: dict[str, Any]) -> None:
    cols = ["customer_id", *fields]
    values = [customer_id, *fields.values()]
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in fields) or "customer_id = EXCLUDED.customer_id"
    await conn.execute(
        f"INSERT INTO control.customers ({', '.join(cols)}) VALUES ({placeholders})"
        f" ON CONFLICT (customer_id) DO UPDATE SET {updates}, updated_at = now()", *values)


async def set_region(conn: Connection, region_id: str, parent_id: str | None, has_parent: bool) -> None:
    if has_parent:
        await conn.execute(
            "INSERT INTO control.regions (region_id, parent_id) VALUES ($1, $2) ON CONFLICT (region_id)"
            " DO UPDATE SET parent_id = EXCLUDED.parent_id, updated_at = now()", region_id, parent_id)
    else:
        await conn.execute("INSERT INTO control.regions (region_id) VALUES ($1) ON CONFLICT DO NOTHING", region_id)


async def set_terminal_of_meters(conn: Connection, old: str, new: str) -> None:
    await conn.execute("UPDATE control.devices SET terminal = $2, updated_at = now() WHERE terminal = $1", old, new)


# ---- protection marks ----------------------------------------------------------------------------
async def mark(conn: Connection, kind: str, id_: str, cls: str, reason: str, by: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        "INSERT INTO control.protected (kind, id, class, reason, marked_by) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (kind, id) DO UPDATE SET class = EXCLUDED.class, reason = EXCLUDED.reason,"
        " marked_by = EXCLUDED.marked_by, marked_at = now() RETURNING *", kind, id_, cls, reason, by)
    assert row is not None
    return dict(row)


async def unmark(conn: Connection, kind: str, id_: str) -> bool:
    return await conn.fetchval("DELETE FROM control.protected WHERE kind = $1 AND id = $2 RETURNING true",
                               kind, id_) is not None


async def marks(conn: Connection, limit: int, offset: int) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT * FROM control.protected ORDER BY kind, id LIMIT $1 OFFSET $2", limit, offset)
    return [dict(r) for r in rows]


async def group_member_from_masterdata(conn: Connection, group_id: str, meter_id: str, member: bool) -> None:
    if not group_id or not meter_id:
        return
    if member:
        await conn.execute(
            "INSERT INTO control.group_members (group_id, meter_id) SELECT $1, $2"
            " WHERE EXISTS (SELECT 1 FROM control.groups WHERE group_id = $1) ON CONFLICT DO NOTHING",
            group_id, meter_id)
    else:
        await conn.execute("DELETE FROM control.group_members WHERE group_id = $1 AND meter_id = $2",
                           group_id, meter_id)
