"""Grafana signs ops staff in with the identity service's tokens (deploy/grafana/auth/jwt.env).

The role mapping (a JMESPath over the token's claims) is evaluated on real token claims when
``jmespath`` (the Python implementation of the language Grafana uses) is importable; otherwise
the expression's text is checked.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
import yaml
from deploy_harness import DEPLOY, K8S, kubectl

from emms_runtime.auth import BUILTIN_ROLES, Permission, issue_token
from emms_runtime.settings import AuthSettings

AUTH = DEPLOY / "grafana" / "auth"
GRAFANA_JWT_KEYS = {  # Grafana's [auth.jwt] settings (docs: configure-authentication/jwt)
    "enabled", "header_name", "email_claim", "username_claim", "email_attribute_path", "username_attribute_path",
    "jwk_set_url", "jwk_set_file", "jwk_set_bearer_token_file", "key_file", "key_id", "cache_ttl", "expect_claims",
    "role_attribute_path", "role_attribute_strict", "auto_sign_up", "url_login", "allow_assign_grafana_admin",
    "skip_org_role_sync", "groups_attribute_path", "org_attribute_path", "org_mapping", "tls_client_ca",
    "tls_skip_verify_insecure",
}
PREFIX = "GF_AUTH_JWT_"


def settings() -> dict[str, str]:
    """The env file as Grafana (and kustomize's ``envs``) reads it: KEY=VALUE lines, ``#`` comments."""
    out = {}
    for line in (AUTH / "jwt.env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, line
            assert key not in out, f"{key} twice"
            out[key] = value
    return out


def jwt_settings() -> dict[str, str]:
    return {k.removeprefix(PREFIX).lower(): v for k, v in settings().items()}


def claims(role: str, **scope: tuple[str, ...]) -> dict[str, Any]:
    """The claims of a token of one built-in role (the format the identity service issues)."""
    token = issue_token(AuthSettings(), f"a-{role}", role, **scope)
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_every_variable_is_a_grafana_jwt_setting() -> None:
    keys = settings()
    assert all(k.startswith(PREFIX) for k in keys), sorted(keys)
    assert set(jwt_settings()) <= GRAFANA_JWT_KEYS, set(jwt_settings()) - GRAFANA_JWT_KEYS


def test_tokens_are_verified_with_the_identity_services_keys() -> None:
    s = jwt_settings()
    assert s["enabled"] == "true"
    assert s["header_name"] == "Authorization" and s["username_claim"] == "sub"
    assert not {"key_file", "jwk_set_file"} & set(s), "one key source only: the identity service's JWKS"
    url = urlsplit(s["jwk_set_url"])
    assert url.scheme == "https", "Grafana fetches a key set over https only"
    common = dict(line.split("=", 1) for line in (K8S / "base/common/common.env").read_text().splitlines()
                  if line and not line.startswith("#"))
    assert url.path == urlsplit(common["EMMS_JWKS_URL"]).path == "/.well-known/jwks.json"
    expect = json.loads(s["expect_claims"])
    auth = AuthSettings()
    assert expect == {"iss": auth.issuer, "aud": auth.audience, "kind": "user"}, "people's tokens of EMMS only"
    assert s["role_attribute_strict"] == "true", "a token that maps to no role must not sign in"
    assert s["allow_assign_grafana_admin"] == "false"


def test_the_role_expression_names_permissions_that_exist() -> None:
    expr = jwt_settings()["role_attribute_path"]
    named = {p for p in Permission if f"'{p.value}'" in expr}
    assert named == {Permission.SERVICE_CONFIGURE, Permission.TERMINALS_OPERATE, Permission.SERVICE_READ}
    # the permission each Grafana role rests on is held by exactly the built-in roles meant
    holders = {p: {r for r, perms in BUILTIN_ROLES.items() if p in perms} for p in named}
    assert holders[Permission.SERVICE_CONFIGURE] == {"admin"}
    assert holders[Permission.TERMINALS_OPERATE] == {"admin", "operator"}
    assert "customer" not in holders[Permission.SERVICE_READ]


CASES = [
    ("admin", {}, "Admin"),
    ("operator", {}, "Editor"),
    ("viewer", {}, "Viewer"),
    ("integrator", {}, "Viewer"),
    ("customer", {}, ""),
    ("admin", {"companies": ("UTIL-A",)}, ""),
    ("viewer", {"regions": ("NORTH",)}, ""),
]


@pytest.mark.parametrize(("role", "scope", "grafana_role"), CASES,
                         ids=[f"{r}-{'-'.join(s) or 'all'}" for r, s, _ in CASES])
def test_emms_roles_map_to_grafana_roles(role: str, scope: dict[str, tuple[str, ...]], grafana_role: str) -> None:
    expr = jwt_settings()["role_attribute_path"]
    if importlib.util.find_spec("jmespath") is None:
        clause = {"Admin": "'service:configure') && 'Admin'", "Editor": "'terminals:operate') && 'Editor'",
                  "Viewer": "'service:read') && 'Viewer'", "": "|| ''"}[grafana_role]
        assert clause in expr
        assert expr.startswith("length(companies || `[]`) == `0` && length(regions || `[]`) == `0` && (")
        return
    import jmespath

    assert jmespath.search(expr, claims(role, **scope)) == grafana_role


def test_a_token_for_a_forced_password_change_gets_no_role() -> None:
    """Such a token keeps the user's roles but carries no permissions (``pwd_change``)."""
    expr = jwt_settings()["role_attribute_path"]
    if importlib.util.find_spec("jmespath") is None:
        assert "roles" not in expr, "mapped by permissions (none in such a token), never by role names"
        return
    import jmespath

    forced = {**claims("admin"), "perms": [], "pwd_change": True}
    assert jmespath.search(expr, forced) == ""
    assert jmespath.search(expr, {"sub": "nobody"}) == ""


def test_the_config_map_holds_the_env_file() -> None:
    exe = kubectl()
    if exe is None:
        pytest.skip("kubectl is not installed")
    out = subprocess.run([exe, "kustomize", str(AUTH)], capture_output=True, text=True, timeout=60, check=True)
    (cm,) = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert (cm["kind"], cm["metadata"]["name"]) == ("ConfigMap", "emms-grafana-auth")
    assert cm["data"] == settings()
