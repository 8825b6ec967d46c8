"""``require``: permission, step-up, quota, JWKS refresh and unavailability, OpenAPI marks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from emms_runtime.auth import PUBLIC, Permission, Principal, SigningKey, annotate_openapi, issue_token, require
from emms_runtime.auth import routes_without_access as unmarked
from emms_runtime.auth.quotas import RateLimiter
from emms_runtime.auth.verify import TokenVerifier
from emms_runtime.settings import AuthSettings


class Jwks:
    """A real HTTP server publishing a JWKS that the test can change."""

    def __init__(self) -> None:
        self.keys: list[dict[str, str]] = []
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    yield server
    server.server.shutdown()


def _app(settings: AuthSettings) -> FastAPI:
    app = FastAPI()
    app.state.auth_settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    app.state.rate_limiter = RateLimiter()
    app.state.access_audit = []

    @app.get("/read")
    async def read(p: Annotated[Principal, require(Permission.READINGS_READ)]) -> dict[str, str]:
        return {"subject": p.subject}

    @app.post("/trip")
    async def trip(p: Annotated[Principal, require(Permission.CONTROL_SEND)]) -> dict[str, str]:
        return {"subject": p.subject}

    @app.get("/open", openapi_extra=PUBLIC)
    async def open_route() -> dict[str, bool]:
        return {"ok": True}

    annotate_openapi(app)
    return app


def _claims(key: SigningKey, **over: Any) -> str:
    now = int(time.time())
    claims = {"sub": "sys", "iss": "emms", "aud": "emms", "iat": now, "exp": now + 600, "kind": "client",
              "roles": ["integrator"], "perms": ["readings:read"], "per_minute": 3}
    claims.update(over)
    return key.sign(claims)


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_step_up_is_needed_and_must_be_fresh() -> None:
    client = TestClient(_app(AuthSettings(step_up_max_age_s=60)))
    plain = issue_token(AuthSettings(), "op", "operator")
    resp = client.post("/trip", headers=_h(plain))
    assert resp.status_code == 403 and "needs a step-up token" in resp.json()["detail"]
    fresh = issue_token(AuthSettings(), "op", "operator", step_up=True)
    assert client.post("/trip", headers=_h(fresh)).json() == {"subject": "op"}
    viewer = issue_token(AuthSettings(), "v", "viewer", step_up=True)
    assert "control:send" in client.post("/trip", headers=_h(viewer)).json()["detail"]


def test_a_stale_step_up_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(_app(AuthSettings(step_up_max_age_s=60)))
    token = issue_token(AuthSettings(), "op", "operator", step_up=True)
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    resp = client.post("/trip", headers=_h(token))
    assert resp.status_code == 403 and "stepped up" in resp.json()["detail"]


def test_quota_gives_429_with_retry_after(jwks: Jwks) -> None:
    key = SigningKey.generate()
    jwks.keys = [key.public_jwk()]
    client = TestClient(_app(AuthSettings(jwks_url=jwks.url, accept_dev_tokens=False)))
    token = _claims(key)
    assert [client.get("/read", headers=_h(token)).status_code for _ in range(3)] == [200, 200, 200]
    over = client.get("/read", headers=_h(token))
    assert over.status_code == 429 and 1 <= int(over.headers["Retry-After"]) <= 61
    assert "more than 3 requests a minute for client:sys" in over.json()["detail"]


def test_rotation_a_new_key_is_fetched_once_and_forged_kids_do_not_hammer(jwks: Jwks) -> None:
    old, new = SigningKey.generate(), SigningKey.generate()
    jwks.keys = [old.public_jwk()]
    client = TestClient(_app(AuthSettings(jwks_url=jwks.url, accept_dev_tokens=False, jwks_refresh_min_s=0.5,
                                          enforce_quotas=False)))
    assert client.get("/read", headers=_h(_claims(old))).status_code == 200
    assert jwks.fetches == 1
    jwks.keys = [old.public_jwk(), new.public_jwk()]
    time.sleep(0.6)
    assert client.get("/read", headers=_h(_claims(new))).status_code == 200  # unknown kid → one refresh
    assert jwks.fetches == 2
    assert client.get("/read", headers=_h(_claims(old))).status_code == 200  # the old key still published
    forged = SigningKey.generate()
    codes = {client.get("/read", headers=_h(_claims(forged))).status_code for _ in range(20)}
    assert codes == {401} and jwks.fetches <= 3


def test_dev_tokens_are_refused_where_not_accepted(jwks: Jwks) -> None:
    client = TestClient(_app(AuthSettings(jwks_url=jwks.url, accept_dev_tokens=False)))
    resp = client.get("/read", headers=_h(issue_token(AuthSettings(), "dev", "admin")))
    assert resp.status_code == 401 and "development tokens" in resp.json()["detail"]


def test_unreachable_jwks_for_an_unknown_key_is_503() -> None:
    client = TestClient(_app(AuthSettings(jwks_url="http://127.0.0.1:9/jwks.json", accept_dev_tokens=False,
                                          jwks_timeout_s=1)))
    resp = client.get("/read", headers=_h(_claims(SigningKey.generate())))
    assert resp.status_code == 503 and "cannot fetch signing keys" in resp.json()["detail"]
    assert resp.headers["Retry-After"] == "5"


def test_openapi_marks_every_route_and_unmarked_routes_are_found() -> None:
    app = _app(AuthSettings())
    ops = app.openapi()["paths"]
    assert ops["/read"]["get"]["x-emms-permission"] == "readings:read"
    assert ops["/read"]["get"]["x-emms-scope"] == "company" and ops["/trip"]["post"]["x-emms-step-up"] is True
    assert ops["/open"]["get"]["x-emms-public"] is True
    assert unmarked(app) == []

    @app.get("/forgotten")
    async def forgotten() -> None:
        return None

    assert unmarked(app) == ["['GET'] /forgotten"]


def test_rate_limiter_window() -> None:
    limiter = RateLimiter()
    assert limiter.retry_after("a", 2, now=0.0) == 0 and limiter.retry_after("a", 2, now=1.0) == 0
    assert limiter.retry_after("a", 2, now=2.0) == 59
    assert limiter.retry_after("a", 2, now=60.5) == 0


def test_a_verified_token_is_remembered_until_it_expires(jwks: Jwks, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    key = SigningKey.generate()
    jwks.keys = [key.public_jwk()]
    verifier = TokenVerifier(AuthSettings(jwks_url=jwks.url, accept_dev_tokens=False, verified_cache_size=2,
                                          leeway_s=0))
    full_checks = 0
    check = verifier._verify

    async def counted(token: str) -> Any:
        nonlocal full_checks
        full_checks += 1
        return await check(token)

    monkeypatch.setattr(verifier, "_verify", counted)
    now = int(time.time())
    token = key.sign({"sub": "s", "iss": "emms", "aud": "emms", "iat": now, "exp": now + 30})
    first = asyncio.run(verifier.verify(token))
    assert asyncio.run(verifier.verify(token)) is first and full_checks == 1
    for n in range(3):  # the cache keeps at most 2 tokens: the oldest goes
        asyncio.run(verifier.verify(key.sign({"sub": f"o{n}", "iss": "emms", "aud": "emms", "iat": now,
                                              "exp": now + 30})))
    asyncio.run(verifier.verify(token))
    assert full_checks == 5
    later = time.time() + 60
    monkeypatch.setattr(time, "time", lambda: later)
    asyncio.run(verifier.verify(token))  # expired in the cache: checked in full again (PyJWT keeps real time)
    assert full_checks == 6
