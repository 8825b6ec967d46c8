"""``POST /oauth/token`` and ``POST /oauth/revoke``: what a request asks for, which grant answers it.

Grants: ``password`` (``username``, ``password``, optional ``step_up=true``), ``client_credentials``
(HTTP Basic, or ``client_id`` + ``client_secret`` in the form — one of the two, RFC 6749 §2.3.1),
``refresh_token`` (``refresh_token``). Every attempt is counted against the per-address limit and
the per-username or per-client one before any password is checked.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from emms_identity.runtime import IdentityRuntime
from emms_identity.tokens import refresh
from emms_identity.tokens.client_grant import client_credentials_grant
from emms_identity.tokens.errors import OAuthError, invalid_client, invalid_request
from emms_identity.tokens.signin import password_grant, refresh_grant

GRANTS = ("password", "client_credentials", "refresh_token")
MAX_SECRET = 4096
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}


@dataclass(frozen=True, slots=True)
class TokenRequest:
    grant_type: str | None
    username: str | None = None
    password: str | None = None
    step_up: str | None = None
    refresh_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    authorization: str | None = None
    client_ip: str | None = None


def _required(value: str | None, name: str, grant: str) -> str:
    if not value:
        raise invalid_request(f"{name} is required for grant_type={grant}")
    if len(value) > MAX_SECRET:
        raise invalid_request(f"{name} is longer than {MAX_SECRET} characters")
    if "\x00" in value and name in ("username", "client_id"):
        raise invalid_request(f"{name} holds a NUL character")
    return value


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(client_id, client_secret) of an HTTP Basic header (each part form-url-encoded, RFC 6749 §2.3.1)."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise invalid_client("the Basic authorization header is not base64 of client_id:client_secret") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise invalid_client("the Basic authorization header is not base64 of client_id:client_secret")
    return unquote_plus(client_id), unquote_plus(secret)


def _client_credentials(req: TokenRequest) -> tuple[str, str]:
    basic = basic_credentials(req.authorization)
    if basic is not None:
        if req.client_id or req.client_secret:
            raise invalid_request("send the client's credentials once: HTTP Basic or the form, not both")
        return _required(basic[0], "client_id", "client_credentials"), \
            _required(basic[1], "client_secret", "client_credentials")
    if not req.client_id or not req.client_secret:
        raise invalid_client("client authentication is required: HTTP Basic, or client_id and client_secret")
    return _required(req.client_id, "client_id", "client_credentials"), \
        _required(req.client_secret, "client_secret", "client_credentials")


def _flag(value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise invalid_request(f"step_up must be true or false, not {text[:20]!r}")


async def token(rt: IdentityRuntime, req: TokenRequest) -> dict[str, Any]:
    grant = req.grant_type
    if not grant:
        raise invalid_request("grant_type is required (a form, application/x-www-form-urlencoded)")
    if grant == "password":
        username = _required(req.username, "username", grant)
        password = _required(req.password, "password", grant)
        step_up = _flag(req.step_up)
        rt.throttle.check(req.client_ip, username=username)
        return await password_grant(rt, username, password, step_up=step_up, client_ip=req.client_ip)
    if grant == "client_credentials":
        client_id, secret = _client_credentials(req)
        rt.throttle.check(req.client_ip, client_id=client_id)
        return await client_credentials_grant(rt, client_id, secret, client_ip=req.client_ip)
    if grant == "refresh_token":
        value = _required(req.refresh_token, "refresh_token", grant)
        rt.throttle.check(req.client_ip)
        return await refresh_grant(rt, value, client_ip=req.client_ip)
    raise OAuthError("unsupported_grant_type", f"grant_type {grant[:40]!r} is not supported; use one of"
                     f" {', '.join(GRANTS)}")


async def revoke(rt: IdentityRuntime, value: str | None, hint: str | None, client_ip: str | None) -> None:
    """RFC 7009: revoke a refresh token's sign-in; an unknown token is not an error. Access tokens are
    not revocable (they are verified by every service without asking here): ``unsupported_token_type``."""
    if not value:
        raise invalid_request("token is required")
    rt.throttle.check(client_ip)
    if await refresh.revoke(rt, value[:MAX_SECRET], client_ip):
        return
    if hint == "access_token" or value.count(".") == 2:
        raise OAuthError("unsupported_token_type", "access tokens cannot be revoked: they expire within"
                         f" {rt.settings.tokens.access_ttl_s} s; revoke the refresh token of the sign-in")
