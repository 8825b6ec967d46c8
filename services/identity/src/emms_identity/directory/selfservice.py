"""What a signed-in person does for themselves: see who they are, change their password.

The password change is the one route a ``pwd_change`` token (after a reset) can use. A wrong
current password counts towards the lockout like a failed sign-in: a stolen token does not
make guessing the password any cheaper.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from emms_identity.audit import Actor, record, record_apart
from emms_identity.directory.users import kept_history, password_refusal
from emms_identity.model import User
from emms_identity.repository import users as repo
from emms_identity.runtime import IdentityRuntime
from emms_identity.tokens import refresh
from emms_identity.tokens.errors import OAuthError
from emms_identity.tokens.signin import locked_message
from emms_runtime import Forbidden, Invalid, NotFound, TooManyRequests
from emms_runtime.auth import Principal


def caller_view(principal: Principal) -> dict[str, Any]:
    return {"subject": principal.subject, "kind": principal.kind, "roles": list(principal.roles),
            "permissions": sorted(p.value for p in principal.permissions), "companies": list(principal.companies),
            "regions": list(principal.regions), "customers": list(principal.customers),
            "step_up": principal.step_up, "auth_time": principal.auth_time, "trust_level": principal.trust_level,
            "max_rows": principal.max_rows, "per_minute": principal.per_minute}


async def me(rt: IdentityRuntime, principal: Principal) -> dict[str, Any]:
    """The caller as its token describes it, and its user record when it is a person known here."""
    user = None
    if principal.kind == "user":
        async with rt.pool.acquire() as conn:
            user = await repo.by_username(conn, principal.subject)
    return {"token": caller_view(principal), "user": user.view(rt.now()) if user else None}


async def _person(rt: IdentityRuntime, principal: Principal) -> User:
    if principal.kind != "user":
        raise NotFound(f"{principal.subject!r} is not a person known to the identity service (a {principal.kind}"
                       " token): only a person's token changes a password")
    async with rt.pool.acquire() as conn:
        user = await repo.by_username(conn, principal.subject)
    if user is None or user.disabled:
        raise NotFound(f"no active user {principal.subject!r}")
    return user


async def change_password(rt: IdentityRuntime, principal: Principal, client_ip: str | None, current: str,
                          new: str) -> dict[str, Any]:
    try:
        rt.throttle.check(client_ip, username=principal.subject)
    except OAuthError as exc:
        raise TooManyRequests(exc.description, retry_after_s=int(exc.headers.get("Retry-After", "60"))) from None
    user = await _person(rt, principal)
    actor, now = Actor(user.username, client_ip), rt.now()
    if user.locked_until is not None and user.locked_at(now):
        raise await _denied(rt, actor, user, locked_message(user.locked_until))
    if not (await rt.hasher.verify(user.password_hash, current)).ok:
        await _wrong_current(rt, user, actor)
    if refusal := password_refusal(rt.settings.passwords, new, user.username):
        raise refusal
    history = rt.settings.passwords.history
    recent = [user.password_hash, *user.password_history[:kept_history(history)]]
    if history and await rt.hasher.in_history(recent, new):
        raise Invalid(f"the password is refused: it is one of your last {history} passwords")
    password_hash = await rt.hasher.hash(new)
    async with rt.pool.acquire() as conn, conn.transaction():
        await repo.set_password(conn, user.id, password_hash, keep_history=kept_history(history), must_change=False,
                                now=now)
        ended = await refresh.revoke_user(conn, user.id, "password changed", now)
        await record(conn, actor, "password.change", target=user.username, companies=user.companies,
                     detail={"sign_ins_ended": ended, "was_required": user.must_change_password})
    return {"changed": True, "username": user.username,
            "detail": "password changed; every sign-in of yours has ended: sign in again with the new password"}


async def _wrong_current(rt: IdentityRuntime, user: User, actor: Actor) -> None:
    lockout = rt.settings.lockout
    async with rt.pool.acquire() as conn:
        failures, until = await repo.record_failure(
            conn, user.id, now=rt.now(), window=timedelta(seconds=lockout.window_s),
            max_failures=lockout.max_failures, lock_for=timedelta(seconds=lockout.lock_s))
    reason = "the current password is wrong" + (f"; {locked_message(until)}" if until else "")
    raise await _denied(rt, actor, user, reason, detail={"failures": failures})


async def _denied(rt: IdentityRuntime, actor: Actor, user: User, reason: str,
                  detail: dict[str, Any] | None = None) -> Forbidden:
    await record_apart(rt.pool, actor, "password.change", outcome="denied", target=user.username, reason=reason,
                       companies=user.companies, detail=detail)
    return Forbidden(reason)

