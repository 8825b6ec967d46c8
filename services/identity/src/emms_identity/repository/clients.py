"""API clients (other systems, R-4.7): lookups, listing in scope, writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_db.where import Where
from emms_identity.model import Client
from emms_identity.schema import SCHEMA

_EDITABLE = {"name", "trust_level", "roles", "companies", "regions", "disabled"}


async def by_id(conn: Connection, client_id: str, *, for_update: bool = False) -> Client | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT * FROM {SCHEMA}.api_clients WHERE client_id = $1{lock}", client_id)
    return Client.from_row(row) if row else None


async def listing(conn: Connection, *, within: Mapping[str, Sequence[str]], after: str | None,
                  limit: int) -> list[Client]:
    """Clients by id; ``within``: as :func:`emms_identity.repository.users.listing` (companies, regions)."""
    where = Where()
    for column, values in within.items():
        if values and column in ("companies", "regions"):
            where.add(f"cardinality({column}) > 0 AND {column} <@ {{}}::text[]", list(values))
    where.add_if("client_id > {}", after)
    rows = await conn.fetch(f"SELECT * FROM {SCHEMA}.api_clients WHERE {where.sql()} ORDER BY client_id"
                            f" LIMIT {int(limit)}", *where.args)
    return [Client.from_row(r) for r in rows]


async def insert(conn: Connection, *, client_id: str, secret_hash: str, name: str, trust_level: str,
                 roles: list[str], companies: list[str], regions: list[str], created_by: str,
                 now: datetime) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.api_clients (client_id, secret_hash, name, trust_level, roles, companies, regions,"
        " created_by, created_at, updated_at, secret_rotated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)",
        client_id, secret_hash, name, trust_level, roles, companies, regions, created_by, now)


async def exists(conn: Connection, client_id: str) -> bool:
    return bool(await conn.fetchval(f"SELECT 1 FROM {SCHEMA}.api_clients WHERE client_id = $1", client_id))


async def update(conn: Connection, client_id: str, now: datetime, **fields: Any) -> None:
    unknown = set(fields) - _EDITABLE
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    if not fields:
        return
    names = sorted(fields)
    sets = ", ".join(f"{n} = ${i + 3}" for i, n in enumerate(names))
    await conn.execute(f"UPDATE {SCHEMA}.api_clients SET {sets}, updated_at = $2 WHERE client_id = $1",
                       client_id, now, *[fields[n] for n in names])


async def set_secret(conn: Connection, client_id: str, secret_hash: str, now: datetime) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.api_clients SET secret_hash = $2, secret_rotated_at = $3, updated_at = $3"
                       " WHERE client_id = $1", client_id, secret_hash, now)


async def touch_token(conn: Connection, client_id: str, now: datetime, rehash: str | None) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.api_clients SET last_token_at = $2,"
                       " secret_hash = COALESCE($3, secret_hash) WHERE client_id = $1", client_id, now, rehash)


async def holders_of(conn: Connection, role: str) -> int:
    value: int = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.api_clients WHERE $1 = ANY(roles)", role)
    return value
