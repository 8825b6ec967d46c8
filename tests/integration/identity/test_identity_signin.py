"""Sign-in with the password grant: the token's claims, the same answer for a wrong password and
an unknown user, lockout with its message and audit, disabled accounts, a forced password change
after a reset, and the password policy on every route that sets a password."""

from __future__ import annotations

import itertools
import time

import jwt
import pytest
from identity_harness import ADMIN_PASSWORD, PASSWORD, Identity, bearer, oauth_error

from emms_runtime.auth import BUILTIN_ROLES, STEP_UP_ACR
from emms_runtime.auth.permissions import USER_LIMITS

pytestmark = pytest.mark.integration


def claims_of(token: str) -> dict[str, object]:
    return jwt.decode(token, options={"verify_signature": False})


async def test_a_password_sign_in_gets_an_eddsa_token_with_the_claims_services_read(identity: Identity) -> None:
    admin = await identity.admin()
    user = await identity.create_user(admin, roles=["operator", "viewer"], companies=["C1"], regions=["R1"])
    body = await identity.token(user["username"], PASSWORD)
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["refresh_token"]
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "EdDSA"
    claims = claims_of(body["access_token"])
    assert claims["sub"] == user["username"] and claims["kind"] == "user"
    assert claims["iss"] == "emms" and claims["aud"] == "emms"
    assert claims["roles"] == ["operator", "viewer"]
    assert set(claims["perms"]) == {p.value for p in BUILTIN_ROLES["operator"] | BUILTIN_ROLES["viewer"]}  # type: ignore[arg-type]
    assert claims["companies"] == ["C1"] and claims["regions"] == ["R1"] and claims["customers"] == []
    assert (claims["max_rows"], claims["per_minute"]) == USER_LIMITS["operator"]
    assert "acr" not in claims and abs(int(claims["auth_time"]) - time.time()) < 30  # type: ignore[call-overload]
    me = await identity.client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["user"]["id"] == user["id"]


async def test_usernames_are_case_insensitive(identity: Identity) -> None:
    user = await identity.create_user(await identity.admin(), roles=["viewer"], prefix="Mixed")
    body = await identity.token(user["username"].upper(), PASSWORD)
    assert claims_of(body["access_token"])["sub"] == user["username"]
    again = await identity.client.post("/api/v1/users", headers=await identity.admin(), json={
        "username": user["username"].lower(), "password": PASSWORD})
    assert again.status_code == 409 and "taken" in again.json()["detail"]


async def test_wrong_password_and_unknown_user_get_the_same_answer(identity: Identity) -> None:
    user = await identity.create_user(await identity.admin(), roles=["viewer"])
    wrong = await identity.client.post("/oauth/token", data={
        "grant_type": "password", "username": user["username"], "password": "not-the-password"})
    unknown = await identity.client.post("/oauth/token", data={
        "grant_type": "password", "username": "nobody-at-all", "password": "not-the-password"})
    assert oauth_error(wrong) == oauth_error(unknown) == (400, "invalid_grant", "wrong username or password")
    assert wrong.headers["cache-control"] == "no-store"
    entries = await identity.audit(await identity.admin(), action="signin.failure")
    reasons = {(e["target"], e["reason"]) for e in entries}
    assert (user["username"], "wrong password") in reasons and ("nobody-at-all", "unknown user") in reasons


async def test_five_failures_lock_the_account_with_a_clear_message_and_an_audit_trail(identity: Identity) -> None:
    admin = await identity.admin()
    user = await identity.create_user(admin, roles=["viewer"])
    form = {"grant_type": "password", "username": user["username"], "password": "wrong-password-1"}
    answers = [await identity.client.post("/oauth/token", data=form) for _ in range(5)]
    assert [oauth_error(a)[2] for a in answers[:4]] == ["wrong username or password"] * 4
    status, error, fifth = oauth_error(answers[4])
    assert status == 400 and error == "invalid_grant" and "the account is locked until" in fifth
    # the right password does not get in while locked, and says until when
    right = await identity.client.post("/oauth/token", data={**form, "password": PASSWORD})
    status, error, locked = oauth_error(right)
    assert (status, error) == (400, "invalid_grant") and locked.startswith("the account is locked until 20")
    assert "ask an administrator to unlock it" in locked
    entries = await identity.audit(admin, target=user["username"])
    actions = [e["action"] for e in entries]
    assert actions.count("signin.failure") == 5 and "signin.lockout" in actions and "signin.locked" in actions
    shown = await identity.client.get(f"/api/v1/users/{user['id']}", headers=admin)
    assert shown.json()["locked_until"] is not None
    unlocked = await identity.client.post(f"/api/v1/users/{user['id']}/unlock", headers=admin)
    assert unlocked.status_code == 200 and unlocked.json()["locked_until"] is None
    assert (await identity.token(user["username"], PASSWORD))["access_token"]
    assert "user.unlock" in [e["action"] for e in await identity.audit(admin, target=user["username"])]


