"""Settings of the identity service (env prefix ``EMMS_IDENTITY_``, nested with ``__``).

Secrets come from the environment or from files mounted from Kubernetes Secrets:
``EMMS_IDENTITY_KEY_ENCRYPTION_KEY`` (or ``…_FILE``) encrypts the private signing keys at rest;
``EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD`` (or ``…_FILE``) is the first admin's password.
Development and tests may use the published development key-encryption key; production refuses
it, as :class:`emms_runtime.settings.ServiceSettings` refuses development tokens.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet
from pydantic import BaseModel, Field, SecretStr, model_validator

from emms_runtime import ServiceSettings, kek, service_config
from emms_runtime.settings import HttpSettings

DEV_KEY_ENCRYPTION_KEY = kek.development_key("emms development key-encryption key - published, never for production")
"""Encrypts signing keys at rest in development and tests only: anyone can read it here."""
_KEK_HOW = ("set EMMS_IDENTITY_KEY_ENCRYPTION_KEY or EMMS_IDENTITY_KEY_ENCRYPTION_KEY_FILE"
            " (a Fernet key: emms-identity generate-kek)")


class TokenSettings(BaseModel):
    """Lifetimes of what the token endpoint issues (``EMMS_IDENTITY_TOKENS__…``)."""

    access_ttl_s: int = Field(default=900, ge=5, le=86_400)
    step_up_ttl_s: int = Field(default=300, ge=5, le=3600)
    """A step-up token (fresh password check) lives this long; services accept its step-up for
    ``EMMS_…_AUTH__STEP_UP_MAX_AGE_S`` (300 s) after the check."""
    refresh_ttl_s: int = Field(default=8 * 3600, ge=60, le=30 * 86_400)
    """A sign-in's refresh tokens end this long after the password was checked (rotation does not extend it)."""

    @property
    def max_access_ttl_s(self) -> int:
        return max(self.access_ttl_s, self.step_up_ttl_s)


class PasswordPolicy(BaseModel):
    """The password rules (``EMMS_IDENTITY_PASSWORDS__…``); every rule a password breaks is named."""

    min_length: int = Field(default=12, ge=8, le=256)
    max_length: int = Field(default=256, ge=16, le=4096)
    min_classes: int = Field(default=3, ge=1, le=4)
    """Of lower-case letters, upper-case letters, digits and other characters."""
    forbid_username: bool = True
    history: int = Field(default=5, ge=0, le=50)
    """A new password may not be one of the user's last ``history`` passwords."""


class HashingSettings(BaseModel):
    """argon2id cost (``EMMS_IDENTITY_HASHING__…``); stored hashes of another cost are rehashed at sign-in."""

    time_cost: int = Field(default=3, ge=1, le=20)
    memory_cost_kib: int = Field(default=65_536, ge=8, le=4 * 1024 * 1024)
    parallelism: int = Field(default=4, ge=1, le=64)


class LockoutSettings(BaseModel):
    """``max_failures`` wrong passwords within ``window_s`` lock an account for ``lock_s``."""

    max_failures: int = Field(default=5, ge=1, le=100)
    window_s: int = Field(default=900, ge=1)
    lock_s: int = Field(default=900, ge=1)


class ThrottleSettings(BaseModel):
    """Requests a minute to the token endpoint, per username and per client address."""

    per_username: int = Field(default=30, ge=1)
    per_address: int = Field(default=300, ge=1)
    per_client: int = Field(default=120, ge=1)


class KeySettings(BaseModel):
    """Signing keys (``EMMS_IDENTITY_KEYS__…``)."""

    cache_s: float = Field(default=5.0, ge=0, le=300)
    """How long a replica keeps the active key before reading it again: after a rotation on one
    replica the others sign with the new key within this time."""
    retired_grace_s: int = Field(default=60, ge=0, le=86_400)
    """A retired key stays published this long beyond the longest access token it may have signed."""


class IdentitySettings(ServiceSettings):
    model_config = service_config("IDENTITY")

    http: HttpSettings = HttpSettings(port=8007)
    public_url: str | None = None
    """The URL other systems reach this service at (the discovery document); unset: the request's base URL."""
    tokens: TokenSettings = Field(default_factory=TokenSettings)
    passwords: PasswordPolicy = Field(default_factory=PasswordPolicy)
    hashing: HashingSettings = Field(default_factory=HashingSettings)
    lockout: LockoutSettings = Field(default_factory=LockoutSettings)
    throttle: ThrottleSettings = Field(default_factory=ThrottleSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    key_encryption_key: SecretStr | None = None
    """One or more Fernet keys, comma-separated: the first encrypts, every one decrypts (KEK rotation)."""
    key_encryption_key_file: Path | None = None
    """A file holding the KEK (a mounted Kubernetes Secret); wins over ``key_encryption_key``."""
    bootstrap_admin_password: SecretStr | None = None
    bootstrap_admin_password_file: Path | None = None
    audit_access_denied: bool = True
    """Consume every service's refusals (``emms.access.denied.v1``) into the audit log."""

    @model_validator(mode="after")
    def _check_secrets(self) -> IdentitySettings:
        self.kek_keys()
        return self

    def kek_keys(self) -> list[str]:
        """The key-encryption keys, the encrypting one first; the development key when none is set."""
        return kek.kek_keys(self.key_encryption_key, self.key_encryption_key_file, environment=self.environment,
                            development=DEV_KEY_ENCRYPTION_KEY, what="signing keys", how=_KEK_HOW,
                            file_setting="EMMS_IDENTITY_KEY_ENCRYPTION_KEY_FILE")

    def kek(self) -> MultiFernet:
        return MultiFernet([Fernet(k) for k in self.kek_keys()])

    def bootstrap_password(self) -> str | None:
        if self.bootstrap_admin_password_file is not None:
            return kek.read_secret_file(self.bootstrap_admin_password_file,
                                        "EMMS_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD_FILE")
        if self.bootstrap_admin_password is not None:
            return self.bootstrap_admin_password.get_secret_value()
        return None
