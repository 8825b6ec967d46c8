"""The identity service: FastAPI app, and the lifespan hook that builds the identity runtime."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from emms_identity.api.routes_audit import router as audit_router
from emms_identity.api.routes_clients import router as clients_router
from emms_identity.api.routes_keys import router as keys_router
from emms_identity.api.routes_me import router as me_router
from emms_identity.api.routes_oauth import router as oauth_router
from emms_identity.api.routes_roles import router as roles_router
from emms_identity.api.routes_users import router as users_router
from emms_identity.api.routes_wellknown import router as wellknown_router
from emms_identity.bootstrap import bootstrap
from emms_identity.consumers import ACCESS_GROUP, ACCESS_TOPIC, access_denied_handler
from emms_identity.keys.keyring import Keyring
from emms_identity.maintenance import purge_expired_refresh_tokens
from emms_identity.passwords.hashing import Hasher
from emms_identity.runtime import IdentityRuntime
from emms_identity.schema import SCHEMA
from emms_identity.settings import IdentitySettings
from emms_identity.tokens.errors import OAuthError, oauth_error_handler
from emms_identity.tokens.verifier import LocalTokenVerifier
from emms_runtime import ServiceRuntime, ServiceSpec, create_service_app
from emms_runtime.periodic import PeriodicWorker


async def setup(rt: ServiceRuntime) -> None:
    assert rt.pool is not None
    settings = rt.settings
    assert isinstance(settings, IdentitySettings)
    hasher = await asyncio.to_thread(Hasher, settings.hashing)
    identity = IdentityRuntime(settings, rt.pool, hasher, Keyring(rt.pool, settings), producer=rt.producer)
    await bootstrap(identity)
    rt.state = identity
    if settings.audit_access_denied and rt.producer is not None:
        rt.add_consumer(ACCESS_GROUP, [ACCESS_TOPIC], access_denied_handler(rt.pool))
    rt.add_worker("refresh-token-purge", PeriodicWorker(
        "refresh-token-purge", lambda: purge_expired_refresh_tokens(identity), 3600.0).run)


SPEC = ServiceSpec(
    name="identity",
    title="EMMS identity",
    description="Users in levels, roles and permissions, API clients with trust levels, the OAuth2 token endpoint"
                " (password, client credentials, refresh with rotation, step-up), signing keys and JWKS, audit.",
    schema=SCHEMA,
    migrations=Path(__file__).parent / "migrations",
    routers=(oauth_router, wellknown_router, keys_router, users_router, roles_router, clients_router, me_router,
             audit_router),
    own_body_checks=frozenset({"/oauth/token"}),  # RFC 6749 errors; the endpoint refuses NULs itself
    setup=setup,
)


def create_app(settings: IdentitySettings) -> FastAPI:
    app = create_service_app(settings, SPEC)
    app.add_exception_handler(OAuthError, oauth_error_handler)

    def keyring() -> Keyring | None:
        state = getattr(getattr(app.state, "runtime", None), "state", None)
        return state.keyring if isinstance(state, IdentityRuntime) else None

    app.state.token_verifier = LocalTokenVerifier(settings.auth, keyring)
    return app


__all__ = ["SPEC", "IdentityRuntime", "create_app"]
