"""A system's sign-in: the client-credentials grant (R-4.7). No refresh token: a system asks again."""

from __future__ import annotations

from typing import Any

from emms_identity.audit import Actor, record, record_apart
from emms_identity.repository import clients
from emms_identity.repository import roles as roles_repo
from emms_identity.runtime import IdentityRuntime
from emms_identity.tokens.claims import client_claims
from emms_identity.tokens.errors import invalid_client
from emms_identity.tokens.issue import token_response
from emms_runtime.auth import TRUST_LEVELS


async def client_credentials_grant(rt: IdentityRuntime, client_id: str, secret: str, *,
                                   client_ip: str | None) -> dict[str, Any]:
    now = rt.now()
    actor = Actor(client_id[:64], client_ip)
    async with rt.pool.acquire() as conn:
        client = await clients.by_id(conn, client_id) if len(client_id) <= 64 else None
    verified = await rt.hasher.verify(client.secret_hash if client else None, secret)
    if client is None or not verified.ok:
        await record_apart(rt.pool, actor, "signin.client", outcome="failure", target=actor.subject,
                           reason="unknown client" if client is None else "wrong client secret",
                           companies=client.companies if client else ())
        raise invalid_client("unknown client or wrong client secret")
    if client.disabled or client.trust_level not in TRUST_LEVELS:
        why = "disabled" if client.disabled else f"of an unknown trust level {client.trust_level!r}"
        await record_apart(rt.pool, actor, "signin.client", outcome="denied", target=client_id,
                           reason=f"client {why}", companies=client.companies)
        raise invalid_client(f"client {client_id} is {why}")
    async with rt.pool.acquire() as conn, conn.transaction():
        roles = await roles_repo.by_names(conn, client.roles)
        claims = client_claims(rt.settings, client, roles, now=int(now.timestamp()))
        await clients.touch_token(conn, client_id, now, verified.rehash)
        await record(conn, actor, "signin.client", target=client_id, companies=client.companies,
                     detail={"trust_level": client.trust_level, "jti": claims["jti"], "perms": len(claims["perms"])})
    return await token_response(rt.keyring, claims)
