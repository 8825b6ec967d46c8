"""Step-up: user administration and key rotation need a token from a fresh password check; a
plain token, or a step-up older than the services accept, is refused with 403 and the reason."""

from __future__ import annotations

import secrets
import time
import uuid

import pytest
from identity_harness import ADMIN_PASSWORD, PASSWORD, Identity, bearer

from emms_runtime.auth import BUILTIN_ROLES, STEP_UP_ACR

pytestmark = pytest.mark.integration


async def test_user_administration_refuses_a_token_without_step_up(identity: Identity) -> None:
    plain = await identity.admin(step_up=False)
    body = {"username": f"s-{secrets.token_hex(3)}", "password": PASSWORD, "roles": ["viewer"]}
    resp = await identity.client.post("/api/v1/users", headers=plain, json=body)
    assert resp.status_code == 403
    assert resp.json()["detail"].startswith("users:manage needs a step-up token")
    assert "ask the token endpoint with step_up=true" in resp.json()["detail"]
    reads = await identity.client.get("/api/v1/users", headers=plain)
    assert reads.status_code == 200, "reading needs no step-up"
    rotate = await identity.client.post("/api/v1/keys/rotate", headers=plain)
    assert rotate.status_code == 403 and "step-up" in rotate.json()["detail"]
    stepped = await identity.client.post("/api/v1/users", headers=await identity.admin(step_up=True), json=body)
    assert stepped.status_code == 201


async def test_an_old_step_up_is_refused(identity: Identity) -> None:
    key = await identity.rt.keyring.signing_key()
    now = int(time.time())
    claims = {"iss": "emms", "aud": "emms", "sub": "admin", "iat": now, "exp": now + 300, "jti": uuid.uuid4().hex,
              "kind": "user", "roles": ["admin"], "perms": sorted(BUILTIN_ROLES["admin"]), "acr": STEP_UP_ACR,
              "auth_time": now - 400}
    resp = await identity.client.post("/api/v1/users", headers=bearer(key.sign(claims)), json={
        "username": f"s-{secrets.token_hex(3)}", "password": PASSWORD})
    assert resp.status_code == 403 and "stepped up 400 s ago" in resp.json()["detail"]


async def test_a_step_up_needs_the_password_again(identity: Identity) -> None:
    resp = await identity.client.post("/oauth/token", data={"grant_type": "password", "username": "admin",
                                                            "password": "guess", "step_up": "true"})
    assert resp.status_code == 400
    assert (await identity.token("admin", ADMIN_PASSWORD, step_up=True))["acr"] == STEP_UP_ACR
