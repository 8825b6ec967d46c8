"""Statements on ``notice``: outage notices and tariff changes published to customers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_interface.schema import SCHEMA

_COLS = "notice_id, kind, utility, companies, regions, title, body, valid_from, valid_to, created_by, created_at"


def _row(rec: Any) -> dict[str, Any]:
    row = dict(rec)
    row["companies"] = list(row["companies"])
    row["regions"] = list(row["regions"])
    return row


async def add(conn: Connection, *, kind: str, utility: str | None, companies: list[str], regions: list[str],
              title: str, body: str, valid_from: datetime, valid_to: datetime | None, actor: str) -> dict[str, Any]:
    rec = await conn.fetchrow(
        f"INSERT INTO {SCHEMA}.notice (kind, utility, companies, regions, title, body, valid_from, valid_to,"
        f" created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_COLS}",
        kind, utility, companies, regions, title, body, valid_from, valid_to, actor)
    return _row(rec)


async def current(conn: Connection, *, at: datetime, companies: list[str] | None, regions: list[str] | None,
                  utilities: list[str] | None, limit: int) -> list[dict[str, Any]]:
    """Notices in force at ``at`` that reach the given companies / regions / utilities (a notice with none
    of a kind reaches everyone of that kind); ``None`` = no filter."""
    recs = await conn.fetch(
        f"SELECT {_COLS} FROM {SCHEMA}.notice WHERE valid_from <= $1 AND (valid_to IS NULL OR valid_to > $1)"
        " AND ($2::text[] IS NULL OR cardinality(companies) = 0 OR companies && $2)"
        " AND ($3::text[] IS NULL OR cardinality(regions) = 0 OR regions && $3)"
        " AND ($4::text[] IS NULL OR utility IS NULL OR utility = ANY($4))"
        " ORDER BY valid_from DESC, notice_id DESC LIMIT $5", at, companies, regions, utilities, limit)
    return [_row(r) for r in recs]
