"""SQL of terminal classes: per class the clock tolerance and the ERC codes that count as important.

A terminal's class is its master-data ``model`` when a class of that name exists, else its ``kind``.
"""

from __future__ import annotations

from typing import Any

from emms_collector.schema import SCHEMA
from emms_db.connection import Connection


def tolerance_sql(terminal_col: str, default_param: str) -> str:
    """A SQL expression: the clock tolerance of the terminal in ``terminal_col`` (``default_param`` when its
    class sets none)."""
    return (f"coalesce((SELECT coalesce(m.clock_tolerance_s, k.clock_tolerance_s)"
            f" FROM {SCHEMA}.md_terminal t"
            f" LEFT JOIN {SCHEMA}.terminal_class m ON m.class = t.model"
            f" LEFT JOIN {SCHEMA}.terminal_class k ON k.class = t.kind"
            f" WHERE t.terminal = {terminal_col} LIMIT 1), {default_param})")


async def put(conn: Connection, name: str, clock_tolerance_s: float | None, important_ercs: list[int] | None,
              by: str) -> dict[str, Any]:
    row = await conn.fetchrow(
        f"INSERT INTO {SCHEMA}.terminal_class (class, clock_tolerance_s, important_ercs, updated_by)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (class) DO UPDATE SET clock_tolerance_s = excluded.clock_tolerance_s,"
        " important_ercs = excluded.important_ercs, updated_by = excluded.updated_by, updated_at = now()"
        " RETURNING *", name, clock_tolerance_s, important_ercs, by)
    return dict(row) if row else {}


async def remove(conn: Connection, name: str) -> bool:
    return bool(await conn.fetchval(f"DELETE FROM {SCHEMA}.terminal_class WHERE class = $1 RETURNING true", name))


async def all_classes(conn: Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT * FROM {SCHEMA}.terminal_class ORDER BY class")
    return [dict(r) for r in rows]


async def tolerance_of(conn: Connection, terminal: str, default_s: float) -> float:
    return float(await conn.fetchval(f"SELECT {tolerance_sql('$1', '$2::float8')}", terminal, default_s))


async def important_ercs_of(conn: Connection, terminal: str) -> set[int] | None:
    """The ERC codes that count as important for the terminal's class; None when its class sets none."""
    codes = await conn.fetchval(
        f"SELECT coalesce(m.important_ercs, k.important_ercs) FROM {SCHEMA}.md_terminal t"
        f" LEFT JOIN {SCHEMA}.terminal_class m ON m.class = t.model"
        f" LEFT JOIN {SCHEMA}.terminal_class k ON k.class = t.kind WHERE t.terminal = $1 LIMIT 1", terminal)
    return None if codes is None else {int(c) for c in codes}


async def note_terminal_class(conn: Connection, terminal_id: str, kind: Any, model: Any) -> None:
    """A terminal's kind and model from its master-data change (what its class is looked up by)."""
    await conn.execute(f"UPDATE {SCHEMA}.md_terminal SET kind = $2, model = $3 WHERE id = $1", terminal_id,
                       None if kind is None else str(kind), None if model is None else str(model))


async def get(conn: Connection, name: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT * FROM {SCHEMA}.terminal_class WHERE class = $1", name)
    return dict(row) if row else None


async def terminals_of(conn: Connection, name: str) -> list[str]:
    """The terminals whose class is ``name``: their model, or their kind when no class names their model."""
    rows = await conn.fetch(
        f"SELECT t.terminal FROM {SCHEMA}.md_terminal t WHERE t.terminal IS NOT NULL AND (t.model = $1 OR"
        f" (t.kind = $1 AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.terminal_class m WHERE m.class = t.model)))"
        " ORDER BY t.terminal", name)
    return [r["terminal"] for r in rows]
