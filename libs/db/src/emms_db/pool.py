"""asyncpg pool creation and database bootstrap."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg

from emms_db.settings import DatabaseSettings


def _server_url(url: str) -> tuple[str, str]:
    """Split a database URL into (URL of the ``postgres`` maintenance db, database name)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "postgres"
    return urlunsplit(parts._replace(path="/postgres")), name


async def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` if it does not exist; True if created."""
    server, name = _server_url(url)
    conn = await asyncpg.connect(server)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    """Drop the database named in ``url`` (tests), terminating its connections."""
    server, name = _server_url(url)
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def create_pool(settings: DatabaseSettings) -> asyncpg.Pool:
    """Open the pool, creating the database first when allowed."""
    if settings.create_if_missing:
        await ensure_database(settings.url)
    pool = await asyncpg.create_pool(
        settings.url,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        command_timeout=settings.command_timeout_s,
    )
    assert pool is not None
    return pool
