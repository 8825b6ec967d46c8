"""SQL of the tariff in force (migration 0015): which terminals' F21 / F22 are to be read, and what was read.

The values live in ``terminal_param`` (fn 21 and 22, :mod:`emms_collector.repository.terminal_config`);
``tariff_read`` only says whether and when a read was tried.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from emms_collector.schema import SCHEMA
from emms_db.connection import Connection

FNS = (21, 22)


async def due_on_login(conn: Connection, terminals: Sequence[str]) -> int:
    """Terminals logging in whose tariff was never read (or whose last read failed) become due."""
    status = await conn.execute(
        f"""INSERT INTO {SCHEMA}.tariff_read AS r (terminal) SELECT unnest($1::text[])
            ON CONFLICT (terminal) DO UPDATE SET state = 'due', due_since = now()
            WHERE r.state = 'failed'""", list(terminals))
    return int(status.rsplit(" ", 1)[-1])


async def mark_due(conn: Connection, terminal: str) -> None:
    """Read the terminal's tariff again (its parameters were reset to the factory's)."""
    await conn.execute(
        f"""INSERT INTO {SCHEMA}.tariff_read AS r (terminal) VALUES ($1)
            ON CONFLICT (terminal) DO UPDATE SET state = 'due', due_since = now() WHERE r.state <> 'reading'""",
        terminal)


async def claim_due(conn: Connection, limit: int) -> list[str]:
    rows = await conn.fetch(
        f"""UPDATE {SCHEMA}.tariff_read SET state = 'reading'
            WHERE terminal IN (SELECT terminal FROM {SCHEMA}.tariff_read WHERE state = 'due'
                               ORDER BY due_since LIMIT $1 FOR UPDATE SKIP LOCKED)
            RETURNING terminal""", limit)
    return [r["terminal"] for r in rows]


async def restart(conn: Connection) -> None:
    """Reads in progress when a replica stopped are due again."""
    await conn.execute(f"UPDATE {SCHEMA}.tariff_read SET state = 'due' WHERE state = 'reading'")


async def note_tried(conn: Connection, terminal: str, ok: bool, detail: str) -> None:
    await conn.execute(
        f"""INSERT INTO {SCHEMA}.tariff_read (terminal, state, tried_at, detail) VALUES ($1, $2, now(), $3)
            ON CONFLICT (terminal) DO UPDATE SET state = excluded.state, tried_at = now(), detail = excluded.detail""",
        terminal, "done" if ok else "failed", detail[:500])


async def read_state(conn: Connection, terminal: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT state, tried_at, detail FROM {SCHEMA}.tariff_read WHERE terminal = $1",
                              terminal)
    return None if row is None else dict(row)


async def held(conn: Connection, terminal: str) -> dict[int, dict[str, Any]]:
    """F21 / F22 as last reported (JSON view) with ``reported_at``, and the desired value if any, by Fn."""
    rows = await conn.fetch(
        f"""SELECT fn, reported, reported_at, desired, state FROM {SCHEMA}.terminal_param
            WHERE terminal = $1 AND fn = ANY($2::int[])""", terminal, list(FNS))
    return {r["fn"]: {"reported": None if r["reported"] is None else json.loads(r["reported"]),
                      "reported_at": r["reported_at"], "state": r["state"],
                      "desired": None if r["desired"] is None else json.loads(r["desired"])} for r in rows}
