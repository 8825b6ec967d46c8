"""Token claims in the format every service reads: permissions from roles, bounded by the trust
level for systems; quotas; step-up; the password-change-only token."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from emms_identity.model import Client, Role, User
from emms_identity.settings import IdentitySettings
from emms_identity.tokens.claims import DEFAULT_LIMITS, client_claims, user_claims, user_limits
from emms_runtime.auth import BUILTIN_ROLES, STEP_UP_ACR, TRUST_LEVELS, Principal
from emms_runtime.auth.permissions import USER_LIMITS

SETTINGS = IdentitySettings(_env_file=None)  # type: ignore[call-arg]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def role(name: str, perms: frozenset[str] | None = None) -> Role:
    chosen = perms if perms is not None else frozenset(p.value for p in BUILTIN_ROLES[name])
    return Role(name, "", name in BUILTIN_ROLES, None, tuple(sorted(chosen)))


def user(**over: object) -> User:
    values: dict[str, object] = {
        "id": uuid.uuid4(), "username": "ops1", "display_name": "", "password_hash": "x", "password_history": (),
        "must_change_password": False, "companies": ("C1",), "regions": ("R1",), "customers": (),
        "failed_signins": 0, "failed_since": None, "locked_until": None, "disabled": False, "created_by": "t",
        "created_at": NOW, "updated_at": NOW, "last_signin_at": None, "password_changed_at": NOW,
        "roles": ("operator",)}
    values.update(over)
    return User(**values)  # type: ignore[arg-type]


def test_a_persons_claims_round_trip_through_principal() -> None:
    claims = user_claims(SETTINGS, user(), [role("operator"), role("viewer")], now=1000, auth_time=990)
    principal = Principal.from_claims(claims)
    assert principal.subject == "ops1" and principal.kind == "user"
    assert principal.permissions == BUILTIN_ROLES["operator"] | BUILTIN_ROLES["viewer"]
    assert principal.companies == ("C1",) and principal.regions == ("R1",)
    assert (principal.max_rows, principal.per_minute) == USER_LIMITS["operator"]
    assert claims["exp"] - claims["iat"] == 900 and principal.auth_time == 990 and not principal.step_up


def test_a_step_up_token_is_marked_and_short() -> None:
    claims = user_claims(SETTINGS, user(), [role("admin")], now=1000, auth_time=1000, step_up=True)
    assert claims["acr"] == STEP_UP_ACR and claims["exp"] - claims["iat"] == 300
    assert Principal.from_claims(claims).step_up


def test_a_password_change_token_grants_nothing() -> None:
    claims = user_claims(SETTINGS, user(must_change_password=True), [role("admin")], now=1000, auth_time=1000,
                         step_up=True)
    assert claims["perms"] == [] and claims["pwd_change"] is True and "acr" not in claims
    assert Principal.from_claims(claims).permissions == frozenset()


def test_quotas_take_the_largest_builtin_role_and_a_default_for_custom_ones() -> None:
    assert user_limits(["viewer", "operator"]) == (100_000, 3000)
    assert user_limits(["customer"]) == USER_LIMITS["customer"]
    assert user_limits(["meter-reader"]) == DEFAULT_LIMITS


def test_unknown_permission_names_in_a_role_are_dropped() -> None:
    claims = user_claims(SETTINGS, user(), [role("custom", frozenset({"readings:read", "everything"}))],
                         now=1, auth_time=1)
    assert claims["perms"] == ["readings:read"]


def test_a_systems_permissions_are_bounded_by_its_trust_level() -> None:
    client = Client("billing-1", "x", "Billing", "billing", ("admin",), ("C1",), (), False, "t", NOW, NOW, NOW,
                    None)
    claims = client_claims(SETTINGS, client, [role("admin")], now=1000)
    level = TRUST_LEVELS["billing"]
    principal = Principal.from_claims(claims)
    assert principal.permissions == level.allowed
    assert principal.kind == "client" and principal.trust_level == "billing"
    assert (principal.max_rows, principal.per_minute) == (level.max_rows, level.per_minute)
    assert principal.companies == ("C1",) and "acr" not in claims