async def test_failures_outside_the_window_do_not_add_up(identity: Identity, db: object) -> None:
    admin = await identity.admin()
    user = await identity.create_user(admin, roles=["viewer"])
    form = {"grant_type": "password", "username": user["username"], "password": "wrong-password-1"}
    for _ in range(4):
        await identity.client.post("/oauth/token", data=form)
    await db.execute("UPDATE identity.users SET failed_since = failed_since - interval '16 minutes'"  # type: ignore[attr-defined]
                     " WHERE username = $1", user["username"])
    for _ in range(4):
        resp = await identity.client.post("/oauth/token", data=form)
        assert oauth_error(resp)[2] == "wrong username or password"
    assert (await identity.token(user["username"], PASSWORD))["access_token"]


async def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(identity: Identity) -> None:
    admin = await identity.admin()
    user = await identity.create_user(admin, roles=["viewer"])
    session = await identity.token(user["username"], PASSWORD)
    resp = await identity.client.post(f"/api/v1/users/{user['id']}/disable", headers=admin)
    assert resp.status_code == 200 and resp.json()["disabled"] is True
    refused = await identity.client.post("/oauth/token", data={
        "grant_type": "password", "username": user["username"], "password": PASSWORD})
    assert oauth_error(refused) == (400, "invalid_grant", "the account is disabled; ask an administrator")
    refreshed = await identity.client.post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": session["refresh_token"]})
    assert oauth_error(refreshed)[:2] == (400, "invalid_grant") and "revoked" in oauth_error(refreshed)[2]
    await identity.client.post(f"/api/v1/users/{user['id']}/enable", headers=admin)
    assert (await identity.token(user["username"], PASSWORD))["access_token"]


async def test_after_a_reset_the_user_must_change_the_password_before_anything_else(identity: Identity) -> None:
    admin = await identity.admin()
    user = await identity.create_user(admin, roles=["admin"])
    reset = await identity.client.post(f"/api/v1/users/{user['id']}/reset-password", headers=admin)
    assert reset.status_code == 200
    temporary = reset.json()["temporary_password"]
    assert reset.json()["must_change_password"] is True
    old = await identity.client.post("/oauth/token", data={
        "grant_type": "password", "username": user["username"], "password": PASSWORD})
    assert oauth_error(old)[1] == "invalid_grant"
    body = await identity.token(user["username"], temporary)
    assert body["password_change_required"] is True and "refresh_token" not in body and body["scope"] == ""
    claims = claims_of(body["access_token"])
    assert claims["perms"] == [] and claims["pwd_change"] is True and claims["kind"] == "user"
    limited = bearer(body["access_token"])
    listed = await identity.client.get("/api/v1/users", headers=limited)
    assert listed.status_code == 403 and "users:read" in listed.json()["detail"]
    assert (await identity.client.get("/api/v1/me", headers=limited)).json()["user"]["must_change_password"]
    changed = await identity.client.post("/api/v1/me/password", headers=limited, json={
        "current_password": temporary, "new_password": "A-brand-new-secret-77"})
    assert changed.status_code == 200, changed.text
    fresh = await identity.token(user["username"], "A-brand-new-secret-77")
    assert "users:read" in claims_of(fresh["access_token"])["perms"]  # type: ignore[operator]
    assert "refresh_token" in fresh
    actions = [e["action"] for e in await identity.audit(admin, target=user["username"])]
    assert "password.reset" in actions and "password.change" in actions


