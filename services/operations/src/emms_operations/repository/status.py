"""The database's own figures for the operating status."""

from __future__ import annotations

from typing import Any

from emms_db.connection import Connection


async def database(conn: Connection) -> dict[str, Any]:
    row = await conn.fetchrow(
        "SELECT pg_database_size(current_database())::bigint AS size_bytes,"
        " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database())::int AS connections,"
        " current_setting('max_connections')::int AS max_connections,"
        " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        "   AND state = 'active' AND now() - query_start > interval '60 seconds')::int AS long_queries")
    assert row is not None
    return dict(row)
