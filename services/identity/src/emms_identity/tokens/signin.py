"""A person's sign-in: the password grant (with lockout and step-up) and the refresh-token grant.

A wrong password and an unknown username get the same answer after the same argon2 work. Wrong
passwords are counted per account; ``lockout.max_failures`` within ``lockout.window_s`` lock it
for ``lockout.lock_s`` and the answer says until when. A user who must change their password
gets a token without permissions (``pwd_change``) that only the password-change route takes.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from emms_identity.audit import Actor, record, record_apart
from emms_identity.model import User
from emms_identity.repository import roles as roles_repo
from emms_identity.repository import users
from emms_identity.runtime import IdentityRuntime
from emms_identity.tokens import refresh
from emms_identity.tokens.claims import user_claims
from emms_identity.tokens.errors import invalid_grant
from emms_identity.tokens.issue import token_response

BAD_CREDENTIALS = "wrong username or password"


def locked_message(until: datetime) -> str:
    return (f"the account is locked until {until.isoformat(timespec='seconds')} after repeated failed sign-ins;"
            " try again then, or ask an administrator to unlock it")


async def password_grant(rt: IdentityRuntime, username: str, password: str, *, step_up: bool,
                         client_ip: str | None) -> dict[str, Any]:
    now = rt.now()
    actor = Actor(username[:64], client_ip)
    async with rt.pool.acquire() as conn:
        user = await users.by_username(conn, username) if len(username) <= 64 else None
    if user is None:
        await rt.hasher.verify(None, password)
        await record_apart(rt.pool, actor, "signin.failure", outcome="failure", target=actor.subject,
                           reason="unknown user")
        raise invalid_grant(BAD_CREDENTIALS)
    actor = Actor(user.username, client_ip)
    if user.locked_until is not None and user.locked_at(now):
        await rt.hasher.verify(None, password)
        await record_apart(rt.pool, actor, "signin.locked", outcome="denied", target=user.username,
                           reason=f"locked until {user.locked_until.isoformat()}", companies=user.companies)
        raise invalid_grant(locked_message(user.locked_until))
    verified = await rt.hasher.verify(user.password_hash, password)
    if not verified.ok:
        await _wrong_password(rt, user, actor, now)
    if user.disabled:
        await record_apart(rt.pool, actor, "signin.disabled", outcome="denied", target=user.username,
                           reason="account disabled", companies=user.companies)
        raise invalid_grant("the account is disabled; ask an administrator")
    return await _signed_in(rt, user, actor, now, step_up=step_up, rehash=verified.rehash)


async def _wrong_password(rt: IdentityRuntime, user: User, actor: Actor, now: datetime) -> None:
    lockout = rt.settings.lockout
    async with rt.pool.acquire() as conn:
        failures, until = await users.record_failure(
            conn, user.id, now=now, window=timedelta(seconds=lockout.window_s), max_failures=lockout.max_failures,
            lock_for=timedelta(seconds=lockout.lock_s))
        await record(conn, actor, "signin.failure", outcome="failure", target=user.username,
                     reason="wrong password", detail={"failures": failures}, companies=user.companies)
        if until is not None:
            await record(conn, actor, "signin.lockout", outcome="denied", target=user.username,
                         reason=f"{failures} failed sign-ins within {lockout.window_s} s; locked until"
                                f" {until.isoformat()}", companies=user.companies)
    if until is not None:
        raise invalid_grant(f"{BAD_CREDENTIALS}; {locked_message(until)}")
    raise invalid_grant(BAD_CREDENTIALS)


async def _signed_in(rt: IdentityRuntime, user: User, actor: Actor, now: datetime, *, step_up: bool,
                     rehash: str | None) -> dict[str, Any]:
    tokens = rt.settings.tokens
    async with rt.pool.acquire() as conn, conn.transaction():
        await users.record_success(conn, user.id, now=now, rehash=rehash)
        roles = await roles_repo.by_names(conn, user.roles)
        claims = user_claims(rt.settings, user, roles, now=int(now.timestamp()), auth_time=int(now.timestamp()),
                             step_up=step_up)
        long_lived = not (step_up or user.must_change_password)
        refresh_token = await refresh.start(conn, user, auth_time=now, ttl=timedelta(
            seconds=tokens.refresh_ttl_s)) if long_lived else None
        await record(conn, actor, "signin.success", target=user.username, companies=user.companies,
                     detail={"step_up": step_up, "password_change_required": user.must_change_password,
                             "roles": claims["roles"], "jti": claims["jti"], "rehashed": rehash is not None})
    return await token_response(rt.keyring, claims, refresh_token)


async def refresh_grant(rt: IdentityRuntime, token: str, *, client_ip: str | None) -> dict[str, Any]:
    """Exchange a refresh token for a new access token and the family's next refresh token."""
    now = rt.now()
    async with rt.pool.acquire() as conn, conn.transaction():
        exchanged = await refresh.exchange(conn, token, now)
        user = await users.by_id(conn, exchanged.user_id) if exchanged else None
    if exchanged is None:
        raise await refresh.refuse(rt, token, client_ip)
    if user is None or user.disabled or user.must_change_password:
        why = "account disabled" if user is None or user.disabled else "password change required"
        await refresh.revoke_family_apart(rt, exchanged, Actor(user.username if user else "unknown", client_ip), why)
        raise invalid_grant(f"the sign-in cannot be refreshed: {why}; sign in again")
    async with rt.pool.acquire() as conn:
        roles = await roles_repo.by_names(conn, user.roles)
        claims = user_claims(rt.settings, user, roles, now=int(time.time()),
                             auth_time=int(exchanged.auth_time.timestamp()))
        await record(conn, Actor(user.username, client_ip), "token.refresh", target=user.username,
                     companies=user.companies, detail={"family": str(exchanged.family_id), "jti": claims["jti"]})
    return await token_response(rt.keyring, claims, exchanged.token)
