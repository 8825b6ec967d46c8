"""SQL of the event-queue pointers per terminal (``terminal_events``): where the next AFN 0E read of each queue
(important F1, normal F2) starts, and the terminal's last event counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_collector.schema import SCHEMA
from emms_db.connection import Connection

QUEUES = {1: ("next_important", "ec_important"), 2: ("next_normal", "ec_normal")}
"""Fn of the queue → (its next-pointer column, its event-counter column)."""


async def pointers(conn: Connection, terminal: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT * FROM {SCHEMA}.terminal_events WHERE terminal = $1", terminal)
    return dict(row) if row else None


async def advance(conn: Connection, terminal: str, fn: int, next_pointer: int, counter: int | None,
                  read_at: datetime) -> None:
    """Store where queue ``fn`` of a terminal goes on, and its event counter."""
    ptr_col, ec_col = QUEUES[fn]
    await conn.execute(
        f"INSERT INTO {SCHEMA}.terminal_events AS t (terminal, {ptr_col}, {ec_col}, read_at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (terminal) DO UPDATE SET"
        f" {ptr_col} = excluded.{ptr_col}, {ec_col} = excluded.{ec_col}, read_at = excluded.read_at",
        terminal, next_pointer, counter, read_at)


async def important_pointers(conn: Connection, terminals: list[str]) -> dict[str, int]:
    """Where the next read of each terminal's important queue starts (= the EC1 read up to)."""
    rows = await conn.fetch(f"SELECT terminal, next_important FROM {SCHEMA}.terminal_events"
                            " WHERE terminal = ANY($1::text[])", terminals)
    return {r["terminal"]: int(r["next_important"] or 0) for r in rows}
