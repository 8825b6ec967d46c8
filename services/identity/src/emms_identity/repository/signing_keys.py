"""Signing keys: rows of public keys, encrypted private keys and their states."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_identity.schema import SCHEMA


async def active(conn: Connection) -> Mapping[str, Any] | None:
    return await conn.fetchrow(f"SELECT * FROM {SCHEMA}.signing_keys WHERE state = 'active'")


async def in_state(conn: Connection, state: str, *, for_update: bool = False) -> Mapping[str, Any] | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM {SCHEMA}.signing_keys WHERE state = $1{lock}", state)


async def published(conn: Connection, now: datetime) -> list[Mapping[str, Any]]:
    """Keys in the JWKS: next, active, and retired ones still within their window."""
    return list(await conn.fetch(
        f"SELECT kid, public_key, state FROM {SCHEMA}.signing_keys"
        " WHERE state IN ('next', 'active') OR publish_until > $1 ORDER BY created_at", now))


async def every(conn: Connection) -> list[Mapping[str, Any]]:
    return list(await conn.fetch(
        f"SELECT kid, state, created_at, activated_at, retired_at, publish_until FROM {SCHEMA}.signing_keys"
        " ORDER BY created_at DESC"))


async def with_private(conn: Connection) -> list[Mapping[str, Any]]:
    return list(await conn.fetch(f"SELECT kid, private_key_encrypted FROM {SCHEMA}.signing_keys"
                                 " WHERE private_key_encrypted IS NOT NULL"))


async def insert(conn: Connection, *, kid: str, public_key: bytes, private_key_encrypted: bytes, state: str,
                 now: datetime) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.signing_keys (kid, public_key, private_key_encrypted, state, created_at,"
        " activated_at) VALUES ($1, $2, $3, $4::text, $5::timestamptz,"
        " CASE WHEN $4::text = 'active' THEN $5::timestamptz END)",
        kid, public_key, private_key_encrypted, state, now)


async def retire(conn: Connection, kid: str, *, now: datetime, publish_until: datetime) -> None:
    """Retire a key: it never signs again, so its private half is erased; its public half stays published."""
    await conn.execute(f"UPDATE {SCHEMA}.signing_keys SET state = 'retired', retired_at = $2, publish_until = $3,"
                       " private_key_encrypted = NULL WHERE kid = $1", kid, now, publish_until)


async def activate(conn: Connection, kid: str, now: datetime) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.signing_keys SET state = 'active', activated_at = $2 WHERE kid = $1",
                       kid, now)


async def reencrypt(conn: Connection, kid: str, private_key_encrypted: bytes) -> None:
    await conn.execute(f"UPDATE {SCHEMA}.signing_keys SET private_key_encrypted = $2 WHERE kid = $1",
                       kid, private_key_encrypted)
