"""Roles: the built-in five (defined by the code, kept in step at start-up) and the roles a utility
or one of its companies defines from the same permissions."""

from __future__ import annotations

from typing import Any

import asyncpg

from emms_db.connection import Connection
from emms_identity.audit import record
from emms_identity.directory.inputs import NewRole, RoleChange
from emms_identity.directory.levels import Admin, within
from emms_identity.model import Role
from emms_identity.repository import clients as clients_repo
from emms_identity.repository import roles as repo
from emms_identity.repository import users as users_repo
from emms_runtime import Conflict, NotFound
from emms_runtime.auth import BUILTIN_ROLES

BUILTIN_DESCRIPTIONS = {
    "admin": "Everything, including users, keys, audit and backups",
    "operator": "Day-to-day operation: collection, validation, control, tariffs, master data",
    "integrator": "Reads, master-data import and collection runs for systems being integrated",
    "viewer": "Reads of readings, master data, collection, validation and terminals",
    "customer": "A customer's own readings, aggregates and events",
}


async def sync_builtin(conn: Connection) -> list[str]:
    """Make the built-in roles in the database match :data:`BUILTIN_ROLES`; the names changed."""
    return await repo.sync_builtin(conn, {name: (BUILTIN_DESCRIPTIONS.get(name, ""), [p.value for p in perms])
                                          for name, perms in BUILTIN_ROLES.items()})


def _visible(admin: Admin, role: Role) -> bool:
    return role.company_id is None or within([role.company_id], admin.principal.companies)


async def listing(admin: Admin) -> list[dict[str, Any]]:
    async with admin.rt.pool.acquire() as conn:
        found = await repo.all_roles(conn)
    return [r.view() for r in found if _visible(admin, r)]


async def _owned(admin: Admin, conn: Connection, name: str, action: str) -> Role:
    """A custom role the caller may change: utility-wide ones need an unrestricted caller."""
    role = await repo.by_name(conn, name)
    if role is None or not _visible(admin, role):
        raise NotFound(f"no role {name!r}")
    if role.builtin:
        raise Conflict(f"{name!r} is a built-in role: its permissions are defined by the code")
    if not within([role.company_id] if role.company_id else [], admin.principal.companies):
        raise await admin.deny(action, name, f"role {name!r} is utility-wide; only an administrator of every"
                               " company changes it")
    return role


async def _check_permissions(admin: Admin, action: str, name: str, permissions: list[str],
                             company_id: str | None) -> None:
    if missing := admin.missing(permissions):
        raise await admin.deny(action, name, f"role {name!r} would hold permissions you do not have"
                               f" ({', '.join(missing)})", [company_id] if company_id else ())


async def create(admin: Admin, body: NewRole) -> dict[str, Any]:
    permissions = [p.value for p in body.permissions]
    if not within([body.company_id] if body.company_id else [], admin.principal.companies):
        raise await admin.deny("role.create", body.name, "a role of yours must belong to one of your companies"
                               f" {list(admin.principal.companies)}: set company_id")
    await _check_permissions(admin, "role.create", body.name, permissions, body.company_id)
    async with admin.rt.pool.acquire() as conn, conn.transaction():
        if await repo.by_name(conn, body.name) is not None:
            raise Conflict(f"role {body.name!r} exists")
        try:
            await repo.insert(conn, name=body.name, description=body.description, company_id=body.company_id,
                              permissions=permissions, created_by=admin.principal.subject, now=admin.rt.now())
        except asyncpg.UniqueViolationError:
            raise Conflict(f"role {body.name!r} exists") from None
        await record(conn, admin.actor, "role.create", target=body.name,
                     companies=[body.company_id] if body.company_id else [],
                     detail={"permissions": sorted(permissions), "company_id": body.company_id})
        role = await repo.by_name(conn, body.name)
    assert role is not None
    return role.view()


async def change(admin: Admin, name: str, body: RoleChange) -> dict[str, Any]:
    async with admin.rt.pool.acquire() as conn, conn.transaction():
        role = await _owned(admin, conn, name, "role.update")
        permissions = sorted({p.value for p in body.permissions}) if body.permissions is not None \
            else list(role.permissions)
        await _check_permissions(admin, "role.update", name, permissions, role.company_id)
        description = body.description if body.description is not None else role.description
        await repo.update(conn, name, description=description, permissions=permissions, now=admin.rt.now())
        await record(conn, admin.actor, "role.update", target=name,
                     companies=[role.company_id] if role.company_id else [],
                     detail={"before": list(role.permissions), "after": permissions})
        updated = await repo.by_name(conn, name)
    assert updated is not None
    return updated.view()


async def delete(admin: Admin, name: str) -> dict[str, Any]:
    async with admin.rt.pool.acquire() as conn, conn.transaction():
        role = await _owned(admin, conn, name, "role.delete")
        users = await users_repo.holders_of(conn, name)
        clients = await clients_repo.holders_of(conn, name)
        if users or clients:
            raise Conflict(f"role {name!r} is held by {users} user(s) and {clients} client(s); take it from them"
                           " first")
        try:
            await repo.delete(conn, name)
        except asyncpg.ForeignKeyViolationError:
            raise Conflict(f"role {name!r} was just granted to someone; take it from them first") from None
        await record(conn, admin.actor, "role.delete", target=name,
                     companies=[role.company_id] if role.company_id else [],
                     detail={"permissions": list(role.permissions)})
    return {"deleted": name}
