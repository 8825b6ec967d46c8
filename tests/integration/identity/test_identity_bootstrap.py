"""First start: one first admin (a generated password logged once, to be changed; or the one from
the settings), built-in roles kept in step with the code, one active and one next signing key even
when replicas start together."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import structlog
from identity_harness import settings

from emms_bus import KafkaSettings
from emms_db import drop_database, ensure_database
from emms_identity.app import create_app
from emms_runtime.auth import BUILTIN_ROLES

pytestmark = pytest.mark.integration


@pytest.fixture
async def fresh_db(database_url: str) -> AsyncIterator[str]:
    url = f"{database_url}_idboot_{secrets.token_hex(3)}"
    await ensure_database(url)
    try:
        yield url
    finally:
        await drop_database(url)


@contextlib.asynccontextmanager
async def started(url: str, kafka: KafkaSettings, **over: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(url, kafka, audit_access_denied=False, **over))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://identity") as client:
        yield client


async def test_the_first_admin_gets_a_generated_password_logged_once(fresh_db: str,
                                                                     kafka_settings: KafkaSettings) -> None:
    with structlog.testing.capture_logs() as logs:
        async with started(fresh_db, kafka_settings, bootstrap_admin_password=None) as client:
            lines = [e["event"] for e in logs if str(e["event"]).startswith("first admin created")]
            assert len(lines) == 1 and lines[0].startswith("first admin created: username=admin password=")
            password = lines[0].split("password=")[1].split()[0]
            resp = await client.post("/oauth/token", data={"grant_type": "password", "username": "admin",
                                                           "password": password})
            assert resp.status_code == 200 and resp.json()["password_change_required"] is True
    with structlog.testing.capture_logs() as logs:
        async with started(fresh_db, kafka_settings, bootstrap_admin_password=None):
            assert not [e for e in logs if str(e["event"]).startswith("first admin created")]
    conn = await asyncpg.connect(fresh_db)
    try:
        assert await conn.fetchval("SELECT count(*) FROM identity.users") == 1
    finally:
        await conn.close()


async def test_replicas_starting_together_make_one_admin_and_one_key_of_each_state(
        fresh_db: str, kafka_settings: KafkaSettings) -> None:
    ready = asyncio.Event()

    async def replica() -> None:
        async with started(fresh_db, kafka_settings):
            await ready.wait()

    tasks = [asyncio.create_task(replica()) for _ in range(3)]
    conn = await asyncpg.connect(fresh_db)
    try:
        for _ in range(200):
            if await conn.fetchval("SELECT to_regclass('identity.signing_keys')") and \
                    await conn.fetchval("SELECT count(*) FROM identity.signing_keys") >= 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        ready.set()
        await asyncio.gather(*tasks)
        assert await conn.fetchval("SELECT count(*) FROM identity.users") == 1
        states = sorted(r["state"] for r in await conn.fetch("SELECT state FROM identity.signing_keys"))
        assert states == ["active", "next"]
    finally:
        await conn.close()


async def test_built_in_roles_follow_the_code(fresh_db: str, kafka_settings: KafkaSettings) -> None:
    async with started(fresh_db, kafka_settings):
        pass
    conn = await asyncpg.connect(fresh_db)
    try:
        await conn.execute("UPDATE identity.roles SET permissions = '{users:manage}' WHERE name = 'viewer'")
        async with started(fresh_db, kafka_settings):
            stored = await conn.fetchval("SELECT permissions FROM identity.roles WHERE name = 'viewer'")
            assert sorted(stored) == sorted(p.value for p in BUILTIN_ROLES["viewer"])
            sync = await conn.fetch("SELECT target FROM identity.audit WHERE action = 'role.sync' ORDER BY id")
            assert [r["target"] for r in sync][-1] == "viewer"
    finally:
        await conn.close()


async def test_a_bootstrap_password_the_policy_refuses_stops_the_start(fresh_db: str,
                                                                       kafka_settings: KafkaSettings) -> None:
    with pytest.raises(ValueError, match="BOOTSTRAP_ADMIN_PASSWORD is refused by the password policy: shorter"):
        async with started(fresh_db, kafka_settings, bootstrap_admin_password="admin"):
            pass
