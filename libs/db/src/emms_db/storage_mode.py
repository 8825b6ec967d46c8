"""Detect whether TimescaleDB can be used, else fall back to native partitioning.

TimescaleDB must be both available (``pg_available_extensions``) and preloaded
(``shared_preload_libraries``); otherwise ``CREATE EXTENSION`` fails with
"extension must be preloaded". Plain PostgreSQL with native range
partitioning is the fallback and a first-class path.
"""

from __future__ import annotations

from enum import StrEnum

from emms_db.connection import Connection


class StorageMode(StrEnum):
    TIMESCALEDB = "timescaledb"
    POSTGRESQL = "postgresql"


async def detect_storage_mode(conn: Connection, *, enable: bool = True) -> StorageMode:
    """Return the active mode, creating the extension when it can be used."""
    installed = await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    if installed:
        return StorageMode.TIMESCALEDB
    available = await conn.fetchval(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    )
    preload = await conn.fetchval("SELECT current_setting('shared_preload_libraries', true)")
    preloaded = "timescaledb" in [lib.strip() for lib in (preload or "").split(",")]
    if not (enable and available and preloaded):
        return StorageMode.POSTGRESQL
    await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    return StorageMode.TIMESCALEDB
