"""The claims of an access token, in the format every service reads (:meth:`Principal.from_claims`).

A person's permissions are the union of their roles' permissions, resolved at issuance; a
system's are further bounded by its trust level's ``allowed`` set. Quotas: a person's from
``USER_LIMITS`` (the largest of their roles), a system's from its trust level.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from emms_identity.model import Client, Role, User, permissions_of
from emms_identity.settings import IdentitySettings
from emms_runtime.auth import STEP_UP_ACR, TRUST_LEVELS
from emms_runtime.auth.permissions import USER_LIMITS

DEFAULT_LIMITS = (10_000, 600)
"""(max rows, requests a minute) of a person whose roles are all custom."""


def _base(settings: IdentitySettings, subject: str, kind: str, now: int, ttl_s: int) -> dict[str, Any]:
    return {"iss": settings.auth.issuer, "aud": settings.auth.audience, "sub": subject, "iat": now,
            "nbf": now, "exp": now + ttl_s, "jti": uuid.uuid4().hex, "kind": kind}


def user_limits(roles: Sequence[str]) -> tuple[int, int]:
    known = [USER_LIMITS[r] for r in roles if r in USER_LIMITS]
    if not known:
        return DEFAULT_LIMITS
    return max(m for m, _ in known), max(p for _, p in known)


def user_claims(settings: IdentitySettings, user: User, roles: Sequence[Role], *, now: int, auth_time: int,
                step_up: bool = False) -> dict[str, Any]:
    """A person's access token. ``user.must_change_password``: no permissions and ``pwd_change``,
    good only for the password-change route."""
    ttl = settings.tokens.step_up_ttl_s if step_up else settings.tokens.access_ttl_s
    max_rows, per_minute = user_limits([r.name for r in roles])
    claims = {**_base(settings, user.username, "user", now, ttl),
              "roles": sorted(r.name for r in roles), "perms": sorted(permissions_of(roles)),
              "companies": list(user.companies), "regions": list(user.regions), "customers": list(user.customers),
              "auth_time": auth_time, "max_rows": max_rows, "per_minute": per_minute, "uid": str(user.id)}
    if user.must_change_password:
        claims["perms"] = []
        claims["pwd_change"] = True
    elif step_up:
        claims["acr"] = STEP_UP_ACR
    return claims


def client_claims(settings: IdentitySettings, client: Client, roles: Sequence[Role], *, now: int) -> dict[str, Any]:
    """A system's access token: its roles' permissions within its trust level, the level's quotas."""
    level = TRUST_LEVELS[client.trust_level]
    allowed = {p.value for p in level.allowed}
    return {**_base(settings, client.client_id, "client", now, settings.tokens.access_ttl_s),
            "roles": sorted(r.name for r in roles), "perms": sorted(permissions_of(roles) & allowed),
            "companies": list(client.companies), "regions": list(client.regions), "customers": [],
            "auth_time": now, "trust_level": level.name, "max_rows": level.max_rows,
            "per_minute": level.per_minute}
