"""``make up``'s people: the first admin's password, the demo users made through the identity API,
the credentials kept between runs, the printed sign-in lines, and the stack's start order and env.

The identity service is played by a fake behind ``httpx.MockTransport`` that keeps the rules the
devstack relies on: user administration needs a step-up token, usernames are unique, a reset
password only buys a token that can change it.
"""

from __future__ import annotations

import json
import re
import shlex
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from emms_devstack import stack as stack_module
from emms_devstack.fleet import FleetPlan
from emms_devstack.identity import (
    ADMIN,
    DEMO_USERS,
    TOKEN_FROM_JSON,
    Credentials,
    IdentityClient,
    make_password,
    provision,
    sign_in_lines,
)
from emms_devstack.services import SERVICES
from emms_identity.passwords import policy
from emms_identity.settings import PasswordPolicy

DB = "postgresql://postgres@127.0.0.1:5432/emms"


@dataclass
class FakeIdentity:
    """Users by name: password, role, must_change; tokens: opaque strings naming user and kind."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        if path == "/oauth/token":
            return self._token(parse_qs(request.content.decode()))
        caller = request.headers.get("Authorization", "").removeprefix("Bearer ").split(":")
        if path == "/api/v1/me/password":
            body = json.loads(request.content)
            user = self.users[caller[1]]
            if caller[0] != "pwd" or body["current_password"] != user["password"]:
                return httpx.Response(403)
            user.update(password=body["new_password"], must_change=False)
            return httpx.Response(200, json={"changed": True})
        if caller[:2] != ["step", ADMIN]:
            return httpx.Response(403, json={"detail": "step-up required"})
        if path == "/api/v1/users" and request.method == "POST":
            body = json.loads(request.content)
            if body["username"] in self.users:
                return httpx.Response(409, json={"detail": "taken"})
            assert body["must_change_password"] is False and body["companies"] == []
            self.users[body["username"]] = {"password": body["password"], "role": body["roles"][0],
                                            "must_change": False}
            return httpx.Response(201, json={"id": f"id-{body['username']}", "username": body["username"]})
        if path == "/api/v1/users":
            q = request.url.params["q"]
            return httpx.Response(200, json=[{"id": f"id-{u}", "username": u} for u in self.users if q in u])
        if m := re.fullmatch(r"/api/v1/users/id-(.+)/reset-password", path):
            self.users[m[1]].update(password="Temporary-Pass-1", must_change=True)
            return httpx.Response(200, json={"temporary_password": "Temporary-Pass-1"})
        return httpx.Response(404)

    def _token(self, form: dict[str, list[str]]) -> httpx.Response:
        user = self.users.get(form["username"][0])
        if user is None or user["password"] != form["password"][0]:
            return httpx.Response(400, json={"error": "invalid_grant",
                                             "error_description": "wrong username or password"})
        kind = "pwd" if user["must_change"] else "step" if form.get("step_up") == ["true"] else "plain"
        return httpx.Response(200, json={"access_token": f"{kind}:{form['username'][0]}", "token_type": "Bearer",
                                         "expires_in": 900})


def client(fake: FakeIdentity) -> IdentityClient:
    return IdentityClient("http://identity", transport=httpx.MockTransport(fake))


def fresh(creds: Credentials) -> FakeIdentity:
    """An identity service that has just bootstrapped the admin with the stack's password."""
    return FakeIdentity({ADMIN: {"password": creds.passwords[ADMIN], "role": "admin", "must_change": False}})


def test_passwords_meet_the_identity_services_policy_and_paste_into_a_shell() -> None:
    for _ in range(300):
        password = make_password()
        assert policy.violations(PasswordPolicy(min_classes=4), password, ADMIN) == []
        assert all(policy.violations(PasswordPolicy(), password, user) == [] for user, _ in DEMO_USERS)
        assert shlex.quote(password) == password, "needs no quoting in the printed curl line"
    assert len({make_password() for _ in range(50)}) == 50


