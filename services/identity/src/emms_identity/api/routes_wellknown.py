"""Discovery and the public keys: ``/.well-known/openid-configuration`` and ``/.well-known/jwks.json``."""

from typing import Any

from fastapi import APIRouter, Request, Response

from emms_identity.api.deps import IdentityDep
from emms_identity.api.responses import Discovery, Jwks
from emms_identity.tokens.endpoint import GRANTS
from emms_runtime.auth import PUBLIC, STEP_UP_ACR

router = APIRouter(prefix="/.well-known", tags=["discovery"])


@router.get("/jwks.json", response_model=Jwks, openapi_extra=PUBLIC,
            summary="The public signing keys: next, active and recently retired (RFC 7517)")
async def jwks(rt: IdentityDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=60"
    return await rt.keyring.jwks()


@router.get("/openid-configuration", response_model=Discovery, openapi_extra=PUBLIC,
            summary="Where the token, revocation and key endpoints are (RFC 8414 metadata)")
async def discovery(rt: IdentityDep, request: Request) -> dict[str, Any]:
    base = (rt.settings.public_url or str(request.base_url)).rstrip("/")
    return {"issuer": rt.settings.auth.issuer, "token_endpoint": f"{base}/oauth/token",
            "jwks_uri": f"{base}/.well-known/jwks.json", "revocation_endpoint": f"{base}/oauth/revoke",
            "grant_types_supported": list(GRANTS),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "acr_values_supported": [STEP_UP_ACR]}
