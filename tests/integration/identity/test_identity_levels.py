"""Administration in levels (R-4.6.2): a company's administrator sees and manages only that
company's users and clients, grants at most its own permissions and scope, never manages someone
above it and never edits itself; every refusal is a 403 with the reason and an audit entry."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from identity_harness import PASSWORD, Identity

pytestmark = pytest.mark.integration

COMPANY_ADMIN = ["users:read", "users:manage", "audit:read", "readings:read", "masterdata:read", "service:read",
                 "collection:read", "validation:read", "terminals:read", "aggregates:read", "events:read"]


@dataclass
class Levels:
    a: str
    b: str
    alice: dict[str, Any]
    """Administrator of company ``a`` (a role of that company)."""
    headers: dict[str, str]
    bob: dict[str, Any]
    """A viewer of company ``b``."""
    boss: dict[str, Any]
    """An admin restricted to company ``a``: above alice."""
    carol: dict[str, Any]
    """A viewer of company ``a``."""
    role: str


@pytest.fixture(scope="module")
async def levels(identity: Identity) -> Levels:
    root = await identity.admin()
    tag = secrets.token_hex(3)
    a, b = f"A{tag}", f"B{tag}"
    role = f"company-admin-{tag}"
    resp = await identity.client.post("/api/v1/roles", headers=root, json={
        "name": role, "company_id": a, "permissions": COMPANY_ADMIN, "description": "administers one company"})
    assert resp.status_code == 201, resp.text
    alice = await identity.create_user(root, roles=[role], companies=[a], prefix="alice")
    bob = await identity.create_user(root, roles=["viewer"], companies=[b], prefix="bob")
    boss = await identity.create_user(root, roles=["admin"], companies=[a], prefix="boss")
    carol = await identity.create_user(root, roles=["viewer"], companies=[a], prefix="carol")
    headers = await identity.bearer(alice["username"], PASSWORD, step_up=True)
    return Levels(a, b, alice, headers, bob, boss, carol, role)


async def test_a_company_admin_sees_only_its_companys_users(identity: Identity, levels: Levels) -> None:
    resp = await identity.client.get("/api/v1/users", headers=levels.headers, params={"limit": 1000})
    names = {u["username"] for u in resp.json()}
    assert {levels.alice["username"], levels.carol["username"], levels.boss["username"]} <= names
    assert levels.bob["username"] not in names and "admin" not in names
    assert all(u["companies"] == [levels.a] for u in resp.json())
    other = await identity.client.get(f"/api/v1/users/{levels.bob['id']}", headers=levels.headers)
    assert other.status_code == 403 and "is outside your scope (companies" in other.json()["detail"]


async def test_a_company_admin_cannot_create_users_outside_its_scope(identity: Identity, levels: Levels) -> None:
    for scope, expected in [({"companies": [levels.b]}, f"companies ['{levels.b}'] are not within your companies"),
                            ({}, "companies all (unrestricted) are not within your companies")]:
        resp = await identity.client.post("/api/v1/users", headers=levels.headers, json={
            "username": f"x-{secrets.token_hex(3)}", "password": PASSWORD, "roles": ["viewer"], **scope})
        assert resp.status_code == 403 and expected in resp.json()["detail"], resp.text
    made = await identity.create_user(levels.headers, roles=["viewer"], companies=[levels.a])
    assert made["created_by"] == levels.alice["username"]


async def test_a_company_admin_grants_at_most_its_own_permissions(identity: Identity, levels: Levels) -> None:
    resp = await identity.client.post("/api/v1/users", headers=levels.headers, json={
        "username": f"x-{secrets.token_hex(3)}", "password": PASSWORD, "roles": ["operator"],
        "companies": [levels.a]})
    detail = resp.json()["detail"]
    assert resp.status_code == 403 and "cannot grant role 'operator'" in detail and "control:send" in detail
    up = await identity.client.patch(f"/api/v1/users/{levels.carol['id']}", headers=levels.headers,
                                     json={"roles": ["admin"]})
    assert up.status_code == 403 and "cannot grant role 'admin'" in up.json()["detail"]
    wider = await identity.client.patch(f"/api/v1/users/{levels.carol['id']}", headers=levels.headers,
                                        json={"companies": [levels.a, levels.b]})
    assert wider.status_code == 403 and "not within your companies" in wider.json()["detail"]
    own_role = await identity.client.patch(f"/api/v1/users/{levels.carol['id']}", headers=levels.headers,
                                           json={"roles": ["viewer", levels.role]})
    assert own_role.status_code == 200 and own_role.json()["roles"] == sorted(["viewer", levels.role])


async def test_a_company_admin_cannot_manage_someone_above_it(identity: Identity, levels: Levels) -> None:
    for path in ("reset-password", "disable", "unlock"):
        resp = await identity.client.post(f"/api/v1/users/{levels.boss['id']}/{path}", headers=levels.headers)
        assert resp.status_code == 403, path
        assert "holds permissions you do not have" in resp.json()["detail"]
    assert (await identity.client.post(f"/api/v1/users/{levels.bob['id']}/reset-password",
                                       headers=levels.headers)).status_code == 403


async def test_nobody_edits_themselves(identity: Identity, levels: Levels) -> None:
    resp = await identity.client.patch(f"/api/v1/users/{levels.alice['id']}", headers=levels.headers,
                                       json={"roles": [levels.role, "viewer"]})
    assert resp.status_code == 403 and "yourself" in resp.json()["detail"]
    reset = await identity.client.post(f"/api/v1/users/{levels.alice['id']}/reset-password", headers=levels.headers)
    assert reset.status_code == 403 and "yourself" in reset.json()["detail"]
    renamed = await identity.client.patch(f"/api/v1/users/{levels.alice['id']}", headers=levels.headers,
                                          json={"display_name": "Alice of A"})
    assert renamed.status_code == 200 and renamed.json()["display_name"] == "Alice of A"


async def test_refusals_are_audited_and_a_company_admin_reads_only_its_companys_entries(
        identity: Identity, levels: Levels) -> None:
    await identity.client.post(f"/api/v1/users/{levels.boss['id']}/disable", headers=levels.headers)
    root = await identity.admin()
    denied = await identity.audit(root, actor=levels.alice["username"], outcome="denied")
    assert any(e["action"] == "user.disable" and e["target"] == levels.boss["username"] for e in denied)
    seen = await identity.audit(levels.headers)
    assert seen and all(e["companies"] and set(e["companies"]) <= {levels.a} for e in seen)
    assert not any(e["target"] == levels.bob["username"] for e in seen)
    assert any(e["target"] == levels.carol["username"] for e in seen)


async def test_company_roles_stay_within_the_company(identity: Identity, levels: Levels) -> None:
    name = f"meter-reader-{secrets.token_hex(3)}"
    made = await identity.client.post("/api/v1/roles", headers=levels.headers, json={
        "name": name, "company_id": levels.a, "permissions": ["readings:read", "masterdata:read"]})
    assert made.status_code == 201, made.text
    for body, reason in [({"company_id": levels.b}, "must belong to one of your companies"),
                         ({}, "must belong to one of your companies"),
                         ({"company_id": levels.a, "permissions": ["control:send"]}, "permissions you do not have")]:
        resp = await identity.client.post("/api/v1/roles", headers=levels.headers, json={
            "name": f"r-{secrets.token_hex(3)}", "permissions": ["readings:read"], **body})
        assert resp.status_code == 403 and reason in resp.json()["detail"], body
    root = await identity.admin()
    other_role = f"b-role-{secrets.token_hex(3)}"
    await identity.client.post("/api/v1/roles", headers=root, json={
        "name": other_role, "company_id": levels.b, "permissions": ["readings:read"]})
    listed = {r["name"] for r in (await identity.client.get("/api/v1/roles", headers=levels.headers)).json()}
    assert name in listed and other_role not in listed and {"admin", "viewer"} <= listed
    # a company's role is for that company's users only
    wrong = await identity.client.post("/api/v1/users", headers=root, json={
        "username": f"x-{secrets.token_hex(3)}", "password": PASSWORD, "roles": [name], "companies": [levels.b]})
    assert wrong.status_code == 422 and f"belongs to company {levels.a}" in wrong.json()["detail"]
    changed = await identity.client.patch(f"/api/v1/roles/{name}", headers=levels.headers,
                                          json={"permissions": ["readings:read"]})
    assert changed.status_code == 200 and changed.json()["permissions"] == ["readings:read"]
    builtin = await identity.client.patch("/api/v1/roles/viewer", headers=root, json={"permissions": []})
    assert builtin.status_code == 409
    assert (await identity.client.delete(f"/api/v1/roles/{name}", headers=levels.headers)).status_code == 200
    held = await identity.client.delete(f"/api/v1/roles/{levels.role}", headers=root)
    assert held.status_code == 409 and "held by" in held.json()["detail"]


async def test_clients_are_administered_in_the_same_levels(identity: Identity, levels: Levels) -> None:
    ok = await identity.client.post("/api/v1/clients", headers=levels.headers, json={
        "name": "billing of A", "trust_level": "billing", "roles": ["viewer"], "companies": [levels.a]})
    assert ok.status_code == 201, ok.text
    outside = await identity.client.post("/api/v1/clients", headers=levels.headers, json={
        "name": "billing of B", "trust_level": "billing", "roles": ["viewer"], "companies": [levels.b]})
    assert outside.status_code == 403
    listed = (await identity.client.get("/api/v1/clients", headers=levels.headers)).json()
    assert listed and all(c["companies"] == [levels.a] for c in listed)


async def test_a_region_restricted_admin_grants_only_its_regions(identity: Identity, levels: Levels) -> None:
    root = await identity.admin()
    ruth = await identity.create_user(root, roles=[levels.role], companies=[levels.a], regions=["R1"], prefix="ruth")
    headers = await identity.bearer(ruth["username"], PASSWORD, step_up=True)
    for regions, status in ([["R1"], 201], [["R2"], 403], [[], 403]):
        resp = await identity.client.post("/api/v1/users", headers=headers, json={
            "username": f"x-{secrets.token_hex(3)}", "password": PASSWORD, "roles": ["viewer"],
            "companies": [levels.a], "regions": regions})
        assert resp.status_code == status, (regions, resp.text)
    seen = (await identity.client.get("/api/v1/users", headers=headers, params={"limit": 1000})).json()
    assert seen and all(u["regions"] == ["R1"] for u in seen), "it sees only users of its regions"
    assert levels.carol["username"] not in {u["username"] for u in seen}
    hidden = await identity.client.get(f"/api/v1/users/{levels.carol['id']}", headers=headers)
    assert hidden.status_code == 403 and "regions ['R1']" in hidden.json()["detail"]
