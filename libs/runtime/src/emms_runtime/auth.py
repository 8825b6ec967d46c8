"""Bearer-token (JWT) authentication and role checks for every HTTP API.

Roles, from most to least powerful: ``admin`` (everything), ``operator``
(commands and parameter changes), ``integrator`` (other utility systems: data
service and task intake), ``viewer`` (read only). A token also carries the
caller's scope: ``companies`` and ``regions`` it may see (empty = all).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from emms_runtime.settings import AuthSettings

ROLES = ("admin", "operator", "integrator", "viewer")

_bearer = HTTPBearer(auto_error=False, description="JWT issued by the EMMS identity service or emms-token")


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: str
    companies: tuple[str, ...] = field(default=())
    regions: tuple[str, ...] = field(default=())

    def may_see_company(self, company: str) -> bool:
        return self.role == "admin" or not self.companies or company in self.companies


def issue_token(settings: AuthSettings, subject: str, role: str, *, ttl_s: int = 3600,
                companies: tuple[str, ...] = (), regions: tuple[str, ...] = ()) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    now = int(time.time())
    claims = {"sub": subject, "role": role, "iss": settings.issuer, "aud": settings.audience,
              "iat": now, "exp": now + ttl_s, "companies": list(companies), "regions": list(regions)}
    return jwt.encode(claims, settings.secret, algorithm=settings.algorithm)


def decode_token(settings: AuthSettings, token: str) -> Principal:
    claims = jwt.decode(token, settings.secret, algorithms=[settings.algorithm],
                        audience=settings.audience, issuer=settings.issuer,
                        options={"require": ["sub", "role", "exp"]})
    role = claims["role"]
    if role not in ROLES:
        raise jwt.InvalidTokenError(f"unknown role {role!r}")
    return Principal(str(claims["sub"]), role, tuple(claims.get("companies", ())),
                     tuple(claims.get("regions", ())))


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("a bearer token is required")
    settings: AuthSettings = request.app.state.auth_settings
    try:
        return decode_token(settings, credentials.credentials)
    except jwt.ExpiredSignatureError:
        raise _unauthorized("the token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise _unauthorized(f"invalid token: {exc}") from None


def require_role(*roles: str) -> Any:
    """A dependency that admits the given roles (``admin`` always)."""
    allowed = {"admin", *roles}
    unknown = allowed - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail=f"role {principal.role!r} may not do this; needs one of {sorted(allowed)}")
        return principal

    return Depends(check)


PrincipalDep = Annotated[Principal, Depends(current_principal)]
