"""API clients (other utility systems, R-4.3.3a, R-4.7), administered in levels like users.

A client's secret is generated here and shown once (at creation and at each rotation); only its
argon2 hash is kept. Its trust level bounds what its roles give it and sets its quotas.
"""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg

from emms_db.connection import Connection
from emms_identity.audit import record
from emms_identity.directory.inputs import ClientChange, NewClient
from emms_identity.directory.levels import Admin, Scope, company_role_refusal, known_roles
from emms_identity.model import Client, permissions_of
from emms_identity.repository import clients as repo
from emms_identity.repository import roles as roles_repo
from emms_runtime import Conflict, Forbidden, Invalid, NotFound


def _scope(client: Client) -> Scope:
    return Scope(client.companies, client.regions)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


async def _target(admin: Admin, conn: Connection, client_id: str, action: str) -> Client:
    client = await repo.by_id(conn, client_id, for_update=True)
    if client is None:
        raise NotFound(f"no client {client_id!r}")
    held = permissions_of(await roles_repo.by_names(conn, client.roles))
    await admin.check_manages(action, client_id, _scope(client), held)
    return client


async def create(admin: Admin, body: NewClient) -> dict[str, Any]:
    rt = admin.rt
    client_id = body.client_id or f"client-{secrets.token_hex(6)}"
    scope = Scope(tuple(body.companies), tuple(body.regions))
    secret = new_secret()
    secret_hash = await rt.hasher.hash(secret)
    async with rt.pool.acquire() as conn, conn.transaction():
        roles = known_roles(body.roles, await roles_repo.by_names(conn, body.roles))
        if reason := company_role_refusal(roles, scope):
            raise Invalid(reason)
        await admin.check_grant("client.create", client_id, scope, roles)
        if await repo.exists(conn, client_id):
            raise Conflict(f"client {client_id!r} exists")
        try:
            await repo.insert(conn, client_id=client_id, secret_hash=secret_hash, name=body.name,
                              trust_level=body.trust_level, roles=body.roles, companies=body.companies,
                              regions=body.regions, created_by=admin.principal.subject, now=rt.now())
        except asyncpg.UniqueViolationError:
            raise Conflict(f"client {client_id!r} exists") from None
        await record(conn, admin.actor, "client.create", target=client_id, companies=body.companies,
                     detail={"trust_level": body.trust_level, "roles": body.roles, "regions": body.regions})
        client = await repo.by_id(conn, client_id)
    assert client is not None
    return {**client.view(), "client_secret": secret}


async def get(admin: Admin, client_id: str) -> dict[str, Any]:
    async with admin.rt.pool.acquire() as conn:
        client = await repo.by_id(conn, client_id)
    if client is None:
        raise NotFound(f"no client {client_id!r}")
    if not admin.visible(_scope(client)):
        raise Forbidden(f"client {client_id} is outside your scope (companies {list(admin.principal.companies)},"
                        f" regions {list(admin.principal.regions)})")
    return client.view()


async def listing(admin: Admin, *, after: str | None, limit: int) -> list[dict[str, Any]]:
    async with admin.rt.pool.acquire() as conn:
        found = await repo.listing(conn, within=admin.reading_scope(), after=after, limit=limit)
    return [c.view() for c in found]


async def change(admin: Admin, client_id: str, body: ClientChange) -> dict[str, Any]:
    async with admin.rt.pool.acquire() as conn, conn.transaction():
        client = await _target(admin, conn, client_id, "client.update")
        fields = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
        scope = Scope(tuple(fields.get("companies", client.companies)), tuple(fields.get("regions", client.regions)))
        names = fields.get("roles", list(client.roles))
        roles = known_roles(names, await roles_repo.by_names(conn, names))
        if reason := company_role_refusal(roles, scope):
            raise Invalid(reason)
        await admin.check_grant("client.update", client_id, scope, roles)
        await repo.update(conn, client_id, admin.rt.now(), **fields)
        await record(conn, admin.actor, "client.update", target=client_id,
                     companies=sorted(set(client.companies) | set(scope.companies)),
                     detail={"before": {k: getattr(client, k) for k in fields}, "after": fields})
        updated = await repo.by_id(conn, client_id)
    assert updated is not None
    return updated.view()


async def set_disabled(admin: Admin, client_id: str, disabled: bool) -> dict[str, Any]:
    action = "client.disable" if disabled else "client.enable"
    async with admin.rt.pool.acquire() as conn, conn.transaction():
        client = await _target(admin, conn, client_id, action)
        await repo.update(conn, client_id, admin.rt.now(), disabled=disabled)
        await record(conn, admin.actor, action, target=client_id, companies=client.companies)
        updated = await repo.by_id(conn, client_id)
    assert updated is not None
    return updated.view()


async def rotate_secret(admin: Admin, client_id: str) -> dict[str, Any]:
    """A new secret, shown once; the old one stops working at once."""
    secret = new_secret()
    secret_hash = await admin.rt.hasher.hash(secret)
    async with admin.rt.pool.acquire() as conn, conn.transaction():
        client = await _target(admin, conn, client_id, "client.rotate_secret")
        await repo.set_secret(conn, client_id, secret_hash, admin.rt.now())
        await record(conn, admin.actor, "client.rotate_secret", target=client_id, companies=client.companies)
        updated = await repo.by_id(conn, client_id)
    assert updated is not None
    return {**updated.view(), "client_secret": secret}
