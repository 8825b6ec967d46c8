"""Users, administered in levels: create, read, change, disable, reset a password, unlock.

Every change is audited in its own transaction with the target's companies (who may read the
entry); every refusal of the levelled rule is a 403 audited as ``denied`` (:mod:`.levels`).
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from emms_identity.audit import record
from emms_identity.directory.inputs import NewUser, UserChange
from emms_identity.directory.levels import Admin, Scope, company_role_refusal, known_roles
from emms_identity.model import User, permissions_of
from emms_identity.passwords import policy
from emms_identity.repository import roles as roles_repo
from emms_identity.repository import users as repo
from emms_identity.tokens import refresh
from emms_runtime import Conflict, Forbidden, Invalid, NotFound


def scope_of(user: User) -> Scope:
    return Scope(user.companies, user.regions, user.customers)


async def _target(admin: Admin, conn: Any, user_id: uuid.UUID, action: str, *, for_update: bool = True) -> User:
    """The user to change, once the caller may manage them as they are now."""
    user = await repo.by_id(conn, user_id, for_update=for_update)
    if user is None:
        raise NotFound(f"no user {user_id}")
    held = permissions_of(await roles_repo.by_names(conn, user.roles))
    await admin.check_manages(action, user.username, scope_of(user), held)
    return user


async def _refuse_self(admin: Admin, user: User, what: str, action: str) -> None:
    if admin.is_self(user.username):
        raise await admin.deny(action, user.username, f"you cannot {what} yourself; another administrator must",
                               user.companies)


def password_refusal(rt_policy: Any, password: str, username: str) -> Invalid | None:
    broken = policy.violations(rt_policy, password, username)
    return Invalid("the password is refused: " + "; ".join(broken)) if broken else None


async def create(admin: Admin, body: NewUser) -> dict[str, Any]:
    rt = admin.rt
    scope = Scope(tuple(body.companies), tuple(body.regions), tuple(body.customers))
    if body.password is not None and (refusal := password_refusal(rt.settings.passwords, body.password,
                                                                  body.username)):
        raise refusal
    temporary = policy.generate(rt.settings.passwords) if body.password is None else None
    password_hash = await rt.hasher.hash(body.password or temporary or "")
    now = rt.now()
    async with rt.pool.acquire() as conn, conn.transaction():
        roles = known_roles(body.roles, await roles_repo.by_names(conn, body.roles))
        if reason := company_role_refusal(roles, scope):
            raise Invalid(reason)
        await admin.check_grant("user.create", body.username, scope, roles)
        if await repo.username_taken(conn, body.username):
            raise Conflict(f"the username {body.username!r} is taken (usernames ignore case)")
        try:
            user_id = await repo.insert(
                conn, username=body.username, display_name=body.display_name, password_hash=password_hash,
                must_change_password=body.must_change_password or temporary is not None,
                companies=body.companies, regions=body.regions, customers=body.customers, roles=body.roles,
                created_by=admin.principal.subject, now=now)
        except asyncpg.UniqueViolationError:
            raise Conflict(f"the username {body.username!r} is taken (usernames ignore case)") from None
        user = await repo.by_id(conn, user_id)
        assert user is not None
        await record(conn, admin.actor, "user.create", target=user.username, companies=user.companies,
                     detail={"roles": body.roles, "companies": body.companies, "regions": body.regions,
                             "customers": body.customers, "generated_password": temporary is not None})
    view = user.view(now)
    if temporary is not None:
        view["temporary_password"] = temporary
    return view


async def get(admin: Admin, user_id: uuid.UUID) -> dict[str, Any]:
    async with admin.rt.pool.acquire() as conn:
        user = await repo.by_id(conn, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    if not admin.visible(scope_of(user)):
        raise Forbidden(f"user {user.username} is outside your scope (companies {list(admin.principal.companies)},"
                        f" regions {list(admin.principal.regions)})")
    return user.view(admin.rt.now())


async def listing(admin: Admin, *, company: str | None, role: str | None, disabled: bool | None,
                  search: str | None, after: str | None, limit: int) -> list[dict[str, Any]]:
    async with admin.rt.pool.acquire() as conn:
        found = await repo.listing(conn, within=admin.reading_scope(), company=company, role=role,
                                   disabled=disabled, search=search, after=after, limit=limit)
    now = admin.rt.now()
    return [u.view(now) for u in found]


async def change(admin: Admin, user_id: uuid.UUID, body: UserChange) -> dict[str, Any]:
    rt, now = admin.rt, admin.rt.now()
    async with rt.pool.acquire() as conn, conn.transaction():
        user = await _target(admin, conn, user_id, "user.update")
        fields = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
        changes = {k: v for k, v in fields.items() if v != (list(getattr(user, k)) if k != "display_name"
                                                             else user.display_name)}
        if set(changes) - {"display_name"}:
            await _refuse_self(admin, user, "change the roles or scope of", "user.update")
        scope = Scope(tuple(fields.get("companies", user.companies)), tuple(fields.get("regions", user.regions)),
                      tuple(fields.get("customers", user.customers)))
        names = fields.get("roles", list(user.roles))
        roles = known_roles(names, await roles_repo.by_names(conn, names))
        if reason := company_role_refusal(roles, scope):
            raise Invalid(reason)
        await admin.check_grant("user.update", user.username, scope, roles)
        await repo.update(conn, user.id, now, **{k: v for k, v in changes.items() if k != "roles"})
        if "roles" in changes:
            await repo.set_roles(conn, user.id, changes["roles"], granted_by=admin.principal.subject)
        if changes:
            before = {k: user.display_name if k == "display_name" else list(getattr(user, k)) for k in changes}
            await record(conn, admin.actor, "user.update", target=user.username,
                         companies=sorted(set(user.companies) | set(scope.companies)),
                         detail={"before": before, "after": changes})
        updated = await repo.by_id(conn, user.id)
    assert updated is not None
    return updated.view(now)


async def set_disabled(admin: Admin, user_id: uuid.UUID, disabled: bool) -> dict[str, Any]:
    rt, now = admin.rt, admin.rt.now()
    action = "user.disable" if disabled else "user.enable"
    async with rt.pool.acquire() as conn, conn.transaction():
        user = await _target(admin, conn, user_id, action)
        await _refuse_self(admin, user, "disable or enable", action)
        await repo.update(conn, user.id, now, disabled=disabled)
        ended = await refresh.revoke_user(conn, user.id, "account disabled", now) if disabled else 0
        await record(conn, admin.actor, action, target=user.username, companies=user.companies,
                     detail={"sign_ins_ended": ended} if disabled else None)
        updated = await repo.by_id(conn, user.id)
    assert updated is not None
    return updated.view(now)


async def reset_password(admin: Admin, user_id: uuid.UUID) -> dict[str, Any]:
    """A generated temporary password, returned once; the user must change it at the next sign-in."""
    rt, now = admin.rt, admin.rt.now()
    temporary = policy.generate(rt.settings.passwords)
    password_hash = await rt.hasher.hash(temporary)
    async with rt.pool.acquire() as conn, conn.transaction():
        user = await _target(admin, conn, user_id, "password.reset")
        await _refuse_self(admin, user, "reset the password of", "password.reset")
        await repo.set_password(conn, user.id, password_hash, keep_history=kept_history(rt.settings.passwords.history),
                                must_change=True, now=now)
        ended = await refresh.revoke_user(conn, user.id, "password reset", now)
        await record(conn, admin.actor, "password.reset", target=user.username, companies=user.companies,
                     detail={"sign_ins_ended": ended})
    return {"user_id": str(user.id), "username": user.username, "temporary_password": temporary,
            "must_change_password": True}


def kept_history(history: int) -> int:
    """Hashes kept besides the current one: the last ``history`` passwords include the current."""
    return max(history - 1, 0)


async def unlock(admin: Admin, user_id: uuid.UUID) -> dict[str, Any]:
    rt, now = admin.rt, admin.rt.now()
    async with rt.pool.acquire() as conn, conn.transaction():
        user = await _target(admin, conn, user_id, "user.unlock")
        await repo.unlock(conn, user.id, now)
        await record(conn, admin.actor, "user.unlock", target=user.username, companies=user.companies,
                     detail={"was_locked_until": user.locked_until})
        updated = await repo.by_id(conn, user.id)
    assert updated is not None
    return updated.view(now)
