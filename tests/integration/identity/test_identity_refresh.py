"""Refresh tokens: rotation (each one good once), reuse detection that ends the whole sign-in,
revocation (RFC 7009), and every event in the audit log."""

from __future__ import annotations

import pytest
from identity_harness import PASSWORD, Identity, bearer, oauth_error

pytestmark = pytest.mark.integration


async def _refresh(identity: Identity, token: str) -> tuple[int, dict[str, str]]:
    resp = await identity.client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token})
    return resp.status_code, resp.json()


async def test_each_refresh_rotates_the_refresh_token(identity: Identity) -> None:
    user = await identity.create_user(await identity.admin(), roles=["viewer"])
    first = await identity.token(user["username"], PASSWORD)
    status, second = await _refresh(identity, first["refresh_token"])
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    me = await identity.client.get("/api/v1/me", headers=bearer(second["access_token"]))
    assert me.json()["token"]["subject"] == user["username"]
    status, third = await _refresh(identity, second["refresh_token"])
    assert status == 200 and third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])


async def test_a_reused_refresh_token_revokes_the_whole_sign_in(identity: Identity) -> None:
    admin = await identity.admin()
    user = await identity.create_user(admin, roles=["viewer"])
    first = await identity.token(user["username"], PASSWORD)
    _, second = await _refresh(identity, first["refresh_token"])
    status, body = await _refresh(identity, first["refresh_token"])  # a thief replays the old one
    assert status == 400 and body["error"] == "invalid_grant"
    assert "already used" in body["error_description"] and "revoked" in body["error_description"]
    status, body = await _refresh(identity, second["refresh_token"])  # the legitimate successor is dead too
    assert status == 400 and body["error_description"] == "the refresh token was revoked (reuse); sign in again"
    reuse = await identity.audit(admin, action="token.reuse", target=user["username"])
    assert len(reuse) == 1 and reuse[0]["outcome"] == "denied" and reuse[0]["detail"]["revoked"] >= 1


async def test_another_sign_in_of_the_same_user_survives_a_reuse(identity: Identity) -> None:
    user = await identity.create_user(await identity.admin(), roles=["viewer"])
    laptop = await identity.token(user["username"], PASSWORD)
    phone = await identity.token(user["username"], PASSWORD)
    await _refresh(identity, laptop["refresh_token"])
    await _refresh(identity, laptop["refresh_token"])
    status, _ = await _refresh(identity, phone["refresh_token"])
    assert status == 200


async def test_revocation_ends_the_sign_in_and_is_audited(identity: Identity) -> None:
    admin = await identity.admin()
    user = await identity.create_user(admin, roles=["viewer"])
    first = await identity.token(user["username"], PASSWORD)
    _, second = await _refresh(identity, first["refresh_token"])
    resp = await identity.client.post("/oauth/revoke", data={"token": second["refresh_token"]})
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    status, body = await _refresh(identity, second["refresh_token"])
    assert (status, body["error_description"]) == (400, "the refresh token was revoked (revoked); sign in again")
    assert [e["target"] for e in await identity.audit(admin, action="token.revoke", target=user["username"])] == [
        user["username"]]


async def test_revoking_an_unknown_token_is_not_an_error_but_an_access_token_is_unsupported(
        identity: Identity) -> None:
    assert (await identity.client.post("/oauth/revoke", data={"token": "never-issued"})).status_code == 200
    access = (await identity.token("admin", "Bootstrap-Root-7!"))["access_token"]
    resp = await identity.client.post("/oauth/revoke", data={"token": access, "token_type_hint": "access_token"})
    assert oauth_error(resp)[:2] == (400, "unsupported_token_type")
    assert oauth_error(await identity.client.post("/oauth/revoke", data={}))[:2] == (400, "invalid_request")


async def test_an_unknown_or_expired_refresh_token_is_invalid_grant(identity: Identity, db: object) -> None:
    status, body = await _refresh(identity, "made-up-refresh-token")
    assert (status, body["error"]) == (400, "invalid_grant") and "not known" in body["error_description"]
    user = await identity.create_user(await identity.admin(), roles=["viewer"])
    session = await identity.token(user["username"], PASSWORD)
    await db.execute("UPDATE identity.refresh_tokens SET expires_at = now() - interval '1 minute'"  # type: ignore[attr-defined]
                     " WHERE subject = $1", user["username"])
    status, body = await _refresh(identity, session["refresh_token"])
    assert status == 400 and body["error_description"].startswith("the refresh token expired at ")


async def test_a_refresh_picks_up_changed_roles(identity: Identity) -> None:
    admin = await identity.admin()
    user = await identity.create_user(admin, roles=["viewer"])
    session = await identity.token(user["username"], PASSWORD)
    resp = await identity.client.patch(f"/api/v1/users/{user['id']}", headers=admin, json={"roles": ["customer"]})
    assert resp.status_code == 200 and resp.json()["roles"] == ["customer"]
    _, refreshed = await _refresh(identity, session["refresh_token"])
    me = await identity.client.get("/api/v1/me", headers=bearer(refreshed["access_token"]))
    assert me.json()["token"]["roles"] == ["customer"]


async def test_refresh_tokens_are_stored_only_as_digests(identity: Identity, db: object) -> None:
    user = await identity.create_user(await identity.admin(), roles=["viewer"])
    session = await identity.token(user["username"], PASSWORD)
    stored = await db.fetch("SELECT token_hash FROM identity.refresh_tokens WHERE subject = $1",  # type: ignore[attr-defined]
                            user["username"])
    assert len(stored) == 1 and stored[0]["token_hash"] != session["refresh_token"]
    assert len(stored[0]["token_hash"]) == 64