def test_credentials_are_kept_per_database_and_private(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    first = Credentials.load(path, DB)
    assert set(first.passwords) == {ADMIN}
    first.passwords["operator"] = "Op-1-password-x"
    first.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Credentials.load(path, DB) == first
    other = Credentials.load(path, DB + "_other")
    assert other.passwords[ADMIN] != first.passwords[ADMIN] and set(other.passwords) == {ADMIN}
    path.write_text("{not json")
    assert set(Credentials.load(path, DB).passwords) == {ADMIN}


def test_a_new_stack_makes_the_demo_users_with_a_step_up_admin_token() -> None:
    creds = Credentials(DB, {ADMIN: make_password()})
    fake = fresh(creds)
    people = provision(client(fake), creds)
    assert people.admin_token == f"plain:{ADMIN}", "seeding uses the admin's ordinary token"
    assert {u: (v["role"], v["password"]) for u, v in fake.users.items() if u != ADMIN} == {
        u: (role, creds.passwords[u]) for u, role in DEMO_USERS}
    assert people.notes == ["operator created (role operator)", "viewer created (role viewer)"]


def test_a_second_run_on_the_same_database_signs_in_and_changes_nothing() -> None:
    creds = Credentials(DB, {ADMIN: make_password()})
    fake = fresh(creds)
    provision(client(fake), creds)
    before = json.dumps(fake.users, sort_keys=True)
    fake.calls.clear()
    people = provision(client(fake), creds)
    assert json.dumps(fake.users, sort_keys=True) == before
    assert "POST /api/v1/users" not in fake.calls and people.notes == []
    assert people.admin_token is not None


def test_a_demo_user_whose_password_was_lost_gets_a_new_one_the_way_a_person_would() -> None:
    creds = Credentials(DB, {ADMIN: make_password()})
    fake = fresh(creds)
    provision(client(fake), creds)
    del creds.passwords["viewer"]
    fake.calls.clear()
    people = provision(client(fake), creds)
    assert fake.users["viewer"]["password"] == creds.passwords["viewer"] != "Temporary-Pass-1"
    assert fake.users["viewer"]["must_change"] is False
    assert "POST /api/v1/users/id-viewer/reset-password" in fake.calls and "POST /api/v1/me/password" in fake.calls
    assert people.notes == ["viewer existed with a password this stack did not know: given a new one"]


def test_an_admin_of_an_earlier_run_with_an_unknown_password_leaves_the_dev_token() -> None:
    creds = Credentials(DB, {ADMIN: make_password()})
    fake = FakeIdentity({ADMIN: {"password": "Someone-Elses-1", "role": "admin", "must_change": False}})
    people = provision(client(fake), creds)
    assert people.admin_token is None
    assert "wrong username or password" in people.notes[0] and "development token" in people.notes[0]
    assert set(fake.users) == {ADMIN}


def test_the_printed_lines_sign_in_and_use_the_token() -> None:
    creds = Credentials(DB, {ADMIN: "Adm-1-x", "operator": "Op-2-y", "viewer": "Vw-3-z"})
    lines = sign_in_lines("http://127.0.0.1:8007", creds, "http://127.0.0.1:8006")
    text = "\n".join(lines)
    for user, password in creds.passwords.items():
        assert re.search(rf"^  {user}\s+{re.escape(password)}$", text, re.M)
    assert ("curl -s http://127.0.0.1:8007/oauth/token -d grant_type=password -d username=operator"
            " -d password=Op-2-y") in text
    assert 'curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8006/api/v1/service' in text
    answer = json.dumps({"access_token": "eyJ.a-b_c.d", "token_type": "Bearer", "expires_in": 900},
                        separators=(",", ":"))
    picked = subprocess.run(["sh", "-c", TOKEN_FROM_JSON], input=answer, capture_output=True, text=True, check=True)
    assert picked.stdout.strip() == "eyJ.a-b_c.d"


def test_identity_starts_first_and_every_service_verifies_with_its_jwks(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    assert SERVICES[0].short == "identity" and SERVICES[0].port == 8007
    assert (SERVICES[0].migrations() / "0001_identity.sql").exists()
    started: dict[str, dict[str, str]] = {}

    class Proc:
        def __init__(self, cmd: list[str], env: dict[str, str], **_: object) -> None:
            started[cmd[-1]] = env

    monkeypatch.setattr(stack_module.subprocess, "Popen", Proc)
    monkeypatch.setattr(stack_module, "STATE", tmp_path)
    monkeypatch.setattr(stack_module, "_port_or_free", lambda preferred: preferred + 10_000)
    monkeypatch.delenv("EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD", raising=False)
    stack = stack_module.Stack(database_url=DB, fleet=FleetPlan(), admin_password="Adm-1-password")
    for svc in SERVICES:
        stack.start_service(svc)
    assert list(started) == [s.module for s in SERVICES]
    jwks = "http://127.0.0.1:18007/.well-known/jwks.json"
    assert {m: env["EMMS_JWKS_URL"] for m, env in started.items()} == {s.module: jwks for s in SERVICES}
    assert started["emms_identity"]["EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD"] == "Adm-1-password"
    assert started["emms_identity"]["EMMS_IDENTITY_HTTP__PORT"] == "18007"
    assert all("EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD" not in env for m, env in started.items()
               if m != "emms_identity"), "only the identity service sees the admin's password"
