"""The inbox of an idempotent consumer: which message ids it has already applied.

Use inside the same transaction as the effect::

    async with conn.transaction():
        fresh = await claim(conn, "archive", "readings", [m.message_id for m in batch])
        ... apply only the messages whose id is in ``fresh`` ...

A redelivered message finds its id already there and is skipped. The table is
created by :func:`inbox_ddl` in each service's first migration.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from emms_db.connection import Connection


def inbox_ddl(schema: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {schema}.inbox ("
        " consumer text NOT NULL, message_id uuid NOT NULL,"
        " received_at timestamptz NOT NULL DEFAULT now(),"
        " PRIMARY KEY (consumer, message_id))"
    )


async def claim(conn: Connection, schema: str, consumer: str,
                message_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Record ``message_ids`` for ``consumer``; return those not seen before."""
    if not message_ids:
        return set()
    rows = await conn.fetch(
        f"INSERT INTO {schema}.inbox (consumer, message_id)"
        " SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING message_id",
        consumer, list(message_ids),
    )
    return {r["message_id"] for r in rows}


async def purge(conn: Connection, schema: str, older_than_days: int) -> int:
    """Drop inbox rows older than the topics' retention (nothing can redeliver them)."""
    result = await conn.execute(
        f"DELETE FROM {schema}.inbox WHERE received_at < now() - make_interval(days => $1)",
        older_than_days,
    )
    return int(result.split()[-1])