async def test_the_password_policy_names_every_broken_rule(identity: Identity) -> None:
    admin = await identity.admin()
    resp = await identity.client.post("/api/v1/users", headers=admin, json={
        "username": "shorty-user", "password": "shorty"})
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert "shorter than 12 characters" in detail and "at least 3 are needed" in detail
    assert "contains the username" not in detail
    named = await identity.client.post("/api/v1/users", headers=admin, json={
        "username": "gridwatcher", "password": "Gridwatcher-2026"})
    assert named.status_code == 422 and named.json()["detail"] == "the password is refused: contains the username"


async def test_a_new_password_is_none_of_the_last_five(identity: Identity) -> None:
    user = await identity.create_user(await identity.admin(), roles=["viewer"])
    headers = await identity.bearer(user["username"], PASSWORD)
    passwords = [PASSWORD] + [f"Rotation-secret-{i}x" for i in range(5)]
    for old, new in itertools.pairwise(passwords):
        resp = await identity.client.post("/api/v1/me/password", headers=headers, json={
            "current_password": old, "new_password": new})
        assert resp.status_code == 200, resp.text
    current = passwords[-1]
    for reused in passwords[-5:]:
        resp = await identity.client.post("/api/v1/me/password", headers=headers, json={
            "current_password": current, "new_password": reused})
        assert resp.status_code == 422 and "one of your last 5 passwords" in resp.json()["detail"], reused
    resp = await identity.client.post("/api/v1/me/password", headers=headers, json={
        "current_password": current, "new_password": passwords[0]})
    assert resp.status_code == 200, "the sixth password back is allowed again"


async def test_a_wrong_current_password_is_refused_and_counted(identity: Identity) -> None:
    user = await identity.create_user(await identity.admin(), roles=["viewer"])
    headers = await identity.bearer(user["username"], PASSWORD)
    resp = await identity.client.post("/api/v1/me/password", headers=headers, json={
        "current_password": "not-it-at-all", "new_password": "Another-good-one-55"})
    assert resp.status_code == 403 and resp.json()["detail"] == "the current password is wrong"
    shown = await identity.client.get("/api/v1/me", headers=headers)
    assert shown.json()["user"]["failed_signins"] == 1


async def test_step_up_tokens_are_short_lived_marked_and_never_refreshable(identity: Identity) -> None:
    body = await identity.token("admin", ADMIN_PASSWORD, step_up=True)
    claims = claims_of(body["access_token"])
    assert claims["acr"] == STEP_UP_ACR and body["acr"] == STEP_UP_ACR
    assert body["expires_in"] == 300 and "refresh_token" not in body


@pytest.mark.parametrize(("form", "expected"), [
    ({}, ("invalid_request", "grant_type is required (a form, application/x-www-form-urlencoded)")),
    ({"grant_type": "implicit"}, ("unsupported_grant_type", "grant_type 'implicit' is not supported; use one of"
                                                            " password, client_credentials, refresh_token")),
    ({"grant_type": "password", "username": "admin"}, ("invalid_request", "password is required for"
                                                                          " grant_type=password")),
    ({"grant_type": "password", "username": "a\x00b", "password": "x"}, ("invalid_request",
                                                                         "username holds a NUL character")),
    ({"grant_type": "password", "username": "admin", "password": "x", "step_up": "maybe"},
     ("invalid_request", "step_up must be true or false, not 'maybe'")),
    ({"grant_type": "refresh_token"}, ("invalid_request", "refresh_token is required for grant_type=refresh_token")),
])
async def test_malformed_token_requests_get_rfc_6749_errors(identity: Identity, form: dict[str, str],
                                                            expected: tuple[str, str]) -> None:
    resp = await identity.client.post("/oauth/token", data=form)
    assert oauth_error(resp) == (400, *expected)


async def test_a_json_body_is_not_a_token_request(identity: Identity) -> None:
    resp = await identity.client.post("/oauth/token", json={"grant_type": "password", "username": "admin",
                                                            "password": ADMIN_PASSWORD})
    assert oauth_error(resp)[:2] == (400, "invalid_request")


async def test_a_long_username_is_an_unknown_user_not_an_error(identity: Identity) -> None:
    resp = await identity.client.post("/oauth/token", data={"grant_type": "password", "username": "x" * 500,
                                                            "password": "whatever"})
    assert oauth_error(resp) == (400, "invalid_grant", "wrong username or password")
