"""Statements on ``billing_cycle``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_interface.schema import SCHEMA

_COLS = "cycle_id, company_id, utility, period_start, cutoff, created_by, created_at"


async def put_cycle(conn: Connection, cycle_id: str, company_id: str, utility: str, start: datetime,
                    cutoff: datetime, actor: str) -> dict[str, Any]:
    rec = await conn.fetchrow(
        f"INSERT INTO {SCHEMA}.billing_cycle (cycle_id, company_id, utility, period_start, cutoff, created_by)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (cycle_id) DO UPDATE SET company_id = EXCLUDED.company_id,"
        " utility = EXCLUDED.utility, period_start = EXCLUDED.period_start, cutoff = EXCLUDED.cutoff"
        f" RETURNING {_COLS}", cycle_id, company_id, utility, start, cutoff, actor)
    return dict(rec) if rec else {}


async def cycle(conn: Connection, cycle_id: str) -> dict[str, Any] | None:
    rec = await conn.fetchrow(f"SELECT {_COLS} FROM {SCHEMA}.billing_cycle WHERE cycle_id = $1", cycle_id)
    return dict(rec) if rec else None


async def cycles(conn: Connection, companies: list[str], limit: int) -> list[dict[str, Any]]:
    recs = await conn.fetch(f"SELECT {_COLS} FROM {SCHEMA}.billing_cycle"
                            " WHERE cardinality($1::text[]) = 0 OR company_id = ANY($1)"
                            " ORDER BY cutoff DESC, cycle_id LIMIT $2", companies, limit)
    return [dict(r) for r in recs]
