"""Detect whether TimescaleDB can be used, else fall back to native partitioning.

TimescaleDB must be both available (``pg_available_extensions``) and preloaded
(``shared_preload_libraries``); otherwise ``CREATE EXTENSION`` fails with
"extension must be preloaded". Plain PostgreSQL with native range
partitioning is the fallback and a first-class path.

Several services start at once (a Kubernetes rollout, ``make up``) and each
may be the first to find the extension missing. ``CREATE EXTENSION IF NOT
EXISTS`` is not safe under concurrency (two sessions both pass the existence
check and one fails on ``pg_extension_name_index``), so the creation runs under
a transaction-scoped advisory lock: one session creates it, the others wait
and then find it there.
"""

from __future__ import annotations

from enum import StrEnum

from emms_db.connection import Connection
from emms_db.locks import advisory_key

_EXTENSION_LOCK = advisory_key("emms.create_extension.timescaledb")


class StorageMode(StrEnum):
    TIMESCALEDB = "timescaledb"
    POSTGRESQL = "postgresql"


async def timescaledb_usable(conn: Connection) -> bool:
    """Whether the server could run TimescaleDB here (available and preloaded)."""
    available = await conn.fetchval(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    )
    preload = await conn.fetchval("SELECT current_setting('shared_preload_libraries', true)")
    return bool(available) and "timescaledb" in [lib.strip() for lib in (preload or "").split(",")]


async def detect_storage_mode(conn: Connection, *, enable: bool = True) -> StorageMode:
    """Return the active mode, creating the extension (once, under a lock) when it can be used."""
    installed = await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    if installed:
        return StorageMode.TIMESCALEDB
    if not (enable and await timescaledb_usable(conn)):
        return StorageMode.POSTGRESQL
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _EXTENSION_LOCK)
        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    return StorageMode.TIMESCALEDB
