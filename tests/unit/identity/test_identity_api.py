"""The identity API as a contract: every route, its method and its access mark (the devstack, the
Kubernetes jobs and other systems call these), and a response model on each."""

from __future__ import annotations

from typing import Any

from emms_identity.app import create_app
from emms_identity.settings import IdentitySettings
from emms_runtime.auth import routes_without_access

EXPECTED = {
    ("POST", "/oauth/token"): "public", ("POST", "/oauth/revoke"): "public",
    ("GET", "/.well-known/jwks.json"): "public", ("GET", "/.well-known/openid-configuration"): "public",
    ("GET", "/api/v1/keys"): "service:read", ("POST", "/api/v1/keys/rotate"): "keys:rotate",
    ("GET", "/api/v1/users"): "users:read", ("POST", "/api/v1/users"): "users:manage",
    ("GET", "/api/v1/users/{user_id}"): "users:read", ("PATCH", "/api/v1/users/{user_id}"): "users:manage",
    ("POST", "/api/v1/users/{user_id}/disable"): "users:manage",
    ("POST", "/api/v1/users/{user_id}/enable"): "users:manage",
    ("POST", "/api/v1/users/{user_id}/reset-password"): "users:manage",
    ("POST", "/api/v1/users/{user_id}/unlock"): "users:manage",
    ("GET", "/api/v1/roles"): "users:read", ("POST", "/api/v1/roles"): "users:manage",
    ("PATCH", "/api/v1/roles/{name}"): "users:manage", ("DELETE", "/api/v1/roles/{name}"): "users:manage",
    ("GET", "/api/v1/clients"): "users:read", ("POST", "/api/v1/clients"): "users:manage",
    ("GET", "/api/v1/clients/{client_id}"): "users:read", ("PATCH", "/api/v1/clients/{client_id}"): "users:manage",
    ("POST", "/api/v1/clients/{client_id}/rotate-secret"): "users:manage",
    ("POST", "/api/v1/clients/{client_id}/disable"): "users:manage",
    ("POST", "/api/v1/clients/{client_id}/enable"): "users:manage",
    ("GET", "/api/v1/me"): None, ("POST", "/api/v1/me/password"): None,
    ("GET", "/api/v1/audit"): "audit:read",
}


def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    doc = create_app(IdentitySettings(_env_file=None)).openapi()  # type: ignore[call-arg]
    return {(m.upper(), p): op for p, item in doc["paths"].items() for m, op in item.items()
            if not p.startswith(("/healthz", "/readyz", "/metrics", "/api/v1/service"))}


def test_every_route_checks_access_or_is_public() -> None:
    assert routes_without_access(create_app(IdentitySettings(_env_file=None))) == []  # type: ignore[call-arg]


def test_the_routes_and_their_permissions_are_the_documented_ones() -> None:
    found = {key: "public" if op.get("x-emms-public") else op["x-emms-permission"] for key, op in _operations().items()}
    assert found == EXPECTED


def test_writes_need_a_step_up_and_reads_do_not() -> None:
    for key, op in _operations().items():
        if op.get("x-emms-public"):
            continue
        assert op["x-emms-step-up"] is (op["x-emms-permission"] in ("users:manage", "keys:rotate")), key


def test_every_route_documents_its_answer() -> None:
    for key, op in _operations().items():
        answers = op["responses"]
        ok = answers.get("200") or answers.get("201")
        assert ok is not None, key
        if key != ("POST", "/oauth/revoke"):
            assert "application/json" in ok.get("content", {}), key
            assert ok["content"]["application/json"]["schema"], key


def test_the_token_endpoint_takes_a_form() -> None:
    op = _operations()[("POST", "/oauth/token")]
    form = op["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert form["schema"]
