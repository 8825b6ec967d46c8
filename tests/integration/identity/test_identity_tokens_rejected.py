"""The identity service checks the tokens sent to its own API against its own keys: forged,
wrong-audience, wrong-issuer, ``alg: none``, HS256 and expired tokens are 401 with the reason;
development tokens only where the settings allow them."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from identity_harness import Identity, bearer

from emms_identity.tokens.verifier import LocalTokenVerifier
from emms_runtime.auth import SigningKey, issue_token
from emms_runtime.auth.verify import TokenRejected
from emms_runtime.settings import AuthSettings

pytestmark = pytest.mark.integration


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "emms", "aud": "emms", "sub": "admin", "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex,
            "kind": "user", "roles": ["admin"], "perms": ["users:read"], "auth_time": now, **over}


async def _me(identity: Identity, token: str) -> tuple[int, str]:
    resp = await identity.client.get("/api/v1/users", headers=bearer(token))
    return resp.status_code, resp.json().get("detail", "") if resp.status_code != 200 else ""


async def test_a_token_signed_by_the_active_key_is_accepted(identity: Identity) -> None:
    key = await identity.rt.keyring.signing_key()
    assert await _me(identity, key.sign(_claims())) == (200, "")


async def test_forged_tokens_of_every_kind_are_401_with_the_reason(identity: Identity) -> None:
    key = await identity.rt.keyring.signing_key()
    stranger = SigningKey(key.kid, Ed25519PrivateKey.generate())  # the real kid, another key
    status, reason = await _me(identity, stranger.sign(_claims()))
    assert status == 401 and "Signature verification failed" in reason
    status, reason = await _me(identity, SigningKey.generate("made-up-kid").sign(_claims()))
    assert status == 401 and "unknown signing key 'made-up-kid'" in reason
    status, reason = await _me(identity, key.sign(_claims(aud="billing-system")))
    assert status == 401 and "audience" in reason.lower()
    status, reason = await _me(identity, key.sign(_claims(iss="someone-else")))
    assert status == 401 and "issuer" in reason.lower()
    status, reason = await _me(identity, key.sign(_claims(exp=int(time.time()) - 60)))
    assert (status, reason) == (401, "the token has expired")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": key.kid}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=").decode()
    status, reason = await _me(identity, f"{header}.{body}.")
    assert status == 401 and "'none' is not accepted" in reason
    hs256 = jwt.encode(_claims(), "guessable-shared-secret-of-old!!", algorithm="HS256", headers={"kid": key.kid})
    status, reason = await _me(identity, hs256)
    assert status == 401 and "'HS256' is not accepted" in reason
    status, reason = await _me(identity, "not.a.jwt")
    assert status == 401
    resp = await identity.client.get("/api/v1/users")
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"


async def test_development_tokens_only_where_allowed(identity: Identity) -> None:
    dev = issue_token(AuthSettings(), "dev-admin", "admin")
    assert (await _me(identity, dev))[0] == 200, "tests and development accept emms-token"
    strict = LocalTokenVerifier(AuthSettings(accept_dev_tokens=False), lambda: identity.rt.keyring)
    with pytest.raises(TokenRejected, match="development tokens"):
        await strict.verify(dev)
    key = await identity.rt.keyring.signing_key()
    assert (await strict.verify(key.sign(_claims()))).subject == "admin"
