"""``/oauth/token`` (RFC 6749) and ``/oauth/revoke`` (RFC 7009): forms in, RFC error bodies out."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Header, Request, Response

from emms_identity.api.deps import IdentityDep, client_ip
from emms_identity.api.responses import OAuthErrorBody, TokenResponse
from emms_identity.tokens import endpoint
from emms_identity.tokens.errors import NO_STORE
from emms_runtime.auth import PUBLIC

router = APIRouter(prefix="/oauth", tags=["oauth"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OAuthErrorBody, "description": "invalid_request, invalid_grant, unsupported_grant_type"},
    401: {"model": OAuthErrorBody, "description": "invalid_client"},
    429: {"model": OAuthErrorBody, "description": "too many attempts; see Retry-After"},
}
FormText = Annotated[str | None, Form()]
"""Every field optional in the schema: a missing or oversized one is an RFC 6749 error of the endpoint, not a 422."""


@router.post("/token", response_model=TokenResponse, openapi_extra=PUBLIC, responses=_ERRORS,
             summary="Sign in: password (with step_up), client_credentials, refresh_token grants")
async def token(request: Request, response: Response, rt: IdentityDep, grant_type: FormText = None,
                username: FormText = None, password: FormText = None, step_up: FormText = None,
                refresh_token: FormText = None, client_id: FormText = None, client_secret: FormText = None,
                scope: FormText = None,
                authorization: Annotated[str | None, Header(include_in_schema=False)] = None) -> dict[str, Any]:
    """``application/x-www-form-urlencoded``. ``scope`` is accepted and ignored: a token carries
    every permission of the caller's roles."""
    body = await endpoint.token(rt, endpoint.TokenRequest(
        grant_type=grant_type, username=username, password=password, step_up=step_up, refresh_token=refresh_token,
        client_id=client_id, client_secret=client_secret, authorization=authorization,
        client_ip=client_ip(request)))
    response.headers.update(NO_STORE)
    return body


@router.post("/revoke", response_class=Response, openapi_extra=PUBLIC, responses=_ERRORS,
             summary="Revoke a refresh token and every token of its sign-in (RFC 7009)")
async def revoke(request: Request, rt: IdentityDep, token: FormText = None,
                 token_type_hint: FormText = None) -> Response:
    await endpoint.revoke(rt, token, token_type_hint, client_ip(request))
    return Response(status_code=200, headers=NO_STORE)
