"""The settings every service shares; each service subclasses with its own env prefix.

Built once in ``__main__`` (never at import) and passed down::

    class FepSettings(ServiceSettings):
        model_config = service_config("FEP")

so ``EMMS_FEP_HTTP__PORT=8001`` sets the port; the database and broker fall
back to the project-wide ``EMMS_DATABASE_URL``, ``EMMS_KAFKA_BOOTSTRAP`` and
``EMMS_TOPIC_PREFIX``.
"""

from __future__ import annotations

import os
import socket

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from emms_bus.settings import KafkaSettings
from emms_db.settings import DatabaseSettings


def service_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=f"EMMS_{prefix}_", env_nested_delimiter="__", extra="forbid", env_ignore_empty=True,
    )


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value in (None, "") else value.strip().lower() in ("1", "true", "yes", "on")


class AuthSettings(BaseModel):
    """Token verification: EdDSA JWTs of the identity service, checked against its JWKS.

    ``jwks_url`` defaults to ``EMMS_JWKS_URL`` (project-wide, like the database URL);
    ``accept_dev_tokens`` (tokens of ``emms-token``, signed with the published development key)
    to ``EMMS_ACCEPT_DEV_TOKENS``, true unless set — production settings refuse it.
    """

    issuer: str = Field(default_factory=lambda: os.environ.get("EMMS_TOKEN_ISSUER", "emms"))
    audience: str = "emms"
    jwks_url: str | None = Field(default_factory=lambda: os.environ.get("EMMS_JWKS_URL") or None)
    accept_dev_tokens: bool = Field(default_factory=lambda: _env_flag("EMMS_ACCEPT_DEV_TOKENS", True))
    jwks_cache_s: float = Field(default=300.0, gt=0)
    jwks_refresh_min_s: float = Field(default=1.0, ge=0)
    jwks_timeout_s: float = Field(default=5.0, gt=0)
    leeway_s: int = Field(default=5, ge=0, le=300)
    step_up_max_age_s: int = Field(default=300, ge=10, le=3600)
    verified_cache_size: int = Field(default=10_000, ge=0, le=1_000_000)
    enforce_quotas: bool = True


class ServiceSettings(BaseSettings):
    model_config = service_config("SERVICE")

    environment: str = Field(default_factory=lambda: os.environ.get("EMMS_ENVIRONMENT", "development"))
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    log_level: str = "INFO"
    log_json: bool | None = None
    http: HttpSettings = Field(default_factory=HttpSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    shutdown_grace_s: float = Field(default=15.0, gt=0, le=300)
    migrate_on_start: bool = True

    @model_validator(mode="before")
    @classmethod
    def _merge_partial_sections(cls, data: object) -> object:
        """``EMMS_ARCHIVE_HTTP__HOST`` alone must keep the section's other defaults (port 8006),
        not rebuild the section from the class defaults: merge a partial dict over the default."""
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            given = data.get(name)
            if not isinstance(given, dict):
                continue
            default = field.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                data[name] = {**default.model_dump(), **given}
        return data

    @model_validator(mode="after")
    def _refuse_dev_tokens_in_production(self) -> ServiceSettings:
        if self.environment == "production":
            if self.auth.accept_dev_tokens:
                raise ValueError("production must not accept development tokens (emms-token, signed with a"
                                 " published key): set EMMS_ACCEPT_DEV_TOKENS=false")
            if not self.auth.jwks_url:
                raise ValueError("production needs the identity service's JWKS: set EMMS_JWKS_URL")
        return self
