"""Every API except health and metrics needs a valid EdDSA token carrying the route's permission.

Bad tokens of every kind get 401 with a reason, missing permissions and missing step-ups 403,
an unreachable JWKS for an unknown key 503, a caller over its quota 429 with ``Retry-After``;
each refusal is counted in ``emms_access_denied_total``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from emms_control.app import create_app
from emms_control.settings import ControlSettings
from emms_runtime.auth import SigningKey, development_key, issue_token
from emms_runtime.settings import AuthSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(service_env: dict[str, str], monkeypatch_module: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for key in ("EMMS_DATABASE_URL", "EMMS_KAFKA_BOOTSTRAP", "EMMS_TOPIC_PREFIX"):
        monkeypatch_module.setenv(key, service_env[key])
    monkeypatch_module.delenv("EMMS_JWKS_URL", raising=False)
    with TestClient(create_app(ControlSettings())) as c:
        yield c


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _bearer(role: str, **kw: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(AuthSettings(), 'tester', role, **kw)}"}  # type: ignore[arg-type]


def _claims(**over: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"sub": "x", "iss": "emms", "aud": "emms", "iat": now, "exp": now + 600,
                                 "roles": ["admin"], "perms": ["service:read", "service:configure"]}
    claims.update(over)
    return claims


def _get(client: TestClient, token: str, path: str = "/api/v1/service") -> tuple[int, str]:
    resp = client.get(path, headers={"Authorization": f"Bearer {token}"})
    return resp.status_code, resp.json().get("detail", "")


def test_health_and_metrics_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_no_token_is_401_with_a_reason(client: TestClient) -> None:
    resp = client.get("/api/v1/service")
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert "bearer token is required" in resp.json()["detail"]


def test_forged_tokens_of_every_kind_are_401_with_the_reason(client: TestClient) -> None:
    dev = development_key()
    hs256 = jwt.encode(_claims(), "a-shared-secret-of-the-old-scheme!", algorithm="HS256",
                       headers={"kid": dev.kid})
    assert _get(client, hs256) == (401, "invalid token: algorithm 'HS256' is not accepted;"
                                        " tokens are signed with EdDSA")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT", "kid": dev.kid}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=")
    status, reason = _get(client, f"{header.decode()}.{body.decode()}.")
    assert status == 401 and "'none' is not accepted" in reason
    stranger = SigningKey(dev.kid, Ed25519PrivateKey.generate())  # the dev key id, another key
    status, reason = _get(client, stranger.sign(_claims()))
    assert status == 401 and "Signature verification failed" in reason
    status, reason = _get(client, SigningKey.generate("unknown-kid").sign(_claims()))
    assert status == 401 and "unknown signing key 'unknown-kid'" in reason
    status, reason = _get(client, dev.sign(_claims(aud="another-system")))
    assert status == 401 and "audience" in reason.lower()
    status, reason = _get(client, dev.sign(_claims(iss="someone-else")))
    assert status == 401 and "issuer" in reason.lower()
    status, reason = _get(client, dev.sign({k: v for k, v in _claims().items() if k != "exp"}))
    assert status == 401 and '"exp"' in reason
    assert _get(client, "not-a-jwt")[0] == 401
    expired = issue_token(AuthSettings(), "old", "admin", ttl_s=-60)
    assert _get(client, expired) == (401, "the token has expired")


def test_a_missing_permission_is_403_naming_it(client: TestClient) -> None:
    assert client.get("/api/v1/service", headers=_bearer("viewer")).status_code == 200
    resp = client.get("/api/v1/service/settings", headers=_bearer("viewer"))
    assert resp.status_code == 403
    assert resp.json()["detail"] == "permission 'service:configure' is needed; your roles ['viewer'] do not grant it"
    ok = client.get("/api/v1/service/settings", headers=_bearer("admin"))
    assert ok.status_code == 200 and "secret" not in ok.json()["auth"]
    customer = client.get("/api/v1/service", headers=_bearer("customer", customers=("C1",)))
    assert customer.status_code == 403


def test_unknown_permissions_in_a_token_grant_nothing(client: TestClient) -> None:
    token = development_key().sign(_claims(perms=["everything", "service:*"]))
    status, reason = _get(client, token)
    assert status == 403 and "service:read" in reason


def test_refusals_are_counted(client: TestClient) -> None:
    def denied(code: str) -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith(f'emms_access_denied_total{{status="{code}"}}'):
                return float(line.split()[-1])
        return 0.0

    before = denied("403")
    client.get("/api/v1/service/settings", headers=_bearer("viewer"))
    assert denied("403") == before + 1


def test_service_info_reports_the_caller(client: TestClient, storage_mode: str) -> None:
    body = client.get("/api/v1/service", headers=_bearer("viewer")).json()
    assert body["service"] == "control" and body["storage_mode"] == storage_mode
    assert body["migrations"]["schema"] == "control"
    assert body["caller"]["kind"] == "dev" and "service:read" in body["caller"]["permissions"]


def test_a_refusal_reaches_the_bus_for_the_audit_log(client: TestClient, service_env: dict[str, str]) -> None:
    import asyncio

    from aiokafka import AIOKafkaConsumer

    subject = f"refusal-probe-{time.time_ns()}"  # this test's own: other tests of the session are refused too
    token = issue_token(AuthSettings(), subject, "viewer")
    client.get("/api/v1/service/settings", headers={"Authorization": f"Bearer {token}"})
    topic = f"{service_env['EMMS_TOPIC_PREFIX']}emms.access.denied.v1"

    async def read() -> list[dict[str, object]]:
        reader = AIOKafkaConsumer(topic, bootstrap_servers=service_env["EMMS_KAFKA_BOOTSTRAP"],
                                  auto_offset_reset="earliest", enable_auto_commit=False)
        await reader.start()
        try:
            found: list[dict[str, object]] = []
            for _ in range(10):
                batches = await reader.getmany(timeout_ms=1000)
                found += [json.loads(r.value or b"{}")["payload"] for recs in batches.values() for r in recs]
                if any(p["subject"] == subject for p in found):
                    break
            return found
        finally:
            await reader.stop()

    refused = [p for p in asyncio.run(read()) if p["subject"] == subject]
    assert len(refused) == 1, "the refusal was not published (or published twice)"
    assert refused[-1]["status"] == 403
    assert refused[-1]["service"] == "control" and refused[-1]["path"] == "/api/v1/service/settings"
    assert "service:configure" in str(refused[-1]["reason"]) and refused[-1]["kind"] == "dev"
