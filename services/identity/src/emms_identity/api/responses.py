"""Response models of the identity API: what a client can rely on in each answer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emms_runtime.api_models import ApiModel


class TokenResponse(ApiModel):
    """RFC 6749 §5.1, with ``acr`` on a step-up token and ``password_change_required`` on a token
    that can only change the password."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
    acr: str | None = None
    password_change_required: bool | None = None


class OAuthErrorBody(ApiModel):
    error: str
    error_description: str


class Jwks(ApiModel):
    keys: list[dict[str, str]]


class Discovery(ApiModel):
    issuer: str
    token_endpoint: str
    jwks_uri: str
    revocation_endpoint: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    acr_values_supported: list[str]


class KeyInfo(ApiModel):
    kid: str
    state: str
    published: bool
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    publish_until: datetime | None


class Rotation(ApiModel):
    retired: str | None
    active: str
    next: str
    retired_published_until: datetime | None


class UserOut(ApiModel):
    id: str
    username: str
    display_name: str
    roles: list[str]
    companies: list[str]
    regions: list[str]
    customers: list[str]
    must_change_password: bool
    disabled: bool
    locked_until: datetime | None
    failed_signins: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    last_signin_at: datetime | None
    password_changed_at: datetime


class UserCreated(UserOut):
    temporary_password: str | None = None
    """Only when no password was given: shown this once."""


class PasswordReset(ApiModel):
    user_id: str
    username: str
    temporary_password: str
    must_change_password: bool


class RoleOut(ApiModel):
    name: str
    description: str
    builtin: bool
    company_id: str | None
    permissions: list[str]
    created_by: str
    created_at: datetime | None
    updated_at: datetime | None


class Deleted(ApiModel):
    deleted: str


class ClientOut(ApiModel):
    client_id: str
    name: str
    trust_level: str
    roles: list[str]
    companies: list[str]
    regions: list[str]
    disabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime
    last_token_at: datetime | None


class ClientWithSecret(ClientOut):
    client_secret: str
    """Shown this once; only its hash is kept."""


class Caller(ApiModel):
    subject: str
    kind: str
    roles: list[str]
    permissions: list[str]
    companies: list[str]
    regions: list[str]
    customers: list[str]
    step_up: bool
    auth_time: int
    trust_level: str | None
    max_rows: int
    per_minute: int


class Me(ApiModel):
    token: Caller
    user: UserOut | None


class PasswordChanged(ApiModel):
    changed: bool
    username: str
    detail: str


class AuditEntry(ApiModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    outcome: str
    reason: str | None
    detail: dict[str, Any]
    companies: list[str]
    client_ip: str | None
    source_service: str
