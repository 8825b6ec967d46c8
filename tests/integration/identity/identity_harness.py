"""Helpers of the identity integration tests: settings, signing in, bearer headers, creating users."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from emms_bus import KafkaSettings
from emms_db.settings import DatabaseSettings
from emms_identity.runtime import IdentityRuntime
from emms_identity.settings import HashingSettings, IdentitySettings, ThrottleSettings

ADMIN_PASSWORD = "Bootstrap-Root-7!"
PASSWORD = "Correct-Horse-9-battery"
FAST_HASHING = HashingSettings(time_cost=1, memory_cost_kib=1024, parallelism=1)
"""argon2id at a test cost: the tests sign in hundreds of times on two shared cores."""


def settings(db_url: str, kafka: KafkaSettings, **over: Any) -> IdentitySettings:
    values: dict[str, Any] = {
        "environment": "test", "database": DatabaseSettings(url=db_url), "kafka": kafka, "shutdown_grace_s": 5.0,
        "hashing": FAST_HASHING, "bootstrap_admin_password": ADMIN_PASSWORD,
        "throttle": ThrottleSettings(per_address=100_000, per_username=1000, per_client=1000), **over}
    return IdentitySettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Identity:
    app: FastAPI
    client: httpx.AsyncClient
    settings: IdentitySettings

    @property
    def rt(self) -> IdentityRuntime:
        state = self.app.state.runtime.state
        assert isinstance(state, IdentityRuntime)
        return state

    async def token(self, username: str, password: str, *, step_up: bool = False) -> dict[str, Any]:
        form = {"grant_type": "password", "username": username, "password": password}
        if step_up:
            form["step_up"] = "true"
        resp = await self.client.post("/oauth/token", data=form)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    async def bearer(self, username: str, password: str, *, step_up: bool = False) -> dict[str, str]:
        return bearer((await self.token(username, password, step_up=step_up))["access_token"])

    async def admin(self, *, step_up: bool = True) -> dict[str, str]:
        return await self.bearer("admin", ADMIN_PASSWORD, step_up=step_up)

    async def create_user(self, headers: dict[str, str], *, roles: list[str], password: str = PASSWORD,
                          must_change: bool = False, prefix: str = "u", **scope: list[str]) -> dict[str, Any]:
        body = {"username": f"{prefix}-{secrets.token_hex(4)}", "password": password, "roles": roles,
                "must_change_password": must_change, **scope}
        resp = await self.client.post("/api/v1/users", json=body, headers=headers)
        assert resp.status_code == 201, resp.text
        created: dict[str, Any] = resp.json()
        return created

    async def audit(self, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
        resp = await self.client.get("/api/v1/audit", params={"limit": 5000, **params}, headers=headers)
        assert resp.status_code == 200, resp.text
        entries: list[dict[str, Any]] = resp.json()
        return entries


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def oauth_error(resp: httpx.Response) -> tuple[int, str, str]:
    body = resp.json()
    return resp.status_code, body["error"], body["error_description"]
