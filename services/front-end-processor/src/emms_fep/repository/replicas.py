"""``fep.replicas``: which FEP replicas are alive (a heartbeat row each)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def beat(pool: asyncpg.Pool, schema: str, replica: str, started_at: datetime, *, sessions: int,
               connections: int) -> None:
    await pool.execute(
        f"INSERT INTO {schema}.replicas (replica, started_at, last_seen, sessions, connections)"
        " VALUES ($1, $2, now(), $3, $4) ON CONFLICT (replica) DO UPDATE SET started_at = EXCLUDED.started_at,"
        " last_seen = now(), sessions = EXCLUDED.sessions, connections = EXCLUDED.connections",
        replica, started_at, sessions, connections)


async def live(pool: asyncpg.Pool, schema: str, dead_after_s: float) -> list[str]:
    rows = await pool.fetch(
        f"SELECT replica FROM {schema}.replicas WHERE last_seen > now() - make_interval(secs => $1)"
        " ORDER BY replica", dead_after_s)
    return [r["replica"] for r in rows]


async def leave(pool: asyncpg.Pool, schema: str, replica: str) -> None:
    await pool.execute(f"DELETE FROM {schema}.replicas WHERE replica = $1", replica)


async def all_replicas(pool: asyncpg.Pool, schema: str, dead_after_s: float) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"SELECT replica, started_at, last_seen, sessions, connections,"
        f" last_seen > now() - make_interval(secs => $1) AS live FROM {schema}.replicas ORDER BY replica",
        dead_after_s)
    return [dict(r) for r in rows]
