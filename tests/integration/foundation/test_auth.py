"""Every API except health and metrics needs a bearer token with an allowed role."""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest
from fastapi.testclient import TestClient

from emms_control.app import create_app
from emms_control.settings import ControlSettings
from emms_runtime.auth import issue_token
from emms_runtime.settings import AuthSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(service_env: dict[str, str], monkeypatch_module: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for key in ("EMMS_DATABASE_URL", "EMMS_KAFKA_BOOTSTRAP", "EMMS_TOPIC_PREFIX"):
        monkeypatch_module.setenv(key, service_env[key])
    with TestClient(create_app(ControlSettings())) as c:
        yield c


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _bearer(role: str, **kw: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(AuthSettings(), 'tester', role, **kw)}"}  # type: ignore[arg-type]


def test_health_and_metrics_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_no_token_is_401_with_a_reason(client: TestClient) -> None:
    resp = client.get("/api/v1/service")
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert "bearer token is required" in resp.json()["detail"]


def test_bad_and_expired_tokens_are_401(client: TestClient) -> None:
    forged = jwt.encode({"sub": "x", "role": "admin", "exp": 9999999999, "iss": "emms", "aud": "emms"},
                        "a-different-secret-of-enough-length", algorithm="HS256")
    assert client.get("/api/v1/service", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    expired = issue_token(AuthSettings(), "old", "admin", ttl_s=-10)
    resp = client.get("/api/v1/service", headers={"Authorization": f"Bearer {expired}"})
    assert resp.status_code == 401 and "expired" in resp.json()["detail"]


def test_wrong_role_is_403_and_right_role_passes(client: TestClient) -> None:
    assert client.get("/api/v1/service", headers=_bearer("viewer")).status_code == 200
    resp = client.get("/api/v1/service/settings", headers=_bearer("viewer"))
    assert resp.status_code == 403 and "needs one of" in resp.json()["detail"]
    ok = client.get("/api/v1/service/settings", headers=_bearer("admin"))
    assert ok.status_code == 200 and ok.json()["auth"]["secret"] == "***"


def test_service_info_reports_migrations_and_storage_mode(client: TestClient, storage_mode: str) -> None:
    body = client.get("/api/v1/service", headers=_bearer("viewer")).json()
    assert body["service"] == "control" and body["storage_mode"] == storage_mode
    assert body["migrations"]["schema"] == "control"
