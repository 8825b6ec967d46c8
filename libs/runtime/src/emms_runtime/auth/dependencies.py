"""The one route dependency: authenticate the bearer token, check one permission, count the quota.

    @router.post("/tasks")
    async def create_task(principal: Annotated[Principal, require(P.COLLECTION_RUN, scope="company")]): ...

``require`` marks the route, and :func:`annotate_openapi` writes the mark into the route's OpenAPI
operation (``x-emms-permission``, ``x-emms-scope``, ``x-emms-step-up``), so the authorisation matrix
test enumerates every route from the OpenAPI document and a route without a check cannot hide.
``scope`` says whether the route's data belongs to companies (``company``: the handler must filter
by :class:`Principal` scope), to no one (``global``: rules, service status) or to the caller
(``self``). Routes anyone may call (health, metrics, JWKS, the token endpoint) are marked with
:data:`PUBLIC` instead.

Every refusal (401, 403, 429, 503) is counted, logged as an audit line, and handed to the
app's ``access_audit`` hooks (the bus publisher of :mod:`emms_runtime.auth.audit`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import fastapi.routing
import structlog
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import Counter

from emms_runtime.auth.permissions import STEP_UP, Permission
from emms_runtime.auth.principal import Principal
from emms_runtime.auth.quotas import RateLimiter
from emms_runtime.auth.verify import TokenRejected, TokenVerifier, VerificationUnavailable

log = structlog.get_logger("emms.access")
DENIED = Counter("emms_access_denied_total", "Requests refused by authentication or authorisation", ["status"])

ScopeKind = Literal["company", "global", "self"]
PUBLIC: dict[str, Any] = {"x-emms-public": True}
"""``openapi_extra`` of a route that needs no token."""

_bearer = HTTPBearer(auto_error=False, description="An access token of the EMMS identity service (EdDSA JWT)")


@dataclass(frozen=True, slots=True)
class RouteAccess:
    permission: Permission | None
    scope: ScopeKind
    step_up: bool


AccessAuditHook = Callable[[Request, int, str, Principal | None], None]


def deny(request: Request, code: int, reason: str, principal: Principal | None = None,
         headers: dict[str, str] | None = None) -> HTTPException:
    """Count, log and hand on a refusal; the exception to raise."""
    DENIED.labels(str(code)).inc()
    log.warning("access denied", audit=True, status=code, reason=reason, method=request.method,
                path=request.url.path, subject=principal.subject if principal else None,
                kind=principal.kind if principal else None)
    for hook in getattr(request.app.state, "access_audit", ()):
        hook(request, code, reason, principal)
    if code == status.HTTP_401_UNAUTHORIZED:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return HTTPException(code, detail=reason, headers=headers)


async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise deny(request, 401, "a bearer token is required")
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return await verifier.verify(credentials.credentials)
    except TokenRejected as exc:
        raise deny(request, 401, str(exc)) from None
    except VerificationUnavailable as exc:
        raise deny(request, 503, str(exc), headers={"Retry-After": "5"}) from None


def _check_quota(request: Request, principal: Principal) -> None:
    settings = request.app.state.auth_settings
    if not settings.enforce_quotas:
        return
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.retry_after(principal.key, principal.per_minute)
    if wait:
        raise deny(request, 429, f"more than {principal.per_minute} requests a minute for {principal.key}"
                   f" (its quota); retry in {wait} s", principal, headers={"Retry-After": str(wait)})


def stepped_up(request: Request, principal: Principal) -> bool:
    """Whether the caller's token carries a password check recent enough for a step-up permission."""
    max_age: int = request.app.state.auth_settings.step_up_max_age_s
    return principal.step_up and int(time.time()) - principal.auth_time <= max_age


def _check_step_up(request: Request, principal: Principal, permission: Permission) -> None:
    max_age = request.app.state.auth_settings.step_up_max_age_s
    age = int(time.time()) - principal.auth_time
    if not principal.step_up or age > max_age:
        why = "has no step-up" if not principal.step_up else f"stepped up {age} s ago"
        raise deny(request, 403, f"{permission.value} needs a step-up token (a password check within the last"
                   f" {max_age} s): your token {why}; ask the token endpoint with step_up=true", principal)


def require(permission: Permission | None, *, scope: ScopeKind = "company", step_up: bool | None = None) -> Any:
    """A dependency giving the caller once its token is valid and carries ``permission``.

    ``permission=None`` asks only for a valid token (the caller's own things, ``scope="self"``).
    ``step_up`` defaults to whether ``permission`` is one of ``STEP_UP``; ``False`` admits the permission
    without a fresh password check — for a route that only *requests* the action (it waits for a stepped-up
    approver, see :func:`stepped_up`)."""
    access = RouteAccess(permission, scope, (permission in STEP_UP if permission else False)
                         if step_up is None else step_up)

    async def check(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        principal = await authenticate(request, credentials)
        if permission is not None and permission not in principal.permissions:
            raise deny(request, 403, f"permission {permission.value!r} is needed; your roles"
                       f" {list(principal.roles)} do not grant it", principal)
        if access.step_up and permission is not None:
            _check_step_up(request, principal, permission)
        _check_quota(request, principal)
        return principal

    check.emms_access = access  # type: ignore[attr-defined]
    return Depends(check)


def _access_of(dependant: Dependant | None) -> RouteAccess | None:
    if dependant is None:
        return None
    found = getattr(dependant.call, "emms_access", None)
    if isinstance(found, RouteAccess):
        return found
    for sub in dependant.dependencies:
        inner = _access_of(sub)
        if inner is not None:
            return inner
    return None


def _api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], Dependant | None, dict[str, Any]]]:
    """(path, methods, dependant, openapi_extra) of every API route, routers included.

    FastAPI 0.16x keeps included routers as lazy branches; ``iter_route_contexts`` walks them."""
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    contexts: Iterable[Any] = walk(app.routes) if walk else app.routes
    for ctx in contexts:
        original = getattr(ctx, "original_route", ctx)
        if isinstance(original, APIRoute):
            path = getattr(ctx, "path_format", None) or ctx.path
            yield path, set(ctx.methods or ()), ctx.dependant, dict(original.openapi_extra or {})


def annotate_openapi(app: FastAPI) -> None:
    """Write each route's access mark into its OpenAPI operation (``x-emms-permission`` …)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        for path, methods, dependant, _extra in _api_routes(app):
            access = _access_of(dependant)
            if access is None:
                continue
            for method in methods:
                operation = document.get("paths", {}).get(path, {}).get(method.lower())
                if operation is not None:
                    operation.update({"x-emms-permission": access.permission.value if access.permission else None,
                                      "x-emms-scope": access.scope, "x-emms-step-up": access.step_up})
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def routes_without_access(app: FastAPI) -> list[str]:
    """Routes that neither check access nor are marked public (for tests and start-up checks)."""
    return [f"{sorted(methods)} {path}" for path, methods, dependant, extra in _api_routes(app)
            if _access_of(dependant) is None and not extra.get("x-emms-public")]
