"""SQL of the master data the collector keeps (customers, terminals, regions, custom-group members) and of the
measurement-point changes they cause (a customer's region and category, a terminal's new address, a replaced
meter)."""

from __future__ import annotations

from typing import Any

from emms_collector.schema import SCHEMA
from emms_db.connection import Connection


async def upsert_customer(conn: Connection, customer_id: str, region_id: Any, category: Any, utility: Any,
                          company_id: Any) -> None:
    """Store a customer and give its points the customer's region and category."""
    await conn.execute(
        f"INSERT INTO {SCHEMA}.md_customer (id, region_id, category, utility, company_id)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET region_id = excluded.region_id,"
        " category = excluded.category, utility = excluded.utility, company_id = excluded.company_id",
        customer_id, region_id, category, utility, company_id)
    await conn.execute(f"UPDATE {SCHEMA}.point SET region_id = $2, category = $3, company_id = $4"
                       " WHERE customer_id = $1", customer_id, region_id, category, company_id)


async def customer_scope(conn: Connection, customer_id: Any) -> tuple[str | None, str | None, str | None] | None:
    """(region, category, company) of a customer, None if unknown."""
    row = await conn.fetchrow(f"SELECT region_id, category, company_id FROM {SCHEMA}.md_customer WHERE id = $1",
                              customer_id)
    return (row["region_id"], row["category"], row["company_id"]) if row else None


async def deactivate_replaced(conn: Connection, metering_point_id: Any, meter_id: str) -> list[str]:
    """A replacement: the point's other (old) meters are no longer read; their ids."""
    rows = await conn.fetch(f"UPDATE {SCHEMA}.point SET active = false, updated_at = now()"
                            " WHERE metering_point_id = $1 AND meter_id <> $2 AND active RETURNING meter_id",
                            metering_point_id, meter_id)
    return [r["meter_id"] for r in rows]


async def upsert_terminal(conn: Connection, terminal_id: str, address: Any, key: str | None, region_id: Any,
                          status: Any, company_id: Any = None) -> None:
    """Store a terminal; when its bus address changed, its points move to the new one."""
    old = await conn.fetchval(f"SELECT terminal FROM {SCHEMA}.md_terminal WHERE id = $1", terminal_id)
    await conn.execute(
        f"INSERT INTO {SCHEMA}.md_terminal (id, address, terminal, region_id, status, company_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (id) DO UPDATE SET address = excluded.address, terminal = excluded.terminal,"
        " region_id = excluded.region_id, status = excluded.status, company_id = excluded.company_id",
        terminal_id, address, key, region_id, status, company_id)
    if old and key and old != key:
        await conn.execute(f"UPDATE {SCHEMA}.point SET terminal = $2, updated_at = now() WHERE terminal = $1",
                           old, key)


async def set_group_member(conn: Connection, group_id: Any, member_kind: Any, member_id: Any, *,
                           member: bool) -> None:
    """Add (``member``) or remove one member of a custom group."""
    if member:
        await conn.execute(f"INSERT INTO {SCHEMA}.md_group_member (group_id, member_kind, member_id)"
                           " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", group_id, member_kind, member_id)
    else:
        await conn.execute(f"DELETE FROM {SCHEMA}.md_group_member WHERE group_id = $1 AND member_kind = $2"
                           " AND member_id = $3", group_id, member_kind, member_id)


async def set_region(conn: Connection, region_id: str, parent_id: Any) -> None:
    """Keep a region's place in the tree (a removed region keeps it: what lies below it stays below it)."""
    await conn.execute(f"INSERT INTO {SCHEMA}.md_region (id, parent_id) VALUES ($1, $2)"
                       " ON CONFLICT (id) DO UPDATE SET parent_id = excluded.parent_id", region_id, parent_id)
