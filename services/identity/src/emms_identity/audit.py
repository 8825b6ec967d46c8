"""The audit log: every sign-in, failure, lockout, refresh, reuse, revocation, administrative change
and refusal, with who did it, from where, about whom (and that target's companies, which decide
who may read the entry).

Changes are recorded on the change's own connection, inside its transaction; failures and
refusals with :func:`record_apart` on a connection of their own, so the entry stays when the
request's work is rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from emms_db.connection import Connection
from emms_identity.repository import audit as repo

log = structlog.get_logger("emms.identity.audit")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts (a token's subject, or the username tried at sign-in) and from which address."""

    subject: str
    client_ip: str | None = None


async def record(conn: Connection, actor: Actor, action: str, *, outcome: str = "success",
                 target: str | None = None, reason: str | None = None, detail: dict[str, Any] | None = None,
                 companies: Sequence[str] = ()) -> None:
    await repo.insert(conn, actor=actor.subject, action=action, outcome=outcome, target=target, reason=reason,
                      detail=detail, companies=list(companies), client_ip=actor.client_ip)
    log.info("audit", audit=True, actor=actor.subject, action=action, outcome=outcome, target=target,
             reason=reason, client_ip=actor.client_ip)


async def record_apart(pool: asyncpg.Pool, actor: Actor, action: str, *, outcome: str,
                       target: str | None = None, reason: str | None = None,
                       detail: dict[str, Any] | None = None, companies: Sequence[str] = ()) -> None:
    """:func:`record` on a connection of its own (kept whatever happens to the request's transaction)."""
    async with pool.acquire() as conn:
        await record(conn, actor, action, outcome=outcome, target=target, reason=reason, detail=detail,
                     companies=companies)


async def entries(pool: asyncpg.Pool, *, reader_companies: tuple[str, ...], actor: str | None = None,
                  action: str | None = None, target: str | None = None, outcome: str | None = None,
                  since: datetime | None = None, until: datetime | None = None, after_id: int = 0,
                  limit: int = 100) -> list[dict[str, Any]]:
    """Entries in order; a reader restricted to companies sees only those about their users and clients."""
    async with pool.acquire() as conn:
        return await repo.entries(conn, actor=actor, action=action, target=target, outcome=outcome, since=since,
                                  until=until, after_id=after_id, limit=limit, companies=reader_companies)
