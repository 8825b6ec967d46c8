"""Signing claims into an access token and shaping the token endpoint's answer (RFC 6749 §5.1)."""

from __future__ import annotations

from typing import Any

from emms_identity.keys.keyring import Keyring


async def token_response(keyring: Keyring, claims: dict[str, Any], refresh_token: str | None = None
                         ) -> dict[str, Any]:
    key = await keyring.signing_key()
    body: dict[str, Any] = {"access_token": key.sign(claims), "token_type": "Bearer",
                            "expires_in": int(claims["exp"]) - int(claims["iat"]),
                            "scope": " ".join(claims.get("perms", ()))}
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    if "acr" in claims:
        body["acr"] = claims["acr"]
    if claims.get("pwd_change"):
        body["password_change_required"] = True
    return body
