"""Refresh tokens, stored as SHA-256 digests; a family is one sign-in's chain of rotations."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from emms_db.connection import Connection
from emms_identity.schema import SCHEMA


async def insert(conn: Connection, *, token_hash: str, family_id: uuid.UUID, parent_hash: str | None,
                 user_id: uuid.UUID, subject: str, auth_time: datetime, issued_at: datetime,
                 expires_at: datetime) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.refresh_tokens (token_hash, family_id, parent_hash, user_id, subject, auth_time,"
        " issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        token_hash, family_id, parent_hash, user_id, subject, auth_time, issued_at, expires_at)


async def use(conn: Connection, token_hash: str, now: datetime) -> Mapping[str, Any] | None:
    """Mark a live token used, atomically; its row, or None when it is not live (unknown, used,
    revoked or expired — :func:`get` tells which)."""
    return await conn.fetchrow(
        f"UPDATE {SCHEMA}.refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL"
        " AND revoked_at IS NULL AND expires_at > $2 RETURNING *", token_hash, now)


async def get(conn: Connection, token_hash: str) -> Mapping[str, Any] | None:
    return await conn.fetchrow(f"SELECT * FROM {SCHEMA}.refresh_tokens WHERE token_hash = $1", token_hash)


async def revoke_family(conn: Connection, family_id: uuid.UUID, reason: str, now: datetime) -> int:
    status: str = await conn.execute(
        f"UPDATE {SCHEMA}.refresh_tokens SET revoked_at = $2, reason = $3 WHERE family_id = $1"
        " AND revoked_at IS NULL", family_id, now, reason)
    return int(status.split()[-1])


async def revoke_user(conn: Connection, user_id: uuid.UUID, reason: str, now: datetime) -> int:
    status: str = await conn.execute(
        f"UPDATE {SCHEMA}.refresh_tokens SET revoked_at = $2, reason = $3 WHERE user_id = $1"
        " AND revoked_at IS NULL AND expires_at > $2", user_id, now, reason)
    return int(status.split()[-1])


async def purge_expired(conn: Connection, before: datetime) -> int:
    """Forget tokens that expired before ``before`` (their families can no longer be replayed)."""
    status: str = await conn.execute(f"DELETE FROM {SCHEMA}.refresh_tokens WHERE expires_at < $1", before)
    return int(status.split()[-1])
