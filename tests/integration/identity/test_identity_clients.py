"""Other systems (API clients): client credentials by HTTP Basic or in the form, a trust level that
bounds their permissions and sets their row limit and rate, secrets shown once and rotated."""

from __future__ import annotations

import base64
from urllib.parse import quote

import jwt
import pytest
from identity_harness import Identity, bearer, oauth_error

from emms_runtime.auth import BUILTIN_ROLES, TRUST_LEVELS

pytestmark = pytest.mark.integration


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": f"Basic {base64.b64encode(raw).decode()}"}


async def _client(identity: Identity, trust_level: str, roles: list[str], **more: object) -> dict[str, str]:
    resp = await identity.client.post("/api/v1/clients", headers=await identity.admin(), json={
        "name": f"{trust_level} system", "trust_level": trust_level, "roles": roles, **more})
    assert resp.status_code == 201, resp.text
    body: dict[str, str] = resp.json()
    return body


async def test_a_billing_client_gets_its_roles_within_its_trust_level(identity: Identity) -> None:
    created = await _client(identity, "billing", ["operator"], companies=["GRID"])
    resp = await identity.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                      headers=basic(created["client_id"], created["client_secret"]))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "refresh_token" not in body
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    billing = TRUST_LEVELS["billing"]
    assert claims["kind"] == "client" and claims["sub"] == created["client_id"]
    assert set(claims["perms"]) == {p.value for p in BUILTIN_ROLES["operator"] & billing.allowed}
    assert "users:manage" not in claims["perms"] and "validation:configure" not in claims["perms"]
    assert claims["trust_level"] == "billing" and claims["companies"] == ["GRID"]
    assert (claims["max_rows"], claims["per_minute"]) == (billing.max_rows, billing.per_minute)


async def test_an_analysis_client_reads_aggregates_only_whatever_its_roles(identity: Identity) -> None:
    created = await _client(identity, "analysis", ["admin"])
    resp = await identity.client.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": created["client_id"],
        "client_secret": created["client_secret"]})
    claims = jwt.decode(resp.json()["access_token"], options={"verify_signature": False})
    assert set(claims["perms"]) == {"aggregates:read", "masterdata:read"}
    assert (claims["max_rows"], claims["per_minute"]) == (10_000, 300)
    listed = await identity.client.get("/api/v1/users", headers=bearer(resp.json()["access_token"]))
    assert listed.status_code == 403


async def test_bad_client_credentials_are_401_invalid_client(identity: Identity) -> None:
    created = await _client(identity, "public", ["viewer"])
    wrong = await identity.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                       headers=basic(created["client_id"], "not-the-secret"))
    unknown = await identity.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                         headers=basic("no-such-client", "whatever"))
    assert oauth_error(wrong) == oauth_error(unknown) == (401, "invalid_client",
                                                          "unknown client or wrong client secret")
    assert wrong.headers["www-authenticate"].startswith("Basic")
    missing = await identity.client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert oauth_error(missing)[:2] == (401, "invalid_client")
    garbled = await identity.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                         headers={"Authorization": "Basic !!!not-base64"})
    assert oauth_error(garbled)[:2] == (401, "invalid_client")
    both = await identity.client.post("/oauth/token", headers=basic(created["client_id"], created["client_secret"]),
                                      data={"grant_type": "client_credentials", "client_id": created["client_id"],
                                            "client_secret": created["client_secret"]})
    assert oauth_error(both)[:2] == (400, "invalid_request")


async def test_a_rotated_secret_replaces_the_old_one_at_once(identity: Identity) -> None:
    admin = await identity.admin()
    created = await _client(identity, "internal", ["viewer"])
    rotated = await identity.client.post(f"/api/v1/clients/{created['client_id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    old = await identity.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                     headers=basic(created["client_id"], created["client_secret"]))
    assert old.status_code == 401
    new = await identity.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                     headers=basic(created["client_id"], new_secret))
    assert new.status_code == 200
    shown = await identity.client.get(f"/api/v1/clients/{created['client_id']}", headers=admin)
    assert "client_secret" not in shown.json() and "secret_hash" not in shown.json()


async def test_a_disabled_client_gets_no_token(identity: Identity) -> None:
    admin = await identity.admin()
    created = await _client(identity, "internal", ["viewer"], client_id="scada-link")
    assert created["client_id"] == "scada-link"
    resp = await identity.client.post("/api/v1/clients/scada-link/disable", headers=admin)
    assert resp.status_code == 200 and resp.json()["disabled"] is True
    refused = await identity.client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                         headers=basic("scada-link", created["client_secret"]))
    assert oauth_error(refused) == (401, "invalid_client", "client scada-link is disabled")
    again = await identity.client.post("/api/v1/clients", headers=admin, json={
        "client_id": "scada-link", "name": "x", "trust_level": "public"})
    assert again.status_code == 409


async def test_trust_levels_are_checked_and_changes_audited(identity: Identity) -> None:
    admin = await identity.admin()
    bad = await identity.client.post("/api/v1/clients", headers=admin, json={"name": "x", "trust_level": "root"})
    assert bad.status_code == 422 and "unknown trust level 'root'" in bad.text
    created = await _client(identity, "internal", ["viewer"])
    changed = await identity.client.patch(f"/api/v1/clients/{created['client_id']}", headers=admin,
                                          json={"trust_level": "public"})
    assert changed.status_code == 200 and changed.json()["trust_level"] == "public"
    entries = await identity.audit(admin, target=created["client_id"])
    assert [e["action"] for e in entries] == ["client.create", "client.update"]
    assert entries[1]["detail"]["after"] == {"trust_level": "public"}
