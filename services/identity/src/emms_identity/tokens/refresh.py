"""Refresh tokens with rotation and reuse detection (OAuth 2.0 Security BCP §4.14).

A sign-in starts a *family*; each refresh token is good once and is exchanged for a new one of
the same family, which ends when the sign-in does (``tokens.refresh_ttl_s`` after the password
check; rotation does not extend it). A refresh token presented a second time means two parties
hold the chain — the user and a thief — so the whole family is revoked and the reuse audited.
Only SHA-256 digests are stored: the table leaked is no session stolen.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from emms_db.connection import Connection
from emms_identity.audit import Actor, record, record_apart
from emms_identity.model import User
from emms_identity.repository import refresh_tokens as repo
from emms_identity.runtime import IdentityRuntime
from emms_identity.tokens.errors import invalid_grant


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def start(conn: Connection, user: User, *, auth_time: datetime, ttl: timedelta) -> str:
    """A new family's first refresh token (call in the sign-in's transaction)."""
    token = new_token()
    await repo.insert(conn, token_hash=digest(token), family_id=uuid.uuid4(), parent_hash=None, user_id=user.id,
                      subject=user.username, auth_time=auth_time, issued_at=auth_time, expires_at=auth_time + ttl)
    return token


@dataclass(frozen=True, slots=True)
class Exchanged:
    user_id: uuid.UUID
    family_id: uuid.UUID
    auth_time: datetime
    token: str
    """The next refresh token of the family."""


async def exchange(conn: Connection, token: str, now: datetime) -> Exchanged | None:
    """Use ``token`` and issue its successor (in the caller's transaction); None when it is not live."""
    row = await repo.use(conn, digest(token), now)
    if row is None:
        return None
    successor = new_token()
    await repo.insert(conn, token_hash=digest(successor), family_id=row["family_id"], parent_hash=row["token_hash"],
                      user_id=row["user_id"], subject=row["subject"], auth_time=row["auth_time"], issued_at=now,
                      expires_at=row["expires_at"])
    return Exchanged(row["user_id"], row["family_id"], row["auth_time"], successor)


async def refuse(rt: IdentityRuntime, token: str, client_ip: str | None) -> Exception:
    """Why ``token`` is not live, audited; a reuse revokes its whole family. The error to raise."""
    now = rt.now()
    async with rt.pool.acquire() as conn:
        row = await repo.get(conn, digest(token))
        if row is None:
            await record(conn, Actor("unknown", client_ip), "token.refresh", outcome="failure",
                         reason="unknown refresh token")
            return invalid_grant("the refresh token is not known (malformed, or forgotten after it expired)")
        actor = Actor(row["subject"], client_ip)
        if row["used_at"] is not None and row["revoked_at"] is None:
            async with conn.transaction():
                revoked = await repo.revoke_family(conn, row["family_id"], "reuse", now)
                await record(conn, actor, "token.reuse", outcome="denied", target=row["subject"],
                             reason="a refresh token was presented a second time; the sign-in is revoked",
                             detail=_detail(row, revoked=revoked))
            return invalid_grant("the refresh token was already used: a second use means it may be stolen, so"
                                 " every token of this sign-in is revoked; sign in again")
        if row["revoked_at"] is not None:
            await record(conn, actor, "token.refresh", outcome="denied", target=row["subject"],
                         reason=f"revoked refresh token ({row['reason']})", detail=_detail(row))
            return invalid_grant(f"the refresh token was revoked ({row['reason']}); sign in again")
        await record(conn, actor, "token.refresh", outcome="failure", target=row["subject"],
                     reason="expired refresh token", detail=_detail(row))
        return invalid_grant(f"the refresh token expired at {row['expires_at'].isoformat()}; sign in again")


def _detail(row: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    return {"family": str(row["family_id"]), "issued_at": row["issued_at"], **more}


async def revoke(rt: IdentityRuntime, token: str, client_ip: str | None) -> bool:
    """RFC 7009: revoke the family of ``token``; False when no such refresh token is known."""
    now = rt.now()
    async with rt.pool.acquire() as conn, conn.transaction():
        row = await repo.get(conn, digest(token))
        if row is None:
            return False
        revoked = await repo.revoke_family(conn, row["family_id"], "revoked", now)
        await record(conn, Actor(row["subject"], client_ip), "token.revoke", target=row["subject"],
                     detail=_detail(row, revoked=revoked))
    return True


async def revoke_user(conn: Connection, user_id: uuid.UUID, reason: str, now: datetime) -> int:
    """End every sign-in of a user (disabled, password reset or changed)."""
    return await repo.revoke_user(conn, user_id, reason, now)


async def revoke_family_apart(rt: IdentityRuntime, exchanged: Exchanged, actor: Actor, reason: str) -> None:
    async with rt.pool.acquire() as conn:
        await repo.revoke_family(conn, exchanged.family_id, reason, rt.now())
    await record_apart(rt.pool, actor, "token.refresh", outcome="denied", target=actor.subject, reason=reason)
