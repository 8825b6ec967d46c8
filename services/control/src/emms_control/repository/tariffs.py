"""Tariffs and their versions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from emms_control.schema import SCHEMA
from emms_db.connection import Connection
from emms_db.where import Where

S = SCHEMA


async def insert_tariff(conn: Connection, tariff_id: str, utility: str, name: str, offset: int, actor: str) -> bool:
    """False when the id is taken."""
    try:
        await conn.execute(f"INSERT INTO {S}.tariff (tariff_id, utility, name, utc_offset_minutes, created_by)"
                           " VALUES ($1, $2, $3, $4, $5)", tariff_id, utility, name, offset, actor)
    except asyncpg.UniqueViolationError:
        return False
    return True


async def insert_version(conn: Connection, tariff_id: str, number: int, effective_from: datetime,
                         definition: dict[str, Any], actor: str) -> None:
    await conn.execute(f"INSERT INTO {S}.tariff_version (tariff_id, version, effective_from, definition, created_by)"
                       " VALUES ($1, $2, $3, $4::jsonb, $5)", tariff_id, number, effective_from,
                       json.dumps(definition), actor)


async def lock_tariff(conn: Connection, tariff_id: str) -> asyncpg.Record | None:
    """The tariff row, locked against charges being priced by it meanwhile."""
    return await conn.fetchrow(f"SELECT * FROM {S}.tariff WHERE tariff_id = $1 FOR UPDATE", tariff_id)


async def share_tariffs(conn: Connection, tariff_ids: Sequence[str]) -> None:
    """Hold the tariffs' rows while charges are priced by them (no new version in between)."""
    await conn.execute(f"SELECT 1 FROM {S}.tariff WHERE tariff_id = ANY($1::text[]) ORDER BY tariff_id FOR SHARE",
                       sorted(set(tariff_ids)))


async def tariffs_with_versions(conn: Connection, tariff_ids: Sequence[str]) -> list[asyncpg.Record]:
    """Each tariff with ``versions``: JSON text of ``[{version, effective_from, definition, created_at,
    created_by}]``."""
    return await conn.fetch(
        f"SELECT t.*, coalesce((SELECT json_agg(json_build_object('version', v.version,"
        " 'effective_from', v.effective_from, 'definition', v.definition, 'created_at', v.created_at,"
        f" 'created_by', v.created_by) ORDER BY v.version) FROM {S}.tariff_version v"
        " WHERE v.tariff_id = t.tariff_id), '[]'::json)::text AS versions"
        f" FROM {S}.tariff t WHERE t.tariff_id = ANY($1::text[])", list(tariff_ids))


async def list_tariffs(conn: Connection, utility: str | None, limit: int,
                       offset: int) -> tuple[int, list[asyncpg.Record]]:
    where = Where()
    where.add_if("t.utility = {}", utility)
    total = await conn.fetchval(f"SELECT count(*) FROM {S}.tariff t WHERE {where.sql()}", *where.args)
    rows = await conn.fetch(
        f"SELECT t.*, (SELECT max(version) FROM {S}.tariff_version v WHERE v.tariff_id = t.tariff_id) AS versions,"
        f" (SELECT max(version) FROM {S}.tariff_version v WHERE v.tariff_id = t.tariff_id"
        f"  AND v.effective_from <= now()) AS version_in_force"
        f" FROM {S}.tariff t WHERE {where.sql()} ORDER BY t.tariff_id"
        f" LIMIT {where.param(limit)} OFFSET {where.param(offset)}", *where.args)
    return int(total), rows


async def latest_charge_end(conn: Connection, tariff_id: str) -> datetime | None:
    value: datetime | None = await conn.fetchval(
        f"SELECT max(end_time) FROM {S}.charge WHERE tariff_id = $1", tariff_id)
    return value


async def open_account_categories(conn: Connection, tariff_id: str) -> list[str]:
    rows = await conn.fetch(f"SELECT DISTINCT category FROM {S}.account WHERE tariff_id = $1 AND status = 'open'"
                            " ORDER BY category", tariff_id)
    return [r["category"] for r in rows]
