"""Rotation of the signing keys without downtime, seen from another service.

The identity service runs under a real uvicorn on a free port; the control service runs in the
test's loop and verifies tokens against the identity service's JWKS over HTTP, as in production.
Token A (old key) keeps working after the rotation, token B (the new key) works at once, a stream
of sign-ins and calls across two rotations never fails, a second identity replica signs with the
new key within its cache time, and the old key leaves the JWKS only after every token it signed
has expired. Private keys are encrypted at rest under the key-encryption key."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import jwt
import pytest
import uvicorn
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from identity_harness import ADMIN_PASSWORD, bearer, settings

from emms_bus import KafkaSettings
from emms_control.app import create_app as control_app
from emms_control.settings import ControlSettings
from emms_db import drop_database, ensure_database
from emms_db.settings import DatabaseSettings
from emms_devstack.ports import free_port
from emms_identity.app import create_app as identity_app
from emms_identity.settings import DEV_KEY_ENCRYPTION_KEY, IdentitySettings, KeySettings, TokenSettings
from emms_runtime.settings import AuthSettings

pytestmark = pytest.mark.integration
SHORT = {"tokens": TokenSettings(access_ttl_s=6, step_up_ttl_s=6), "keys": KeySettings(cache_s=0.5,
                                                                                        retired_grace_s=0)}


@contextlib.asynccontextmanager
async def served(config: IdentitySettings, port: int) -> AsyncIterator[str]:
    """The identity app under a real uvicorn in this loop; its base URL."""
    server = uvicorn.Server(uvicorn.Config(identity_app(config), host="127.0.0.1", port=port, log_config=None,
                                           lifespan="on", access_log=False))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(400):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        assert server.started, "the identity server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def rotation_db(database_url: str) -> AsyncIterator[str]:
    url = f"{database_url}_idrot_{secrets.token_hex(3)}"
    await ensure_database(url)
    try:
        yield url
    finally:
        await drop_database(url)


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def _jwks_kids(http: httpx.AsyncClient) -> set[str]:
    return {k["kid"] for k in (await http.get("/.well-known/jwks.json")).json()["keys"]}


async def test_rotation_without_downtime_seen_from_another_service(rotation_db: str,
                                                                   kafka_settings: KafkaSettings) -> None:
    port = free_port()
    leeway = AuthSettings(leeway_s=1)
    config = settings(rotation_db, kafka_settings, auth=leeway, **SHORT)
    async with served(config, port) as base, httpx.AsyncClient(base_url=base, timeout=10) as http:
        control = control_app(ControlSettings(
            _env_file=None, environment="test", database=DatabaseSettings(url=rotation_db), kafka=kafka_settings,
            shutdown_grace_s=5.0, auth=AuthSettings(jwks_url=f"{base}/.well-known/jwks.json",
                                                    accept_dev_tokens=False, leeway_s=1)))
        async with control.router.lifespan_context(control), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=control), base_url="http://control") as svc:
            async def sign_in(step_up: bool = False) -> str:
                form = {"grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD}
                resp = await http.post("/oauth/token", data={**form, "step_up": str(step_up).lower()})
                assert resp.status_code == 200, resp.text
                return str(resp.json()["access_token"])

            async def at_control(token: str) -> int:
                return (await svc.get("/api/v1/service", headers=bearer(token))).status_code

            token_a = await sign_in()
            kid_a = _kid(token_a)
            assert await at_control(token_a) == 200
            before = await _jwks_kids(http)
            assert kid_a in before and len(before) == 2, "the active key and the next one are published"

            statuses: list[int] = []
            stop = asyncio.Event()

            async def traffic() -> None:
                while not stop.is_set():
                    statuses.append(await at_control(await sign_in()))
                    await asyncio.sleep(0.05)

            running = asyncio.create_task(traffic())
            await asyncio.sleep(0.5)
            rotated = await http.post("/api/v1/keys/rotate", headers=bearer(await sign_in(step_up=True)))
            assert rotated.status_code == 200, rotated.text
            assert rotated.json()["retired"] == kid_a and rotated.json()["active"] in before

            assert await at_control(token_a) == 200, "a token of the retired key still works"
            token_b = await sign_in()
            assert _kid(token_b) == rotated.json()["active"] != kid_a
            assert await at_control(token_b) == 200, "a token of the new key works at once"
            assert kid_a in await _jwks_kids(http)
            await asyncio.sleep(1.0)
            second = await http.post("/api/v1/keys/rotate", headers=bearer(await sign_in(step_up=True)))
            assert second.status_code == 200
            await asyncio.sleep(1.0)
            stop.set()
            await running
            assert len(statuses) >= 10 and set(statuses) == {200}, statuses

            exp_a = int(jwt.decode(token_a, options={"verify_signature": False})["exp"])
            for _ in range(300):
                if kid_a not in await _jwks_kids(http):
                    break
                await asyncio.sleep(0.1)
            assert kid_a not in await _jwks_kids(http), "the retired key leaves the JWKS"
            assert time.time() > exp_a + leeway.leeway_s, "…but only after every token it signed has expired"
            assert await at_control(token_a) == 401
            listed = await http.get("/api/v1/keys", headers=bearer(await sign_in()))
            states = {k["kid"]: (k["state"], k["published"]) for k in listed.json()}
            assert states[kid_a] == ("retired", False)
            assert sorted(s for s, _ in states.values()) == ["active", "next", "retired", "retired"]


async def test_every_replica_signs_with_the_active_key(rotation_db: str, kafka_settings: KafkaSettings) -> None:
    one, two = (identity_app(settings(rotation_db, kafka_settings, **SHORT)) for _ in range(2))
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for app in (one, two):
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients.append(await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://identity")))

        async def kid_from(client: httpx.AsyncClient, step_up: bool = False) -> tuple[str, str]:
            resp = await client.post("/oauth/token", data={"grant_type": "password", "username": "admin",
                                                           "password": ADMIN_PASSWORD, "step_up": str(step_up)})
            token = str(resp.json()["access_token"])
            return _kid(token), token

        kid_one, _ = await kid_from(clients[0])
        assert (await kid_from(clients[1]))[0] == kid_one
        _, step_up = await kid_from(clients[0], step_up=True)
        rotated = (await clients[0].post("/api/v1/keys/rotate", headers=bearer(step_up))).json()
        await asyncio.sleep(0.6)
        kid_two, token = await kid_from(clients[1])
        assert kid_two == rotated["active"] != kid_one
        assert (await clients[0].get("/api/v1/me", headers=bearer(token))).status_code == 200


async def test_private_keys_are_encrypted_at_rest_under_the_kek(rotation_db: str,
                                                                kafka_settings: KafkaSettings) -> None:
    conn = await asyncpg.connect(rotation_db)
    try:
        rows = await conn.fetch("SELECT kid, public_key, private_key_encrypted, state FROM identity.signing_keys")
    finally:
        await conn.close()
    live = [r for r in rows if r["state"] != "retired"]
    assert len(live) == 2 and all(r["private_key_encrypted"] is None for r in rows if r["state"] == "retired")
    for row in live:
        raw = Fernet(DEV_KEY_ENCRYPTION_KEY).decrypt(row["private_key_encrypted"])
        assert raw not in row["private_key_encrypted"]
        public = Ed25519PrivateKey.from_private_bytes(raw).public_key().public_bytes_raw()
        assert public == bytes(row["public_key"])
    stranger = settings(rotation_db, kafka_settings, key_encryption_key=Fernet.generate_key().decode())
    app = identity_app(stranger)
    with pytest.raises(RuntimeError, match="cannot be decrypted with any of the key-encryption keys"):
        async with app.router.lifespan_context(app):
            pass


async def test_the_kek_is_changed_by_giving_the_new_one_first(rotation_db: str,
                                                               kafka_settings: KafkaSettings) -> None:
    new = Fernet.generate_key().decode()
    both = settings(rotation_db, kafka_settings, key_encryption_key=f"{new},{DEV_KEY_ENCRYPTION_KEY}")
    only_new = settings(rotation_db, kafka_settings, key_encryption_key=new)
    for config in (both, only_new):
        app = identity_app(config)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://identity") as client:
            resp = await client.post("/oauth/token", data={"grant_type": "password", "username": "admin",
                                                           "password": ADMIN_PASSWORD})
            assert resp.status_code == 200, resp.text


