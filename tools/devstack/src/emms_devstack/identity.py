"""The people of ``make up``: the first admin, a demo operator and a demo viewer, and their tokens.

The devstack makes the admin's password and gives it to the identity service
(``EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD``), which creates ``admin`` with it on an empty
database. Once the service is ready the devstack signs in as ``admin`` with step-up and creates
``operator`` and ``viewer`` (roles of the same names, every company) through the users API, with
passwords it makes too. The passwords are kept in ``.cache/devstack/credentials.json`` (mode
0600, with the database they belong to), so a second ``make up`` on the same database signs in
with them instead of failing; a demo user whose password is lost is given a new one (reset by the
admin, then changed by the user, as a person would). An admin whose password is lost cannot be
recovered that way: the stack then says so and falls back to development tokens.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ADMIN = "admin"
DEMO_USERS = (("operator", "operator"), ("viewer", "viewer"))
"""(username, built-in role) of the demo users."""
USERNAMES = (ADMIN, *(u for u, _ in DEMO_USERS))
_ALPHABET = string.ascii_letters + string.digits + "-_."
"""Safe unquoted in a shell and in a form body: passwords can be pasted into the printed curl line."""


def make_password(length: int = 20) -> str:
    """A random password with lower case, upper case, digits and other characters (any password
    policy of the identity service accepts it), containing no username of the stack."""
    while True:
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        classes = (str.islower, str.isupper, str.isdigit, lambda ch: ch in "-_.")
        if all(any(test(ch) for ch in candidate) for test in classes) and not any(
                name in candidate.lower() for name in USERNAMES):
            return candidate


@dataclass
class Credentials:
    """Usernames and passwords of one database's stack."""

    database_url: str
    passwords: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, database_url: str) -> Credentials:
        """The saved credentials of this database, or new ones with a fresh admin password."""
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            saved = None
        if isinstance(saved, dict) and saved.get("database_url") == database_url and isinstance(
                saved.get("passwords"), dict) and isinstance(saved["passwords"].get(ADMIN), str):
            return cls(database_url, {str(k): str(v) for k, v in saved["passwords"].items()})
        return cls(database_url, {ADMIN: make_password()})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"database_url": self.database_url, "passwords": self.passwords}, f, indent=2)
        path.chmod(0o600)


class SignInRefused(Exception):
    """The token endpoint refused a password (wrong, locked, …): its ``error_description``."""


class IdentityClient:
    """The few calls of the identity service's API the devstack makes."""

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None, timeout_s: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, transport=transport, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def sign_in(self, username: str, password: str, *, step_up: bool = False) -> str:
        """An access token from the password grant."""
        form = {"grant_type": "password", "username": username, "password": password}
        if step_up:
            form["step_up"] = "true"
        resp = self._http.post("/oauth/token", data=form)
        if resp.status_code in (400, 401, 429):
            body = _json(resp)
            raise SignInRefused(str(body.get("error_description") or body.get("error") or resp.text[:200]))
        resp.raise_for_status()
        return str(resp.json()["access_token"])

    def create_user(self, token: str, username: str, password: str, role: str) -> bool:
        """True when created; False when the username is taken."""
        resp = self._http.post("/api/v1/users", headers=_bearer(token), json={
            "username": username, "password": password, "roles": [role], "companies": [], "regions": [],
            "must_change_password": False})
        if resp.status_code == 409:
            return False
        _raise_for(resp)
        return True

    def user_id(self, token: str, username: str) -> str:
        resp = self._http.get("/api/v1/users", headers=_bearer(token), params={"q": username})
        _raise_for(resp)
        for user in resp.json():
            if str(user["username"]).lower() == username.lower():
                return str(user["id"])
        raise RuntimeError(f"identity: user {username!r} is taken but not listed")

    def set_password(self, admin_token: str, username: str, password: str) -> None:
        """Give an existing user ``password``: the admin resets it, the user changes the temporary one."""
        resp = self._http.post(f"/api/v1/users/{self.user_id(admin_token, username)}/reset-password",
                               headers=_bearer(admin_token))
        _raise_for(resp)
        temporary = str(resp.json()["temporary_password"])
        token = self.sign_in(username, temporary)  # good only for changing the password
        resp = self._http.post("/api/v1/me/password", headers=_bearer(token),
                               json={"current_password": temporary, "new_password": password})
        _raise_for(resp)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _raise_for(resp: httpx.Response) -> None:
    if resp.is_error:
        raise RuntimeError(f"identity: {resp.request.method} {resp.request.url.path}: {resp.status_code}"
                           f" {resp.text[:500]}")


@dataclass
class People:
    """What :func:`provision` did: the admin's token for the stack's own calls (None: use a
    development token) and notes to print."""

    admin_token: str | None
    notes: list[str] = field(default_factory=list)


def provision(client: IdentityClient, creds: Credentials) -> People:
    """Sign in as the admin (step-up), make sure the demo users exist with ``creds``' passwords
    (adding passwords for those without), and return a token of the admin for seeding."""
    try:
        step_up = client.sign_in(ADMIN, creds.passwords[ADMIN], step_up=True)
    except SignInRefused as exc:
        return People(None, [
            f"the database already has an admin whose password this stack does not know ({exc}): sign in with the"
            " password of the run that created it, or start on a new database (EMMS_DATABASE_URL). Demo users not"
            " made; the stack's own calls use a development token."])
    people = People(None)
    for username, role in DEMO_USERS:
        known = creds.passwords.get(username)
        if known is not None:
            try:
                client.sign_in(username, known)
                continue
            except SignInRefused:
                pass
        password = make_password()
        if client.create_user(step_up, username, password, role):
            people.notes.append(f"{username} created (role {role})")
        else:
            client.set_password(step_up, username, password)
            people.notes.append(f"{username} existed with a password this stack did not know: given a new one")
        creds.passwords[username] = password
    people.admin_token = client.sign_in(ADMIN, creds.passwords[ADMIN])
    return people


TOKEN_FROM_JSON = r"""sed -E 's/.*"access_token":"([^"]+)".*/\1/'"""
"""Picks the access token out of the token endpoint's answer without jq."""


def sign_in_lines(identity_url: str, creds: Credentials, service_url: str) -> list[str]:
    """The summary's sign-in block: each user and password, a curl line to sign in and one to use the token."""
    lines = [f"  {name:<10} {creds.passwords[name]}" for name in USERNAMES if name in creds.passwords]
    user = next((n for n in ("operator", ADMIN) if n in creds.passwords), ADMIN)
    lines += [
        "  sign in    TOKEN=$(curl -s " f"{identity_url}/oauth/token -d grant_type=password -d username={user}"
        f" -d password={creds.passwords.get(user, '…')} | {TOKEN_FROM_JSON})",
        f"  use it     curl -s -H \"Authorization: Bearer $TOKEN\" {service_url}/api/v1/service",
        "             (add -d step_up=true to sign in for user administration, control and tariffs: a 5-minute token)",
    ]
    return lines
